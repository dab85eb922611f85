// verify_reply (verify.hpp): the reply against the 50-digit reference, then
// localisation (origin layer, chain consistency), signatures and the effect of
// one update step.
#include "verify_detail.hpp"

#include <gradcheck/gradient/reference.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace gradcheck {

const char* to_string(VerifyStatus s) {
  switch (s) {
    case VerifyStatus::agree: return "agree";
    case VerifyStatus::notes: return "notes";
    case VerifyStatus::diverge: return "diverge";
    case VerifyStatus::declined: return "declined";
  }
  return "?";
}

const char* to_string(DeltaRecovery r) {
  switch (r) {
    case DeltaRecovery::exact: return "exact";
    case DeltaRecovery::solved: return "solved";
    case DeltaRecovery::from_weights: return "from-weights";
    case DeltaRecovery::undetermined: return "undetermined";
    case DeltaRecovery::unavailable: return "unavailable";
  }
  return "?";
}

const char* to_string(ChainConsistency::Status s) {
  switch (s) {
    case ChainConsistency::Status::not_applicable: return "not-applicable";
    case ChainConsistency::Status::undetermined: return "undetermined";
    case ChainConsistency::Status::consistent: return "consistent";
    case ChainConsistency::Status::inconsistent: return "inconsistent";
  }
  return "?";
}

const char* to_string(FaultLocation f) {
  switch (f) {
    case FaultLocation::none: return "none";
    case FaultLocation::forward: return "forward";
    case FaultLocation::output_error_term: return "output-error-term";
    case FaultLocation::backward_step: return "backward-step";
    case FaultLocation::weight_gradient: return "weight-gradient";
    case FaultLocation::bias_gradient: return "bias-gradient";
    case FaultLocation::layer_gradients: return "layer-gradients";
    case FaultLocation::undetermined: return "undetermined";
  }
  return "?";
}

bool VerifyResult::has_notes() const {
  for (const Signature& s : signatures)
    if (s.severity == Severity::note) return true;
  return false;
}

bool VerifyResult::passed(bool strict) const {
  switch (status) {
    case VerifyStatus::agree:
    case VerifyStatus::declined: return true;
    case VerifyStatus::notes: return !strict;
    case VerifyStatus::diverge: return false;
  }
  return false;
}

