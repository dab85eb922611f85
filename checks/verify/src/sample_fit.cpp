// Per-sample and per-tensor fits (verify_detail.hpp, docs/verify.md#signatures).
//
// sample_weight_signatures: the reply as Σ_s w_s g_s, g_s the gradient of
// sample s's loss alone, w fitted by least squares over every usable tensor
// (each tensor in units of its reference's largest value). It names a cause
// only when the fit reproduces every tensor to the matching tolerance and the
// per-sample gradients are linearly independent (else w is not determined; a
// sample whose own gradient is 0 has no weight to fit and is left out):
// samples dropped (weight 0, the others equal: a loop that skips one, an
// accumulator overwritten), or per-sample weights of their own. Equal weights
// are a constant scale, named by scale_signatures.
//
// tensor_scale_signatures: every tensor an exact multiple of its reference
// (r.ratios), not all by the same factor: "layers[1].biases is 4 × the
// reference (×N ...), every other tensor agrees".
#include "verify_detail.hpp"

#include <Eigen/QR>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace gradcheck::detail {

namespace {

// The gradients of each sample's loss alone (sum reduction: one sample's own
// gradient), by the engine in double.
std::vector<Grads> per_sample_gradients(const Case& c) {
  Network<double> net = c.network;
  net.reduction = Reduction::sum;
  std::vector<Grads> out;
  for (Index s = 0; s < c.batch_size(); ++s) {
    const Matrix<double> x = c.inputs.col(s), y = c.targets.col(s);
    const ForwardPass<double> fp = forward(net, x);
    Gradients<double> g;
    backward(net, fp, y, g);
    Grads gs;
    for (std::size_t l = 0; l < g.weights.size(); ++l) gs.push_back({g.weights[l], g.biases[l]});
    out.push_back(std::move(gs));
  }
  return out;
}

// One tensor of a gradient set, as a column of numbers.
Vector<double> flat(const LayerGradient& g, bool biases) {
  if (biases) return g.biases;
  return Eigen::Map<const Vector<double>>(g.weights.data(), g.weights.size());
}

struct Tensor {
  std::size_t layer;
  bool biases;
  double scale;  // the reference's largest |value|
};

// The usable tensors whose reference is not all zero.
std::vector<Tensor> fitted_tensors(const VerifyContext& ctx) {
  std::vector<Tensor> out;
  for (std::size_t l = 0; l < ctx.reference.size(); ++l)
    for (bool b : {false, true}) {
      if (!(b ? ctx.usable.biases[l] : ctx.usable.weights[l])) continue;
      const double scale = flat(ctx.reference[l], b).cwiseAbs().maxCoeff();
      if (scale > 0) out.push_back({l, b, scale});
    }
  return out;
}

// The reply and the per-sample gradients as one column each: every fitted
// tensor's entries, divided by its reference's largest |value|.
struct FitProblem {
  Matrix<double> G;                 // rows × samples
  Vector<double> r;                 // rows
  std::vector<Index> tensor_sizes;  // the rows of each tensor, in order
};

FitProblem fit_problem(const VerifyContext& ctx, const std::vector<Tensor>& tensors, const std::vector<Grads>& per_sample) {
  const Index N = static_cast<Index>(per_sample.size());
  FitProblem p;
  Index rows = 0;
  for (const Tensor& t : tensors) {
    p.tensor_sizes.push_back(flat(ctx.reference[t.layer], t.biases).size());
    rows += p.tensor_sizes.back();
  }
  p.G.resize(rows, N);
  p.r.resize(rows);
  Index at = 0;
  for (const Tensor& t : tensors) {
    const Vector<double> claimed = flat(ctx.reply.layers[t.layer], t.biases) / t.scale;
    for (Index s = 0; s < N; ++s)
      p.G.col(s).segment(at, claimed.size()) = flat(per_sample[static_cast<std::size_t>(s)][t.layer], t.biases) / t.scale;
    p.r.segment(at, claimed.size()) = claimed;
    at += claimed.size();
  }
  return p;
}

// Largest over tensors of ‖fitted_t − r_t‖ / max(‖r_t‖, ‖fitted_t‖).
double worst_residual(const FitProblem& p, const Vector<double>& fitted) {
  double worst = 0;
  Index at = 0;
  for (Index n : p.tensor_sizes) {
    const double size = std::max(p.r.segment(at, n).norm(), fitted.segment(at, n).norm());
    const double miss = (fitted.segment(at, n) - p.r.segment(at, n)).norm();
    worst = std::max(worst, size > 0 ? miss / size : 0.0);
    at += n;
  }
  return worst;
}

// The fitted weights, relative to the reduction's own (1/N for a mean, 1 for
// a sum): a correct reply has 1 for every sample.
struct SampleWeights {
  Vector<double> rho;       // per sample; NaN where the sample has no gradient of its own
  double residual = 1;      // largest over tensors of ‖G_t w − r_t‖ / ‖r_t‖
  bool determined = false;  // the weights follow from the numbers
  std::vector<Index> without_gradient;
};

// Least squares over the samples whose own gradient is not 0 (a dead relu, a
// target already met: no weight to fit); determined when those gradients are
// linearly independent.
SampleWeights fit_every_weight(const FitProblem& p, double share) {
  const Index N = p.G.cols();
  SampleWeights f;
  std::vector<Index> active;
  const double largest = p.G.colwise().norm().maxCoeff();
  for (Index s = 0; s < N; ++s) (p.G.col(s).norm() > 1e-12 * largest ? active : f.without_gradient).push_back(s);
  if (active.size() < 2) return f;
  Matrix<double> A(p.G.rows(), static_cast<Index>(active.size()));
  for (std::size_t k = 0; k < active.size(); ++k) A.col(static_cast<Index>(k)) = p.G.col(active[k]);
  Eigen::ColPivHouseholderQR<Matrix<double>> qr(A);
  qr.setThreshold(1e-8);
  if (qr.rank() < A.cols()) return f;
  f.determined = true;
  const Vector<double> w = qr.solve(p.r);
  f.rho = Vector<double>::Constant(N, std::numeric_limits<double>::quiet_NaN());
  for (std::size_t k = 0; k < active.size(); ++k) f.rho(active[k]) = w(static_cast<Index>(k)) * share;
  f.residual = worst_residual(p, A * w);
  return f;
}

// Where the per-sample gradients are dependent (linear layers, a bottleneck),
// the batch loops' own subsets, each with one free scale: the last sample
// alone, the first alone, all but the first, all but the last. Determined when
// exactly one of them fits and it differs from the whole batch.
SampleWeights fit_loop_subsets(const FitProblem& p, double share, double tol) {
  const Index N = p.G.cols();
  const Vector<double> all = p.G.rowwise().sum();
  SampleWeights found;
  int fits = 0;
  for (const auto& [first, last] : {std::pair{N - 1, N - 1}, {Index{0}, Index{0}}, {Index{1}, N - 1}, {Index{0}, N - 2}}) {
    const Vector<double> v = p.G.middleCols(first, last - first + 1).rowwise().sum();
    const double vv = v.squaredNorm();
    if (vv == 0 || (v / v.norm() - all / all.norm()).norm() <= 100 * tol) continue;  // no gradient, or the batch's own
    const double k = v.dot(p.r) / vv;
    const double residual = worst_residual(p, k * v);
    if (residual > tol) continue;
    ++fits;
    found.determined = true;
    found.residual = residual;
    found.rho = Vector<double>::Zero(N);
    found.rho.segment(first, last - first + 1).setConstant(k * share);
  }
  if (fits != 1) return {};
  return found;
}

std::string sample_list(const std::vector<Index>& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out;
}

// Why samples are missing, from which ones are kept. In a batch of 2 the
// last sample alone is also sample 0 left out, and the reply cannot tell
// which: both are said.
std::string dropped_reason(const std::vector<Index>& kept, const std::vector<Index>& dropped, Index N) {
  const std::string overwritten = "each sample's gradient is assigned to the accumulator (=) where it should be added (+=)";
  const std::string starts_at_1 = "a batch loop that starts at 1";
  const std::string ends_early = "the batch loop ends after one sample";
  const std::string one_short = "a batch loop that stops one short";
  if (N == 2)
    return kept[0] == 1 ? "only the last of the 2 samples' gradients is in the reply: " + overwritten + ", or " + starts_at_1
                        : "only the first of the 2 samples' gradients is in the reply: " + ends_early + ", or " + one_short;
  if (kept.size() == 1 && kept[0] == N - 1) return "only the last sample's gradient is in the reply: " + overwritten;
  if (kept.size() == 1 && kept[0] == 0) return "only the first sample's gradient is in the reply: " + ends_early;
  if (dropped.size() == 1 && dropped[0] == 0) return "sample 0 is left out: " + starts_at_1;
  if (dropped.size() == 1 && dropped[0] == N - 1) return "the last sample is left out: " + one_short;
  return "samples " + sample_list(dropped) + " are left out of the batch";
}

// The kind, message and kept-sample count of a fit whose weights are not all equal.
void describe_weights(const SampleWeights& f, double tol, std::size_t tensors, Signature& s) {
  const Index N = f.rho.size();
  std::vector<Index> kept, dropped;
  double k_min = std::numeric_limits<double>::infinity(), k_max = -k_min;
  for (Index i = 0; i < N; ++i) {
    if (std::isnan(f.rho(i))) continue;
    (std::abs(f.rho(i)) <= 10 * tol ? dropped : kept).push_back(i);
    if (std::abs(f.rho(i)) > 10 * tol) k_min = std::min(k_min, f.rho(i)), k_max = std::max(k_max, f.rho(i));
  }
  s.evidence.push_back({"samples kept", static_cast<double>(kept.size())});
  const std::string fit = " (a fit of one weight per sample reproduces all " + std::to_string(tensors) +
                          " tensors to " + err(f.residual) + ")";
  const std::string undetermined = f.without_gradient.empty() ? "" : "; samples " + sample_list(f.without_gradient) +
                                   " have no gradient of their own, and no weight to fit";
  if (!dropped.empty() && k_max - k_min <= 10 * tol * std::abs(k_max)) {
    s.kind = BugKind::samples_dropped;
    s.message = dropped_reason(kept, dropped, N) + fit + undetermined;
    if (std::abs(k_max - 1) > 10 * tol) s.message += "; the samples kept are each " + num(k_max) + " × their share";
    return;
  }
  s.kind = BugKind::sample_weights;
  std::string weights;
  for (Index i = 0; i < N && i < 8; ++i) weights += (i ? ", " : "") + (std::isnan(f.rho(i)) ? "?" : num(f.rho(i)));
  s.message = "the reply weighs each sample's gradient differently: " + weights + (N > 8 ? ", ..." : "") +
              " × the reduction's share, where every sample counts the same" + fit + undetermined;
}

}  // namespace

