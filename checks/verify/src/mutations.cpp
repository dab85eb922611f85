#include <gradcheck/verify/mutations.hpp>

#include <gradcheck/gradient/detail/internal.hpp>

namespace gradcheck {

std::optional<Mutation> parse_mutation(std::string_view s) {
  for (const Mutation& m : all_mutations)
    if (s == m.name) return m;
  for (const Mutation& m : image_mutations)
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

// Whether a conv2d or pooling mutation has a layer to act on: dX mistakes a
// layer above another (its dX is no gradient of the reply otherwise).
bool image_mutation_applies(const Mutation& m, const Network<double>& net) {
  for (std::size_t l = 0; l < net.layers.size(); ++l) {
    const Layer<double>& layer = net.layers[l];
    const bool below = l > 0;
    if (layer.kind == LayerKind::conv2d) {
      const ConvGeometry& g = layer.conv;
      const bool wide = g.kernel_h * g.kernel_w > 1;
      if ((m == mutation::kernel_flipped || m == mutation::kernel_flipped_dw) && wide) return true;
      if (m == mutation::kernel_flipped_dx && wide && below) return true;
      if (m == mutation::stride_ignored_dw && g.stride > 1) return true;
      if (m == mutation::stride_ignored_dx && g.stride > 1 && below) return true;
      if (m == mutation::padding_ignored && g.padding > 0) return true;
      if (m == mutation::padding_plus_one) return true;
      if (m == mutation::channels_swapped && below && g.in_channels == g.out_channels && g.in_channels > 1) return true;
      if (m.kind == BugKind::conv_bias_unsummed && g.positions() > 1) return true;
    }
    if (layer.kind == LayerKind::max_pool && m.kind == BugKind::max_pool_routing && below && layer.pool.window > 1)
      return true;
    if (layer.kind == LayerKind::avg_pool && m == mutation::avg_pool_undivided && below && layer.pool.window > 1)
      return true;
  }
  return false;
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
        if (net.layers[l].is_dense() && net.layers[l].units() == net.layers[l].inputs()) return true;
      return false;
    case BugKind::kernel_flipped:
    case BugKind::stride_ignored:
    case BugKind::backward_padding:
    case BugKind::channels_swapped:
    case BugKind::max_pool_routing:
    case BugKind::avg_pool_undivided:
    case BugKind::conv_bias_unsummed: return image_mutation_applies(m, net);
    default: return true;  // sign_flip, bias_zero, targets_misaligned (shows with 2 distinct targets)
  }
}

namespace {

// A conv2d layer's backward written out loop by loop, apart from the engine's
// unfolded products, with the mistakes of a mutation: the pixel of output
// position (oy, ox) at tap (u, v) is (oy·s − p + u, ox·s − p + v) with the s
// and p the buggy code uses; dW from x_dw (a_{l−1}, or z_{l−1}).
struct ConvBug {
  Index stride_dw, stride_dx, pad;
  bool flip_dw = false, flip_dx = false, swap = false;
  int bias = 0;  // 0 summed, 1 the first position, 2 the mean over positions
};

ConvBug conv_bug(const ConvGeometry& g, const Mutation& m) {
  ConvBug b{g.stride, g.stride, g.padding};
  if (m == mutation::stride_ignored_dw) b.stride_dw = 1;
  if (m == mutation::stride_ignored_dx) b.stride_dx = 1;
  if (m == mutation::padding_ignored) b.pad = 0;
  if (m == mutation::padding_plus_one) b.pad = g.padding + 1;
  b.flip_dw = m == mutation::kernel_flipped_dw;
  b.flip_dx = m == mutation::kernel_flipped_dx;
  b.swap = m == mutation::channels_swapped && g.in_channels == g.out_channels;  // W[i][o] exists only then
  b.bias = m == mutation::conv_bias_first ? 1 : m == mutation::conv_bias_mean ? 2 : 0;
  return b;
}

void naive_conv_backward(const ConvGeometry& g, const Matrix<double>& W, const Matrix<double>& x,
                         const Matrix<double>& x_dw, const Matrix<double>& delta, const ConvBug& b,
                         Matrix<double>& dW, Vector<double>& db, Matrix<double>& dx) {
  const Index OH = g.out_h(), OW = g.out_w(), kh = g.kernel_h, kw = g.kernel_w;
  dW.setZero(g.out_channels, g.weight_cols());
  db.setZero(g.out_channels);
  dx.setZero(g.input_size(), x.cols());
  const auto pixel = [&](Index i, Index y, Index xx) {
    return y < 0 || y >= g.height || xx < 0 || xx >= g.width ? Index(-1) : (i * g.height + y) * g.width + xx;
  };
  for (Index n = 0; n < x.cols(); ++n)
    for (Index o = 0; o < g.out_channels; ++o)
      for (Index oy = 0; oy < OH; ++oy)
        for (Index ox = 0; ox < OW; ++ox) {
          const double d = delta((o * OH + oy) * OW + ox, n);
          if (b.bias == 0 || (b.bias == 1 && oy == 0 && ox == 0)) db(o) += d;
          if (b.bias == 2) db(o) += d / double(OH * OW);
          for (Index i = 0; i < g.in_channels; ++i)
            for (Index u = 0; u < kh; ++u)
              for (Index v = 0; v < kw; ++v) {
                const Index k = (i * kh + u) * kw + v, turned = (i * kh + kh - 1 - u) * kw + kw - 1 - v;
                const Index p = pixel(i, oy * b.stride_dw - b.pad + u, ox * b.stride_dw - b.pad + v);
                if (p >= 0) dW(o, b.flip_dw ? turned : k) += d * x_dw(p, n);
                const Index q = pixel(i, oy * b.stride_dx - b.pad + u, ox * b.stride_dx - b.pad + v);
                if (q < 0) continue;
                const double w = b.flip_dx ? W(o, turned) : b.swap ? W(i, (o * kh + u) * kw + v) : W(o, k);
                dx(q, n) += w * d;
              }
        }
}

// Every kernel [i][kh][kw] of W read backwards: entry (u, v) ← (kh − 1 − u, kw − 1 − v).
Matrix<double> turned_kernels(const ConvGeometry& g, const Matrix<double>& W) {
  Matrix<double> out = W;
  const Index area = g.kernel_h * g.kernel_w;
  for (Index o = 0; o < W.rows(); ++o)
    for (Index i = 0; i < g.in_channels; ++i) out.row(o).segment(i * area, area).reverseInPlace();
  return out;
}

// A pooling layer's dL/da, window by window, as the mutation routes it.
void naive_pool_backward(const PoolGeometry& g, const Matrix<double>& x, const Matrix<double>& delta,
                         const Mutation& m, Matrix<double>& dx) {
  const Index OH = g.out_h(), OW = g.out_w();
  const double area = double(g.window * g.window);
  dx.setZero(g.input_size(), x.cols());
  for (Index n = 0; n < x.cols(); ++n)
    for (Index c = 0; c < g.channels; ++c)
      for (Index oy = 0; oy < OH; ++oy)
        for (Index ox = 0; ox < OW; ++ox) {
          const double d = delta((c * OH + oy) * OW + ox, n);
          const auto at = [&](Index u, Index v) { return (c * g.height + oy * g.stride + u) * g.width + ox * g.stride + v; };
          Index best = at(0, 0);  // the first largest, row by row
          for (Index u = 0; u < g.window; ++u)
            for (Index v = 0; v < g.window; ++v)
              if (x(at(u, v), n) > x(best, n)) best = at(u, v);
          for (Index u = 0; u < g.window; ++u)
            for (Index v = 0; v < g.window; ++v) {
              const Index e = at(u, v);
              double share = 0;
              if (g.kind == PoolGeometry::Kind::avg) share = m == mutation::avg_pool_undivided ? d : d / area;
              else if (m == mutation::max_pool_to_all) share = d;
              else if (m == mutation::max_pool_averaged) share = d / area;
              else if (m == mutation::max_pool_to_ties) share = x(e, n) == x(best, n) ? d : 0;
              else share = e == best ? d : 0;
              dx(e, n) += share;
            }
        }
}

}  // namespace

Gradients<double> mutated_gradients(const Case& c, const Mutation& m) {
  const Network<double>& net = c.network;
  const std::size_t L = net.layers.size();
  if (m == mutation::kernel_flipped) {  // the right gradients of the flipped network, turned back
    Case flipped = c;
    for (auto& layer : flipped.network.layers)
      if (layer.kind == LayerKind::conv2d) layer.weights = turned_kernels(layer.conv, layer.weights);
    Gradients<double> g = mutated_gradients(flipped, Mutation{BugKind::kernel_flipped, 1, "", 0});
    for (std::size_t l = 0; l < L; ++l)
      if (net.layers[l].kind == LayerKind::conv2d) g.weights[l] = turned_kernels(net.layers[l].conv, g.weights[l]);
    return g;
  }
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
    const Layer<double>& layer = net.layers[l];
    const Matrix<double>& input = (m.kind == BugKind::z_instead_of_a && l > 0) ? fp.z[l - 1] : fp.a[l];
    Matrix<double> prev;
    if (layer.kind == LayerKind::conv2d) {
      naive_conv_backward(layer.conv, layer.weights, fp.a[l], input, delta, conv_bug(layer.conv, m), g.weights[l],
                          g.biases[l], prev);
    } else if (is_pooling(layer.kind)) {
      g.weights[l].resize(0, 0);
      g.biases[l].resize(0);
      naive_pool_backward(layer.pool, fp.a[l], delta, m, prev);
    } else {
      g.weights[l] = delta * input.transpose();
      g.biases[l] = delta.rowwise().sum();
      const Matrix<double>& W = layer.weights;
      const bool transposed = m.kind == BugKind::transposed_step && W.rows() == W.cols() && l > 0;
      prev = transposed ? Matrix<double>(W * delta) : Matrix<double>(W.transpose() * delta);
    }
    if (l == 0) {
      g.inputs = prev;
      break;
    }
    const Activation act = net.layers[l - 1].activation;
    for (Index i = 0; i < prev.size(); ++i)
      prev.data()[i] *= mutated_derivative(m, act, fp.z[l - 1].data()[i], fp.a[l].data()[i], true);
    g.deltas[l - 1] = prev;
  }

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
