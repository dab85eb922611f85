// The precision model (precision_model.hpp): the case run in a scalar that
// carries a first-order rounding-error bound, with the stable formulas and with
// the textbook ones, every operation rounding to the format under test.
#include <gradcheck/gradient/precision_model.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

namespace gradcheck {

namespace {

constexpr double inf = std::numeric_limits<double>::infinity();
// An operation whose condition number reaches this loses more than a digit and
// becomes the cause of the error it passes on.
constexpr double digits_lost_threshold = 16;

using Op = PrecisionOperation;

// A value computed in the format, and a bound on its distance from the exact value.
struct R {
  double v = 0, e = 0;
  int cause = -1;
};

// One input's share of an operation's error: |∂f/∂x|·e_x, the operation's
// condition number with respect to x, and x's cause.
struct Part {
  double c, kappa;
  int cause;
};

// The arithmetic of R: every result rounds to the format (u·|v|, plus the
// smallest normal number for underflow) and overflows past its largest number.
class Tracker {
 public:
  Tracker(const FloatFormat& f, std::vector<PrecisionCause>& causes, bool textbook, double safety)
      : f_(f), causes_(causes), textbook_(textbook), safety_(safety) {}

  bool textbook() const { return textbook_; }
  void at(std::size_t layer, Index unit, Index sample) { layer_ = layer, unit_ = unit, sample_ = sample; }

  R in(double x) const { return {x, std::abs(round_to(x, f_.precision) - x), -1}; }
  static R exact(double x) { return {x, 0, -1}; }

  R add(R x, R y, Op op) { return finish(x.v + y.v, {part(1, x, x.v + y.v), part(1, y, x.v + y.v)}, 1, op, x.v + y.v); }
  R sub(R x, R y, Op op) {
    const double v = x.v - y.v;
    return finish(v, {part(1, x, v), part(1, y, v)}, 1, op, y.v);
  }
  // |x̃ỹ − xy| ≤ |y|e_x + |x|e_y + e_x e_y: the last term is all there is
  // when both exact values are near 0 and both computed ones are not.
  R mul(R x, R y, Op op) {
    const double v = x.v * y.v;
    const double both = x.e * y.e;
    const int larger = x.e >= y.e ? x.cause : y.cause;
    return finish(v, {{std::abs(y.v) * x.e, 1, x.cause}, {std::abs(x.v) * y.e, 1, y.cause}, {both, 1, larger}}, 1, op,
                  v);
  }
  // |x̃/ỹ − x/y| ≤ (e_x + |x/y| e_y) / (|y| − e_y), not only its first order.
  R div(R x, R y, Op op) {
    const double v = x.v / y.v;
    if (!(std::abs(y.v) > y.e)) return unbounded(v, op, y.v);  // y may be 0
    const double denominator = std::abs(y.v) - y.e;
    return finish(v, {{x.e / denominator, 1, x.cause}, {std::abs(v) * y.e / denominator, 1, y.cause}}, 1, op, y.v);
  }
  R exp(R x, Op op) {
    const double v = std::exp(x.v);
    // exp(x + e) − exp(x), not only its first-order term v·e: an argument
    // off by a lot (a cancelling sum in bfloat16) moves the result by more.
    return finish(v, {{std::max(v * x.e, std::exp(x.v + x.e) - v), std::abs(x.v), x.cause}}, 1, op, x.v);
  }
  R log(R x, Op op) {
    if (!(x.v > x.e)) return unbounded(std::log(x.v), op, x.v);  // x may be 0
    const double v = std::log(x.v);
    // ln x − ln(x − e) = −ln(1 − e/x): more than e/x when e is not small.
    return finish(v, {{-std::log1p(-x.e / x.v), v != 0 ? 1 / std::abs(v) : inf, x.cause}}, 1, op, x.v);
  }
  // f(x) with derivative d and `ulps` roundings of its own (a library function).
  R apply(R x, double v, double d, double ulps, Op op) {
    const double kappa = v != 0 ? std::abs(d * x.v / v) : inf;
    return finish(v, {{std::abs(d) * x.e, kappa, x.cause}}, ulps, op, x.v);
  }
  // f(x) for a monotone f (σ, tanh) with derivative d at x: the change over
  // [x − e, x + e], which the first-order |d|·e understates where a saturated
  // unit's argument is off by more than its curvature allows.
  template <class F>
  R apply_monotone(R x, F f, double d, double ulps, Op op) {
    const double v = f(x.v);
    const double change = std::max({std::abs(d) * x.e, std::abs(f(x.v + x.e) - v), std::abs(f(x.v - x.e) - v)});
    const double kappa = v != 0 ? std::abs(d * x.v / v) : inf;
    return finish(v, {{change, kappa, x.cause}}, ulps, op, x.v);
  }
  // Σ terms in any order: (n − 1)·u·Σ|terms| on top of the terms' own errors.
  R sum(const std::vector<R>& t, Op op);
  // Whether z's error, times the model's safety factor, reaches across 0: a
  // correct program may compute a z of either sign there. A z exactly 0 is
  // the kink itself, whose derivative is a convention (verify's kink note).
  bool may_cross_zero(R z) const { return z.v != 0 && std::abs(z.v) <= safety_ * z.e; }
  // A piecewise-linear activation's derivative (slopes on the two sides of
  // 0) at z: exact, or either slope where z may cross 0. That error is exact,
  // not an estimate: it is divided by the safety factor that every bound is
  // multiplied by, so that a derivative beyond both slopes stays a bug.
  R kink_derivative(R z, double negative_slope) {
    const double d = z.v > 0 ? 1 : negative_slope;
    if (!may_cross_zero(z) || !std::isfinite(z.e)) return exact(d);
    return {d, (1 - negative_slope) / safety_, new_cause(Op::kink_side, z.v, 0)};
  }

