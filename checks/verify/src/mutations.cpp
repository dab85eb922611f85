#include <gradcheck/verify/mutations.hpp>

#include <gradcheck/gradient/detail/internal.hpp>

namespace gradcheck {

std::optional<Mutation> parse_mutation(std::string_view s) {
  for (const Mutation& m : all_mutations)
    if (s == m.name) return m;
  return std::nullopt;
}

namespace {

bool smooth_saturating(Activation a) { return a == Activation::sigmoid || a == Activation::tanh; }

bool derivative_formula_applies(int form, const Network<double>& net) {
  const std::size_t L = net.layers.size();
  const Activation out = net.layers.back().activation;
  for (std::size_t l = 0; l < L; ++l) {
    const Activation a = net.layers[l].activation;
    const bool hidden = l + 1 < L;
    if (form == 1 && a == Activation::leaky_relu) return true;
    if (form == 2 && hidden && a != Activation::identity) return true;
    if (form == 3 && smooth_saturating(a) && (hidden || net.loss == Loss::quadratic)) return true;
  }
  return form == 4 && out == Activation::softmax && net.loss != Loss::cross_entropy;
}

// act'(z) of a hidden layer (or of an output layer whose δ is not fused) as
// mutation m computes it; a = act(z).
double mutated_derivative(const Mutation& m, Activation act, double z, double a, bool hidden) {
  const bool formula = m.kind == BugKind::derivative_formula;
  if (formula && m.form == 2 && hidden) return 1;
  if (formula && m.form == 1 && act == Activation::leaky_relu && z <= 0) return 0;
  if (formula && m.form == 3 && act == Activation::sigmoid) return z * (1 - z);
  if (formula && m.form == 3 && act == Activation::tanh) return 1 - z * z;
  if (m.kind == BugKind::derivative_at_output_value && smooth_saturating(act)) return activation_derivative(act, a);
  return activation_derivative(act, z);
}

// Whether m changes the output layer's act' (then δ_L = dL/da ⊙ act'(z) unfused).
bool mutates_output_derivative(const Mutation& m, const Network<double>& net) {
  const Activation out = net.layers.back().activation;
  if (net.loss != Loss::quadratic || out == Activation::softmax) return false;
  if (m.kind == BugKind::derivative_at_output_value) return smooth_saturating(out);
  if (m.kind != BugKind::derivative_formula) return false;
  return (m.form == 1 && out == Activation::leaky_relu) || (m.form == 3 && smooth_saturating(out));
}

// δ_L of the mutated backward, the reduction's 1/N included.
Matrix<double> mutated_output_delta(const Case& c, const Mutation& m, const ForwardPass<double>& fp,
                                    const Matrix<double>& y) {
  const Network<double>& net = c.network;
  const std::size_t L = net.layers.size();
  const Activation out = net.layers.back().activation;
  const double mean = 1.0 / batch_divisor(net.reduction, c.inputs.cols());
  Matrix<double> dL;
  if (m.kind == BugKind::output_missing_derivative && net.loss == Loss::quadratic) return (fp.a[L] - y) * mean;
  if (mutates_output_derivative(m, net)) {
    dL = fp.a[L] - y;
    for (Index i = 0; i < dL.size(); ++i)
      dL.data()[i] *= mutated_derivative(m, out, fp.z[L - 1].data()[i], fp.a[L].data()[i], false);
    return dL * mean;
  }
  if (m == mutation::softmax_diagonal && out == Activation::softmax && net.loss != Loss::cross_entropy) {
    const Matrix<double>& a = fp.a[L];
    dL = net.loss == Loss::quadratic ? Matrix<double>(a - y)
                                     : Matrix<double>((1 - y.array()) / (1 - a.array()) - y.array() / a.array());
    return dL.cwiseProduct(a.cwiseProduct((1 - a.array()).matrix())) * mean;
  }
  output_delta(net, fp, y, dL);
  if (m.kind == BugKind::softmax_derivative_on_fused && net.loss == Loss::cross_entropy && out == Activation::softmax)
    for (Index s = 0; s < dL.cols(); ++s) detail::softmax_backward_column<double>(fp.z[L - 1].col(s), dL.col(s));
  return dL;
}

}  // namespace

bool applies(const Mutation& m, const Network<double>& net) {
  const Activation out = net.layers.back().activation;
  switch (m.kind) {
    case BugKind::constant_scale: return m.factor != 0 || net.reduction == Reduction::mean;
    case BugKind::derivative_at_output_value:
      for (std::size_t l = 0; l + 1 < net.layers.size(); ++l)
        if (smooth_saturating(net.layers[l].activation)) return true;
      return net.loss == Loss::quadratic && smooth_saturating(out);
    case BugKind::z_instead_of_a:
      for (std::size_t l = 0; l + 1 < net.layers.size(); ++l)
        if (net.layers[l].activation != Activation::identity) return true;
      return false;
    case BugKind::output_missing_derivative: return net.loss == Loss::quadratic && out != Activation::identity;
    case BugKind::softmax_derivative_on_fused:
      return net.loss == Loss::cross_entropy && out == Activation::softmax;
    case BugKind::derivative_formula: return derivative_formula_applies(m.form, net);
    case BugKind::transposed_step:
      for (std::size_t l = 1; l < net.layers.size(); ++l)
        if (net.layers[l].units() == net.layers[l].inputs()) return true;
      return false;
    default: return true;  // sign_flip, bias_zero, targets_misaligned (shows with 2 distinct targets)
  }
}

Gradients<double> mutated_gradients(const Case& c, const Mutation& m) {
  const Network<double>& net = c.network;
  const std::size_t L = net.layers.size();
  const ForwardPass<double> fp = forward(net, c.inputs);
  const double N = static_cast<double>(c.inputs.cols());
  Matrix<double> y = c.targets;
  if (m.kind == BugKind::targets_misaligned)
    for (Index s = 0; s < y.cols(); ++s) y.col(s) = c.targets.col((s + 1) % y.cols());
  Gradients<double> g;
  g.weights.resize(L);
  g.biases.resize(L);
  g.deltas.resize(L);
  g.deltas[L - 1] = mutated_output_delta(c, m, fp, y);
  for (std::size_t l = L; l-- > 0;) {
    const Matrix<double>& delta = g.deltas[l];
    const Matrix<double>& input = (m.kind == BugKind::z_instead_of_a && l > 0) ? fp.z[l - 1] : fp.a[l];
    g.weights[l] = delta * input.transpose();
    g.biases[l] = delta.rowwise().sum();
    if (l == 0) break;
    const Matrix<double>& W = net.layers[l].weights;
    const bool transposed = m.kind == BugKind::transposed_step && W.rows() == W.cols();
    Matrix<double> prev = transposed ? Matrix<double>(W * delta) : Matrix<double>(W.transpose() * delta);
    const Activation act = net.layers[l - 1].activation;
    for (Index i = 0; i < prev.size(); ++i)
      prev.data()[i] *= mutated_derivative(m, act, fp.z[l - 1].data()[i], fp.a[l].data()[i], true);
    g.deltas[l - 1] = prev;
  }
  g.inputs = net.layers[0].weights.transpose() * g.deltas[0];

  auto scale_all = [&](double s) {
    for (std::size_t l = 0; l < L; ++l) {
      g.weights[l] *= s;
      g.biases[l] *= s;
      g.deltas[l] *= s;
    }
    g.inputs *= s;
  };
  if (m.kind == BugKind::sign_flip || m.kind == BugKind::constant_scale) {
    if (m.factor != 0) scale_all(m.factor);
    else if (net.reduction == Reduction::mean) scale_all(N);  // summed although the loss is a mean
  }
  if (m.kind == BugKind::bias_zero)
    for (auto& b : g.biases) b.setZero();
  return g;
}

}  // namespace gradcheck