void sample_weight_signatures(const VerifyContext& ctx, std::vector<Signature>& out) {
  const Index N = ctx.c.batch_size();
  if (N < 2 || !ctx.usable.any() || !ctx.claimed_finite) return;
  const std::vector<Tensor> tensors = fitted_tensors(ctx);
  if (tensors.empty()) return;
  const FitProblem p = fit_problem(ctx, tensors, per_sample_gradients(ctx.c));
  const double tol = match_tolerance(ctx);
  const double share = batch_divisor<double>(ctx.c.network.reduction, N);
  SampleWeights f = fit_every_weight(p, share);
  if (!f.determined) f = fit_loop_subsets(p, share, tol);
  if (!f.determined || f.residual > tol) return;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo, largest = 0;
  for (Index i = 0; i < N; ++i)
    if (!std::isnan(f.rho(i))) lo = std::min(lo, f.rho(i)), hi = std::max(hi, f.rho(i)), largest = std::max(largest, std::abs(f.rho(i)));
  if (hi - lo <= 10 * tol * largest) return;  // one weight for all: a constant scale (scale_signatures)
  if (largest <= 10 * tol) return;            // nothing kept: the reply is 0 where it is determined
  Signature s;
  for (Index i = 0; i < N && i < 16; ++i)
    if (!std::isnan(f.rho(i))) s.evidence.push_back({"weight of sample " + std::to_string(i) + " (1 = the reduction's)", f.rho(i)});
  s.evidence.push_back({"largest fit residual of a tensor", f.residual});
  describe_weights(f, tol, tensors.size(), s);
  out.push_back(std::move(s));
}