  double unit_roundoff() const { return f_.unit_roundoff; }

 private:
  static Part part(double d, R x, double v) { return {d * x.e, v != 0 ? std::abs(x.v / v) : inf, x.cause}; }
  R finish(double v, std::initializer_list<Part> parts, double ulps, Op op, double argument);
  R unbounded(double v, Op op, double argument) { return {v, inf, new_cause(op, argument, 0)}; }
  int new_cause(Op op, double argument, double digits);

  const FloatFormat& f_;
  std::vector<PrecisionCause>& causes_;
  bool textbook_;
  double safety_;
  std::size_t layer_ = 0;
  Index unit_ = 0, sample_ = 0;
};

int Tracker::new_cause(Op op, double argument, double digits) {
  causes_.push_back({op, layer_, unit_, sample_, argument, std::max(0.0, digits), textbook_});
  return static_cast<int>(causes_.size()) - 1;
}

R Tracker::finish(double v, std::initializer_list<Part> parts, double ulps, Op op, double argument) {
  if (std::abs(v) > f_.max) return {v, inf, new_cause(Op::overflow, v, 0)};
  double propagated = 0;
  Part top_part{0, 0, -1};
  const Part* top = nullptr;
  for (const Part& p : parts) {
    // 0 × an unbounded error (a value that overflowed) is NaN: in the format,
    // 0 × inf is NaN, so the result is unbounded too, from the same cause.
    const double c = std::isnan(p.c) ? inf : p.c;
    propagated += c;
    if (!top || c > top->c) {
      top_part = {c, p.kappa, p.cause};
      top = &top_part;
    }
  }
  const double e = propagated + ulps * f_.unit_roundoff * std::abs(v) + f_.min_normal;
  int cause = -1;
  if (top && top->c > 0 && top->c >= ulps * f_.unit_roundoff * std::abs(v)) {
    cause = top->cause;
    if (top->kappa >= digits_lost_threshold && std::isfinite(e))
      cause = new_cause(op, argument, v != 0 ? -std::log10(e / std::abs(v)) : 0);
  }
  return {v, e, cause};
}

R Tracker::sum(const std::vector<R>& t, Op op) {
  double v = 0, magnitude = 0, propagated = 0;
  const R* top = nullptr;
  for (const R& x : t) {
    v += x.v;
    magnitude += std::abs(x.v);
    propagated += x.e;
    if (!top || x.e > top->e) top = &x;
  }
  if (std::abs(v) > f_.max) return {v, inf, new_cause(Op::overflow, v, 0)};
  // A partial sum may overflow in some order (30000 + 40000 − 18000 in
  // float16) though the total does not: none can where Σ|terms|, grown by
  // the roundings, stays within the format.
  if (magnitude * (1 + static_cast<double>(t.size()) * f_.unit_roundoff) > f_.max)
    return {v, inf, new_cause(Op::overflow, magnitude, 0)};
  const double accumulation = static_cast<double>(t.empty() ? 0 : t.size() - 1) * f_.unit_roundoff * magnitude;
  const double e = propagated + accumulation + f_.unit_roundoff * std::abs(v) + f_.min_normal;
  const double kappa = v != 0 ? magnitude / std::abs(v) : inf;
  int cause = top && top->e >= accumulation ? top->cause : -1;
  if (kappa >= digits_lost_threshold && magnitude > 0 && std::isfinite(e))
    cause = new_cause(op, v, v != 0 ? -std::log10(e / std::abs(v)) : 0);
  return {v, e, cause};
}

// A matrix of R, column-major like the engine's (rows × samples).
struct Grid {
  Index rows = 0, cols = 0;
  std::vector<R> v;
  Grid(Index r, Index c) : rows(r), cols(c), v(static_cast<std::size_t>(r * c)) {}
  R& operator()(Index i, Index j) { return v[static_cast<std::size_t>(j * rows + i)]; }
  const R& operator()(Index i, Index j) const { return v[static_cast<std::size_t>(j * rows + i)]; }
};

double sigmoid(double z) { return z >= 0 ? 1 / (1 + std::exp(-z)) : std::exp(z) / (1 + std::exp(z)); }

R activate(Tracker& t, Activation act, R z) {
  switch (act) {
    case Activation::identity: return z;
    case Activation::sigmoid: {
      const double a = sigmoid(z.v);
      return t.apply_monotone(z, sigmoid, a * sigmoid(-z.v), 3, Op::sigmoid);
    }
    case Activation::tanh: {
      const double a = std::tanh(z.v);
      return t.apply_monotone(z, [](double x) { return std::tanh(x); }, 1 - a * a, 2, Op::tanh);
    }
    // At z exactly 0 a program's z̃ may be as far as e_z above it, and its
    // activation with it (an unbounded z, one that overflowed, leaves it unbounded).
    case Activation::relu:
      return {z.v > 0 ? z.v : 0, z.v >= 0 || t.may_cross_zero(z) ? z.e : 0, z.cause};
    case Activation::leaky_relu:
      if (z.v >= 0 || t.may_cross_zero(z)) return {z.v > 0 ? z.v : leaky_relu_slope * z.v, z.e, z.cause};
      return t.apply(z, leaky_relu_slope * z.v, leaky_relu_slope, 1, Op::weighted_sum);
    case Activation::softmax: break;  // by column, in forward_layer
  }
  return z;
}

// act'(z) for an elementwise activation: from a in the textbook way, from z in the stable one.
R derivative(Tracker& t, Activation act, R z, R a) {
  switch (act) {
    case Activation::sigmoid:
      if (t.textbook()) return t.mul(a, t.sub(Tracker::exact(1), a, Op::sigmoid_derivative), Op::sigmoid_derivative);
      return t.apply(z, a.v * sigmoid(-z.v), a.v * sigmoid(-z.v) * (1 - 2 * a.v), 4, Op::sigmoid_derivative);
    case Activation::tanh:
      if (t.textbook()) return t.sub(Tracker::exact(1), t.mul(a, a, Op::tanh_derivative), Op::tanh_derivative);
      return t.apply(z, 1 - a.v * a.v, -2 * a.v * (1 - a.v * a.v), 4, Op::tanh_derivative);
    case Activation::relu: return t.kink_derivative(z, 0);
    case Activation::leaky_relu: return t.kink_derivative(z, leaky_relu_slope);
    default: return Tracker::exact(1);
  }
}

struct Pass {
  std::vector<Grid> z, a;  // a[0] = the inputs, a[l + 1] = layer l's activations
  std::vector<Grid> weights;
  std::vector<std::vector<R>> biases;
  // Softmax output columns: exp(z − max z) and their total.
  std::vector<std::vector<R>> softmax_terms;
  std::vector<R> softmax_total;
};

void softmax_column(Tracker& t, Pass& p, std::size_t l, Index s) {
  Grid& z = p.z[l];
  Grid& a = p.a[l + 1];
  Index m = 0;
  for (Index k = 1; k < z.rows; ++k)
    if (z(k, s).v > z(m, s).v) m = k;
  std::vector<R> terms;
  for (Index k = 0; k < z.rows; ++k) {
    t.at(l, k, s);
    terms.push_back(t.exp(k == m ? R{0, 0, -1} : t.sub(z(k, s), z(m, s), Op::softmax_exp), Op::softmax_exp));
  }
  const R total = t.sum(terms, Op::softmax_exp);
  for (Index k = 0; k < z.rows; ++k) a(k, s) = t.div(terms[static_cast<std::size_t>(k)], total, Op::softmax_exp);
  p.softmax_terms[static_cast<std::size_t>(s)] = std::move(terms);
  p.softmax_total[static_cast<std::size_t>(s)] = total;
}

// Calls f(o, j, k, i) for every tap of a conv2d layer: output feature j
// (channel o) reads input feature i through kernel column k (conv.hpp's layout;
// taps in the zero padding are left out: they add nothing, exactly).
template <class F>
void for_each_tap(const ConvGeometry& g, F&& f) {
  const Index OH = g.out_h(), OW = g.out_w();
  for (Index o = 0; o < g.out_channels; ++o)
    for (Index oy = 0; oy < OH; ++oy)
      for (Index ox = 0; ox < OW; ++ox)
        for (Index c = 0; c < g.in_channels; ++c)
          for (Index u = 0; u < g.kernel_h; ++u)
            for (Index v = 0; v < g.kernel_w; ++v) {
              const Index y = oy * g.stride - g.padding + u, x = ox * g.stride - g.padding + v;
              if (y < 0 || y >= g.height || x < 0 || x >= g.width) continue;
              f(o, (o * OH + oy) * OW + ox, (c * g.kernel_h + u) * g.kernel_w + v, (c * g.height + y) * g.width + x);
            }
}

// Calls f(j, i) for every entry i of pooling window j; for max pool only the
// entry the engine picks (the first largest of the computed values).
template <class F>
void for_each_pooled(const PoolGeometry& g, const Grid& x, Index s, F&& f) {
  const Index OH = g.out_h(), OW = g.out_w();
  for (Index c = 0; c < g.channels; ++c)
    for (Index oy = 0; oy < OH; ++oy)
      for (Index ox = 0; ox < OW; ++ox) {
        const Index j = (c * OH + oy) * OW + ox, first = (c * g.height + oy * g.stride) * g.width + ox * g.stride;
        Index best = first;
        for (Index u = 0; u < g.window; ++u)
          for (Index v = 0; v < g.window; ++v) {
            const Index i = first + u * g.width + v;
            if (g.kind == PoolGeometry::Kind::avg) f(j, i);
            else if (x(i, s).v > x(best, s).v) best = i;
          }
        if (g.kind == PoolGeometry::Kind::max) f(j, best);
      }
}

// z of a conv2d or pooling layer: the taps' weighted sum plus the channel's
// bias, a window's pick, or a window's sum ÷ window².
Grid image_z(Tracker& t, const Pass& p, const Layer<double>& layer, std::size_t l) {
  const Grid& x = p.a[l];
  const Index outputs = layer.output_size();
  Grid z(outputs, x.cols);
  std::vector<std::vector<R>> terms(static_cast<std::size_t>(outputs));
  for (Index s = 0; s < x.cols; ++s) {
    for (auto& v : terms) v.clear();
    if (layer.kind == LayerKind::conv2d) {
      for_each_tap(layer.conv, [&](Index, Index j, Index k, Index i) {
        t.at(l, j, s);
        terms[static_cast<std::size_t>(j)].push_back(t.mul(p.weights[l](j / layer.conv.positions(), k), x(i, s), Op::weighted_sum));
      });
      for (Index j = 0; j < outputs; ++j)
        terms[static_cast<std::size_t>(j)].push_back(p.biases[l][static_cast<std::size_t>(j / layer.conv.positions())]);
    } else {
      for_each_pooled(layer.pool, x, s, [&](Index j, Index i) { terms[static_cast<std::size_t>(j)].push_back(x(i, s)); });
    }
    const double area = double(layer.pool.window * layer.pool.window);
    for (Index j = 0; j < outputs; ++j) {
      t.at(l, j, s);
      const auto& tj = terms[static_cast<std::size_t>(j)];
      if (layer.kind == LayerKind::max_pool) z(j, s) = tj.front();
      else if (layer.kind == LayerKind::avg_pool) z(j, s) = t.div(t.sum(tj, Op::weighted_sum), Tracker::exact(area), Op::weighted_sum);
      else z(j, s) = t.sum(tj, Op::weighted_sum);
    }
  }
  return z;
}

void activate_layer(Tracker& t, Pass& p, const Layer<double>& layer, std::size_t l);

void forward_layer(Tracker& t, Pass& p, const Layer<double>& layer, std::size_t l) {
  if (!layer.is_dense()) {
    p.z.push_back(image_z(t, p, layer, l));
    return activate_layer(t, p, layer, l);
  }
  const Grid& x = p.a[l];
  Grid& W = p.weights[l];
  Grid z(layer.units(), x.cols);
  std::vector<R> terms;
  for (Index s = 0; s < x.cols; ++s)
    for (Index j = 0; j < layer.units(); ++j) {
      t.at(l, j, s);
      terms.clear();
      for (Index i = 0; i < layer.inputs(); ++i) terms.push_back(t.mul(W(j, i), x(i, s), Op::weighted_sum));
      terms.push_back(p.biases[l][static_cast<std::size_t>(j)]);
      z(j, s) = t.sum(terms, Op::weighted_sum);
    }
  p.z.push_back(z);
  activate_layer(t, p, layer, l);
}

void activate_layer(Tracker& t, Pass& p, const Layer<double>& layer, std::size_t l) {
  const Grid& z = p.z[l];
  p.a.emplace_back(z.rows, z.cols);
  if (layer.activation == Activation::softmax) {
    p.softmax_terms.assign(static_cast<std::size_t>(z.cols), {});
    p.softmax_total.assign(static_cast<std::size_t>(z.cols), {});
    for (Index s = 0; s < z.cols; ++s) softmax_column(t, p, l, s);
    return;
  }
  for (Index s = 0; s < z.cols; ++s)
    for (Index j = 0; j < z.rows; ++j) {
      t.at(l, j, s);
      p.a[l + 1](j, s) = activate(t, layer.activation, p.z[l](j, s));
    }
}

Pass forward_pass(Tracker& t, const Case& c) {
  Pass p;
  const auto& net = c.network;
  Grid x(c.inputs.rows(), c.inputs.cols());
  for (Index s = 0; s < x.cols; ++s)
    for (Index i = 0; i < x.rows; ++i) x(i, s) = t.in(c.inputs(i, s));
  p.a.push_back(std::move(x));
  for (std::size_t l = 0; l < net.layers.size(); ++l) {
    const auto& layer = net.layers[l];
    Grid W(layer.units(), layer.inputs());
    for (Index j = 0; j < W.rows; ++j)
      for (Index i = 0; i < W.cols; ++i) W(j, i) = t.in(layer.weights(j, i));
    p.weights.push_back(std::move(W));
    std::vector<R> b;
    for (Index j = 0; j < layer.units(); ++j) b.push_back(t.in(layer.biases(j)));
    p.biases.push_back(std::move(b));
    forward_layer(t, p, layer, l);
  }
  return p;
}

// 1 − a_k: by cancellation in the textbook way, as rest/total (softmax) or
// σ(−z) (sigmoid) in the stable one.
R one_minus(Tracker& t, const Pass& p, Activation out, Index k, Index s, Op op) {
  const R& a = p.a.back()(k, s);
  if (t.textbook() || (out != Activation::softmax && out != Activation::sigmoid))
    return t.sub(Tracker::exact(1), a, op);
  if (out == Activation::sigmoid) {
    const R& z = p.z.back()(k, s);
    return t.apply_monotone(z, [](double x) { return sigmoid(-x); }, -a.v * sigmoid(-z.v), 3, op);
  }
  const auto& terms = p.softmax_terms[static_cast<std::size_t>(s)];
  std::vector<R> others;
  for (std::size_t i = 0; i < terms.size(); ++i)
    if (static_cast<Index>(i) != k) others.push_back(terms[i]);
  return t.div(t.sum(others, op), p.softmax_total[static_cast<std::size_t>(s)], op);
}

// ln a_k, ln(1 − a_k) of the output layer (from a in the textbook way).
R log_output(Tracker& t, const Pass& p, Activation out, Index k, Index s, bool one_minus_a) {
  const Op op = one_minus_a ? Op::log_one_minus_a : Op::log_a;
  if (!t.textbook() && out == Activation::sigmoid) {
    // ln σ(z) = −softplus(−z), ln(1 − σ(z)) = −softplus(z), from z: neither
    // underflows where σ(z) or σ(−z) does.
    const R& z = p.z.back()(k, s);
    const double x = one_minus_a ? z.v : -z.v;
    const double softplus = std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x)));
    return t.apply(z, -softplus, one_minus_a ? -sigmoid(z.v) : sigmoid(-z.v), 2, op);
  }
  if (one_minus_a) return t.log(one_minus(t, p, out, k, s, op), op);
  if (t.textbook() || out != Activation::softmax) return t.log(p.a.back()(k, s), op);
  const auto sz = static_cast<std::size_t>(s);
  return t.log(t.div(p.softmax_terms[sz][static_cast<std::size_t>(k)], p.softmax_total[sz], op), op);
}

