// The diagnostic re-computation of one step: the engine's definitions evaluated
// again, tensor by tensor in the engine's order, with the output layer's
// numerics as asked (Numerics), and the first non-finite entry explained from
// its operands. Nothing here is on the training fast path: the watch calls it
// only once a non-finite value has been seen (or emulated).
#include "conv_terms.hpp"
#include "watch_detail.hpp"

#include <cfloat>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace gradcheck::watch {
namespace {

using detail::num;

constexpr double inf = std::numeric_limits<double>::infinity();
const double ln_dbl_max = std::log(DBL_MAX);  // 709.78: exp overflows above it

// One step's tensors as some numerics compute them.
struct Tensors {
  ForwardPass<double> fp;
  Vector<double> sample_losses;
  double batch_loss = 0;
  Gradients<double> g;
};

bool naive_softmax_applies(const Network<double>& net, const Numerics& n) {
  return n.softmax == SoftmaxForm::naive && net.layers.back().activation == Activation::softmax;
}
bool naive_loss_applies(const Network<double>& net, const Numerics& n) {
  return n.cross_entropy == CrossEntropyForm::from_outputs && net.loss != Loss::quadratic;
}

// exp(z_k) / Σ exp(z_i), no max subtracted.
void naive_softmax(const Matrix<double>& z, Matrix<double>& a) {
  a.resize(z.rows(), z.cols());
  for (Index c = 0; c < z.cols(); ++c) {
    double total = 0;
    for (Index k = 0; k < z.rows(); ++k) total += a(k, c) = std::exp(z(k, c));
    for (Index k = 0; k < z.rows(); ++k) a(k, c) = a(k, c) / total;
  }
}

// −Σ_k y_k ln a_k (and, for binary cross-entropy, −Σ_k (1 − y_k) ln(1 − a_k))
// over every k, from the outputs: what a textbook implementation computes.
double naive_sample_loss(Loss loss, const Matrix<double>& a, const Matrix<double>& y, Index c) {
  double sum = 0;
  for (Index k = 0; k < a.rows(); ++k) {
    sum -= y(k, c) * std::log(a(k, c));
    if (loss == Loss::binary_cross_entropy) sum -= (1 - y(k, c)) * std::log(1 - a(k, c));
  }
  return sum;
}

// dL/dz of the output layer when the numerics are not the engine's.
void emulated_output_delta(const Network<double>& net, const Numerics& n, const Matrix<double>& z,
                           const Matrix<double>& a, const Matrix<double>& y, Matrix<double>& delta) {
  const Activation out = net.layers.back().activation;
  if (naive_loss_applies(net, n)) {
    // The general path: dL/da, then the activation's Jacobian with a as computed.
    if (net.loss == Loss::cross_entropy)
      delta = -(y.array() / a.array()).matrix();
    else
      delta = ((1 - y.array()) / (1 - a.array()) - y.array() / a.array()).matrix();
    if (out == Activation::softmax) {
      for (Index c = 0; c < a.cols(); ++c) {
        const double dot = a.col(c).dot(delta.col(c));
        for (Index k = 0; k < a.rows(); ++k) delta(k, c) = a(k, c) * (delta(k, c) - dot);
      }
    } else {
      gradcheck::detail::multiply_by_derivative(out, z, a, delta);
    }
  } else if (out == Activation::softmax && net.loss == Loss::cross_entropy) {
    delta.resize(a.rows(), a.cols());
    for (Index c = 0; c < a.cols(); ++c) delta.col(c) = a.col(c) * y.col(c).sum() - y.col(c);  // fused a·Σy − y
  } else if (out == Activation::softmax) {
    // quadratic or binary cross-entropy from logits through a naive softmax: a − y
    // style error terms through the Jacobian with the naive a.
    if (net.loss == Loss::quadratic)
      delta = a - y;
    else
      delta = ((1 - y.array()) / (1 - a.array()) - y.array() / a.array()).matrix();
    for (Index c = 0; c < a.cols(); ++c) {
      const double dot = a.col(c).dot(delta.col(c));
      for (Index k = 0; k < a.rows(); ++k) delta(k, c) = a(k, c) * (delta(k, c) - dot);
    }
  } else {
    ForwardPass<double> fp;
    fp.z = {z};
    fp.a = {Matrix<double>(), a};
    output_delta(net, fp, y, delta);
    return;  // output_delta applied the reduction
  }
  if (net.reduction == Reduction::mean) delta *= 1.0 / static_cast<double>(a.cols());
}

// Forward, loss and backward with the engine's code, the output layer per `n`.
void compute(const Network<double>& net, const Matrix<double>& x, const Matrix<double>& y, const Numerics& n,
             Tensors& t) {
  const std::size_t L = net.layers.size();
  forward(net, x, t.fp);
  if (naive_softmax_applies(net, n)) naive_softmax(t.fp.z[L - 1], t.fp.a[L]);
  if (naive_loss_applies(net, n)) {
    t.sample_losses.resize(y.cols());
    for (Index c = 0; c < y.cols(); ++c) t.sample_losses(c) = naive_sample_loss(net.loss, t.fp.a[L], y, c);
  } else {
    // Quadratic reads a (the naive one, when emulated); cross-entropy reads z (log-sum-exp).
    t.sample_losses = sample_losses(net, t.fp, y);
  }
  t.batch_loss = reduce(net.reduction, t.sample_losses);
  if (n.engine()) {
    backward(net, t.fp, y, t.g, /*input_gradient=*/false);
    return;
  }
  // The engine's backward, with the emulated output error.
  t.g.weights.resize(L);
  t.g.biases.resize(L);
  t.g.deltas.resize(L);
  emulated_output_delta(net, n, t.fp.z[L - 1], t.fp.a[L], y, t.g.deltas[L - 1]);
  for (std::size_t l = L; l-- > 0;) {
    const Matrix<double>& delta = t.g.deltas[l];
    layer_parameter_gradients(net.layers[l], t.fp.a[l], delta, t.g.weights[l], t.g.biases[l]);
    if (l > 0) {
      Matrix<double>& prev = t.g.deltas[l - 1];
      layer_input_gradient(net.layers[l], t.fp.a[l], delta, prev);
      gradcheck::detail::multiply_by_derivative(net.layers[l - 1].activation, t.fp.z[l - 1], t.fp.a[l], prev);
    }
  }
}

// Where an entry of an image layer's tensor is (NonFinite::position): a feature
// of a map, a conv2d kernel entry, a conv2d bias's channel; "" for dense layers.
std::string image_position(const Network<double>& net, Quantity q, int l, Index row, Index col) {
  const auto& layer = net.layers[static_cast<std::size_t>(l)];
  const auto feature = [](const ImageShape& s, Index f) {
    const Index hw = s.height * s.width;
    return "channel " + std::to_string(f / hw) + " at (" + std::to_string(f % hw / s.width) + ", " +
           std::to_string(f % s.width) + ")";
  };
  switch (q) {
    case Quantity::input: return net.input_shape.empty() ? "" : feature(net.input_shape, row);
    case Quantity::z:
    case Quantity::a:
    case Quantity::delta: return layer.is_dense() ? "" : feature(layer.output_shape(), row);
    case Quantity::weights:
    case Quantity::weight_gradient: {
      if (layer.kind != LayerKind::conv2d) return "";
      const ConvGeometry& g = layer.conv;
      const Index khw = g.kernel_h * g.kernel_w;
      return "kernel [" + std::to_string(row) + "][" + std::to_string(col / khw) + "][" +
             std::to_string(col % khw / g.kernel_w) + "][" + std::to_string(col % g.kernel_w) + "]";
    }
    case Quantity::biases:
    case Quantity::bias_gradient: return layer.kind == LayerKind::conv2d ? "channel" : "";
    default: return "";
  }
}

// ---------------------------------------------------------------------------
// Explaining one entry

struct Explanation {
  Operation operation = Operation::overflow;
  Site site = Site::matrix_product;
  bool produced = true;
  std::string cause, detail;
  std::vector<Evidence> operands;
  Index row_override = -1;  // the unit actually responsible, when it is not the entry's own row
};

// A sum of products Σ_i u_i v_i whose computed value is non-finite while every
// u_i, v_i is finite. The computed value decides the name (NaN: two infinities
// of opposite sign met; ±inf: overflow), the terms say where the infinities came from.
template <class U, class V>
Explanation explain_dot(const U& u, const V& v, double computed, Site site, const std::string& what,
                        const char* u_name, const char* v_name) {
  Explanation e;
  e.site = site;
  double pos = 0, neg = 0;
  Index largest = 0, pos_inf = -1, neg_inf = -1;
  double largest_abs = -1;
  for (Index i = 0; i < u.size(); ++i) {
    const double t = u(i) * v(i);
    if (t == inf && pos_inf < 0) pos_inf = i;
    if (t == -inf && neg_inf < 0) neg_inf = i;
    if (std::isfinite(t)) (t > 0 ? pos : neg) += t;
    const double mag = std::fabs(t);
    if (mag > largest_abs) {
      largest_abs = mag;
      largest = i;
    }
  }
  const auto term = [&](Index i) {
    e.operands.push_back({std::string(u_name) + "[" + std::to_string(i) + "]", u(i)});
    e.operands.push_back({std::string(v_name) + "[" + std::to_string(i) + "]", v(i)});
    e.operands.push_back({std::string(u_name) + "·" + v_name + " [" + std::to_string(i) + "]", u(i) * v(i)});
  };
  if (std::isnan(computed) && pos_inf >= 0 && neg_inf >= 0) {
    e.operation = Operation::inf_minus_inf;
    e.cause = "inf − inf in " + what;
    term(pos_inf);
    term(neg_inf);
    e.detail = "the products " + std::string(u_name) + "·" + v_name + " of terms " + std::to_string(pos_inf) +
               " (" + num(u(pos_inf)) + " × " + num(v(pos_inf)) + ") and " + std::to_string(neg_inf) + " (" +
               num(u(neg_inf)) + " × " + num(v(neg_inf)) + ") overflowed to +inf and −inf, and their sum is NaN";
  } else if (std::isnan(computed) && pos == inf && neg == -inf) {
    e.operation = Operation::inf_minus_inf;
    e.cause = "inf − inf in " + what;
    term(largest);
    e.detail = "every term is finite (largest |" + std::string(u_name) + "·" + v_name + "| = " + num(largest_abs) +
               "), but the positive terms sum to +inf and the negative ones to −inf, and inf − inf is NaN";
  } else if (pos_inf >= 0 || neg_inf >= 0) {
    const Index i = pos_inf >= 0 ? pos_inf : neg_inf;
    e.operation = Operation::overflow;
    e.cause = "overflow in " + what;
    term(i);
    e.detail = "the product " + std::string(u_name) + "·" + v_name + " of term " + std::to_string(i) + " (" +
               num(u(i)) + " × " + num(v(i)) + ") exceeds 1.8e308";
  } else {
    e.operation = std::isnan(computed) ? Operation::inf_minus_inf : Operation::overflow;
    e.cause = (std::isnan(computed) ? "inf − inf in " : "overflow in ") + what;
    term(largest);
    e.detail = "every term is finite (largest |" + std::string(u_name) + "·" + v_name + "| = " + num(largest_abs) +
               ") but their sum exceeds 1.8e308 (the positive terms sum to " + num(pos) + ", the negative to " +
               num(neg) + ")";
  }
  e.operands.push_back({"sum of positive terms", pos});
  e.operands.push_back({"sum of negative terms", neg});
  e.operands.push_back({"result", computed});
  return e;
}

// A sum Σ_i s_i of finite numbers whose computed value is non-finite.
template <class V>
Explanation explain_sum(const V& s, double computed, Site site, const std::string& what) {
  Explanation e;
  e.site = site;
  double pos = 0, neg = 0, largest = 0;
  for (Index i = 0; i < s.size(); ++i) {
    (s(i) > 0 ? pos : neg) += s(i);
    if (std::fabs(s(i)) > std::fabs(largest)) largest = s(i);
  }
  e.operation = std::isnan(computed) ? Operation::inf_minus_inf : Operation::overflow;
  e.cause = (std::isnan(computed) ? "inf − inf in " : "overflow in ") + what;
  e.detail = std::isnan(computed)
                 ? "the positive terms sum to " + num(pos) + " and the negative ones to " + num(neg) +
                       ", and inf − inf is NaN"
                 : "every term is finite (largest " + num(largest) + ") but their sum exceeds 1.8e308";
  e.operands = {{"largest term", largest}, {"sum of positive terms", pos}, {"sum of negative terms", neg},
                {"result", computed}};
  return e;
}

// A pooling layer's z from finite inputs: only an average's sum can overflow.
Explanation explain_pool_z(const PoolGeometry& g, const Matrix<double>& a, Index j, Index c, double z) {
  const Index P = g.positions(), ch = j / P, oy = j % P / g.out_w(), ox = j % g.out_w();
  Vector<double> window(g.window * g.window);
  for (Index u = 0; u < g.window; ++u)
    for (Index v = 0; v < g.window; ++v)
      window(u * g.window + v) = a((ch * g.height + oy * g.stride + u) * g.width + ox * g.stride + v, c);
  Explanation e = explain_sum(window, z, Site::matrix_product,
                              std::string("the window's ") + (g.kind == PoolGeometry::Kind::avg ? "mean" : "maximum") +
                                  " (" + to_string(g.kind) + ", forward)");
  return e;
}

Explanation explain_z(const Network<double>& net, const Tensors& t, int l, Index j, Index c) {
  const auto& layer = net.layers[static_cast<std::size_t>(l)];
  const Matrix<double>& a = t.fp.a[static_cast<std::size_t>(l)];
  const double z = t.fp.z[static_cast<std::size_t>(l)](j, c);
  if (is_pooling(layer.kind)) return explain_pool_z(layer.pool, a, j, c, z);
  const bool conv = layer.kind == LayerKind::conv2d;
  const Index unit = conv ? j / layer.conv.positions() : j;
  // W·a alone, computed as the engine computes it (same expression, same bits).
  Matrix<double> product;
  if (conv) {
    conv2d_forward(layer.conv, layer.weights, Vector<double>(Vector<double>::Zero(layer.biases.size())), a, product);
  } else {
    product.noalias() = layer.weights * a;
  }
  const double p = product(j, c);
  const char* what = conv ? "W⋆a (forward)" : "W·a (forward)";
  if (!std::isfinite(p) && conv) {
    const detail::Terms terms = detail::conv_forward_terms(layer.conv, layer.weights, a, j, c);
    return explain_dot(terms.u, terms.v, p, Site::matrix_product, what, "w", "a");
  }
  if (!std::isfinite(p)) return explain_dot(layer.weights.row(j), a.col(c), p, Site::matrix_product, what, "w", "a");
  Explanation e;
  e.site = Site::bias_add;
  e.operation = Operation::overflow;
  e.cause = std::string("overflow in ") + (conv ? "W⋆a + b" : "W·a + b") + " (forward)";
  e.detail = "(" + std::string(conv ? "W⋆a" : "W·a") + ") = " + num(p) + " plus b = " + num(layer.biases(unit)) +
             " exceeds 1.8e308";
  e.operands = {{conv ? "W⋆a" : "W·a", p}, {"b", layer.biases(unit)}, {"z", z}};
  return e;
}

Explanation explain_activation(const Network<double>& net, const Numerics& n, const Tensors& t, int l, Index j,
                               Index c) {
  const std::size_t L = net.layers.size();
  const Matrix<double>& z = t.fp.z[static_cast<std::size_t>(l)];
  Explanation e;
  if (static_cast<std::size_t>(l) + 1 == L && naive_softmax_applies(net, n)) {
    e.site = Site::softmax;
    Index over = -1, largest = 0;
    double total = 0;
    for (Index k = 0; k < z.rows(); ++k) {
      const double ek = std::exp(z(k, c));
      if (ek == inf && over < 0) over = k;
      total += ek;
      if (z(k, c) > z(largest, c)) largest = k;
    }
    if (over >= 0) {
      e.operation = Operation::exp_overflow;
      e.cause = "exp overflow in softmax";
      e.row_override = over;
      e.detail = "the naive softmax computes exp(z) with z = " + num(z(over, c), 6) + " > ln(DBL_MAX) = 709.78, which is inf; then inf / inf = NaN";
      e.operands = {{"z", z(over, c)}, {"exp(z)", inf}, {"ln(DBL_MAX)", ln_dbl_max}, {"Σ exp(z)", total}};
      return e;
    }
    if (total == 0) {
      e.operation = Operation::zero_over_zero;
      e.cause = "0 / 0 in softmax";
      e.row_override = largest;
      e.detail = "every exp(z) of the naive softmax underflowed to 0 (the largest z is " + num(z(largest, c), 6) +
                 " < −745.1), so a = 0 / 0 = NaN";
      e.operands = {{"largest z", z(largest, c)}, {"Σ exp(z)", 0.0}};
      return e;
    }
    e.operation = Operation::overflow;
    e.cause = "overflow in softmax";
    e.detail = "Σ exp(z) = " + num(total) + " of the naive softmax";
    e.operands = {{"Σ exp(z)", total}};
    return e;
  }
  // The engine's activations map finite z to finite a; should that ever fail,
  // say so with the numbers rather than guess a cause.
  e.site = net.layers[static_cast<std::size_t>(l)].activation == Activation::softmax ? Site::softmax : Site::activation;
  e.operation = Operation::overflow;
  e.cause = std::string("non-finite ") + to_string(net.layers[static_cast<std::size_t>(l)].activation) + " of a finite z";
  e.detail = "z = " + num(z(j, c), 6) + " gave a = " + num(t.fp.a[static_cast<std::size_t>(l) + 1](j, c));
  e.operands = {{"z", z(j, c)}, {"a", t.fp.a[static_cast<std::size_t>(l) + 1](j, c)}};
  return e;
}

Explanation explain_loss(const Network<double>& net, const Numerics& n, const Tensors& t, const Matrix<double>& y,
                         Index c) {
  const Matrix<double>& a = t.fp.a.back();
  const double value = t.sample_losses(c);
  Explanation e;
  e.site = Site::loss;
  if (net.loss == Loss::quadratic) {
    for (Index k = 0; k < a.rows(); ++k) {
      const double d = a(k, c) - y(k, c);
      if (!std::isfinite(d)) {
        e.cause = "overflow in a − y (quadratic loss)";
        e.row_override = k;
        e.detail = "a = " + num(a(k, c)) + " minus y = " + num(y(k, c)) + " exceeds 1.8e308";
        e.operands = {{"a", a(k, c)}, {"y", y(k, c)}};
        return e;
      }
      if (!std::isfinite(d * d)) {
        e.cause = "overflow in the quadratic loss";
        e.row_override = k;
        e.detail = "(a − y)² with a − y = " + num(d) + " exceeds 1.8e308 (|a − y| > 1.34e154)";
        e.operands = {{"a", a(k, c)}, {"y", y(k, c)}, {"a − y", d}, {"(a − y)²", d * d}};
        return e;
      }
    }
    Vector<double> squares = (a.col(c) - y.col(c)).array().square().matrix();
    Explanation s = explain_sum(squares, value, Site::loss, "the quadratic loss Σ (a − y)²");
    return s;
  }
  if (naive_loss_applies(net, n)) {
    Index zero_target_at_zero = -1, target_at_zero = -1;
    for (Index k = 0; k < a.rows(); ++k) {
      const bool a_zero = a(k, c) == 0;
      const bool one_minus_zero = net.loss == Loss::binary_cross_entropy && a(k, c) == 1;
      if (a_zero && y(k, c) == 0 && zero_target_at_zero < 0) zero_target_at_zero = k;
      if (a_zero && y(k, c) != 0 && target_at_zero < 0) target_at_zero = k;
      if (one_minus_zero && y(k, c) == 1 && zero_target_at_zero < 0) zero_target_at_zero = k;
      if (one_minus_zero && y(k, c) != 1 && target_at_zero < 0) target_at_zero = k;
    }
    if (std::isnan(value) && zero_target_at_zero >= 0) {
      const Index k = zero_target_at_zero;
      e.operation = Operation::zero_times_inf;
      e.cause = "0 · inf in cross-entropy";
      e.row_override = k;
      e.detail = "output " + std::to_string(k) + " underflowed to a = " + num(a(k, c)) +
                 ", its target is " + num(y(k, c)) + ", and the term 0 · ln 0 = 0 · (−inf) is NaN";
      e.operands = {{"a", a(k, c)}, {"y", y(k, c)}, {"ln a", std::log(a(k, c))}};
      return e;
    }
    if (target_at_zero >= 0) {
      const Index k = target_at_zero;
      e.operation = Operation::log_of_zero;
      e.cause = "log(0) in cross-entropy";
      e.row_override = k;
      const bool upper = a(k, c) == 1;
      e.detail = "the output of the target class " + std::to_string(k) + " is a = " + num(a(k, c)) +
                 (upper ? ", so ln(1 − a) = ln 0 = −inf" : " (it underflowed), so −y ln a = −ln 0 = +inf") +
                 " (computed from logits, log-sum-exp keeps it finite)";
      e.operands = {{"a", a(k, c)}, {"y", y(k, c)}, {upper ? "ln(1 − a)" : "ln a", -inf}};
      return e;
    }
  }
  e.operation = Operation::overflow;
  e.cause = std::string("non-finite ") + to_string(net.loss) + " loss";
  e.detail = "the per-sample loss is " + num(value);
  e.operands = {{"loss", value}};
  return e;
}

Explanation explain_output_delta(const Network<double>& net, const Numerics& n, const Tensors& t,
                                 const Matrix<double>& y, Index k, Index c) {
  const Matrix<double>& a = t.fp.a.back();
  Explanation e;
  e.site = Site::output_error;
  if (naive_loss_applies(net, n)) {
    for (Index i = 0; i < a.rows(); ++i)
      if (a(i, c) == 0) {
        e.operation = y(i, c) == 0 ? Operation::zero_over_zero : Operation::division_by_zero;
        e.cause = y(i, c) == 0 ? "0 / 0 in the cross-entropy gradient −y / a" : "division by zero in the cross-entropy gradient −y / a";
        e.row_override = i;
        e.detail = "dL/da = −y / a with a = 0 and y = " + num(y(i, c));
        e.operands = {{"a", a(i, c)}, {"y", y(i, c)}};
        return e;
      }
  }
  const double d = a(k, c) - y(k, c);
  e.operation = Operation::overflow;
  e.cause = std::isfinite(d) ? "non-finite output error" : "overflow in a − y (output error)";
  e.detail = "a = " + num(a(k, c)) + ", y = " + num(y(k, c)) + ", dL/dz = " + num(t.g.deltas.back()(k, c));
  e.operands = {{"a", a(k, c)}, {"y", y(k, c)}, {"z", t.fp.z.back()(k, c)}};
  return e;
}

// The product that carries δ_{l+1} down to the output of layer l, when it is the
// non-finite one: Wᵀ·δ (dense), the transposed convolution (conv2d), the
// windows' shares added up (pooling).
Explanation explain_backprop_product(const Layer<double>& next, const Matrix<double>& delta, Index i, Index c,
                                     double p) {
  switch (next.kind) {
    case LayerKind::dense:
      return explain_dot(next.weights.col(i), delta.col(c), p, Site::backprop_product, "Wᵀ·δ (backward)", "w", "δ");
    case LayerKind::conv2d: {
      const detail::Terms terms = detail::conv_input_gradient_terms(next.conv, next.weights, delta, i, c);
      return explain_dot(terms.u, terms.v, p, Site::backprop_product, "the transposed convolution Wᵀ⋆δ (backward)",
                         "w", "δ");
    }
    default: break;
  }
  Explanation e;
  e.site = Site::backprop_product;
  e.operation = std::isnan(p) ? Operation::inf_minus_inf : Operation::overflow;
  e.cause = std::string(std::isnan(p) ? "inf − inf" : "overflow") + " in the " + to_string(next.pool.kind) +
            " gradient's sum over the windows that share the entry (backward)";
  e.detail = "the windows' shares of δ add up to " + num(p);
  e.operands = {{"δ of the windows (largest |δ|)", delta.col(c).cwiseAbs().maxCoeff()}, {"result", p}};
  return e;
}

Explanation explain_backprop(const Network<double>& net, const Tensors& t, int l, Index i, Index c) {
  // deltas[l] = (the next layer's input gradient of δ_{l+1}) ⊙ act_l'(z_l)
  const auto& next = net.layers[static_cast<std::size_t>(l) + 1];
  const Matrix<double>& delta = t.g.deltas[static_cast<std::size_t>(l) + 1];
  Matrix<double> product;
  layer_input_gradient(next, t.fp.a[static_cast<std::size_t>(l) + 1], delta, product);
  const double p = product(i, c);
  if (!std::isfinite(p)) return explain_backprop_product(next, delta, i, c, p);
  Explanation e;
  e.site = Site::activation_derivative;
  e.operation = Operation::overflow;
  e.cause = "overflow in δ ⊙ act'(z) (backward)";
  e.detail = "Wᵀ·δ = " + num(p) + " times act'(z) at z = " + num(t.fp.z[static_cast<std::size_t>(l)](i, c));
  e.operands = {{"Wᵀ·δ", p}, {"z", t.fp.z[static_cast<std::size_t>(l)](i, c)}};
  return e;
}

// ---------------------------------------------------------------------------
// The walk

// Visits every tensor of a step in computation order; `visit` returns true to stop.
template <class F>
void walk(const Network<double>& net, const Tensors& t, const Matrix<double>& y, F&& visit) {
  const int L = static_cast<int>(net.layers.size());
  if (visit(Pass::forward, Quantity::input, 0, t.fp.a[0])) return;
  if (visit(Pass::forward, Quantity::target, L - 1, y)) return;
  for (int l = 0; l < L; ++l) {
    if (visit(Pass::forward, Quantity::weights, l, net.layers[static_cast<std::size_t>(l)].weights)) return;
    if (visit(Pass::forward, Quantity::biases, l, Matrix<double>(net.layers[static_cast<std::size_t>(l)].biases)))
      return;
  }
  for (int l = 0; l < L; ++l) {
    if (visit(Pass::forward, Quantity::z, l, t.fp.z[static_cast<std::size_t>(l)])) return;
    if (visit(Pass::forward, Quantity::a, l, t.fp.a[static_cast<std::size_t>(l) + 1])) return;
  }
  if (visit(Pass::loss, Quantity::loss, L - 1, Matrix<double>(t.sample_losses.transpose()))) return;
  if (visit(Pass::loss, Quantity::loss, L - 1, Matrix<double>::Constant(1, 1, t.batch_loss))) return;
  if (visit(Pass::backward, Quantity::delta, L - 1, t.g.deltas[static_cast<std::size_t>(L - 1)])) return;
  for (int l = L - 1; l >= 0; --l) {
    if (visit(Pass::backward, Quantity::weight_gradient, l, t.g.weights[static_cast<std::size_t>(l)])) return;
    if (visit(Pass::backward, Quantity::bias_gradient, l, Matrix<double>(t.g.biases[static_cast<std::size_t>(l)])))
      return;
    if (l > 0 && visit(Pass::backward, Quantity::delta, l - 1, t.g.deltas[static_cast<std::size_t>(l - 1)])) return;
  }
}

// Whether the engine's own numbers hold finite values where the emulation found
// the first non-finite one (the column of that sample in the same tensor): only
// then is the non-finite value the emulated numerics' doing.
bool engine_column_finite(const Network<double>& net, const Matrix<double>& x, const Matrix<double>& y,
                          const NonFinite& nf) {
  Tensors engine;
  compute(net, x, y, Numerics{}, engine);
  bool finite = true, loss_seen = false;
  walk(net, engine, y, [&](Pass p, Quantity q, int l, const Matrix<double>& m) {
    const bool batch = q == Quantity::loss && loss_seen;
    if (q == Quantity::loss) loss_seen = true;
    if (p != nf.pass || q != nf.quantity || l != nf.layer) return false;
    if (q == Quantity::loss && batch != (nf.col < 0)) return false;
    finite = nf.col < 0 ? m.allFinite() : m.col(nf.col).allFinite();
    return true;
  });
  return finite;
}

// A non-finite value in the data, which nothing in the network made.
Explanation explain_data(Quantity q, Index r, Index c, double value) {
  Explanation e;
  e.site = Site::data;
  e.operation = Operation::non_finite_operand;
  e.produced = false;
  e.cause = q == Quantity::input ? "non-finite input data" : "non-finite target";
  e.detail = std::string("the batch's ") + (q == Quantity::input ? "input" : "target") + " (feature " +
             std::to_string(r) + ", sample " + std::to_string(c) + ") is " + num(value) +
             ": it comes from the data, nothing in the network made it";
  return e;
}

// A non-finite parameter the step started from.
Explanation explain_parameter(Quantity q, double value) {
  Explanation e;
  e.site = Site::parameters;
  e.operation = Operation::non_finite_operand;
  e.produced = false;
  e.cause = "non-finite parameter";
  e.detail = std::string("the ") + to_string(q) + " the step started from hold " + num(value) +
             ": they were non-finite before this step";
  return e;
}

// The explanation of the first non-finite entry nf (its pass, quantity, layer,
// row, column and value set) by the tensor it is an entry of. A loss entry is
// re-addressed: no output unit (row −1), and for the batch loss no sample either.
Explanation explain_entry(const Network<double>& net, const Numerics& numerics, const Tensors& t,
                          const Matrix<double>& targets, bool is_batch_loss, NonFinite& nf) {
  const int l = nf.layer;
  const Index r = nf.row, c = nf.col;
  Explanation e;
  switch (nf.quantity) {
    case Quantity::input:
    case Quantity::target: e = explain_data(nf.quantity, r, c, nf.value); break;
    case Quantity::weights:
    case Quantity::biases: e = explain_parameter(nf.quantity, nf.value); break;
    case Quantity::z: e = explain_z(net, t, l, r, c); break;
    case Quantity::a: e = explain_activation(net, numerics, t, l, r, c); break;
    case Quantity::loss:
      if (is_batch_loss) {
        nf.row = -1;
        nf.col = -1;
        e = explain_sum(t.sample_losses, t.batch_loss, Site::loss, "the batch's sum of per-sample losses");
      } else {
        nf.row = -1;
        e = explain_loss(net, numerics, t, targets, c);
      }
      break;
    case Quantity::delta:
      if (l == static_cast<int>(net.layers.size()) - 1)
        e = explain_output_delta(net, numerics, t, targets, r, c);
      else
        e = explain_backprop(net, t, l, r, c);
      break;
    case Quantity::weight_gradient: {
      const Matrix<double>& d = t.g.deltas[static_cast<std::size_t>(l)];
      const Matrix<double>& a = t.fp.a[static_cast<std::size_t>(l)];
      const auto& layer = net.layers[static_cast<std::size_t>(l)];
      if (layer.kind == LayerKind::conv2d) {
        const detail::Terms terms = detail::conv_weight_gradient_terms(layer.conv, a, d, r, c);
        e = explain_dot(terms.u, terms.v, nf.value, Site::weight_gradient,
                        "the weight gradient Σ δ ⋆ a (backward)", "δ", "a");
      } else {
        e = explain_dot(d.row(r), a.row(c), nf.value, Site::weight_gradient, "the weight gradient δ·aᵀ (backward)",
                        "δ", "a");
      }
      break;
    }
    case Quantity::bias_gradient: {
      const auto& layer = net.layers[static_cast<std::size_t>(l)];
      const Matrix<double>& d = t.g.deltas[static_cast<std::size_t>(l)];
      e = layer.kind == LayerKind::conv2d
              ? explain_sum(detail::conv_bias_gradient_terms(layer.conv, d, r), nf.value, Site::bias_gradient,
                            "the bias gradient Σ δ over positions and samples (backward)")
              : explain_sum(d.row(r), nf.value, Site::bias_gradient, "the bias gradient Σ δ (backward)");
      break;
    }
  }
  return e;
}

// The first non-finite entry, m(r, c) of the tensor (pass, q, l), located and explained.
NonFinite first_non_finite_entry(const Network<double>& net, const Numerics& numerics, const Tensors& t,
                                 const Matrix<double>& targets, Pass pass, Quantity q, int l, bool is_batch_loss,
                                 const Matrix<double>& m, Index r, Index c) {
  NonFinite nf;
  nf.pass = pass;
  nf.quantity = q;
  nf.layer = l;
  nf.row = r;
  nf.col = c;
  nf.value = m(r, c);
  Explanation e = explain_entry(net, numerics, t, targets, is_batch_loss, nf);
  if (e.row_override >= 0) nf.row = e.row_override;
  if (nf.row >= 0) nf.position = image_position(net, q, l, nf.row, nf.col);
  nf.operation = e.operation;
  nf.site = e.site;
  nf.produced = e.produced;
  nf.emulated = !numerics.engine();
  nf.cause = std::move(e.cause);
  nf.detail = std::move(e.detail);
  nf.operands = std::move(e.operands);
  return nf;
}

}  // namespace