namespace detail {
namespace {

// Above this condition number a recovered δ is too sensitive to the reply's
// own rounding to judge consistency at match_tolerance × condition ≤ 1e-2.
constexpr double max_condition = 1e3;

void validate_case(const Case& c) {
  try {
    validate(c.network);
  } catch (const InputError& e) {
    throw e.within("case", "network");
  }
  const Index N = c.inputs.cols();
  if (N < 1) throw InputError("case", "inputs", "has no samples");
  if (c.inputs.rows() != c.network.input_size())
    throw InputError("case", "inputs", "samples have " + std::to_string(c.inputs.rows()) + " features, the network takes " +
                                           std::to_string(c.network.input_size()));
  if (c.targets.cols() != N)
    throw InputError("case", "targets", "has " + std::to_string(c.targets.cols()) + " samples, inputs have " + std::to_string(N));
  if (c.targets.rows() != c.network.output_size())
    throw InputError("case", "targets", "samples have " + std::to_string(c.targets.rows()) + " entries, the network has " +
                                            std::to_string(c.network.output_size()) + " outputs");
}

Usable usable_tensors(const Case& c, const Reply& reply) {
  const std::size_t L = c.network.layers.size();
  Usable u;
  u.weights.assign(L, 0);
  u.biases.assign(L, 0);
  if (reply.layers.size() != L) return u;
  u.all = true;
  for (std::size_t l = 0; l < L; ++l) {
    const auto& w = c.network.layers[l].weights;
    const bool weights_match = reply.layers[l].weights.rows() == w.rows() && reply.layers[l].weights.cols() == w.cols();
    const bool biases_match = reply.layers[l].biases.size() == c.network.layers[l].biases.size();
    // A pooling layer's empty tensors match and leave nothing to compare.
    u.weights[l] = weights_match && w.size() > 0;
    u.biases[l] = biases_match && c.network.layers[l].biases.size() > 0;
    u.all = u.all && weights_match && biases_match;
  }
  return u;
}

Grads reference_values(const Reference& ref, std::size_t L) {
  Grads g(L);
  for (std::size_t l = 0; l < L; ++l) {
    const int layer = static_cast<int>(l);
    const ReferenceTensor* w = ref.find(layer, TensorKind::weights);
    const ReferenceTensor* b = ref.find(layer, TensorKind::biases);
    if (w) g[l].weights = w->value;  // a pooling layer has neither: empty tensors
    if (b) g[l].biases = b->value.col(0);
  }
  return g;
}

bool usable_finite(const Reply& reply, const Usable& u) {
  for (std::size_t l = 0; l < u.weights.size(); ++l) {
    if (u.weights[l] && !reply.layers[l].weights.allFinite()) return false;
    if (u.biases[l] && !reply.layers[l].biases.allFinite()) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Forward

Entry forward_entry(TensorKind t, int layer, Index row, Index col, double claimed, double reference, double floor,
                    const Tolerances& tol) {
  Entry e;
  e.layer = layer;
  e.tensor = t;
  e.row = row;
  e.col = col;
  e.analytic = claimed;
  e.numeric = reference;
  e.stencil = Stencil::analytic;
  const Comparison cmp = compare(claimed, reference, 0, 0, floor, tol);
  e.tolerance = cmp.tolerance;
  e.absolute_error = cmp.absolute_error;
  e.relative_error = cmp.relative_error;
  e.verdict = cmp.verdict;
  return e;
}

int severity(Verdict v) {
  switch (v) {
    case Verdict::agree: return 0;
    case Verdict::inconclusive_kink: return 1;
    case Verdict::disagree: return 2;
    case Verdict::non_finite: return 3;
  }
  return 0;
}

ForwardCheck check_forward(const Case& c, const Reply& reply, const Reference& ref, const VerifyOptions& opt) {
  ForwardCheck f;
  f.reference_outputs = ref.outputs;
  f.reference_loss = ref.loss;
  const int out_layer = static_cast<int>(c.network.layers.size()) - 1;
  f.outputs_sent = reply.outputs.has_value();
  f.loss_sent = reply.loss.has_value();
  if (reply.outputs) {
    const Matrix<double>& o = *reply.outputs;
    const Matrix<double>& r = f.reference_outputs;
    if (o.rows() != r.rows() || o.cols() != r.cols()) {
      f.outputs_shape_problem = "outputs has " + std::to_string(o.cols()) + " samples of " + std::to_string(o.rows()) +
                                " values, expected " + std::to_string(r.cols()) + " of " + std::to_string(r.rows());
    } else {
      const double floor = tensor_floor(r.cwiseAbs().maxCoeff(), opt.forward_tolerances);
      const bool roundoff = ref.outputs_roundoff.rows() == r.rows() && ref.outputs_roundoff.cols() == r.cols();
      for (Index s = 0; s < r.cols(); ++s)
        for (Index k = 0; k < r.rows(); ++k) {
          f.entries.push_back(forward_entry(TensorKind::outputs, out_layer, k, s, o(k, s), r(k, s), floor,
                                            opt.forward_tolerances));
          if (roundoff) f.entries.back().roundoff = ref.outputs_roundoff(k, s);
        }
    }
  }
  if (reply.loss)
    f.entries.push_back(forward_entry(TensorKind::loss, out_layer, 0, 0, *reply.loss, f.reference_loss,
                                      tensor_floor(std::abs(f.reference_loss), opt.forward_tolerances),
                                      opt.forward_tolerances));
  for (const Entry& e : f.entries) {
    if (severity(e.verdict) > severity(f.verdict)) f.verdict = e.verdict;
    if (std::isfinite(e.relative_error)) f.worst_relative_error = std::max(f.worst_relative_error, e.relative_error);
    else f.worst_relative_error = std::numeric_limits<double>::infinity();
  }
  return f;
}

// ---------------------------------------------------------------------------
// Ratios and the update step

std::vector<TensorRatio> fit_ratios(const VerifyContext& ctx) {
  std::vector<TensorRatio> out;
  for (std::size_t l = 0; l < ctx.usable.weights.size(); ++l) {
    for (int t = 0; t < 2; ++t) {
      TensorRatio r;
      r.layer = l;
      r.biases = t == 1;
      const bool ok = r.biases ? ctx.usable.biases[l] : ctx.usable.weights[l];
      if (ok) {
        const Matrix<double> c = r.biases ? Matrix<double>(ctx.reply.layers[l].biases) : ctx.reply.layers[l].weights;
        const Matrix<double> ref = r.biases ? Matrix<double>(ctx.reference[l].biases) : ctx.reference[l].weights;
        const double rr = ref.squaredNorm();
        if (rr > 0 && c.allFinite()) {
          r.defined = true;
          r.ratio = c.cwiseProduct(ref).sum() / rr;
          const double cn = c.norm();
          r.residual = cn > 0 ? (c - r.ratio * ref).norm() / cn : 0;
        }
      }
      out.push_back(r);
    }
  }
  return out;
}

UpdateEffect update_effect(const VerifyContext& ctx) {
  UpdateEffect u;
  u.learning_rate = ctx.options.learning_rate;
  if (!ctx.usable.all || !ctx.claimed_finite) return u;
  const Network<double>& net = ctx.c.network;
  Network<double> mine = net, right = net;
  double cr = 0, cc = 0, rr = 0;
  for (std::size_t l = 0; l < net.layers.size(); ++l) {
    const auto& c = ctx.reply.layers[l];
    const auto& r = ctx.reference[l];
    mine.layers[l].weights -= u.learning_rate * c.weights;
    mine.layers[l].biases -= u.learning_rate * c.biases;
    right.layers[l].weights -= u.learning_rate * r.weights;
    right.layers[l].biases -= u.learning_rate * r.biases;
    cr += c.weights.cwiseProduct(r.weights).sum() + c.biases.dot(r.biases);
    cc += c.weights.squaredNorm() + c.biases.squaredNorm();
    rr += r.weights.squaredNorm() + r.biases.squaredNorm();
  }
  u.cosine = cc > 0 && rr > 0 ? cr / std::sqrt(cc * rr) : 0;
  u.outputs_before = ctx.fp.output();
  u.loss_before = loss(net, ctx.fp, ctx.c.targets);
  const auto fm = forward(mine, ctx.c.inputs);
  const auto fr = forward(right, ctx.c.inputs);
  u.outputs_after_claimed = fm.output();
  u.outputs_after_reference = fr.output();
  u.loss_after_claimed = loss(mine, fm, ctx.c.targets);
  u.loss_after_reference = loss(right, fr, ctx.c.targets);
  u.computed = true;
  return u;
}

// ---------------------------------------------------------------------------
// Recovering δ_l from layer l's own gradients, and the chain

// Eigen-decomposition of a small symmetric matrix by cyclic Jacobi rotations:
// G = V diag(lambda) Vᵀ. Hand-written because Eigen's solvers trip GCC 12's
// -Wmaybe-uninitialized (a false positive inside Eigen) under -Werror; G is
// batch × batch, so the O(n³) sweeps cost nothing.
void symmetric_eigen(Matrix<double> G, Vector<double>& lambda, Matrix<double>& V) {
  const Index n = G.rows();
  V = Matrix<double>::Identity(n, n);
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (Index p = 0; p < n; ++p)
      for (Index q = p + 1; q < n; ++q) off += G(p, q) * G(p, q);
    if (off <= 1e-30 * G.squaredNorm()) break;
    for (Index p = 0; p < n; ++p)
      for (Index q = p + 1; q < n; ++q) {
        if (G(p, q) == 0) continue;
        const double theta = (G(q, q) - G(p, p)) / (2 * G(p, q));
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (Index k = 0; k < n; ++k) {  // G ← Jᵀ G J, V ← V J
          const double gkp = G(k, p), gkq = G(k, q);
          G(k, p) = c * gkp - s * gkq;
          G(k, q) = s * gkp + c * gkq;
        }
        for (Index k = 0; k < n; ++k) {
          const double gpk = G(p, k), gqk = G(q, k);
          G(p, k) = c * gpk - s * gqk;
          G(q, k) = s * gpk + c * gqk;
        }
        for (Index k = 0; k < n; ++k) {
          const double vkp = V(k, p), vkq = V(k, q);
          V(k, p) = c * vkp - s * vkq;
          V(k, q) = s * vkp + c * vkq;
        }
      }
  }
  lambda = G.diagonal();
}

// Solves P X = B in the least-squares sense when P has full column rank and a
// condition number ≤ max_condition (else X stays empty); returns the condition
// number. Through the normal equations: P has as many columns as the batch has
// samples, and squaring a condition ≤ 1e3 still leaves 10 digits.
double solve(const Matrix<double>& P, const Matrix<double>& B, Matrix<double>& X) {
  Vector<double> lambda;
  Matrix<double> V;
  symmetric_eigen(P.transpose() * P, lambda, V);
  const double hi = lambda.maxCoeff(), lo = lambda.minCoeff();
  if (!(hi > 0) || !(lo > 0)) return std::numeric_limits<double>::infinity();
  const double cond = std::sqrt(hi / lo);
  if (!(cond <= max_condition)) return cond;
  X = V * lambda.cwiseInverse().asDiagonal() * V.transpose() * (P.transpose() * B);
  return cond;
}

// What layer l's parameter gradients are linear in: [dW, db] = Δ [Dᵀ, 1], Δ
// the layer's δ as units × columns. A dense layer's D is a_{l−1} (a column per
// sample, Δ = δ); a conv2d layer's is its unfolded input, weight_cols × (N·P)
// (a column per sample and output position, Δ(o, n·P + p) = δ(o·P + p, n)).
Matrix<double> design(const Layer<double>& layer, const Matrix<double>& a) {
  if (layer.is_dense()) return a;
  Matrix<double> cols;
  unfold(layer.conv, a, 0, a.cols(), cols);
  return cols.transpose();
}

// Δ (units × columns) of design() back to δ (output_size × N).
Matrix<double> delta_of_columns(const Layer<double>& layer, const Matrix<double>& D, Index N) {
  if (layer.is_dense()) return D;
  const Index P = layer.conv.positions();
  Matrix<double> delta(layer.output_size(), N);
  for (Index n = 0; n < N; ++n)
    for (Index o = 0; o < D.rows(); ++o) delta.col(n).segment(o * P, P) = D.row(o).segment(n * P, P).transpose();
  return delta;
}

// A conv2d layer's δ has N·P unknowns per output channel: recovered only when
// that many are few enough for the eigen-solver (batch × positions ≤ this).
constexpr Index max_conv_unknowns = 64;

RecoveredDelta recover_delta(const VerifyContext& ctx, std::size_t l) {
  RecoveredDelta r;
  r.layer = l;
  if (!ctx.usable.weights[l] || !ctx.claimed_finite) return r;
  const Layer<double>& layer = ctx.c.network.layers[l];
  const Matrix<double>& dW = ctx.reply.layers[l].weights;
  const bool have_b = ctx.usable.biases[l] && !(ctx.reply.layers[l].biases.array() == 0).all();
  const Matrix<double> a = design(layer, ctx.fp.a[l]);  // a_{l−1}: inputs × N (conv2d: unfolded)
  const Index N = a.cols(), n_in = a.rows();
  const Index equations = have_b ? n_in + 1 : n_in;
  if (layer.is_dense() && have_b && N == 1) {
    r.how = DeltaRecovery::exact;
    r.delta = ctx.reply.layers[l].biases;
  } else if (!layer.is_dense() && (N > equations || N > max_conv_unknowns)) {
    r.how = DeltaRecovery::undetermined;  // more unknowns than equations: any δ of the null space fits
    return r;
  } else {
    Matrix<double> P, B;
    if (have_b) {
      P.resize(n_in + 1, N);
      P.topRows(n_in) = a;
      P.row(n_in).setOnes();
      B.resize(n_in + 1, dW.rows());
      B.topRows(n_in) = dW.transpose();
      B.row(n_in) = ctx.reply.layers[l].biases.transpose();
    } else {
      P = a;
      B = dW.transpose();
    }
    Matrix<double> X;
    r.condition = solve(P, B, X);
    if (X.size() == 0) {
      r.how = DeltaRecovery::undetermined;
      return r;
    }
    r.how = have_b ? DeltaRecovery::solved : DeltaRecovery::from_weights;
    r.delta = delta_of_columns(layer, X.transpose(), ctx.fp.a[l].cols());
  }
  Matrix<double> w_pred;
  Vector<double> b_pred;
  layer_parameter_gradients(layer, ctx.fp.a[l], r.delta, w_pred, b_pred);
  // More equations than unknowns: the fit can fail, so its residual says something.
  r.residual_tested = equations > N || r.how == DeltaRecovery::exact || r.how == DeltaRecovery::from_weights;
  if (r.how == DeltaRecovery::exact || equations > N) r.weights_residual = tensor_distance(dW, w_pred);
  if (ctx.usable.biases[l] && (r.how == DeltaRecovery::from_weights || equations > N))
    r.biases_residual = tensor_distance(ctx.reply.layers[l].biases, b_pred);
  return r;
}

// Layer l's claimed dW and db against those δ (its δ) predicts: δ a_{l−1}ᵀ and
// δ·1 (dense), δ ⋆ a_{l−1} and δ summed over positions and samples (conv2d).
LayerConsistency consistency(const VerifyContext& ctx, std::size_t l, const Matrix<double>& delta, double condition) {
  LayerConsistency c;
  c.layer = l;
  c.tolerance = match_tolerance(ctx) * std::max(1.0, condition);
  Matrix<double> w_pred;
  Vector<double> b_pred;
  layer_parameter_gradients(ctx.c.network.layers[l], ctx.fp.a[l], delta, w_pred, b_pred);
  c.weights_error = tensor_distance(ctx.reply.layers[l].weights, w_pred);
  c.biases_error = tensor_distance(ctx.reply.layers[l].biases, b_pred);
  c.weights_consistent = c.weights_error <= c.tolerance;
  c.biases_consistent = c.biases_error <= c.tolerance;
  return c;
}

// reference_output_delta is δ_L of the reference, in 50 digits (the double
// output delta underflows where one softmax class dominates by hundreds of nats).
ChainConsistency chain_consistency(const VerifyContext& ctx, const Reference& reference) {
  ChainConsistency ch;
  const Network<double>& net = ctx.c.network;
  const std::size_t L = net.layers.size();
  ch.reference_output_delta = reference.output_delta;
  if (!ctx.usable.all || !ctx.claimed_finite) {
    ch.output.layer = L - 1;
    ch.status = L > 1 ? ChainConsistency::Status::undetermined : ChainConsistency::Status::not_applicable;
    return ch;
  }
  for (std::size_t l = L; l-- > 0;) ch.recovered.push_back(recover_delta(ctx, l));
  ch.output = ch.recovered.front();
  for (std::size_t l = L - 1; l-- > 0;) {
    // Layer l from the δ of the first layer above it with parameters, through
    // the pooling layers between (a pooling layer has nothing to compare).
    std::size_t u = l + 1;
    while (u < L && is_pooling(net.layers[u].kind)) ++u;
    if (is_pooling(net.layers[l].kind) || u == L || ch.recovered[L - 1 - u].delta.size() == 0) {
      ch.steps.push_back(std::nullopt);
      continue;
    }
    const RecoveredDelta& above = ch.recovered[L - 1 - u];
    Matrix<double> delta = above.delta;
    for (std::size_t m = u; m > l; --m) delta = backward_step(net, ctx.fp, m, delta);
    ch.steps.push_back(consistency(ctx, l, delta, above.condition));
  }
  if (L == 1) {
    ch.status = ChainConsistency::Status::not_applicable;
    return ch;
  }
  if (ch.output.delta.size() == 0) {
    ch.status = ChainConsistency::Status::undetermined;
    return ch;
  }
  Matrix<double> delta = ch.output.delta;
  bool all = true;
  for (std::size_t l = L - 1; l-- > 0;) {
    delta = backward_step(net, ctx.fp, l + 1, delta);
    if (is_pooling(net.layers[l].kind)) continue;
    ch.layers.push_back(consistency(ctx, l, delta, ch.output.condition));
    all = all && ch.layers.back().consistent();
  }
  ch.status = all ? ChainConsistency::Status::consistent : ChainConsistency::Status::inconsistent;
  return ch;
}

// Walks back from the output: the first layer whose own dW and db disagree,
// or the first backward step whose prediction the reply does not follow.
void localise(const VerifyContext& ctx, VerifyResult& r) {
  const std::size_t L = ctx.c.network.layers.size();
  const ChainConsistency& ch = r.chain;
  if (!ctx.usable.all || !ctx.claimed_finite || ch.recovered.size() != L) {
    r.fault = FaultLocation::undetermined;
    return;
  }
  for (std::size_t k = 0; k < L; ++k) {
    const std::size_t l = L - 1 - k;
    const RecoveredDelta& rec = ch.recovered[k];
    const double tol = match_tolerance(ctx) * std::max(1.0, rec.condition);
    if (rec.residual_tested && (rec.weights_residual > tol || rec.biases_residual > tol)) {
      r.fault_layer = l;
      if (rec.how == DeltaRecovery::exact) r.fault = FaultLocation::weight_gradient;
      else if (rec.how == DeltaRecovery::from_weights) r.fault = FaultLocation::bias_gradient;
      else r.fault = FaultLocation::layer_gradients;
      return;
    }
    if (l == 0) break;
    if (is_pooling(ctx.c.network.layers[l - 1].kind)) continue;  // tested by the next step, through it
    const auto& step = ch.steps[k];
    if (!step) {
      r.fault = FaultLocation::undetermined;
      r.fault_layer = l;
      return;
    }
    if (step->consistent()) continue;
    if (!step->weights_consistent && !step->biases_consistent) {
      r.fault = FaultLocation::backward_step;
      r.fault_layer = l;
    } else {
      r.fault = step->weights_consistent ? FaultLocation::bias_gradient : FaultLocation::weight_gradient;
      r.fault_layer = l - 1;
    }
    return;
  }
  if (r.origin_layer && *r.origin_layer == L - 1) {
    r.fault = FaultLocation::output_error_term;
    r.fault_layer = L - 1;
  } else {
    r.fault = FaultLocation::undetermined;
  }
}

std::vector<std::size_t> worst_entries(const CheckResult& g, std::size_t k) {
  std::vector<std::size_t> idx(g.entries.size());
  std::iota(idx.begin(), idx.end(), std::size_t{0});
  auto key = [&](std::size_t i) {
    const Entry& e = g.entries[i];
    const double rel = std::isfinite(e.relative_error) ? e.relative_error : std::numeric_limits<double>::infinity();
    return std::make_pair(severity(e.verdict), rel);
  };
  std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return key(a) > key(b); });
  if (idx.size() > k) idx.resize(k);
  return idx;
}

// Notes first: when one explains every difference, nothing diverges. A
// precision note gives way to a known mistake the reply traces (a bug at any
// scale is a bug); a kink note does not: what a relu'(0) convention or a
// rounded z explains exactly, no mistake can be told from (a hidden relu's
// derivative left out shows only at z < 0).
std::vector<Signature> explaining_notes(const VerifyContext& ctx, const VerifyResult& r) {
  std::vector<Signature> notes = precision_notes(ctx, r);
  if (!notes.empty() && matches_known_mistake(ctx, r)) notes.clear();
  if (notes.empty())
    if (auto k = kink_note(ctx, r)) notes.push_back(std::move(*k));
  return notes;
}

bool forward_diverges(const VerifyResult& r) {
  bool diverges = r.forward.outputs_shape_problem.has_value();
  if (r.forward.within_precision) return diverges;
  for (const Entry& e : r.forward.entries) diverges = diverges || is_divergent(e.verdict);
  return diverges;
}

// Whether the gradients diverge; sets r.origin_layer to the last layer with a
// divergent entry (or, failing that, with an unusable tensor).
bool gradients_diverge(const VerifyContext& ctx, VerifyResult& r) {
  bool diverge = !r.gradients.findings.empty() || !ctx.usable.all || ctx.reply.non_finite_count > 0;
  for (const Entry& e : r.gradients.entries) {
    if (!is_divergent(e.verdict)) continue;
    diverge = true;
    if (!r.origin_layer || static_cast<std::size_t>(e.layer) > *r.origin_layer)
      r.origin_layer = static_cast<std::size_t>(e.layer);
  }
  if (!ctx.usable.all && !r.origin_layer) {
    const auto mismatched = [&](std::size_t l) {
      const Layer<double>& layer = ctx.c.network.layers[l];
      const LayerGradient& g = ctx.reply.layers[l];
      return g.weights.rows() != layer.weights.rows() || g.weights.cols() != layer.weights.cols() ||
             g.biases.size() != layer.biases.size();
    };
    for (std::size_t l = ctx.c.network.layers.size(); l-- > 0;)
      if (ctx.reply.layers.size() != ctx.c.network.layers.size() || mismatched(l)) {
        r.origin_layer = l;
        break;
      }
  }
  return diverge;
}

}  // namespace
}  // namespace detail