R sample_loss(Tracker& t, const Pass& p, const Case& c, std::size_t L, Index s) {
  const Activation out = c.network.layers.back().activation;
  std::vector<R> terms;
  for (Index k = 0; k < p.a.back().rows; ++k) {
    t.at(L - 1, k, s);
    const R y = t.in(c.targets(k, s));
    const R& a = p.a.back()(k, s);
    if (c.network.loss == Loss::quadratic) {
      const R d = t.sub(a, y, Op::output_error);
      terms.push_back(t.mul(Tracker::exact(0.5), t.mul(d, d, Op::loss_sum), Op::loss_sum));
      continue;
    }
    if (y.v != 0) terms.push_back(t.mul(y, log_output(t, p, out, k, s, false), Op::loss_sum));
    if (c.network.loss == Loss::binary_cross_entropy && y.v != 1)
      terms.push_back(t.mul(t.sub(Tracker::exact(1), y, Op::loss_sum), log_output(t, p, out, k, s, true), Op::loss_sum));
  }
  R total = t.sum(terms, Op::loss_sum);
  if (c.network.loss != Loss::quadratic) total.v = -total.v;
  return total;
}

R batch_loss(Tracker& t, const Pass& p, const Case& c) {
  const std::size_t L = c.network.layers.size();
  std::vector<R> losses;
  for (Index s = 0; s < c.inputs.cols(); ++s) losses.push_back(sample_loss(t, p, c, L, s));
  R total = t.sum(losses, Op::loss_sum);
  if (c.network.reduction == Reduction::mean)
    total = t.div(total, Tracker::exact(static_cast<double>(c.inputs.cols())), Op::loss_sum);
  return total;
}