namespace {

// Every tensor of the layers below some layer l scaled by one factor, every
// tensor from l on agreeing: δ scaled in the backward step through layer l,
// which the localisation names (backward-step), not tensors computed apart.
bool scaled_below_a_step(const std::vector<const TensorRatio*>& fitted, double tol) {
  std::size_t step = 0;
  for (const TensorRatio* t : fitted)
    if (std::abs(t->ratio - 1) > tol) step = std::max(step, t->layer + 1);
  const TensorRatio* below = nullptr;
  for (const TensorRatio* t : fitted) {
    if (t->layer >= step) {
      if (std::abs(t->ratio - 1) > tol) return false;
      continue;
    }
    if (below && std::abs(t->ratio - below->ratio) > tol * std::abs(below->ratio)) return false;
    below = t;
  }
  return true;
}

}  // namespace

void tensor_scale_signatures(const VerifyContext& ctx, const VerifyResult& r, std::vector<Signature>& out) {
  const double tol = match_tolerance(ctx);
  std::vector<const TensorRatio*> fitted;
  for (std::size_t i = 0; i < r.ratios.size(); ++i) {
    const TensorRatio& t = r.ratios[i];
    const bool usable = t.biases ? ctx.usable.biases[t.layer] : ctx.usable.weights[t.layer];
    if (!usable) continue;
    if (!t.defined) {
      // A zero reference: the reply's tensor must be zero too.
      if (flat(ctx.reply.layers[t.layer], t.biases).cwiseAbs().maxCoeff() > 0) return;
      continue;
    }
    if (t.residual > tol || std::abs(t.ratio) <= tol) return;  // not a multiple, or zeroed (bias-zero's)
    fitted.push_back(&t);
  }
  if (fitted.size() < 2) return;
  Signature s;
  s.kind = BugKind::tensor_scale;
  std::string off;
  std::size_t agree = 0, scaled = 0;
  double worst = 0, first = fitted[0]->ratio;
  bool one_factor = true;
  for (const TensorRatio* t : fitted) {
    const std::string name = "layers[" + std::to_string(t->layer) + "]." + (t->biases ? "biases" : "weights");
    s.evidence.push_back({name + " ratio to the reference", t->ratio});
    worst = std::max(worst, t->residual);
    one_factor = one_factor && std::abs(t->ratio - first) <= tol * std::abs(first);
    if (std::abs(t->ratio - 1) <= tol) {
      ++agree;
      continue;
    }
    ++scaled;
    s.layers.push_back(t->layer);
    const std::optional<Factor> f = recognised_factor(ctx.c, t->ratio, tol);
    off += (off.empty() ? "" : "; ") + name + " is " + num(t->ratio) + " × the reference" + (f ? " (" + f->why + ")" : "");
  }
  if (one_factor || scaled == 0) return;  // one factor for all is constant-scale's
  if (scaled_below_a_step(fitted, tol)) return;
  s.evidence.push_back({"largest fit residual of a tensor", worst});
  const std::string fit = " (each tensor fits its ratio to " + err(worst) + ")";
  if (agree == 0) {
    s.message = off + fit + ": the tensors are scaled apart from each other";
  } else {
    s.message = off + ", while the other " + (agree == 1 ? std::string("tensor agrees") : std::to_string(agree) + " tensors agree") +
                fit + ": " + (scaled == 1 ? "that tensor is" : "those tensors are") + " computed apart from the others";
  }
  out.push_back(std::move(s));
}

}  // namespace gradcheck::detail