VerifyResult verify_reply(const Case& c, const Reply& reply, const VerifyOptions& options) {
  using namespace detail;
  validate_case(c);
  VerifyResult r;
  if (reply.declined()) {
    r.status = VerifyStatus::declined;
    r.declined_message = reply.error;
    return r;
  }
  const std::size_t L = c.network.layers.size();
  PrecisionState precision(reply, options);
  VerifyContext ctx{c, reply, options, forward(c.network, c.inputs), {}, {}, usable_tensors(c, reply), true, &precision};
  ctx.baseline = *variant_gradients(c, ctx.fp, Variant{});
  ctx.claimed_finite = usable_finite(reply, ctx.usable);

  const Reference reference = reference_gradients(c);
  ctx.reference = reference_values(reference, L);
  r.forward = check_forward(c, reply, reference, options);
  r.forward.within_precision = forward_within_precision(ctx, r);
  r.gradients = compare_gradients(c, reply.layers, reference, options.tolerances);
  r.ratios = fit_ratios(ctx);
  r.worst = worst_entries(r.gradients, options.worst_entries);
  r.update = update_effect(ctx);
  r.chain = chain_consistency(ctx, reference);

  const std::vector<Signature> notes = explaining_notes(ctx, r);
  const bool forward_differs = forward_diverges(r);
  const bool gradients_differ = gradients_diverge(ctx, r);
  const bool explained = !notes.empty() && !(notes[0].kind == BugKind::kink_convention && forward_differs);
  if (explained) {
    r.origin_layer.reset();
    r.fault = FaultLocation::none;
    r.signatures = notes;
    r.status = VerifyStatus::notes;
    return r;
  }
  if (!forward_differs && !gradients_differ) {
    r.status = VerifyStatus::agree;
    return r;
  }
  localise(ctx, r);
  if (forward_differs) {
    r.fault = FaultLocation::forward;
    r.fault_layer.reset();
  }
  r.signatures = divergence_signatures(ctx, r);
  r.status = VerifyStatus::diverge;
  r.cause = find_cause(ctx, r);
  return r;
}

VerifyResult malformed_reply(std::string message) {
  VerifyResult r;
  r.status = VerifyStatus::diverge;
  r.malformed = std::move(message);
  r.fault = FaultLocation::undetermined;
  Cause c;
  c.confidence = CauseConfidence::explains_all;
  c.statement = "the reply is not a reply: " + *r.malformed;
  r.cause = std::move(c);
  return r;
}

}  // namespace gradcheck
