#include <gradcheck/verify/mutations.hpp>

#include <gradcheck/gradient/detail/internal.hpp>

namespace gradcheck {

const char* to_string(Mutation m) {
  switch (m) {
    case Mutation::sign_flip: return "sign-flip";
    case Mutation::bias_gradient_dropped: return "bias-gradient-dropped";
    case Mutation::derivative_at_activation: return "derivative-at-activation";
    case Mutation::summed_under_mean: return "summed-under-mean";
    case Mutation::z_instead_of_a: return "z-instead-of-a";
    case Mutation::output_delta_without_derivative: return "output-delta-without-derivative";
    case Mutation::doubled: return "doubled";
    case Mutation::halved: return "halved";
    case Mutation::softmax_derivative_on_fused_delta: return "softmax-derivative-on-fused-delta";
  }
  return "?";
}

std::optional<Mutation> parse_mutation(std::string_view s) {
  for (Mutation m : all_mutations)
    if (s == to_string(m)) return m;
  return std::nullopt;
}

namespace {

bool smooth_saturating(Activation a) { return a == Activation::sigmoid || a == Activation::tanh; }

// act'(·) evaluated at `at` (the bug evaluates it at a instead of z).
double derivative_at(Activation act, double at) {
  switch (act) {
    case Activation::sigmoid: return detail::sigmoid_derivative(at);
    case Activation::tanh: return detail::tanh_derivative(at);
    case Activation::relu: return at > 0 ? 1.0 : 0.0;
    case Activation::leaky_relu: return at > 0 ? 1.0 : leaky_relu_slope;
    default: return 1.0;
  }
}

}  // namespace

bool applies(Mutation m, const Network<double>& net) {
  const Activation out = net.layers.back().activation;
  switch (m) {
    case Mutation::sign_flip:
    case Mutation::bias_gradient_dropped:
    case Mutation::doubled:
    case Mutation::halved: return true;
    case Mutation::summed_under_mean: return net.reduction == Reduction::mean;
    case Mutation::derivative_at_activation:
      for (std::size_t l = 0; l + 1 < net.layers.size(); ++l)
        if (smooth_saturating(net.layers[l].activation)) return true;
      return net.loss == Loss::quadratic && smooth_saturating(out);
    case Mutation::z_instead_of_a:
      for (std::size_t l = 0; l + 1 < net.layers.size(); ++l)
        if (net.layers[l].activation != Activation::identity) return true;
      return false;
    case Mutation::output_delta_without_derivative:
      return net.loss == Loss::quadratic && out != Activation::identity;
    case Mutation::softmax_derivative_on_fused_delta:
      return net.loss == Loss::cross_entropy && out == Activation::softmax;
  }
  return false;
}

Gradients<double> mutated_gradients(const Case& c, Mutation m) {
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
  if (m == Mutation::output_delta_without_derivative && net.loss == Loss::quadratic) {
    dL = (fp.a[L] - c.targets) * mean;
  } else if (m == Mutation::derivative_at_activation && net.loss == Loss::quadratic && smooth_saturating(out)) {
    dL = (fp.a[L] - c.targets).binaryExpr(fp.a[L], [out](double d, double a) { return d * derivative_at(out, a); }) * mean;
  } else {
    output_delta(net, fp, c.targets, dL);
    if (m == Mutation::softmax_derivative_on_fused_delta && net.loss == Loss::cross_entropy &&
        out == Activation::softmax)
      for (Index n = 0; n < dL.cols(); ++n) detail::softmax_backward_column<double>(fp.z[L - 1].col(n), dL.col(n));
  }
  for (std::size_t l = L; l-- > 0;) {
    const Matrix<double>& delta = g.deltas[l];
    const Matrix<double>& input = (m == Mutation::z_instead_of_a && l > 0) ? fp.z[l - 1] : fp.a[l];
    g.weights[l] = delta * input.transpose();
    g.biases[l] = delta.rowwise().sum();
    if (l > 0) {
      Matrix<double> prev = net.layers[l].weights.transpose() * delta;
      const Activation act = net.layers[l - 1].activation;
      if (m == Mutation::derivative_at_activation && smooth_saturating(act))
        prev = prev.binaryExpr(fp.a[l], [act](double d, double a) { return d * derivative_at(act, a); });
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
  switch (m) {
    case Mutation::sign_flip: scale_all(-1); break;
    case Mutation::doubled: scale_all(2); break;
    case Mutation::halved: scale_all(0.5); break;
    case Mutation::summed_under_mean:
      if (net.reduction == Reduction::mean) scale_all(N);
      break;
    case Mutation::bias_gradient_dropped:
      for (auto& b : g.biases) b.setZero();
      break;
    default: break;
  }
  return g;
}

}  // namespace gradcheck
