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
    default: return true;  // sign_flip, bias_zero
  }
}

Gradients<double> mutated_gradients(const Case& c, const Mutation& m) {
  const Network<double>& net = c.network;
  const std::size_t L = net.layers.size();
  const ForwardPass<double> fp = forward(net, c.inputs);
  const double N = static_cast<double>(c.inputs.cols());
  const double mean = 1.0 / batch_divisor(net.reduction, c.inputs.cols());
  Gradients<double> g;
  g.weights.resize(L);
  g.biases.resize(L);
  g.deltas.resize(L);
  const Activation out = net.layers.back().activation;

  // The output delta.
  Matrix<double>& dL = g.deltas[L - 1];
  if (m.kind == BugKind::output_missing_derivative && net.loss == Loss::quadratic) {
    dL = (fp.a[L] - c.targets) * mean;
  } else if (m.kind == BugKind::derivative_at_output_value && net.loss == Loss::quadratic && smooth_saturating(out)) {
    // act' evaluated at a instead of z
    dL = (fp.a[L] - c.targets).binaryExpr(fp.a[L], [out](double d, double a) { return d * activation_derivative(out, a); }) *
         mean;
  } else {
    output_delta(net, fp, c.targets, dL);
    if (m.kind == BugKind::softmax_derivative_on_fused && net.loss == Loss::cross_entropy &&
        out == Activation::softmax)
      for (Index n = 0; n < dL.cols(); ++n) detail::softmax_backward_column<double>(fp.z[L - 1].col(n), dL.col(n));
  }
  for (std::size_t l = L; l-- > 0;) {
    const Matrix<double>& delta = g.deltas[l];
    const Matrix<double>& input = (m.kind == BugKind::z_instead_of_a && l > 0) ? fp.z[l - 1] : fp.a[l];
    g.weights[l] = delta * input.transpose();
    g.biases[l] = delta.rowwise().sum();
    if (l > 0) {
      Matrix<double> prev = net.layers[l].weights.transpose() * delta;
      const Activation act = net.layers[l - 1].activation;
      if (m.kind == BugKind::derivative_at_output_value && smooth_saturating(act))
        prev = prev.binaryExpr(fp.a[l], [act](double d, double a) { return d * activation_derivative(act, a); });
      else
        detail::multiply_by_derivative(act, fp.z[l - 1], fp.a[l], prev);
      g.deltas[l - 1] = prev;
    }
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