// dL/da_k for the output activation's chain rule.
R loss_derivative(Tracker& t, const Pass& p, const Case& c, Activation out, Index k, Index s) {
  const R& a = p.a.back()(k, s);
  const R y = t.in(c.targets(k, s));
  switch (c.network.loss) {
    case Loss::quadratic: return t.sub(a, y, Op::output_error);
    case Loss::cross_entropy:
      return y.v == 0 ? Tracker::exact(0) : t.div(y, a, Op::loss_derivative);
    case Loss::binary_cross_entropy: {
      const R pos = y.v == 1 ? Tracker::exact(0)
                             : t.div(t.sub(Tracker::exact(1), y, Op::loss_derivative),
                                     one_minus(t, p, out, k, s, Op::one_minus_a), Op::loss_derivative);
      const R neg = y.v == 0 ? Tracker::exact(0) : t.div(y, a, Op::loss_derivative);
      return t.sub(pos, neg, Op::loss_derivative);
    }
  }
  return Tracker::exact(0);
}

// δ_L of one sample, before the mean's 1/N. c.loss = cross_entropy's dL/da is
// −y/a: loss_derivative returns y/a and the sign is applied here.
std::vector<R> output_delta(Tracker& t, const Pass& p, const Case& c, Index s) {
  const Activation out = c.network.layers.back().activation;
  const Loss loss = c.network.loss;
  const Index K = p.a.back().rows;
  std::vector<R> d(static_cast<std::size_t>(K));
  R sum_y = Tracker::exact(0);
  if (loss == Loss::cross_entropy && out == Activation::softmax) {
    std::vector<R> ys;
    for (Index k = 0; k < K; ++k) ys.push_back(t.in(c.targets(k, s)));
    sum_y = t.sum(ys, Op::output_error);
  }
  for (Index k = 0; k < K; ++k) {
    t.at(c.network.layers.size() - 1, k, s);
    const R& a = p.a.back()(k, s);
    const R y = t.in(c.targets(k, s));
    auto& dk = d[static_cast<std::size_t>(k)];
    if (loss == Loss::cross_entropy && out == Activation::softmax) {
      dk = t.sub(t.mul(a, sum_y, Op::output_error), y, Op::output_error);
    } else if (loss == Loss::binary_cross_entropy && out == Activation::sigmoid) {
      dk = t.sub(a, y, Op::output_error);
    } else {
      dk = loss_derivative(t, p, c, out, k, s);
      if (loss == Loss::cross_entropy) dk.v = -dk.v;
      if (out != Activation::softmax) dk = t.mul(dk, derivative(t, out, p.z.back()(k, s), a), Op::output_error);
    }
  }
  if (out != Activation::softmax || (loss == Loss::cross_entropy)) return d;
  std::vector<R> terms;  // softmax's Jacobian: a ⊙ (d − a·d)
  for (Index k = 0; k < K; ++k) terms.push_back(t.mul(p.a.back()(k, s), d[static_cast<std::size_t>(k)], Op::softmax_jacobian));
  const R dot = t.sum(terms, Op::softmax_jacobian);
  std::vector<R> out_d;
  for (Index k = 0; k < K; ++k)
    out_d.push_back(t.mul(p.a.back()(k, s), t.sub(d[static_cast<std::size_t>(k)], dot, Op::softmax_jacobian),
                          Op::softmax_jacobian));
  return out_d;
}