namespace gradcheck::detail {

// weight_decay_signature: every weight gradient is the reference plus one λ
// times the layer's own weights (fitted by least squares per tensor, the same
// λ for all), and every bias gradient agrees: the gradient of an
// L2-regularised loss λ/2 ‖W‖², where the loss compared is not regularised.
void weight_decay_signature(const VerifyContext& ctx, std::vector<Signature>& out) {
  const double tol = match_tolerance(ctx);
  const std::size_t L = ctx.c.network.layers.size();
  std::vector<double> lambdas;
  double worst = 0;
  for (std::size_t l = 0; l < L; ++l) {
    if (ctx.c.network.layers[l].weights.size() == 0) continue;  // pooling: no parameters
    if (!ctx.usable.weights[l] || !ctx.usable.biases[l]) return;
    const Matrix<double>& W = ctx.c.network.layers[l].weights;
    const Matrix<double> diff = ctx.reply.layers[l].weights - ctx.reference[l].weights;
    if (tensor_distance(ctx.reply.layers[l].biases, ctx.reference[l].biases) > tol) return;
    const double ww = W.squaredNorm();
    if (ww == 0 || diff.norm() == 0) continue;  // nothing to fit: zero weights, or a tensor that agrees
    const double lambda = diff.cwiseProduct(W).sum() / ww;
    const double residual = (diff - lambda * W).norm() / std::max(diff.norm(), ctx.reply.layers[l].weights.norm());
    if (!(residual <= tol) || lambda == 0) return;
    worst = std::max(worst, residual);
    lambdas.push_back(lambda);
  }
  if (lambdas.empty()) return;
  const auto [lo, hi] = std::minmax_element(lambdas.begin(), lambdas.end());
  if (*hi - *lo > tol * std::abs(*hi)) return;
  Signature s;
  s.kind = BugKind::weight_decay;
  for (std::size_t l = 0; l < L; ++l) s.layers.push_back(l);
  s.evidence.push_back({"fitted λ (claimed dW − reference dW = λ W)", *hi});
  s.evidence.push_back({"weight tensors fitted", static_cast<double>(lambdas.size())});
  s.evidence.push_back({"largest fit residual of a tensor", worst});
  s.message = "every weight gradient is the reference plus " + num(*hi) + " × the layer's own weights (" +
              std::to_string(lambdas.size()) + " tensor" + (lambdas.size() == 1 ? "" : "s") + ", each fitting to " +
              err(worst) + ") and the bias gradients agree: the gradient of an L2-regularised loss (λ/2 ‖W‖², λ = " +
              num(*hi) + ") where the loss itself is not regularised";
  out.push_back(std::move(s));
}

}  // namespace gradcheck::detail
