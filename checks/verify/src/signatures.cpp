// Bug signatures (signatures.hpp): hypotheses recomputed on the case's forward
// pass, matched tensor by tensor against the reply, plus the kinds read
// directly from the numbers (shapes, non-finite values, scales, zeros,
// precision).
#include "verify_detail.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <limits>
#include <string>

namespace gradcheck {

const char* to_string(BugKind k) {
  switch (k) {
    case BugKind::shape_mismatch: return "shape-mismatch";
    case BugKind::non_finite: return "non-finite";
    case BugKind::sign_flip: return "sign-flip";
    case BugKind::constant_scale: return "constant-scale";
    case BugKind::bias_zero: return "bias-zero";
    case BugKind::bias_missing: return "bias-missing";
    case BugKind::derivative_at_output_value: return "derivative-at-a";
    case BugKind::output_missing_derivative: return "output-missing-derivative";
    case BugKind::z_instead_of_a: return "z-instead-of-a";
    case BugKind::softmax_derivative_on_fused: return "softmax-derivative-on-fused-delta";
    case BugKind::derivative_formula: return "derivative-formula";
    case BugKind::transposed_step: return "transposed-step";
    case BugKind::targets_misaligned: return "targets-misaligned";
    case BugKind::weight_decay: return "weight-decay";
    case BugKind::output_error_term: return "output-error-term";
    case BugKind::backward_step: return "backward-step";
    case BugKind::samples_dropped: return "samples-dropped";
    case BugKind::sample_weights: return "sample-weights";
    case BugKind::tensor_scale: return "tensor-scale";
    case BugKind::kernel_flipped: return "kernel-flipped";
    case BugKind::stride_ignored: return "stride-ignored";
    case BugKind::backward_padding: return "backward-padding";
    case BugKind::channels_swapped: return "channels-swapped";
    case BugKind::max_pool_routing: return "max-pool-routing";
    case BugKind::avg_pool_undivided: return "avg-pool-undivided";
    case BugKind::conv_bias_unsummed: return "conv-bias-unsummed";
    case BugKind::precision: return "precision";
    case BugKind::kink_convention: return "kink-convention";
  }
  return "?";
}

namespace detail {

bool Usable::any() const {
  for (std::size_t l = 0; l < weights.size(); ++l)
    if (weights[l] || biases[l]) return true;
  return false;
}

namespace {

template <class A, class B>
double distance_impl(const A& x, const B& y) {
  const double nx = x.norm(), ny = y.norm();
  const double d = (x - y).norm();
  const double scale = std::max(nx, ny);
  if (scale == 0) return 0;
  return d / scale;
}

}  // namespace

double tensor_distance(const Matrix<double>& x, const Matrix<double>& y) { return distance_impl(x, y); }
double tensor_distance(const Vector<double>& x, const Vector<double>& y) { return distance_impl(x, y); }

double max_distance(const Grads& x, const Grads& y, const Usable& u) {
  double worst = 0;
  for (std::size_t l = 0; l < u.weights.size(); ++l) {
    if (u.weights[l]) worst = std::max(worst, tensor_distance(x[l].weights, y[l].weights));
    if (u.biases[l]) worst = std::max(worst, tensor_distance(x[l].biases, y[l].biases));
  }
  return worst;
}

double kinked_derivative(Activation act, double v, std::optional<double> kink) {
  const bool kinked = act == Activation::relu || act == Activation::leaky_relu;
  if (v == 0 && kink && kinked) return *kink;
  return activation_derivative(act, v);
}

Matrix<double> loss_derivative(Loss loss, const Matrix<double>& a, const Matrix<double>& y) {
  switch (loss) {
    case Loss::quadratic: return a - y;
    case Loss::cross_entropy: return -(y.array() / a.array()).matrix();
    case Loss::binary_cross_entropy:
      return ((1 - y.array()) / (1 - a.array()) - y.array() / a.array()).matrix();
  }
  return a - y;
}

Matrix<double> backward_step(const Network<double>& net, const ForwardPass<double>& fp, std::size_t l,
                             const Matrix<double>& delta) {
  Matrix<double> prev;
  layer_input_gradient(net.layers[l], fp.a[l], delta, prev);
  multiply_by_derivative(net.layers[l - 1].activation, fp.z[l - 1], fp.a[l], prev);
  return prev;
}

namespace {

// Jacobian-vector product of softmax at a (one column per sample): a ⊙ (d − aᵀd).
Matrix<double> softmax_jvp(const Matrix<double>& a, const Matrix<double>& d) {
  Matrix<double> out(d.rows(), d.cols());
  for (Index c = 0; c < d.cols(); ++c) {
    const double dot = a.col(c).dot(d.col(c));
    out.col(c) = (a.col(c).array() * (d.col(c).array() - dot)).matrix();
  }
  return out;
}

Matrix<double> derivative_at(Activation act, const Matrix<double>& v, std::optional<double> kink) {
  return v.unaryExpr([&](double x) { return kinked_derivative(act, x, kink); });
}

// The derivative of a kinked activation on the other side of 0 from z.
double other_side(Activation act, double z) {
  const double negative = act == Activation::leaky_relu ? leaky_relu_slope : 0.0;
  return z > 0 ? negative : 1.0;
}

void apply_flips(const Variant& v, std::size_t layer, Activation act, const Matrix<double>& z, Matrix<double>& d) {
  for (const KinkSite& k : v.flipped)
    if (k.layer == layer) d(k.unit, k.sample) = other_side(act, z(k.unit, k.sample));
}

}  // namespace

namespace {

// a(1 − a) and 1 − a² written with z in place of a: the textbook formula fed
// the pre-activation. nullopt for the activations it does not concern.
std::optional<double> formula_at_z(Activation act, double z) {
  if (act == Activation::sigmoid) return z * (1 - z);
  if (act == Activation::tanh) return 1 - z * z;
  return std::nullopt;
}

// act'(z) of one layer as the variant computes it (a = act(z) given):
// `hidden` selects the hidden-layer flags, else the output layer's.
Matrix<double> variant_derivative(const Variant& v, Activation act, const Matrix<double>& z, const Matrix<double>& a,
                                  bool hidden) {
  if (hidden && v.hidden_derivative_omitted) return Matrix<double>::Ones(z.rows(), z.cols());
  const bool at_a = hidden ? v.hidden_derivative_at_a : v.output_derivative_at_a;
  Matrix<double> d = derivative_at(act, at_a ? a : z, v.kink_derivative);
  if (hidden ? v.hidden_formula_at_z : v.output_formula_at_z)
    d = z.unaryExpr([act](double x) { return formula_at_z(act, x).value_or(activation_derivative(act, x)); });
  if (v.negative_slope_zero && act == Activation::leaky_relu)
    d = d.binaryExpr(z, [](double x, double zz) { return zz > 0 ? x : 0.0; });
  return d;
}

// Whether a variant changes nothing a case can show: its flags concern
// activations or layer shapes the network does not have.
bool variant_applies(const Network<double>& net, const Variant& v) {
  const std::size_t L = net.layers.size();
  const auto any_layer = [&](std::size_t from, std::size_t to, auto pred) {
    for (std::size_t l = from; l < to; ++l)
      if (pred(net.layers[l])) return true;
    return false;
  };
  const auto smooth = [](const Layer<double>& l) { return formula_at_z(l.activation, 0).has_value(); };
  const auto square = [](const Layer<double>& l) { return l.is_dense() && l.units() == l.inputs(); };
  if (v.hidden_formula_at_z && !any_layer(0, L - 1, smooth)) return false;
  if (v.output_formula_at_z && !any_layer(L - 1, L, smooth)) return false;
  if (v.negative_slope_zero &&
      !any_layer(0, L, [](const Layer<double>& l) { return l.activation == Activation::leaky_relu; }))
    return false;
  if (v.hidden_derivative_omitted &&
      !any_layer(0, L - 1, [](const Layer<double>& l) { return l.activation != Activation::identity; }))
    return false;
  if (v.transposed_step && (L < 2 || !any_layer(1, L, square))) return false;
  return image_variant_applies(net, v);
}

// δ_L of the variant, reduction included; nullopt when it does not apply.
std::optional<Matrix<double>> variant_output_delta(const Case& c, const ForwardPass<double>& fp, const Variant& v,
                                                   const Matrix<double>& y) {
  const Network<double>& net = c.network;
  const Activation out = net.layers.back().activation;
  const Matrix<double>& aL = fp.a.back();
  const Matrix<double>& zL = fp.z.back();
  const double scale = 1.0 / batch_divisor(net.reduction, aL.cols());
  const bool elementwise = out != Activation::softmax;
  Matrix<double> delta;
  if (v.output_missing_derivative) {
    if (out == Activation::identity) return std::nullopt;  // nothing to miss
    return Matrix<double>(loss_derivative(net.loss, aL, y) * scale);
  }
  if (v.softmax_diagonal) {
    if (out != Activation::softmax) return std::nullopt;
    return Matrix<double>(loss_derivative(net.loss, aL, y).cwiseProduct(aL.cwiseProduct((1 - aL.array()).matrix())) *
                          scale);
  }
  if (v.softmax_on_fused) {
    if (out != Activation::softmax || net.loss != Loss::cross_entropy) return std::nullopt;
    Matrix<double> fused;
    output_delta(net, fp, y, fused);  // a Σy − y, reduction included
    return softmax_jvp(aL, fused);
  }
  const bool variant_derivative_used = v.output_derivative_at_a || v.output_formula_at_z ||
                                       (v.negative_slope_zero && out == Activation::leaky_relu) ||
                                       ((v.kink_derivative || !v.flipped.empty()) && has_kink(out));
  if (variant_derivative_used) {
    if (!elementwise) return std::nullopt;
    Matrix<double> d = variant_derivative(v, out, zL, aL, false);
    if (has_kink(out)) apply_flips(v, net.layers.size() - 1, out, zL, d);
    return Matrix<double>(loss_derivative(net.loss, aL, y).cwiseProduct(d) * scale);
  }
  output_delta(net, fp, y, delta);
  return delta;
}

// The targets as the variant pairs them with the samples.
Matrix<double> variant_targets(const Case& c, const Variant& v) {
  if (!v.targets_rolled) return c.targets;
  const Index N = c.targets.cols();
  Matrix<double> y(c.targets.rows(), N);
  for (Index s = 0; s < N; ++s) y.col(s) = c.targets.col((s + 1) % N);
  return y;
}

// True convolution throughout: the right gradients of the network whose
// kernels are turned 180°, on its own forward pass, turned back.
std::optional<Grads> flipped_network_gradients(const Case& c, Variant v) {
  Case flipped = c;
  for (Layer<double>& layer : flipped.network.layers)
    if (layer.kind == LayerKind::conv2d) layer.weights = flipped_kernels(layer.conv, layer.weights);
  v.kernel_flipped = false;
  auto g = variant_gradients(flipped, forward(flipped.network, flipped.inputs), v);
  if (g)
    for (std::size_t l = 0; l < g->size(); ++l)
      if (c.network.layers[l].kind == LayerKind::conv2d)
        (*g)[l].weights = flipped_kernels(c.network.layers[l].conv, (*g)[l].weights);
  return g;
}

}  // namespace

std::optional<Grads> variant_gradients(const Case& c, const ForwardPass<double>& fp, const Variant& v) {
  const Network<double>& net = c.network;
  if (!variant_applies(net, v)) return std::nullopt;
  if (v.kernel_flipped) return flipped_network_gradients(c, v);
  if (v.targets_rolled && (c.batch_size() < 2 || c.targets.col(0) == c.targets.col(1))) return std::nullopt;
  std::optional<Matrix<double>> delta = variant_output_delta(c, fp, v, variant_targets(c, v));
  if (!delta) return std::nullopt;
  const std::size_t L = net.layers.size();
  Grads g(L);
  for (std::size_t l = L; l-- > 0;) {
    const Matrix<double>& prev_a = v.z_instead_of_a && l > 0 ? fp.z[l - 1] : fp.a[l];
    Matrix<double> prev;
    variant_layer_backward(net.layers[l], fp.a[l], prev_a, *delta, v, g[l], l > 0 ? &prev : nullptr);
    if (l == 0) break;
    const Activation act = net.layers[l - 1].activation;
    Matrix<double> d = variant_derivative(v, act, fp.z[l - 1], fp.a[l], true);
    if (has_kink(act)) apply_flips(v, l - 1, act, fp.z[l - 1], d);
    *delta = prev.cwiseProduct(d);
  }
  return g;
}

std::string num(double v) { return format_number(v, 8); }

std::string err(double v) { return format_number(v, 2); }

std::string entry_path(const Network<double>& net, std::size_t layer, bool biases, Index row, Index col) {
  std::string s = "layers[" + std::to_string(layer) + "]." + (biases ? "biases[" : "weights[") + std::to_string(row) + "]";
  if (biases) return s;
  if (layer < net.layers.size() && net.layers[layer].kind == LayerKind::conv2d) {  // weights[out][in][y][x]
    const ConvGeometry& g = net.layers[layer].conv;
    const Index kw = g.kernel_w, khw = g.kernel_h * kw;
    return s + "[" + std::to_string(col / khw) + "][" + std::to_string(col % khw / kw) + "][" +
           std::to_string(col % kw) + "]";
  }
  return s + "[" + std::to_string(col) + "]";
}

namespace {

constexpr double float32_epsilon = 1.1920928955078125e-07;  // 2^-23
constexpr double float32_min_normal = 1.1754943508222875e-38;  // 2^-126
// A relu/leaky_relu z within this many roundings of its terms' size
// may land on either side of 0 in a float32 implementation.
constexpr double near_kink_factor = 64;
constexpr std::size_t max_kink_sites = 32;

// A hypothesis distinct from the reference must differ by far more than the
// matching tolerance, or the reply could match both.
constexpr double distinct_factor = 100;
// A reply that matches a mistake to the format's rounding traces it when the
// correct gradients are beyond that rounding and this many times farther
// from it than the mistake is (test_hypothesis).
constexpr double traced_factor = 4;

const char* derivative_name(Activation a) {
  switch (a) {
    case Activation::sigmoid: return "σ'";
    case Activation::tanh: return "tanh'";
    case Activation::relu: return "relu'";
    case Activation::leaky_relu: return "leaky_relu'";
    default: return "act'";
  }
}

// The entry where two gradient sets differ most (absolute), over usable tensors.
struct WorstEntry {
  bool found = false;
  std::size_t layer = 0;
  bool biases = false;
  Index row = 0, col = 0;
  double difference = -1;
};

WorstEntry worst_difference(const Grads& x, const Grads& y, const Usable& u) {
  WorstEntry w;
  for (std::size_t l = 0; l < u.weights.size(); ++l) {
    for (int t = 0; t < 2; ++t) {
      const bool b = t == 1;
      if (!(b ? u.biases[l] : u.weights[l])) continue;
      const Matrix<double> dx = b ? Matrix<double>(x[l].biases) : x[l].weights;
      const Matrix<double> dy = b ? Matrix<double>(y[l].biases) : y[l].weights;
      for (Index i = 0; i < dx.rows(); ++i)
        for (Index j = 0; j < dx.cols(); ++j) {
          const double d = std::abs(dx(i, j) - dy(i, j));
          if (d > w.difference) w = {true, l, b, i, j, d};
        }
    }
  }
  return w;
}

double value_at(const Grads& g, const WorstEntry& w) {
  return w.biases ? g[w.layer].biases(w.row) : g[w.layer].weights(w.row, w.col);
}

struct HypothesisTest {
  bool matched = false;
  double to_claimed = 0;    // max tensor distance reply ↔ hypothesis
  double to_reference = 0;  // max tensor distance hypothesis ↔ reference
  EntryFit fit;             // entry by entry
  Grads gradients;
};

// The hypothesis's value of one compared entry.
double hypothesis_value(const Grads& h, const Entry& e) {
  const LayerGradient& g = h[static_cast<std::size_t>(e.layer)];
  return e.tensor == TensorKind::biases ? g.biases(e.row) : g.weights(e.row, e.col);
}

}  // namespace

EntryFit entry_fit(const VerifyContext& ctx, const VerifyResult& r, const Grads& h) {
  EntryFit fit;
  const double tol = match_tolerance(ctx);
  for (const Entry& e : r.gradients.entries) {
    if (e.tensor != TensorKind::weights && e.tensor != TensorKind::biases) continue;
    if (e.verdict == Verdict::non_finite || e.verdict == Verdict::inconclusive_kink) continue;
    const double hv = hypothesis_value(h, e), base = hypothesis_value(ctx.baseline, e);
    ++fit.compared;
    if (!std::isfinite(hv)) continue;  // a mistake that overflows explains no finite reply
    // The reply's own rounding scales with what it computed, the reference's
    // error and floor with the reference: both terms allowed.
    const bool explained = std::abs(e.analytic - hv) <= e.tolerance + tol * std::abs(hv);
    if (!explained) continue;
    ++fit.explained;
    // It points to the mistake where the reply disagrees with the reference,
    // the mistake moves the entry as much, and the reply is far nearer the
    // mistake than the correct value (in bfloat16 a correct reply is within
    // the tolerance of mistakes a few per cent off).
    const double to_mistake = std::abs(e.analytic - hv), to_correct = std::abs(e.analytic - base);
    if (e.verdict == Verdict::disagree && std::abs(hv - base) > e.tolerance + tol * std::abs(hv) &&
        to_correct > traced_factor * to_mistake)
      ++fit.shown;
  }
  return fit;
}

namespace {

// Every gradient rounded to the format p.
Grads rounded(Grads g, Precision p) {
  for (LayerGradient& l : g) {
    l.weights = l.weights.unaryExpr([p](double x) { return round_to(x, p); });
    l.biases = l.biases.unaryExpr([p](double x) { return round_to(x, p); });
  }
  return g;
}

// Whether the reply traces the mistake h (see test_hypothesis). The mistake
// and the correct gradients are taken in the working format first: where the
// format underflows both (a correct 5e-160 and a mistaken 2e-320 are both 0
// in float32), a reply of 0 traces nothing.
bool traces(const VerifyContext& ctx, const Grads& h) {
  const Precision p = working_precision(ctx);
  const Grads mistake = rounded(h, p), correct = rounded(ctx.baseline, p);
  const double to_mistake = max_distance(ctx.reply.layers, mistake, ctx.usable);
  const double to_correct = max_distance(ctx.reply.layers, correct, ctx.usable);
  const double tolerance = match_tolerance(ctx);
  return to_mistake <= tolerance && to_correct > tolerance && to_correct > traced_factor * to_mistake;
}

std::optional<HypothesisTest> test_hypothesis(const VerifyContext& ctx, const VerifyResult& r, const Variant& v) {
  auto h = variant_gradients(ctx.c, ctx.fp, v);
  if (!h) return std::nullopt;
  // Entry by entry first: one wrong entry of 0.01 beside one of 600 is
  // invisible normwise, and the comparison rule that found it decides here too.
  const EntryFit fit = entry_fit(ctx, r, *h);
  if (fit.all() && fit.shown > 0) {
    HypothesisTest t;
    t.matched = true;
    t.fit = fit;
    t.to_reference = max_distance(*h, ctx.reference, ctx.usable);
    t.to_claimed = max_distance(ctx.reply.layers, *h, ctx.usable);
    t.gradients = std::move(*h);
    return t;
  }
  // A mistake whose whole effect is within the precision model's bound
  // (underflowed or negligible gradients) cannot be told from precision, so
  // it is not claimed — unless the reply traces it: every tensor within the
  // format's rounding of the mistake, and far nearer it than the correct
  // gradients, which are beyond the rounding. The
  // model's bound is a worst case (in bfloat16 it admits 30 % on a whole
  // tensor); a correct program's rounding does not follow a known mistake.
  if (!traces(ctx, *h) && precision_between(ctx, *h, ctx.baseline).within) return std::nullopt;
  HypothesisTest t;
  // Distinct from the correct gradients computed the same way (in double, on
  // the same forward pass): in extreme cases the double computation itself
  // loses digits, and a hypothesis must not be credited with that.
  t.to_reference = max_distance(*h, ctx.reference, ctx.usable);
  // ... and by more than the working format's matching tolerance: a bfloat16
  // reply cannot tell apart two gradient sets 0.3 % apart.
  if (!(max_distance(*h, ctx.baseline, ctx.usable) >
        std::max(distinct_factor * ctx.options.match_tolerance, match_tolerance(ctx))))
    return std::nullopt;
  t.to_claimed = max_distance(ctx.reply.layers, *h, ctx.usable);
  // Claimed only when the reply is nearer the mistake than the correct
  // gradients: in bfloat16 a mistake that changes one small entry of a
  // tensor moves it by less than the format's normwise tolerance.
  t.matched = (t.to_claimed <= match_tolerance(ctx) ||
               (t.to_claimed <= 0.5 && precision_between(ctx, ctx.reply.layers, *h).within)) &&
              t.to_claimed < max_distance(ctx.reply.layers, ctx.baseline, ctx.usable);
  t.fit = fit;
  t.gradients = std::move(*h);
  return t;
}

// Evidence common to every matched hypothesis: how close the reply is to it,
// how far it is from the reference, and the entry where that shows most.
void add_hypothesis_evidence(const VerifyContext& ctx, const HypothesisTest& t, Signature& s,
                             const std::string& noun = "this mistake") {
  s.evidence.push_back({"largest tensor distance, reply vs " + noun, t.to_claimed});
  s.evidence.push_back({"largest tensor distance, " + noun + " vs reference", t.to_reference});
  const WorstEntry w = worst_difference(t.gradients, ctx.reference, ctx.usable);
  if (!w.found) return;
  const std::string at = entry_path(ctx.c.network, w.layer, w.biases, w.row, w.col);
  s.evidence.push_back({at + " claimed", value_at(ctx.reply.layers, w)});
  s.evidence.push_back({at + " with " + noun, value_at(t.gradients, w)});
  s.evidence.push_back({at + " reference", value_at(ctx.reference, w)});
}

std::string example_clause(const VerifyContext& ctx, const HypothesisTest& t, const char* noun = "this mistake") {
  const WorstEntry w = worst_difference(t.gradients, ctx.reference, ctx.usable);
  if (!w.found) return "";
  return "; e.g. " + entry_path(ctx.c.network, w.layer, w.biases, w.row, w.col) + " = " + num(value_at(ctx.reply.layers, w)) +
         " (" + noun + " gives " + num(value_at(t.gradients, w)) + ", the reference " +
         num(value_at(ctx.reference, w)) + ")";
}

std::string matches(double distance) {
  return distance == 0 ? "matches it exactly" : "matches it to " + err(distance) + " (normwise)";
}

std::vector<std::size_t> all_layers(const VerifyContext& ctx) {
  std::vector<std::size_t> v;
  for (std::size_t l = 0; l < ctx.c.network.layers.size(); ++l) v.push_back(l);
  return v;
}

bool all_zero(const Vector<double>& v) { return v.size() > 0 && (v.array() == 0).all(); }
bool all_zero(const Matrix<double>& m) { return m.size() > 0 && (m.array() == 0).all(); }

// ---------------------------------------------------------------------------
// Shapes, missing tensors, non-finite values

std::string shape(Index r, Index c) { return std::to_string(r) + "×" + std::to_string(c); }

void shape_signatures(const VerifyContext& ctx, const VerifyResult& r, std::vector<Signature>& out) {
  const auto& net = ctx.c.network;
  const auto& claimed = ctx.reply.layers;
  const std::size_t L = net.layers.size();
  Signature s;
  s.kind = BugKind::shape_mismatch;
  std::vector<std::string> problems;
  if (claimed.size() != L) {
    problems.push_back("the reply has " + std::to_string(claimed.size()) + " layers, the case has " + std::to_string(L));
    s.evidence.push_back({"layers in the reply", static_cast<double>(claimed.size())});
    s.evidence.push_back({"layers in the case", static_cast<double>(L)});
  } else {
    bool reversed = L > 1;
    for (std::size_t l = 0; l < L; ++l) {
      const auto& o = net.layers[L - 1 - l].weights;
      if (claimed[l].weights.rows() != o.rows() || claimed[l].weights.cols() != o.cols()) reversed = false;
    }
    bool any = false;
    for (std::size_t l = 0; l < L; ++l) {
      const auto& w = net.layers[l].weights;
      const auto& cw = claimed[l].weights;
      if (cw.rows() != w.rows() || cw.cols() != w.cols()) {
        any = true;
        s.layers.push_back(l);
        std::string p = "layers[" + std::to_string(l) + "].weights is " + shape(cw.rows(), cw.cols()) + ", expected " +
                        shape(w.rows(), w.cols());
        if (cw.rows() == w.cols() && cw.cols() == w.rows() && w.rows() != w.cols()) {
          const double d = tensor_distance(Matrix<double>(cw.transpose()), ctx.reference[l].weights);
          p += d <= match_tolerance(ctx) ? " (transposed: once transposed it agrees with the reference)"
                                                : " (transposed)";
          s.evidence.push_back({"layers[" + std::to_string(l) + "].weights transposed, distance to reference", d});
        }
        problems.push_back(p);
        s.evidence.push_back({"layers[" + std::to_string(l) + "].weights rows", static_cast<double>(cw.rows())});
        s.evidence.push_back({"layers[" + std::to_string(l) + "].weights columns", static_cast<double>(cw.cols())});
      }
      const auto& cb = claimed[l].biases;
      if (cb.size() != 0 && cb.size() != net.layers[l].biases.size()) {
        any = true;
        if (std::find(s.layers.begin(), s.layers.end(), l) == s.layers.end()) s.layers.push_back(l);
        problems.push_back("layers[" + std::to_string(l) + "].biases has " + std::to_string(cb.size()) +
                           " entries, expected " + std::to_string(net.layers[l].biases.size()));
        s.evidence.push_back({"layers[" + std::to_string(l) + "].biases entries", static_cast<double>(cb.size())});
      }
    }
    if (any && reversed) problems.push_back("the layers are listed from the output back to the input");
  }
  if (r.forward.outputs_shape_problem) problems.push_back(*r.forward.outputs_shape_problem);
  if (problems.empty()) return;
  for (std::size_t i = 0; i < problems.size(); ++i) s.message += (i ? "; " : "") + problems[i];
  out.push_back(std::move(s));
}

void bias_missing_signature(const VerifyContext& ctx, std::vector<Signature>& out) {
  const auto& net = ctx.c.network;
  const auto& claimed = ctx.reply.layers;
  if (claimed.size() != net.layers.size()) return;
  Signature s;
  s.kind = BugKind::bias_missing;
  for (std::size_t l = 0; l < claimed.size(); ++l)
    if (claimed[l].biases.size() == 0 && net.layers[l].biases.size() > 0) s.layers.push_back(l);
  if (s.layers.empty()) return;
  std::string which;
  for (std::size_t l : s.layers) {
    which += (which.empty() ? "" : ", ") + std::string("layers[") + std::to_string(l) + "]";
    s.evidence.push_back({"layers[" + std::to_string(l) + "].biases entries sent", 0});
    s.evidence.push_back({"layers[" + std::to_string(l) + "].biases largest |reference|",
                          ctx.reference[l].biases.cwiseAbs().maxCoeff()});
  }
  s.message = "no bias gradients in " + which + " (the reference's are not zero)";
  out.push_back(std::move(s));
}

void non_finite_signature(const VerifyContext& ctx, const VerifyResult& r, std::vector<Signature>& out) {
  const auto& claimed = ctx.reply.layers;
  std::size_t count = 0;
  std::vector<std::string> where;
  for (std::size_t l = 0; l < claimed.size(); ++l) {
    for (int t = 0; t < 2; ++t) {
      const bool b = t == 1;
      const Matrix<double> m = b ? Matrix<double>(claimed[l].biases) : claimed[l].weights;
      for (Index i = 0; i < m.rows(); ++i)
        for (Index j = 0; j < m.cols(); ++j)
          if (!std::isfinite(m(i, j))) {
            ++count;
            if (where.size() < 3) where.push_back(entry_path(ctx.c.network, l, b, i, j) + " = " + num(m(i, j)));
          }
    }
  }
  // A non-finite output or loss that the reply's format explains (ln 0 in a
  // textbook bfloat16 loss) is the precision note's, not this signature's.
  std::size_t forward_bad = 0, forward_excused = 0;
  for (const Entry& e : r.forward.entries)
    if (!std::isfinite(e.analytic)) ++(non_finite_within_precision(ctx, e) ? forward_excused : forward_bad);
  if (count == 0 && forward_bad == 0 && ctx.reply.non_finite_count <= forward_excused) return;

  Signature s;
  s.kind = BugKind::non_finite;
  s.evidence.push_back({"non-finite gradient entries", static_cast<double>(count)});
  s.evidence.push_back({"non-finite outputs or loss", static_cast<double>(forward_bad)});
  s.evidence.push_back({"non-finite values written in the reply (NaN/Infinity/null)", static_cast<double>(ctx.reply.non_finite_count)});
  s.message = std::to_string(count) + " gradient entr" + (count == 1 ? "y is" : "ies are") + " NaN or infinite";
  if (!where.empty()) {
    s.message += " (";
    for (std::size_t i = 0; i < where.size(); ++i) s.message += (i ? ", " : "") + where[i];
    s.message += count > where.size() ? ", ...)" : ")";
  }
  if (forward_bad) s.message += "; " + std::to_string(forward_bad) + " of the outputs/loss too: the forward pass already failed";
  if (ctx.reply.non_finite_count) {
    s.message += "; the reply wrote " + std::to_string(ctx.reply.non_finite_count) + " non-finite value" +
                 (ctx.reply.non_finite_count == 1 ? "" : "s") + " (bare NaN/Infinity or null, not valid JSON numbers";
    if (!ctx.reply.non_finite_tokens.empty()) s.message += ", first at " + ctx.reply.non_finite_tokens.front();
    s.message += ")";
  }
  // The classic cause: exp of a large logit. Say so only when the case has one.
  double largest_z = 0;
  for (const auto& z : ctx.fp.z) largest_z = std::max(largest_z, z.cwiseAbs().maxCoeff());
  s.evidence.push_back({"largest |z| in the reference forward pass", largest_z});
  constexpr double exp_overflow = 709.782712893384;  // ln(DBL_MAX)
  if (largest_z > exp_overflow) {
    s.message += "; the case has pre-activations up to |z| = " + num(largest_z) +
                 ", past exp's overflow at 709.78: an exp(z) without the usual shift (softmax without "
                 "subtracting the largest logit, a naive sigmoid) gives Inf and then NaN there";
  }
  s.message += "; the reference is finite everywhere";
  out.push_back(std::move(s));
}

// ---------------------------------------------------------------------------
// Scales and zeros

struct ConstantRatio {
  bool constant = false;
  double ratio = 0;
  double spread = 0;        // largest |r_t − r̄| / |r̄|
  double worst_residual = 0;
  std::size_t tensors = 0;
  bool by_rounding = false;  // some tensor fits only within the working format's rounding
};

// What the working format's rounding alone can move tensor t's fitted ratio by,
// relative: κ‖bound‖ / ‖reference‖ over its entries (precision_model.hpp). A
// tensor of float16 subnormals has no ratio to speak of; a float64 one is fixed
// to 1e-15.
double ratio_rounding(const VerifyContext& ctx, const TensorRatio& t) {
  const PrecisionModel& m = model_for(ctx, working_precision(ctx));
  const auto& ref = ctx.reference[t.layer];
  double bound_sq = 0, ref_sq = 0;
  if (t.biases) {
    for (Index j = 0; j < ref.biases.size(); ++j) bound_sq += std::pow(m.bias(t.layer, j).bound, 2);
    ref_sq = ref.biases.squaredNorm();
  } else {
    for (Index j = 0; j < ref.weights.cols(); ++j)
      for (Index i = 0; i < ref.weights.rows(); ++i) bound_sq += std::pow(m.weight(t.layer, i, j).bound, 2);
    ref_sq = ref.weights.squaredNorm();
  }
  return ref_sq > 0 ? m.kappa * std::sqrt(bound_sq / ref_sq) : std::numeric_limits<double>::infinity();
}

// One ratio for every tensor: r̄ the mean of the tensors' ratios weighted by
// 1 / max(rounding, tol)² (tensors whose rounding fixes their ratio to tol
// count alike; a tensor of subnormals hardly counts); each tensor's ratio
// within tol + its rounding of r̄, and its residual within tol + twice that.
// The rounding's leeway needs r̄ itself pinned down: its own uncertainty,
// 1 / √(Σ weights), at most 0.1 (so ½, 1 and 2 stay apart); where rounding
// leaves every ratio open (a saturated softmax in float32), only exact fits count.
ConstantRatio constant_ratio(const VerifyContext& ctx, const VerifyResult& r, double tol) {
  ConstantRatio c;
  std::vector<double> rounding;
  double sum = 0, weights = 0;
  for (const TensorRatio& t : r.ratios) {
    rounding.push_back(t.defined ? ratio_rounding(ctx, t) : 0.0);
    if (!t.defined) continue;
    const double w = 1 / std::pow(std::max(rounding.back(), tol), 2);
    sum += w * t.ratio;
    weights += w;
    ++c.tensors;
    c.worst_residual = std::max(c.worst_residual, t.residual);
  }
  if (c.tensors == 0 || !(weights > 0)) return c;
  c.ratio = sum / weights;
  if (c.ratio == 0) return c;
  const bool pinned = 1 / std::sqrt(weights) <= 0.1;
  c.constant = true;
  for (std::size_t k = 0; k < r.ratios.size(); ++k) {
    const TensorRatio& t = r.ratios[k];
    if (!t.defined) continue;
    const double spread = std::abs(t.ratio - c.ratio) / std::abs(c.ratio);
    c.spread = std::max(c.spread, spread);
    const bool plain = spread <= tol && t.residual <= tol;
    const bool rounded = pinned && spread <= tol + rounding[k] && t.residual <= tol + 2 * rounding[k];
    c.constant = c.constant && (plain || rounded);
    c.by_rounding = c.by_rounding || (!plain && rounded);
  }
  return c;
}

}  // namespace

std::optional<Factor> recognised_factor(const Case& c, double ratio, double tol) {
  const double N = static_cast<double>(c.batch_size());
  const bool mean = c.network.reduction == Reduction::mean;
  std::vector<Factor> factors;
  if (N > 1 && mean) {
    factors.push_back({N, "×N, N = " + num(N) + " the batch size: per-sample gradients summed where the loss is "
                                                "averaged (mean reduction)"});
    factors.push_back({1 / N, "÷N, N = " + num(N) + " the batch size: averaged twice (the loss's derivative "
                                                    "already carries the mean's 1/N, and the batch sum divides again)"});
  } else if (N > 1) {
    factors.push_back({N, "×N, N = " + num(N) + " the batch size"});
    factors.push_back({1 / N, "÷N, N = " + num(N) + " the batch size: averaged where the loss is summed (sum reduction)"});
    factors.push_back({1 / (N * N), "÷N², N = " + num(N) + " the batch size: averaged twice where the loss is summed"});
  }
  factors.push_back({2, "×2 (e.g. the derivative of (a − y)² where the loss is ½(a − y)², or a term counted twice)"});
  factors.push_back({0.5, "×½ (e.g. a ½ that belongs to the loss, not to its derivative)"});
  const double K = static_cast<double>(c.network.output_size());
  if (K > 1 && c.network.loss == Loss::quadratic)
    factors.push_back({1 / K, "÷K, K = " + num(K) + " the number of outputs: the loss averaged over its output units "
                                                    "in the gradient, where the loss sums them"});
  // Every factor that fits is named: with 2 outputs, ÷K and ×½ are one number.
  std::optional<Factor> found;
  for (const Factor& f : factors)
    if (std::abs(std::abs(ratio) - f.value) <= tol * f.value) {
      if (!found) found = Factor{ratio < 0 ? -f.value : f.value, f.why};
      else if (found->why.find(f.why) == std::string::npos) found->why += ", or " + f.why;
    }
  if (found && ratio < 0) found->why += ", and the sign is flipped";
  return found;
}

namespace {

void scale_signatures(const VerifyContext& ctx, const VerifyResult& r, std::vector<Signature>& out) {
  const double tol = match_tolerance(ctx);
  const ConstantRatio c = constant_ratio(ctx, r, tol);
  if (!c.constant || std::abs(c.ratio - 1) <= tol) return;
  Signature s;
  s.layers = all_layers(ctx);
  s.evidence.push_back({"fitted ratio claimed / reference (mean over tensors)", c.ratio});
  s.evidence.push_back({"largest spread of the per-tensor ratios (relative)", c.spread});
  s.evidence.push_back({"largest fit residual of a tensor", c.worst_residual});
  s.evidence.push_back({"tensors fitted", static_cast<double>(c.tensors)});
  const std::string fit = " (" + std::to_string(c.tensors) + " tensors; their ratios agree to " + err(c.spread) +
                          ", each tensor fits its ratio to " + err(c.worst_residual) +
                          (c.by_rounding ? std::string(", within ") + to_string(working_precision(ctx)) + "'s rounding"
                                         : std::string()) +
                          ")";
  if (std::abs(c.ratio + 1) <= tol) {
    s.kind = BugKind::sign_flip;
    s.message = "every tensor is −1 × the reference" + fit + ": the sign is flipped (a − y written y − a, or a step "
                "that adds the gradient)";
    out.push_back(std::move(s));
    return;
  }
  const std::optional<Factor> f = recognised_factor(ctx.c, c.ratio, tol);
  if (!f) return;
  s.kind = BugKind::constant_scale;
  s.evidence.push_back({"recognised factor", f->value});
  s.message = "every tensor is " + num(c.ratio) + " × the reference" + fit + ": " + f->why;
  out.push_back(std::move(s));
}

// Precision that destroys δ_l destroys dW_l = δ_l a_{l−1}ᵀ with it: weight
// gradients that agree with the reference (and are not all 0) say δ_l came
// through.
bool weights_carry_delta(const VerifyContext& ctx, std::size_t l) {
  return ctx.usable.weights[l] && !all_zero(ctx.reply.layers[l].weights) &&
         tensor_distance(ctx.reply.layers[l].weights, ctx.reference[l].weights) <= match_tolerance(ctx);
}

// Whether 0 for every bias gradient of layer l is within what a correct
// implementation in the working format can produce (precision_model.hpp):
// never beside weight gradients that carry δ_l.
bool zero_biases_within_precision(const VerifyContext& ctx, std::size_t l) {
  if (weights_carry_delta(ctx, l)) return false;
  const PrecisionModel& m = model_for(ctx, working_precision(ctx));
  const auto& rb = ctx.reference[l].biases;
  PrecisionTally t(m);
  for (Index j = 0; j < rb.size(); ++j) t.add(m, m.bias(l, j), 0.0, rb(j), rb.cwiseAbs().maxCoeff());
  return t.within;
}

void bias_zero_signature(const VerifyContext& ctx, const VerifyResult& r, std::vector<Signature>& out) {
  Signature s;
  s.kind = BugKind::bias_zero;
  std::string which;
  for (std::size_t l = 0; l < ctx.usable.biases.size(); ++l) {
    if (!ctx.usable.biases[l]) continue;
    const auto& cb = ctx.reply.layers[l].biases;
    const auto& rb = ctx.reference[l].biases;
    if (!all_zero(cb) || rb.cwiseAbs().maxCoeff() == 0) continue;
    // Bias gradients too small to move the loss at float32 resolution (or to be
    // held by a float32 at all) read as 0 in a correct float32 implementation.
    const double effect =
        (rb.cwiseAbs().array() * ctx.c.network.layers[l].biases.cwiseAbs().cwiseMax(1.0).array()).maxCoeff();
    if (rb.cwiseAbs().maxCoeff() <= 2 * float32_min_normal ||
        effect <= float32_epsilon * std::abs(r.forward.reference_loss) || zero_biases_within_precision(ctx, l))
      continue;
    // A reply of zeros everywhere is not "bias dropped" (unless the weights' gradients are zero anyway).
    if (ctx.usable.weights[l] && all_zero(ctx.reply.layers[l].weights) &&
        ctx.reference[l].weights.cwiseAbs().maxCoeff() > 0)
      continue;
    s.layers.push_back(l);
    which += (which.empty() ? "" : ", ") + std::string("layers[") + std::to_string(l) + "]";
    s.evidence.push_back({"layers[" + std::to_string(l) + "].biases largest |reference|", rb.cwiseAbs().maxCoeff()});
    if (ctx.usable.weights[l])
      s.evidence.push_back({"layers[" + std::to_string(l) + "].weights distance to reference",
                            tensor_distance(ctx.reply.layers[l].weights, ctx.reference[l].weights)});
  }
  if (s.layers.empty()) return;
  bool weights_agree = true;
  for (std::size_t l : s.layers)
    if (!ctx.usable.weights[l] ||
        tensor_distance(ctx.reply.layers[l].weights, ctx.reference[l].weights) > match_tolerance(ctx))
      weights_agree = false;
  s.message = "the bias gradients of " + which + " are all exactly 0 where the reference's are not (largest |db| " +
              num(ctx.reference[s.layers.front()].biases.cwiseAbs().maxCoeff()) + ")" +
              (weights_agree ? "; the weight gradients of the same layers agree: db = Σ δ over the batch was left out"
                             : "");
  out.push_back(std::move(s));
}

// ---------------------------------------------------------------------------
// Generic localised findings, when no known mistake explains them

// A "round" number: at most 2 significant decimal digits (0.1, 1, 0.25, 30).
std::optional<double> round_value(double v, double tolerance) {
  if (std::abs(v) <= tolerance) return 0.0;
  const double e = std::floor(std::log10(std::abs(v)));
  const double unit = std::pow(10.0, e - 1);
  const double r = std::round(v / unit) * unit;
  if (std::abs(v - r) <= tolerance) return r;
  return std::nullopt;
}

// " (opposite sign, 2.5× the magnitude)" / " (0.5× the reference)"
std::string ratio_clause(double ratio) {
  if (ratio < 0) return " (opposite sign, " + format_number(-ratio, 3) + "× the magnitude)";
  return " (" + err(ratio) + "× the reference)";
}

// For an elementwise output activation, divide out its derivative: what the
// implementation used as dL/da. For the quadratic loss dL/da = a − y, which
// names the target it subtracted. (wi, wj): the entry of δ_L named by `at`, c its claimed value.
void add_implied_loss_derivative(const VerifyContext& ctx, Index wi, Index wj, double c, const std::string& at,
                                 Signature& s) {
  const auto& net = ctx.c.network;
  const Activation act = net.layers.back().activation;
  const double N = batch_divisor(net.reduction, ctx.c.batch_size());
  const double z = ctx.fp.z.back()(wi, wj), a = ctx.fp.a.back()(wi, wj), y = ctx.c.targets(wi, wj);
  const double slope = activation_derivative(act, z);
  const Matrix<double> dlda_ref = loss_derivative(net.loss, ctx.fp.a.back(), ctx.c.targets);
  if (act == Activation::identity) {
    s.evidence.push_back({"reference dL/da", dlda_ref(wi, wj)});
    return;
  }
  if (slope == 0) return;
  const double implied = c * N / slope;
  s.evidence.push_back({at + " ÷ " + derivative_name(act) + "(z)" + (N != 1 ? " × N" : ""), implied});
  s.evidence.push_back({"reference dL/da", dlda_ref(wi, wj)});
  s.message += "; divided by " + std::string(derivative_name(act)) + "(z_L) = " + num(slope) +
               (N != 1 ? " (and × N)" : "") + " it is " + num(implied) + " where dL/da" +
               (net.loss == Loss::quadratic ? " = a − y" : "") + " = " + num(dlda_ref(wi, wj));
  if (net.loss != Loss::quadratic) return;
  const double target = a - implied;
  s.evidence.push_back({"implied target a − (that)", target});
  s.evidence.push_back({"case target", y});
  // Only a round implied target is worth naming: any number is a − something.
  const auto rv = round_value(target, 1e-6 * std::max(std::abs(implied), std::abs(target)));
  if (rv && *rv != y)
    s.message += ": read as a − t, that is the error term of target " + num(*rv) + " where the case's is " +
                 num(y) + " (a reading of this one entry, which other mistakes can give too)";
}

void output_error_term_signature(const VerifyContext& ctx, const VerifyResult& r, std::vector<Signature>& out) {
  const auto& net = ctx.c.network;
  const Matrix<double>& claimed = r.chain.output.delta;
  const Matrix<double>& ref = r.chain.reference_output_delta;
  if (claimed.size() == 0 || claimed.rows() != ref.rows() || claimed.cols() != ref.cols()) return;
  const std::size_t L = net.layers.size();
  Signature s;
  s.kind = BugKind::output_error_term;
  s.layers = {L - 1};
  // The entry of δ_L that is most wrong.
  Index wi = 0, wj = 0;
  (claimed - ref).cwiseAbs().maxCoeff(&wi, &wj);
  const double c = claimed(wi, wj), d = ref(wi, wj);
  const std::string at = "δ_L[" + std::to_string(wi) + "] of sample " + std::to_string(wj);
  s.evidence.push_back({at + " claimed", c});
  s.evidence.push_back({at + " reference", d});
  s.message = "the output error term is wrong: " + at + " = " + num(c) + " where the reference is " + num(d);
  if (d != 0) {
    const double ratio = c / d;
    s.evidence.push_back({at + " ratio claimed / reference", ratio});
    s.message += ratio_clause(ratio);
  }
  const ConstantRatio cr = constant_ratio(ctx, r, match_tolerance(ctx));
  if (cr.constant && cr.tensors > 1)
    s.message += "; every tensor is the same multiple " + num(cr.ratio) + " of the reference, as one wrong δ_L gives";
  if (net.layers.back().activation != Activation::softmax) add_implied_loss_derivative(ctx, wi, wj, c, at, s);
  out.push_back(std::move(s));
}

void localised_signature(const VerifyContext& ctx, const VerifyResult& r, std::vector<Signature>& out) {
  if (!r.fault_layer) return;
  const std::size_t l = *r.fault_layer;
  Signature s;
  s.kind = BugKind::backward_step;
  s.layers = {l};
  const std::string layer = "layers[" + std::to_string(l) + "]";
  if (r.fault == FaultLocation::backward_step && l > 0) {
    // steps[k] tests layer L−2−k from layer L−1−k.
    const std::size_t L = ctx.c.network.layers.size();
    const std::size_t k = L - 1 - l;
    if (k < r.chain.steps.size() && r.chain.steps[k]) {
      const LayerConsistency& st = *r.chain.steps[k];
      s.evidence.push_back({"layers[" + std::to_string(l - 1) + "].weights distance to the step's prediction", st.weights_error});
      s.evidence.push_back({"layers[" + std::to_string(l - 1) + "].biases distance to the step's prediction", st.biases_error});
      s.message = "layers[" + std::to_string(l - 1) + "] does not follow from " + layer +
                  "'s own δ through W_" + std::to_string(l) + "ᵀ and the derivative of layer " + std::to_string(l - 1) +
                  " (distance " + err(std::max(st.weights_error, st.biases_error)) +
                  "): the backward step through " + layer + " is wrong";
    }
  } else if (r.fault == FaultLocation::weight_gradient || r.fault == FaultLocation::bias_gradient) {
    const RecoveredDelta* rd = nullptr;
    for (const auto& x : r.chain.recovered)
      if (x.layer == l) rd = &x;
    if (rd && rd->residual_tested) {
      s.evidence.push_back({layer + ".weights residual against δ a_prevᵀ", rd->weights_residual});
      s.evidence.push_back({layer + ".biases residual against δ·1", rd->biases_residual});
    }
    s.message = r.fault == FaultLocation::weight_gradient
                    ? layer + ".weights are not δ a_prevᵀ for the δ its own biases give: the weight gradient is "
                              "built from something other than the previous layer's activations"
                    : layer + ".biases are not the batch sums of the δ its own weights give";
  }
  if (!s.message.empty()) out.push_back(std::move(s));
}

}  // namespace


namespace {

// A relu/leaky_relu pre-activation at or near its kink.
struct Site {
  KinkSite at;
  double z, closeness;  // |z| / bound
};

struct KinkSites {
  std::vector<Site> exact, near;
};

// Kinks in the double forward pass (what an implementation sees): exactly at 0,
// or within the rounding a float32 computation of z makes (|z| ≤ 64 ε₃₂ (Σ|W a| + |b|)
// + 2 × float32's smallest normal number).
KinkSites kink_sites(const VerifyContext& ctx) {
  const auto& net = ctx.c.network;
  KinkSites sites;
  const FloatFormat& f = format_of(working_precision(ctx));
  for (std::size_t l = 0; l < net.layers.size(); ++l) {
    const auto& layer = net.layers[l];
    if (!has_kink(layer.activation)) continue;
    // Σ|W||a| without the biases, which the bound adds: a conv2d layer's through its own forward.
    Matrix<double> magnitude;
    if (layer.is_dense()) {
      magnitude = layer.weights.cwiseAbs() * ctx.fp.a[l].cwiseAbs();
    } else {
      Layer<double> abs = layer;
      abs.weights = layer.weights.cwiseAbs();
      abs.biases.setZero();
      layer_forward(abs, Matrix<double>(ctx.fp.a[l].cwiseAbs()), magnitude);
    }
    const auto bias_of = [&](Index j) {
      return layer.is_dense() ? layer.biases(j) : layer.biases(j / layer.conv.positions());
    };
    const auto& z = ctx.fp.z[l];
    for (Index s = 0; s < z.cols(); ++s)
      for (Index j = 0; j < z.rows(); ++j) {
        // Plus float32's underflow: a z held by no float32 reads as 0 there.
        const double bound = near_kink_factor * 2 * f.unit_roundoff * (magnitude(j, s) + std::abs(bias_of(j))) +
                             2 * f.min_normal;
        if (z(j, s) == 0) sites.exact.push_back({{l, j, s}, 0.0, 0.0});
        if (std::abs(z(j, s)) <= bound)
          sites.near.push_back({{l, j, s}, z(j, s), bound > 0 ? std::abs(z(j, s)) / bound : 0});
      }
  }
  return sites;
}

std::string site_name(const Site& k) {
  return "layer " + std::to_string(k.at.layer) + " unit " + std::to_string(k.at.unit) + " sample " +
         std::to_string(k.at.sample);
}

// The derivatives at exactly 0 an implementation may choose (a z >= 0 test
// gives 1), in the order they are tried.
constexpr double kink_conventions[] = {1.0, 0.5};

// A convention at every exact kink (a double implementation's z >= 0 test, say).
std::optional<Signature> exact_kink_convention(const VerifyContext& ctx, const VerifyResult& r,
                                               const std::vector<Site>& exact) {
  if (exact.empty()) return std::nullopt;
  for (double d : kink_conventions) {
    Variant v;
    v.kink_derivative = d;
    const auto t = test_hypothesis(ctx, r, v);
    if (!t || !t->matched) continue;
    Signature s;
    s.kind = BugKind::kink_convention;
    s.severity = Severity::note;
    s.evidence.push_back({"pre-activations exactly at 0", static_cast<double>(exact.size())});
    s.evidence.push_back({"derivative at 0 the reply matches", d});
    add_hypothesis_evidence(ctx, *t, s, "that convention");
    s.message = std::to_string(exact.size()) + " relu/leaky_relu pre-activation" +
                (exact.size() == 1 ? " is" : "s are") + " exactly 0 (first: " + site_name(exact.front()) +
                "), where the derivative is not defined; the reply takes it as " + num(d) +
                " and gradcheck's reference as relu'(0) = 0, leaky_relu'(0) = 0.01 — a convention, not a bug" +
                example_clause(ctx, *t, "that convention");
    return s;
  }
  return std::nullopt;
}

// Max-pool windows whose maximum is tied in the double forward pass (layers
// from 1 on: a tie in the first layer moves no parameter's gradient).
struct PoolTies {
  std::size_t windows = 0;
  std::string first;  // "layer l channel c window (oy, ox) sample n"
};

PoolTies pool_ties(const VerifyContext& ctx) {
  PoolTies t;
  const auto& net = ctx.c.network;
  for (std::size_t l = 1; l < net.layers.size(); ++l) {
    const PoolGeometry& g = net.layers[l].pool;
    if (net.layers[l].kind != LayerKind::max_pool || g.window < 2) continue;
    const Matrix<double>& a = ctx.fp.a[l];
    for (Index n = 0; n < a.cols(); ++n) {
      const double* x = a.col(n).data();
      for_each_window(g, [&](Index c, Index oy, Index ox, Index first) {
        const double top = x[window_argmax(g, x, first)];
        int maxima = 0;
        for (Index u = 0; u < g.window; ++u)
          for (Index w = 0; w < g.window; ++w) maxima += x[first + u * g.width + w] == top ? 1 : 0;
        if (maxima < 2) return;
        if (t.windows++ == 0)
          t.first = "layer " + std::to_string(l) + " channel " + std::to_string(c) + " window (" + std::to_string(oy) +
                    ", " + std::to_string(ox) + ") sample " + std::to_string(n);
      });
    }
  }
  return t;
}

// The other tie rule at max-pool windows whose maxima are equal: the last
// maximum of the window (a >= scan) instead of the first (PyTorch's, the reference's).
std::optional<Signature> pool_tie_convention(const VerifyContext& ctx, const VerifyResult& r) {
  const PoolTies ties = pool_ties(ctx);
  if (ties.windows == 0) return std::nullopt;
  Variant v;
  v.max_pool_routing = 4;
  const auto t = test_hypothesis(ctx, r, v);
  if (!t || !t->matched) return std::nullopt;
  Signature s;
  s.kind = BugKind::kink_convention;
  s.severity = Severity::note;
  s.evidence.push_back({"max-pool windows with tied maxima", static_cast<double>(ties.windows)});
  add_hypothesis_evidence(ctx, *t, s, "that convention");
  const bool one = ties.windows == 1;
  s.message = std::to_string(ties.windows) + " max-pool window" + (one ? " holds" : "s hold") +
              " tied maxima (first: " + ties.first + "), where the derivative is not defined; the reply sends " +
              (one ? "its" : "each window's") + " gradient to the last maximum and gradcheck's reference to the " +
              "first, as PyTorch does — a convention, not a bug" + example_clause(ctx, *t, "that convention");
  return s;
}

// The sites flipped to the other side of 0, and the gradients with them flipped.
struct Flips {
  Variant variant;
  Grads gradients;
  std::vector<Site> sites;
};

// Greedily flips the sites (in the given order) that bring the reply's
// gradients nearer.
Flips greedy_flips(const VerifyContext& ctx, const std::vector<Site>& candidates) {
  // The objective sums the tensors' distances, so that a flip that fixes one
  // tensor counts while another is at float32 noise.
  const auto summed = [&](const Grads& g) {
    double d = 0;
    for (std::size_t l = 0; l < g.size(); ++l)
      d += tensor_distance(ctx.reply.layers[l].weights, g[l].weights) +
           tensor_distance(ctx.reply.layers[l].biases, g[l].biases);
    return d;
  };
  Flips f;
  f.gradients = ctx.baseline;
  double best = summed(f.gradients);
  for (const Site& k : candidates) {
    f.variant.flipped.push_back(k.at);
    Grads g = *variant_gradients(ctx.c, ctx.fp, f.variant);
    const double d = summed(g);
    if (d < best) {
      best = d;
      f.gradients = std::move(g);
      f.sites.push_back(k);
    } else {
      f.variant.flipped.pop_back();
    }
  }
  return f;
}

// The note for flipped sites: a convention when they are all exactly at 0,
// float32 rounding otherwise. sites.near: the candidates the flips were chosen
// from; left: what remains between the reply and the flipped gradients.
Signature flipped_sides_signature(const VerifyContext& ctx, const KinkSites& sites,
                                  const Flips& f, const HypothesisTest& t, const PrecisionTally& left) {
  const std::vector<Site>& flipped = f.sites;
  const bool all_exact = std::all_of(flipped.begin(), flipped.end(), [](const Site& k) { return k.z == 0; });
  Signature s;
  s.kind = all_exact ? BugKind::kink_convention : BugKind::precision;
  s.severity = Severity::note;
  double largest = 0;
  for (const Site& k : flipped) largest = std::max(largest, std::abs(k.z));
  s.evidence.push_back({"pre-activations taken on the other side of 0", static_cast<double>(flipped.size())});
  const std::string p = to_string(working_precision(ctx));
  s.evidence.push_back({"of those within " + p + " rounding of 0", static_cast<double>(sites.near.size())});
  s.evidence.push_back({"largest |z| among them", largest});
  add_hypothesis_evidence(ctx, t, s, "those sides");
  const std::string n = std::to_string(flipped.size());
  if (all_exact)
    s.message = n + " of " + std::to_string(sites.exact.size()) +
                " relu/leaky_relu pre-activations that are exactly 0 (first: " + site_name(flipped.front()) +
                ") are taken with the derivative of the positive side (1) by the reply, where "
                "gradcheck's reference takes relu'(0) = 0, leaky_relu'(0) = 0.01 — as a float32 computation of z that "
                "rounds to ±tiny does; a convention at the kink, not a bug" + example_clause(ctx, t, "those sides");
  else
    s.message = n + " relu/leaky_relu pre-activation" + (flipped.size() == 1 ? " lies" : "s lie") +
                " within " + p + " rounding of 0 (|z| ≤ " + err(largest) + "; first: " + site_name(flipped.front()) +
                ") and the reply takes " + (flipped.size() == 1 ? "it" : "them") +
                " on the other side of the kink, as " + p + " rounding of z does; with those sides the reply agrees" +
                (left.entries ? ", the rest within " + p + " precision"
                               : std::string(" exactly")) + " — precision, not logic" +
                example_clause(ctx, t, "those sides");
  return s;
}

}  // namespace

std::optional<Signature> kink_note(const VerifyContext& ctx, const VerifyResult& r) {
  if (!ctx.usable.all || !ctx.claimed_finite) return std::nullopt;
  if (auto s = pool_tie_convention(ctx, r)) return s;
  KinkSites sites = kink_sites(ctx);
  if (sites.near.empty()) return std::nullopt;
  if (auto s = exact_kink_convention(ctx, r, sites.exact)) return s;

  // Some of them on the other side, as float32 rounding of z puts them: the
  // closest to 0 are tried first.
  std::sort(sites.near.begin(), sites.near.end(),
            [](const Site& x, const Site& y) { return x.closeness < y.closeness; });
  if (sites.near.size() > max_kink_sites) sites.near.resize(max_kink_sites);
  const Flips f = greedy_flips(ctx, sites.near);
  if (f.sites.empty()) return std::nullopt;
  // What is left must be precision, by the same rules as the precision note.
  const PrecisionTally left = precision_between(ctx, ctx.reply.layers, f.gradients);
  if (!left.within) return std::nullopt;
  const auto t = test_hypothesis(ctx, r, f.variant);
  if (!t) return std::nullopt;
  return flipped_sides_signature(ctx, sites, f, *t, left);
}

namespace {

// A known mistake, recomputed on the case's forward pass (Variant), and what
// its signature says when the reply matches it.
struct Hypothesis {
  Variant variant;
  BugKind kind;
  // Alternatives share a group: the first that matches is reported, the rest
  // of its group are not tried.
  int group;
  bool explains_output, explains_step;  // which localised findings it makes redundant
  std::vector<std::size_t> (*layers)(const VerifyContext&);
  // The message, up to "; the reply matches it ...".
  std::function<std::string(const VerifyContext&)> message;
};

Variant with(std::initializer_list<bool Variant::*> flags) {
  Variant v;
  for (bool Variant::*f : flags) v.*f = true;
  return v;
}

std::vector<std::size_t> output_layer(const VerifyContext& ctx) { return {ctx.c.network.layers.size() - 1}; }

std::vector<std::size_t> layers_after_first(const VerifyContext& ctx) {
  std::vector<std::size_t> v;
  for (std::size_t l = 1; l < ctx.c.network.layers.size(); ++l) v.push_back(l);
  return v;
}

std::function<std::string(const VerifyContext&)> derivative_at_a(const char* where) {
  return [where](const VerifyContext&) {
    return "the activation derivative is evaluated at the activation a instead of the pre-activation z " +
           std::string(where) + " (e.g. σ'(a) = σ(a)(1 − σ(a)) where σ'(z) = a(1 − a) belongs)";
  };
}

std::vector<std::size_t> hidden_layers(const VerifyContext& ctx) {
  std::vector<std::size_t> v;
  for (std::size_t l = 0; l + 1 < ctx.c.network.layers.size(); ++l) v.push_back(l);
  return v;
}

std::vector<std::size_t> leaky_layers(const VerifyContext& ctx) {
  std::vector<std::size_t> v;
  for (std::size_t l = 0; l < ctx.c.network.layers.size(); ++l)
    if (ctx.c.network.layers[l].activation == Activation::leaky_relu) v.push_back(l);
  return v;
}

std::function<std::string(const VerifyContext&)> formula_at_z_finding(const char* where) {
  return [where](const VerifyContext&) {
    return "the activation derivative's formula is fed the pre-activation z where it takes the activation a " +
           std::string(where) + " (z(1 − z) for σ' = a(1 − a), 1 − z² for tanh' = 1 − a²)";
  };
}

std::string missing_derivative_finding(const VerifyContext& ctx) {
  const char* dlda = ctx.c.network.loss == Loss::quadratic ? "a − y" : "dL/da";
  return std::string("the output delta is dL/da without the output activation's derivative (δ_L = ") + dlda +
         " instead of (" + dlda + ") ⊙ " + derivative_name(ctx.c.network.layers.back().activation) + "(z))";
}

Variant with_form(int Variant::*flag, int form) {
  Variant v;
  v.*flag = form;
  return v;
}

// The layers of one kind (conv2d, max_pool, avg_pool).
template <LayerKind K>
std::vector<std::size_t> layers_of(const VerifyContext& ctx) {
  std::vector<std::size_t> v;
  for (std::size_t l = 0; l < ctx.c.network.layers.size(); ++l)
    if (ctx.c.network.layers[l].kind == K) v.push_back(l);
  return v;
}

std::function<std::string(const VerifyContext&)> says(std::string text) {
  return [text](const VerifyContext&) { return text; };
}

// The image-layer hypotheses (docs/verify.md#image-layers), after the dense ones.
void add_image_hypotheses(std::vector<Hypothesis>& table) {
  using V = Variant;
  const auto conv = layers_of<LayerKind::conv2d>;
  const auto maxp = layers_of<LayerKind::max_pool>;
  const auto avgp = layers_of<LayerKind::avg_pool>;
  const std::string turned = "the conv2d kernels are turned 180° (a true convolution where the layers cross-correlate)";
  table.push_back({with({&V::kernel_flipped}), BugKind::kernel_flipped, 10, true, true, conv,
                   says(turned + " in the forward and the backward pass alike: the reply is the gradient of the "
                                 "convolution with every kernel flipped")});
  table.push_back({with({&V::kernel_flipped_dw}), BugKind::kernel_flipped, 10, false, true, conv,
                   says("dW of the conv2d layers is turned 180° (δ ⋆ a read as a convolution) while the forward pass "
                        "and dL/da are right")});
  table.push_back({with({&V::kernel_flipped_dx}), BugKind::kernel_flipped, 10, false, true, conv,
                   says("dL/da below a conv2d layer goes through its kernel as it is where the kernel turned 180° "
                        "belongs (or the other way round): dX is not the transposed convolution; dW is right")});
  const std::string stride = "as if the stride were 1: δ is not dilated (its positions read the input at stride 1 "
                             "where the forward steps by the stride)";
  table.push_back({with({&V::stride_ignored_dw}), BugKind::stride_ignored, 11, false, true, conv,
                   says("dW of the strided conv2d layers is computed " + stride)});
  table.push_back({with({&V::stride_ignored_dx}), BugKind::stride_ignored, 11, false, true, conv,
                   says("dL/da below the strided conv2d layers is computed " + stride)});
  table.push_back({with({&V::stride_ignored_dw, &V::stride_ignored_dx}), BugKind::stride_ignored, 11, false, true,
                   conv, says("dW and dL/da of the strided conv2d layers are computed " + stride)});
  table.push_back({with_form(&V::backward_padding, 1), BugKind::backward_padding, 12, false, true, conv,
                   says("the conv2d backward pass ignores the padding: it reads the input at (y·s + u, x·s + v) where "
                        "the forward read (y·s − p + u, x·s − p + v)")});
  table.push_back({with_form(&V::backward_padding, 2), BugKind::backward_padding, 12, false, true, conv,
                   says("the conv2d backward pass is off by one in the padding: it reads the input at padding p + 1")});
  table.push_back({with_form(&V::backward_padding, 3), BugKind::backward_padding, 12, false, true, conv,
                   says("the conv2d backward pass is off by one in the padding: it reads the input at padding p − 1")});
  table.push_back({with({&V::channels_swapped}), BugKind::channels_swapped, 13, false, true, conv,
                   says("dL/da below a conv2d layer is scattered through W[i][o] where W[o][i] belongs: the kernel's "
                        "input and output channels are not transposed (the shapes only allow it where they are "
                        "equal)")});
  table.push_back({with_form(&V::max_pool_routing, 1), BugKind::max_pool_routing, 14, false, true, maxp,
                   says("a max-pool window's gradient is sent to every entry of the window, where only its maximum "
                        "gets it")});
  table.push_back({with_form(&V::max_pool_routing, 2), BugKind::max_pool_routing, 14, false, true, maxp,
                   says("a max-pool window's gradient is sent to every tied maximum, where one entry (the first) gets "
                        "it: the window's gradient counted once per tie")});
  table.push_back({with_form(&V::max_pool_routing, 3), BugKind::max_pool_routing, 14, false, true, maxp,
                   says("a max-pool window's gradient is averaged over the window (÷ window², as for avg pool), where "
                        "its maximum gets all of it")});
  table.push_back({with({&V::avg_pool_undivided}), BugKind::avg_pool_undivided, 15, false, true, avgp,
                   says("avg pool's backward pass sends each entry the window's whole gradient, not divided by the "
                        "window's size")});
  table.push_back({with_form(&V::conv_bias, 1), BugKind::conv_bias_unsummed, 16, false, false, conv,
                   says("a conv2d bias gradient is taken at the first output position only, where it is the sum of δ "
                        "over every position (and sample)")});
  table.push_back({with_form(&V::conv_bias, 2), BugKind::conv_bias_unsummed, 16, false, false, conv,
                   says("a conv2d bias gradient is the mean of δ over the output positions, where it is their sum")});
}

// The catalogue of hypotheses, in the order their signatures are reported.
const std::vector<Hypothesis>& hypotheses() {
  using V = Variant;
  // act'(a) for act'(z), narrowest first: where the hidden layers' derivative
  // cannot tell a from z (relu, identity), "every layer" would match too but
  // say more than is shown.
  static const std::vector<Hypothesis> table = [] {
    std::vector<Hypothesis> t = {
      {with({&V::output_derivative_at_a}), BugKind::derivative_at_output_value, 0, true, false, all_layers,
       derivative_at_a("at the output layer")},
      {with({&V::hidden_derivative_at_a}), BugKind::derivative_at_output_value, 0, false, true, all_layers,
       derivative_at_a("in the hidden layers")},
      {with({&V::hidden_derivative_at_a, &V::output_derivative_at_a}), BugKind::derivative_at_output_value, 0,
       true, true, all_layers, derivative_at_a("in every layer")},
      {with({&V::output_missing_derivative}), BugKind::output_missing_derivative, 1, true, false, output_layer,
       missing_derivative_finding},
      {with({&V::softmax_on_fused}), BugKind::softmax_derivative_on_fused, 2, true, false, output_layer,
       [](const VerifyContext&) -> std::string {
         return "the softmax derivative is applied on top of the fused softmax + cross-entropy delta: δ_L = "
                "J_softmax(a − y) where a − y already is dL/dz";
       }},
      {with({&V::z_instead_of_a}), BugKind::z_instead_of_a, 3, false, true, layers_after_first,
       [](const VerifyContext&) -> std::string {
         return "the weight gradients use the previous layer's pre-activations z where its activations a belong "
                "(dW_l = δ_l z_{l−1}ᵀ instead of δ_l a_{l−1}ᵀ); the bias gradients are right";
       }},
      {with({&V::negative_slope_zero}), BugKind::derivative_formula, 4, true, true, leaky_layers,
       [](const VerifyContext&) -> std::string {
         return "leaky_relu's derivative is taken as 0 for z ≤ 0 (relu's) where it is the slope " +
                num(leaky_relu_slope);
       }},
      {with({&V::hidden_derivative_omitted}), BugKind::derivative_formula, 5, false, true, hidden_layers,
       [](const VerifyContext&) -> std::string {
         return "the hidden layers' activation derivative is left out of the backward step (δ_{l−1} = W_lᵀ δ_l "
                "instead of (W_lᵀ δ_l) ⊙ act'(z_{l−1}))";
       }},
      {with({&V::output_formula_at_z}), BugKind::derivative_formula, 6, true, false, output_layer,
       formula_at_z_finding("at the output layer")},
      {with({&V::hidden_formula_at_z}), BugKind::derivative_formula, 6, false, true, hidden_layers,
       formula_at_z_finding("in the hidden layers")},
      {with({&V::hidden_formula_at_z, &V::output_formula_at_z}), BugKind::derivative_formula, 6, true, true,
       all_layers, formula_at_z_finding("in every layer")},
      {with({&V::softmax_diagonal}), BugKind::derivative_formula, 7, true, false, output_layer,
       [](const VerifyContext&) -> std::string {
         return "softmax's derivative is taken elementwise, a(1 − a) (its Jacobian's diagonal only), where the "
                "whole Jacobian diag(a) − a aᵀ belongs";
       }},
      {with({&V::transposed_step}), BugKind::transposed_step, 8, false, true, layers_after_first,
       [](const VerifyContext&) -> std::string {
         return "the backward step multiplies δ_l by W_l where W_lᵀ belongs (δ_{l−1} = (W_l δ_l) ⊙ act'(z_{l−1}); "
                "the shapes only allow it where a layer is square)";
       }},
      {with({&V::targets_rolled}), BugKind::targets_misaligned, 9, true, false, all_layers,
       [](const VerifyContext&) -> std::string {
         return "each sample is paired with the next sample's target (sample s with the target of s + 1, the last "
                "with the first's): the batch's targets are shifted by one";
       }},
    };
    add_image_hypotheses(t);
    return t;
  }();
  return table;
}

struct Explained {
  bool output = false, step = false, bias = false;
};

// The hypotheses the reply matches, one signature each. One matched only
// within the precision model's bound (not to the format's rounding) gives way
// to any known mistake that matches to the rounding: in bfloat16 a doubled
// gradient and a missing tanh'(z) ≈ ½ are both within the bound, and only the
// ×2 fits every tensor. scale_matched: a recognised scale fits every tensor
// (scale_signatures, run once by the caller).
Explained hypothesis_signatures(const VerifyContext& ctx, const VerifyResult& r, bool scale_matched, bool tight_only,
                                std::vector<Signature>& out) {
  struct Matched {
    Signature s;
    bool tight, output, step;
  };
  std::vector<Matched> found;
  int matched_group = -1;
  for (const Hypothesis& h : hypotheses()) {
    if (h.group == matched_group) continue;
    const auto t = test_hypothesis(ctx, r, h.variant);
    if (!t || !t->matched) continue;
    Signature s;
    s.kind = h.kind;
    s.layers = h.layers(ctx);
    add_hypothesis_evidence(ctx, *t, s);
    s.evidence.push_back({entries_explained_label, static_cast<double>(t->fit.explained)});
    s.evidence.push_back({entries_compared_label, static_cast<double>(t->fit.compared)});
    s.message = h.message(ctx) + "; the reply " + matches(t->to_claimed) + example_clause(ctx, *t);
    // Overriding a precision note (tight_only) needs more than closeness: the
    // reply must trace the mistake, far nearer it than the correct gradients
    // (a float32 reply is within the tolerance of a mistake 1e-6 off the truth).
    const bool tight = t->to_claimed <= match_tolerance(ctx) && (!tight_only || traces(ctx, t->gradients));
    found.push_back({std::move(s), tight, h.explains_output, h.explains_step});
    matched_group = h.group;
  }
  const bool any_tight = tight_only || scale_matched ||
                        std::any_of(found.begin(), found.end(), [](const Matched& m) { return m.tight; });
  Explained ex;
  for (Matched& m : found) {
    if (any_tight && !m.tight) continue;
    out.push_back(std::move(m.s));
    ex.output = ex.output || m.output;
    ex.step = ex.step || m.step;
  }
  return ex;
}

// The catalogue: hypotheses, scales and zeroed biases. tight_only: only
// hypotheses the reply matches to the format's rounding, not merely within
// the precision model's bound.
Explained known_mistakes(const VerifyContext& ctx, const VerifyResult& r, std::vector<Signature>& out,
                         bool tight_only = false) {
  std::vector<Signature> scale;
  scale_signatures(ctx, r, scale);
  Explained ex = hypothesis_signatures(ctx, r, !scale.empty(), tight_only, out);
  if (!scale.empty()) ex.output = true;
  out.insert(out.end(), std::make_move_iterator(scale.begin()), std::make_move_iterator(scale.end()));
  bias_zero_signature(ctx, r, out);
  ex.bias = !out.empty() && out.back().kind == BugKind::bias_zero;
  return ex;
}

// What a hypothesis's flags say, in a few words (the cause's "ruled out" list).
std::string hypothesis_label(const Hypothesis& h) {
  const Variant& v = h.variant;
  if (v.hidden_derivative_at_a && v.output_derivative_at_a) return "act'(a) for act'(z) in every layer";
  if (v.hidden_derivative_at_a) return "act'(a) for act'(z) in the hidden layers";
  if (v.output_derivative_at_a) return "act'(a) for act'(z) at the output";
  if (v.output_missing_derivative) return "the output's act' left out";
  if (v.softmax_on_fused) return "softmax's Jacobian on the fused delta";
  if (v.z_instead_of_a) return "z for a in dW";
  if (v.negative_slope_zero) return "leaky_relu's slope 0 for z ≤ 0";
  if (v.hidden_derivative_omitted) return "the hidden act' left out";
  if (v.hidden_formula_at_z && v.output_formula_at_z) return "z(1 − z), 1 − z² in every layer";
  if (v.hidden_formula_at_z) return "z(1 − z), 1 − z² in the hidden layers";
  if (v.output_formula_at_z) return "z(1 − z), 1 − z² at the output";
  if (v.softmax_diagonal) return "softmax' as a(1 − a)";
  if (v.transposed_step) return "W for Wᵀ in a backward step";
  if (v.targets_rolled) return "targets shifted by one sample";
  if (v.kernel_flipped) return "conv kernels turned 180° throughout";
  if (v.kernel_flipped_dw) return "conv dW turned 180°";
  if (v.kernel_flipped_dx) return "conv dX through the unturned kernel";
  if (v.stride_ignored_dw && v.stride_ignored_dx) return "conv dW and dX at stride 1";
  if (v.stride_ignored_dw) return "conv dW at stride 1";
  if (v.stride_ignored_dx) return "conv dX at stride 1";
  if (v.backward_padding == 1) return "conv backward without padding";
  if (v.backward_padding == 2) return "conv backward at padding p + 1";
  if (v.backward_padding == 3) return "conv backward at padding p − 1";
  if (v.channels_swapped) return "conv dX through W[i][o]";
  if (v.max_pool_routing == 1) return "max-pool gradient to every entry";
  if (v.max_pool_routing == 2) return "max-pool gradient to every tied maximum";
  if (v.max_pool_routing == 3) return "max-pool gradient averaged";
  if (v.max_pool_routing == 4) return "max-pool gradient to the last tied maximum";
  if (v.avg_pool_undivided) return "avg-pool gradient not divided";
  if (v.conv_bias == 1) return "conv db at the first position";
  if (v.conv_bias == 2) return "conv db averaged over positions";
  return to_string(h.kind);
}

// A hypothesis or a scale matches the whole reply: it explains every tensor.
bool explains_whole_reply(BugKind k) {
  if (k == BugKind::sign_flip || k == BugKind::constant_scale) return true;
  return std::any_of(hypotheses().begin(), hypotheses().end(), [k](const Hypothesis& h) { return h.kind == k; });
}

}  // namespace

bool matches_known_mistake(const VerifyContext& ctx, const VerifyResult& r) {
  if (!ctx.usable.any() || !ctx.claimed_finite) return false;
  std::vector<Signature> out;
  known_mistakes(ctx, r, out, /*tight_only=*/true);
  return !out.empty();
}

std::vector<HypothesisScore> hypothesis_scores(const VerifyContext& ctx, const VerifyResult& r) {
  std::vector<HypothesisScore> out;
  if (!ctx.usable.any() || !ctx.claimed_finite) return out;
  for (const Hypothesis& h : hypotheses()) {
    const auto g = variant_gradients(ctx.c, ctx.fp, h.variant);
    if (!g) continue;
    out.push_back({h.kind, hypothesis_label(h), h.message(ctx), entry_fit(ctx, r, *g)});
  }
  return out;
}

std::vector<Signature> divergence_signatures(const VerifyContext& ctx, const VerifyResult& r) {
  std::vector<Signature> out;
  shape_signatures(ctx, r, out);
  non_finite_signature(ctx, r, out);
  bias_missing_signature(ctx, out);
  if (!ctx.usable.any() || !ctx.claimed_finite) return out;
  const Explained ex = known_mistakes(ctx, r, out);
  // A hypothesis or a scale that matches the whole reply explains every
  // tensor: the localisation's generic signatures would only restate it (and
  // on a degenerate case, zero activations say, name the wrong tensor).
  if (std::any_of(out.begin(), out.end(), [](const Signature& s) { return explains_whole_reply(s.kind); })) return out;
  // Fits that explain every entry when they fit at all: one weight per
  // sample, then one factor per tensor.
  const std::size_t before_fits = out.size();
  weight_decay_signature(ctx, out);
  if (out.size() == before_fits) sample_weight_signatures(ctx, out);
  if (out.size() == before_fits) tensor_scale_signatures(ctx, r, out);
  if (out.size() > before_fits) return out;

  if (r.fault == FaultLocation::output_error_term && !ex.output) output_error_term_signature(ctx, r, out);
  if (r.fault == FaultLocation::backward_step && !ex.step) localised_signature(ctx, r, out);
  if (r.fault == FaultLocation::weight_gradient && !ex.step) localised_signature(ctx, r, out);
  if (r.fault == FaultLocation::bias_gradient && !ex.bias) localised_signature(ctx, r, out);
  return out;
}

}  // namespace detail
}  // namespace gradcheck