struct Backward {
  std::vector<Grid> weights;              // per layer, units × inputs
  std::vector<std::vector<R>> biases;     // per layer
};

Grid output_deltas(Tracker& t, const Pass& p, const Case& c) {
  Grid delta(p.a.back().rows, p.a.back().cols);
  const double n = static_cast<double>(c.inputs.cols());
  for (Index s = 0; s < delta.cols; ++s) {
    const std::vector<R> d = output_delta(t, p, c, s);
    for (Index k = 0; k < delta.rows; ++k) {
      R v = d[static_cast<std::size_t>(k)];
      if (c.network.reduction == Reduction::mean) v = t.div(v, Tracker::exact(n), Op::output_error);
      delta(k, s) = v;
    }
  }
  return delta;
}

void layer_gradients(Tracker& t, const Grid& delta, const Grid& a_prev, std::size_t l, Backward& b) {
  Grid dW(delta.rows, a_prev.rows);
  std::vector<R> db(static_cast<std::size_t>(delta.rows));
  std::vector<R> terms;
  for (Index j = 0; j < delta.rows; ++j) {
    for (Index i = 0; i < a_prev.rows; ++i) {
      t.at(l, j, i);
      terms.clear();
      for (Index s = 0; s < delta.cols; ++s) terms.push_back(t.mul(delta(j, s), a_prev(i, s), Op::batch_sum));
      dW(j, i) = t.sum(terms, Op::batch_sum);
    }
    terms.clear();
    for (Index s = 0; s < delta.cols; ++s) terms.push_back(delta(j, s));
    db[static_cast<std::size_t>(j)] = t.sum(terms, Op::batch_sum);
  }
  b.weights[l] = std::move(dW);
  b.biases[l] = std::move(db);
}