std::optional<NonFinite> trace_step(const Network<double>& net, const Matrix<double>& inputs,
                                    const Matrix<double>& targets, const Numerics& numerics) {
  validate(net);
  Tensors t;
  compute(net, inputs, targets, numerics, t);
  std::optional<NonFinite> found;
  bool batch_loss_seen = false;
  walk(net, t, targets, [&](Pass pass, Quantity q, int l, const Matrix<double>& m) {
    const bool is_batch_loss = q == Quantity::loss && batch_loss_seen;
    if (q == Quantity::loss) batch_loss_seen = true;
    if (found) {  // downstream: record what passed it on
      const Index bad = detail::count_non_finite(m);
      if (bad > 0) found->passed_on.push_back({pass, q, l, bad, m.size()});
      return false;
    }
    Index r = 0, c = 0;
    if (!detail::first_non_finite(m, r, c)) return false;
    found = first_non_finite_entry(net, numerics, t, targets, pass, q, l, is_batch_loss, m, r, c);
    return false;  // keep walking: the rest of the step shows what passed it on
  });
  if (found && found->emulated) found->emulated = engine_column_finite(net, inputs, targets, *found);
  return found;
}

std::optional<NonFinite> explain_update(const Network<double>* before, const Network<double>& after,
                                        const Gradients<double>& gradients, double clip_scale,
                                        const std::optional<TrainOptions>& training) {
  for (std::size_t l = 0; l < after.layers.size(); ++l) {
    for (int which = 0; which < 2; ++which) {
      const bool bias = which == 1;
      const Matrix<double> now = bias ? Matrix<double>(after.layers[l].biases) : after.layers[l].weights;
      Index r = 0, c = 0;
      if (!detail::first_non_finite(now, r, c)) continue;
      const double w0 = !before ? nan : bias ? before->layers[l].biases(r) : before->layers[l].weights(r, c);
      const double g = bias ? gradients.biases[l](r) : gradients.weights[l](r, c);
      NonFinite nf;
      nf.pass = Pass::update;
      nf.quantity = bias ? Quantity::biases : Quantity::weights;
      nf.layer = static_cast<int>(l);
      nf.row = r;
      nf.col = c;
      nf.value = now(r, c);
      nf.site = Site::weight_update;
      const std::string what = bias ? "bias" : "weight";
      nf.operands = {{what + " before", w0}, {"gradient g", g}, {"clip scale", clip_scale}};
      if ((before && !std::isfinite(w0)) || !std::isfinite(g)) {
        nf.operation = Operation::non_finite_operand;
        nf.produced = false;
        nf.cause = "non-finite " + what + " passed on by the update";
        nf.detail = "the " + what + " was " + num(w0) + " and its gradient " + num(g) + " before the update";
        return nf;
      }
      nf.operation = Operation::overflow;
      nf.cause = "overflow in a " + what + " update";
      const std::string w0_text = before ? num(w0) : "(value not kept: Options::snapshot is off)";
      if (training && training->optimizer == Optimizer::sgd) {
        const double step = training->learning_rate * clip_scale;
        const double u = step * g;
        nf.operands.push_back({"learning rate η", training->learning_rate});
        nf.operands.push_back({"η·g", u});
        if (!std::isfinite(u))
          nf.detail = "the update η·g = " + num(training->learning_rate) + " × " + num(g) +
                      " exceeds 1.8e308 (the " + what + " was " + w0_text + ")";
        else
          nf.detail = "the finite " + what + " " + w0_text + " minus the finite update η·g = " + num(u) +
                      " exceeds 1.8e308";
      } else {
        if (training) nf.operands.push_back({"learning rate η", training->learning_rate});
        nf.detail = "the finite " + what + " " + w0_text + " with gradient " + num(g) + " became " +
                    num(nf.value) + " after the " +
                    (training ? std::string(to_string(training->optimizer)) : std::string("optimiser's")) +
                    " update";
      }
      nf.operands.push_back({what + " after", nf.value});
      return nf;
    }
  }
  return std::nullopt;
}

}  // namespace gradcheck::watch