// dW and db of a conv2d layer: Σ over samples and positions of δ·x and of δ.
void conv_gradients(Tracker& t, const Pass& p, const Layer<double>& layer, const Grid& delta, std::size_t l,
                    Backward& b) {
  const ConvGeometry& g = layer.conv;
  const Grid& x = p.a[l];
  std::vector<std::vector<R>> w_terms(static_cast<std::size_t>(g.out_channels * g.weight_cols()));
  std::vector<std::vector<R>> b_terms(static_cast<std::size_t>(g.out_channels));
  for (Index s = 0; s < delta.cols; ++s) {
    for_each_tap(g, [&](Index o, Index j, Index k, Index i) {
      t.at(l, o, k);
      w_terms[static_cast<std::size_t>(o * g.weight_cols() + k)].push_back(t.mul(delta(j, s), x(i, s), Op::batch_sum));
    });
    for (Index j = 0; j < delta.rows; ++j) b_terms[static_cast<std::size_t>(j / g.positions())].push_back(delta(j, s));
  }
  Grid dW(g.out_channels, g.weight_cols());
  std::vector<R> db;
  for (Index o = 0; o < g.out_channels; ++o) {
    for (Index k = 0; k < g.weight_cols(); ++k) dW(o, k) = t.sum(w_terms[static_cast<std::size_t>(o * g.weight_cols() + k)], Op::batch_sum);
    db.push_back(t.sum(b_terms[static_cast<std::size_t>(o)], Op::batch_sum));
  }
  b.weights[l] = std::move(dW);
  b.biases[l] = std::move(db);
}

// dL/da_{l−1} of a conv2d or pooling layer l: the taps' W·δ scattered back, or
// each window's δ to its pick (÷ window² to every entry for avg pool).
Grid image_input_gradient(Tracker& t, const Pass& p, const Layer<double>& layer, const Grid& delta, std::size_t l) {
  const Grid& x = p.a[l];
  Grid g(x.rows, x.cols);
  std::vector<std::vector<R>> terms(static_cast<std::size_t>(x.rows));
  const double area = double(layer.pool.window * layer.pool.window);
  for (Index s = 0; s < x.cols; ++s) {
    for (auto& v : terms) v.clear();
    t.at(l - 1, 0, s);
    if (layer.kind == LayerKind::conv2d)
      for_each_tap(layer.conv, [&](Index o, Index j, Index k, Index i) {
        terms[static_cast<std::size_t>(i)].push_back(t.mul(p.weights[l](o, k), delta(j, s), Op::backward_sum));
      });
    else
      for_each_pooled(layer.pool, x, s, [&](Index j, Index i) {
        terms[static_cast<std::size_t>(i)].push_back(
            layer.kind == LayerKind::avg_pool ? t.div(delta(j, s), Tracker::exact(area), Op::backward_sum) : delta(j, s));
      });
    for (Index i = 0; i < x.rows; ++i) g(i, s) = t.sum(terms[static_cast<std::size_t>(i)], Op::backward_sum);
  }
  return g;
}

Grid previous_delta(Tracker& t, const Pass& p, const Layer<double>& layer, const Grid& delta, std::size_t l,
                    Activation act) {
  if (!layer.is_dense()) {
    Grid prev = image_input_gradient(t, p, layer, delta, l);
    if (act == Activation::identity) return prev;
    for (Index s = 0; s < prev.cols; ++s)
      for (Index i = 0; i < prev.rows; ++i) {
        t.at(l - 1, i, s);
        prev(i, s) = t.mul(prev(i, s), derivative(t, act, p.z[l - 1](i, s), p.a[l](i, s)), Op::backward_sum);
      }
    return prev;
  }
  const Grid& W = p.weights[l];
  Grid prev(W.cols, delta.cols);
  std::vector<R> terms;
  for (Index s = 0; s < delta.cols; ++s)
    for (Index i = 0; i < W.cols; ++i) {
      t.at(l - 1, i, s);
      terms.clear();
      for (Index j = 0; j < W.rows; ++j) terms.push_back(t.mul(W(j, i), delta(j, s), Op::backward_sum));
      const R g = t.sum(terms, Op::backward_sum);
      prev(i, s) = t.mul(g, derivative(t, act, p.z[l - 1](i, s), p.a[l](i, s)), Op::backward_sum);
    }
  return prev;
}

Backward backward_pass(Tracker& t, const Pass& p, const Case& c) {
  const std::size_t L = c.network.layers.size();
  Backward b{std::vector<Grid>(L, Grid(0, 0)), std::vector<std::vector<R>>(L)};
  Grid delta = output_deltas(t, p, c);
  for (std::size_t l = L; l-- > 0;) {
    const Layer<double>& layer = c.network.layers[l];
    if (layer.is_dense()) layer_gradients(t, delta, p.a[l], l, b);
    else if (layer.kind == LayerKind::conv2d) conv_gradients(t, p, layer, delta, l, b);
    if (l > 0) delta = previous_delta(t, p, layer, delta, l, c.network.layers[l - 1].activation);
  }
  return b;
}

// Merges one way's R into the entry's bound: finite bounds by their maximum,
// the cause of the larger; an infinite one marks the entry may-be-non-finite.
void merge(EntryBound& e, const R& x) {
  if (!std::isfinite(x.e)) {
    e.may_be_non_finite = true;
    if (e.cause < 0) e.cause = x.cause;
    return;
  }
  if (x.e >= e.bound) {
    e.bound = x.e;
    if (x.cause >= 0 || e.cause < 0) e.cause = x.cause;
  }
}

void merge_way(PrecisionModel& m, const Pass& p, const Backward& b, const R& loss) {
  for (std::size_t l = 0; l < b.weights.size(); ++l) {
    const Grid& W = b.weights[l];
    for (Index j = 0; j < W.rows; ++j)
      for (Index i = 0; i < W.cols; ++i) merge(m.weights[l][static_cast<std::size_t>(j * W.cols + i)], W(j, i));
    for (std::size_t j = 0; j < b.biases[l].size(); ++j) merge(m.biases[l][j], b.biases[l][j]);
    const Grid& z = p.z[l];
    for (Index s = 0; s < z.cols; ++s)
      for (Index j = 0; j < z.rows; ++j) m.z_error[l](j, s) = std::max(m.z_error[l](j, s), z(j, s).e);
  }
  const Grid& a = p.a.back();
  for (Index k = 0; k < a.rows; ++k)
    for (Index s = 0; s < a.cols; ++s) merge(m.outputs[static_cast<std::size_t>(k * a.cols + s)], a(k, s));
  merge(m.loss, loss);
}

void shape(PrecisionModel& m, const Case& c) {
  for (const auto& layer : c.network.layers) {
    m.weights.emplace_back(static_cast<std::size_t>(layer.weights.size()));
    m.biases.emplace_back(static_cast<std::size_t>(layer.biases.size()));
    m.z_error.push_back(Matrix<double>::Zero(layer.output_size(), c.inputs.cols()));
  }
  m.outputs.resize(static_cast<std::size_t>(c.network.output_size() * c.inputs.cols()));
}

}  // namespace

const char* to_string(PrecisionOperation op) {
  switch (op) {
    case Op::weighted_sum: return "W a + b";
    case Op::softmax_exp: return "exp(z − max z) in the softmax";
    case Op::sigmoid: return "σ(z)";
    case Op::tanh: return "tanh(z)";
    case Op::sigmoid_derivative: return "σ'(z) as a(1 − a)";
    case Op::tanh_derivative: return "tanh'(z) as 1 − a²";
    case Op::log_a: return "ln a";
    case Op::log_one_minus_a: return "ln(1 − a)";
    case Op::one_minus_a: return "1 − a in dL/da";
    case Op::loss_derivative: return "dL/da";
    case Op::output_error: return "the output error term";
    case Op::softmax_jacobian: return "the softmax Jacobian product a ⊙ (d − a·d)";
    case Op::loss_sum: return "the loss's sum";
    case Op::backward_sum: return "Wᵀ δ";
    case Op::batch_sum: return "the sum over the batch";
    case Op::overflow: return "a value beyond the format's range";
    case Op::kink_side: return "the side of the kink at z = 0";
  }
  return "?";
}

const char* stable_form(PrecisionOperation op) {
  switch (op) {
    case Op::sigmoid_derivative: return "compute σ'(z) from z: e^{−|z|} / (1 + e^{−|z|})²";
    case Op::tanh_derivative: return "compute tanh'(z) from z: 4e^{−2|z|} / (1 + e^{−2|z|})²";
    case Op::log_a: return "compute ln a from z: z − log-sum-exp(z) (softmax), −softplus(−z) (sigmoid)";
    case Op::log_one_minus_a:
      return "compute ln(1 − a) from z: log-sum-exp of the other classes minus log-sum-exp(z) (softmax), "
             "−softplus(z) (sigmoid)";
    case Op::one_minus_a: return "fuse the loss with the output activation (a − y) or compute 1 − a from z";
    case Op::loss_derivative: return "fuse the loss with the output activation: δ = a − y";
    case Op::softmax_exp: return "subtract the largest z before exp";
    case Op::overflow: return "compute in a wider format, or rescale";
    default: return "";
  }
}

const EntryBound& PrecisionModel::weight(std::size_t l, Index row, Index col) const {
  const Index cols = static_cast<Index>(weights[l].size() / biases[l].size());
  return weights[l][static_cast<std::size_t>(row * cols + col)];
}
const EntryBound& PrecisionModel::bias(std::size_t l, Index row) const { return biases[l][static_cast<std::size_t>(row)]; }
const EntryBound& PrecisionModel::output(Index unit, Index sample) const {
  const Index samples = static_cast<Index>(outputs.size()) / std::max<Index>(1, z_error.back().rows());
  return outputs[static_cast<std::size_t>(unit * samples + sample)];
}

PrecisionModel precision_model(const Case& c, Precision precision) {
  validate(c.network);
  PrecisionModel m;
  m.precision = precision;
  shape(m, c);
  for (bool textbook : {false, true}) {
    Tracker t(format_of(precision), m.causes, textbook, m.kappa);
    const Pass p = forward_pass(t, c);
    const R loss = batch_loss(t, p, c);
    const Backward b = backward_pass(t, p, c);
    merge_way(m, p, b, loss);
  }
  return m;
}

int printed_digits(double x) {
  if (!std::isfinite(x) || x == 0) return 1;
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
  int digits = 0;
  for (char* q = buf; q < res.ptr && *q != 'e'; ++q)
    if (*q >= '0' && *q <= '9') ++digits;
  return digits;
}

double print_error(double x) {
  const int d = printed_digits(x);
  if (d >= 16 || !std::isfinite(x) || x == 0) return 0;
  const int e = static_cast<int>(std::floor(std::log10(std::abs(x))));
  return 0.5 * std::pow(10.0, e - d + 1);
}

}  // namespace gradcheck
