#include <gradcheck/gradient/finite_difference.hpp>
#include <gradcheck/gradient/network_check.hpp>

#include <gradcheck/gradient/detail/internal.hpp>
#include "network_internal.hpp"

#include <chrono>
#include <cmath>
#include <complex>
#include <limits>

namespace gradcheck {

using detail::kink_name;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string where(int layer, TensorKind t) { return std::string(to_string(t)) + " of layer " + std::to_string(layer); }

std::string shape(Index r, Index c) { return std::to_string(r) + "×" + std::to_string(c); }

// A conv2d layer's claimed kernel written 4-D must have its [out][in][kh][kw]
// shape (a matrix of the right size is taken as it is): "" when it fits, else
// the mismatch, e.g. "6×1×3×5, the case's are 6×1×5×3".
std::string kernel_mismatch(const Layer<double>& layer, const LayerGradient& claimed) {
  const auto& d = claimed.weights_shape;
  if (layer.kind != LayerKind::conv2d || d.size() != 4) return "";
  const ConvGeometry& g = layer.conv;
  const std::vector<Index> expected = {g.out_channels, g.in_channels, g.kernel_h, g.kernel_w};
  if (d == expected) return "";
  const auto dims = [](const std::vector<Index>& v) {
    return std::to_string(v[0]) + "×" + std::to_string(v[1]) + "×" + std::to_string(v[2]) + "×" + std::to_string(v[3]);
  };
  return dims(d) + ", the case's are " + dims(expected);
}

}  // namespace

double default_relative_step(Method method) {
  switch (method) {
    case Method::central: return 6.0554544523933395e-06;  // ∛(2⁻⁵²)
    case Method::ridders: return 1e-3;
    case Method::complex_step: return 1e-20;
    case Method::multiprecision: return 1e-20;
  }
  return 1e-6;
}

std::vector<LayerGradient> as_layer_gradients(const Gradients<double>& g) {
  std::vector<LayerGradient> out;
  for (std::size_t l = 0; l < g.weights.size(); ++l) out.push_back({g.weights[l], g.biases[l]});
  return out;
}

namespace detail {

// Claimed tensors in the case's shapes; a mismatch becomes a finding and the tensor's entry pointer null.
std::vector<const Matrix<double>*> match_shapes(const Case& c, const std::vector<LayerGradient>& claimed,
                                                const std::vector<TensorId>& ids, std::vector<Matrix<double>>& storage,
                                                std::vector<CheckFinding>& findings) {
  std::vector<const Matrix<double>*> out(ids.size(), nullptr);
  storage.resize(ids.size());
  const std::size_t L = c.network.layers.size();
  if (claimed.size() != L) {
    CheckFinding f;
    f.kind = FindingKind::shape_mismatch;
    f.layer = static_cast<int>(std::min(claimed.size(), L));
    f.message = "claimed gradients have " + std::to_string(claimed.size()) + " layers, the case has " + std::to_string(L);
    findings.push_back(f);
  }
  for (std::size_t k = 0; k < ids.size(); ++k) {
    const TensorId& id = ids[k];
    if (id.tensor == TensorKind::inputs) continue;
    const std::size_t l = static_cast<std::size_t>(id.layer);
    if (l >= claimed.size()) {
      findings.push_back({FindingKind::shape_mismatch, id.layer, id.tensor,
                          "claimed gradients have no " + where(id.layer, id.tensor)});
      continue;
    }
    const Matrix<double> m = id.tensor == TensorKind::weights ? claimed[l].weights : Matrix<double>(claimed[l].biases);
    if (const std::string kernel = kernel_mismatch(c.network.layers[l], claimed[l]);
        id.tensor == TensorKind::weights && !kernel.empty()) {
      findings.push_back({FindingKind::shape_mismatch, id.layer, id.tensor,
                          "claimed " + where(id.layer, id.tensor) + " are " + kernel});
      continue;
    }
    if (m.rows() != id.rows || m.cols() != id.cols) {
      std::string msg = "claimed " + where(id.layer, id.tensor) + " are ";
      if (id.tensor == TensorKind::biases)
        msg += std::to_string(m.size()) + " entries, the case's are " + std::to_string(id.rows);
      else
        msg += shape(m.rows(), m.cols()) + ", the case's are " + shape(id.rows, id.cols);
      findings.push_back({FindingKind::shape_mismatch, id.layer, id.tensor, msg});
      continue;
    }
    storage[k] = m;
    out[k] = &storage[k];
  }
  return out;
}

std::vector<const Matrix<double>*> claimed_tensors(const Case& c, const std::vector<LayerGradient>& claimed,
                                                   const Matrix<double>* input_gradient,
                                                   const std::vector<TensorId>& ids,
                                                   std::vector<Matrix<double>>& storage,
                                                   std::vector<CheckFinding>& findings) {
  auto out = match_shapes(c, claimed, ids, storage, findings);
  for (std::size_t k = 0; k < ids.size(); ++k)
    if (ids[k].tensor == TensorKind::inputs && input_gradient && input_gradient->rows() == ids[k].rows &&
        input_gradient->cols() == ids[k].cols)
      out[k] = input_gradient;
  return out;
}

// One entry against the reference, kinks included (docs/checks.md, "Kinks").
Entry judge_against_reference(double a, const ReferenceTensor& rt, Index i, double floor, const Tolerances& tol,
                              const std::vector<Kink>& kinks) {
  Entry e;
  e.layer = rt.layer;
  e.tensor = rt.tensor;
  e.row = i % rt.value.rows();
  e.col = i / rt.value.rows();
  e.analytic = a;
  e.numeric = rt.value.data()[i];
  e.error_estimate = rt.error.data()[i];
  e.roundoff = rt.roundoff.data()[i];
  e.stencil = Stencil::analytic;
  const Comparison main = compare(a, e.numeric, e.error_estimate, e.roundoff, floor, tol);
  e.tolerance = main.tolerance;
  e.absolute_error = main.absolute_error;
  e.relative_error = main.relative_error;
  e.verdict = main.verdict;
  const int ki = rt.kink.data()[i];
  if (ki < 0 || main.verdict == Verdict::non_finite) return e;
  const Kink& k = kinks[static_cast<std::size_t>(ki)];
  e.kink = k;
  const int involved = rt.kinks_involved.data()[i];
  const bool exact = rt.at_exact_kink.data()[i] != 0;
  const double other = rt.other_side.data()[i];
  const bool matches_other =
      compare(a, other, e.error_estimate, e.roundoff, floor, tol).verdict == Verdict::agree;
  if (exact) {
    e.kink->forward_slope = rt.forward_slope.data()[i];
    e.kink->backward_slope = rt.backward_slope.data()[i];
    const bool fwd = compare(a, e.kink->forward_slope, e.error_estimate, e.roundoff, floor, tol).verdict == Verdict::agree;
    const bool bwd = compare(a, e.kink->backward_slope, e.error_estimate, e.roundoff, floor, tol).verdict == Verdict::agree;
    const bool any = main.verdict == Verdict::agree || matches_other || fwd || bwd;
    e.verdict = (any || involved > 1) ? Verdict::inconclusive_kink : Verdict::disagree;
    e.note = detail::exact_kink_text(k) + " gives " + format_number(e.numeric) +
             ", the other side " + format_number(other) + "; one-sided slopes: forward " +
             format_number(e.kink->forward_slope) + ", backward " + format_number(e.kink->backward_slope) +
             "; the value under test matches " +
             (main.verdict == Verdict::agree ? std::string("the engine's convention")
              : matches_other               ? std::string(k.kind == KinkKind::relu ? "the other side (relu'(0) = 1)"
                                                                                   : "the other side (the next entry takes it)")
              : fwd                         ? std::string("the forward slope")
              : bwd                         ? std::string("the backward slope")
                                            : std::string("neither side"));
    if (involved > 1) e.note += " (" + std::to_string(involved) + " kinks involved)";
    return e;
  }
  if (main.verdict == Verdict::agree) {
    e.note = "near the kink of " + kink_name(k) + " (" + detail::kink_value(k) + "): on the reference's side";
    return e;
  }
  if (matches_other) {
    e.verdict = Verdict::inconclusive_kink;
    e.note = detail::kink_value(k) + " at " + kink_name(k) +
             " is within double round-off of the kink: the value under test is the other side's, " +
             format_number(other);
    return e;
  }
  if (involved > 1) {
    e.verdict = Verdict::inconclusive_kink;
    e.note = "depends on the sides of " + std::to_string(involved) + " kinks within round-off of 0 (first: " +
             kink_name(k) + ")";
    return e;
  }
  e.note = "matches neither side of the kink of " + kink_name(k) + " (other side: " + format_number(other) + ")";
  return e;
}

CheckResult compare_with_reference(const Case& c, const std::vector<LayerGradient>& claimed,
                                   const Matrix<double>* input_gradient, const Reference& ref,
                                   const Tolerances& tol) {
  CheckResult r;
  const bool inputs = ref.find(0, TensorKind::inputs) != nullptr;
  const auto ids = tensors_of(c.network, c.inputs.cols(), inputs);
  std::vector<Matrix<double>> storage;
  const auto analytic = claimed_tensors(c, claimed, input_gradient, ids, storage, r.findings);
  for (const CheckFinding& f : ref.findings) r.findings.push_back(f);
  std::size_t count = 0;
  for (const auto& id : ids) count += static_cast<std::size_t>(id.rows * id.cols);
  r.entries.reserve(count);  // an Entry is large: growing the vector was 8 % of `gradcheck check`
  for (std::size_t k = 0; k < ids.size(); ++k) {
    const ReferenceTensor* rt = ref.find(ids[k].layer, ids[k].tensor);
    TensorSummary ts = summary_of(ids[k]);
    if (rt) {
      ts.max_abs_reference = rt->max_abs;
      ts.floor = tensor_floor(rt->max_abs, tol);
    }
    r.tensors.push_back(ts);
    if (!rt || !analytic[k]) continue;
    for (Index i = 0; i < rt->value.size(); ++i)
      r.entries.push_back(judge_against_reference(analytic[k]->data()[i], *rt, i, ts.floor, tol, ref.kinks));
  }
  r.summary.method = Method::multiprecision;
  r.summary.mode = Mode::full;
  r.summary.relative_step = default_relative_step(Method::multiprecision);
  r.summary.tolerances = tol;
  r.summary.parameters = 0;
  for (const auto& id : ids) r.summary.parameters += id.rows * id.cols;
  r.summary.elapsed_seconds = ref.elapsed_seconds;
  summarize(r);
  return r;
}

}  // namespace detail

CheckResult compare_gradients(const Case& c, const std::vector<LayerGradient>& claimed, const Reference& reference,
                              const Tolerances& tolerances) {
  detail::validate_case(c);
  return detail::compare_with_reference(c, claimed, nullptr, reference, tolerances);
}

// ---------------------------------------------------------------------------
// Finite-difference methods, full mode.

namespace detail {

// The reference value of one entry by the chosen method, kinks handled.
struct NumericEntry {
  double value = kNaN, error = 0;
  Stencil stencil = Stencil::central;
  bool undecided = false;          // crossed a kink on both sides
  bool exact = false;              // an exact kink (z == 0 at θ) moves
  int exact_count = 0;
  std::optional<Kink> kink;
  std::string note;
};

class EntryNumerics {
 public:
  EntryNumerics(const Case& c, const ForwardPass<double>& fp, const Vector<double>& noise, Method method, double rel_step)
      : c_(c), line_(c.network, c.inputs, c.targets, fp), noise_(noise), method_(method), rel_step_(rel_step) {
    if (method == Method::complex_step) {
      cnet_ = c.network.cast<std::complex<double>>();
      cx_ = c.inputs.cast<std::complex<double>>();
      cy_ = c.targets.cast<std::complex<double>>();
      cline_.emplace(cnet_, cx_, cy_);
    }
    unreduce_ = batch_divisor(c.network.reduction, c.inputs.cols());
  }

  NumericEntry operator()(const ParamRef& p, double complex_roundoff) {
    NumericEntry out;
    const auto cols = line_.touched(p);
    if (cols.empty()) {  // the loss does not depend on this entry: exactly 0
      out.value = 0;
      out.stencil = method_ == Method::complex_step ? Stencil::complex : Stencil::central;
      return out;
    }
    const double theta = parameter_value(c_, p);
    const double scale = std::max(std::abs(theta), 1.0);
    const double h = rel_step_ * scale;
    double eps_f = 0;
    for (Index n : cols) eps_f += noise_(n);
    eps_f *= 4;
    const double f0 = line_.base_sum(cols);
    Crossing first;
    auto f = [&](double t) -> std::optional<double> {
      Crossing cr;
      const double v = line_.eval(p, t, cols, &cr);
      note_crossing(first, cr);
      if (cr.crossed) return std::nullopt;
      return v;
    };
    Derivative d;
    if (method_ == Method::complex_step) {
      d = complex_step(p, cols, h, complex_roundoff, first);
      out.stencil = Stencil::complex;
    } else {
      d = difference(f, h, scale, f0, eps_f);
    }
    if (d.ok) {
      out.value = d.value / unreduce_;
      out.error = d.error / unreduce_;
      return out;
    }
    if (!first.crossed && !first.exact) {  // not a kink: the function itself is not finite here
      out.value = d.value / unreduce_;
      out.error = std::numeric_limits<double>::infinity();
      return out;
    }
    // Kinks. One-sided Ridders from θ on each side, with its own error estimate.
    const double h1 = default_relative_step(Method::ridders) * scale;
    if (first.exact) at_exact_kink(f, first, h1, eps_f, f0, out);
    else across_kink(f, first, h1, eps_f, f0, d.value, out);
    return out;
  }

 private:
  // Keeps the first exact zero and the first crossing met along the line.
  // exact_count becomes the most exact kinks any point moved (at least 2 once two
  // points moved different ones): kinks that interact (a tie downstream that only
  // one side of a tie upstream breaks) leave the derivative undecided.
  static void note_crossing(Crossing& first, const Crossing& cr) {
    if (cr.exact && !first.exact) {
      first.exact = true;
      first.exact_layer = cr.exact_layer;
      first.exact_unit = cr.exact_unit;
      first.exact_sample = cr.exact_sample;
      first.exact_count = cr.exact_count;
    } else if (cr.exact) {
      const bool other = cr.exact_layer != first.exact_layer || cr.exact_unit != first.exact_unit ||
                         cr.exact_sample != first.exact_sample;
      first.exact_count = std::max({first.exact_count, cr.exact_count, other ? 2 : 1});
    }
    if (cr.crossed && !first.crossed) {
      first.crossed = true;
      first.layer = cr.layer;
      first.unit = cr.unit;
      first.sample = cr.sample;
    }
  }

  // The complex step; its real part never moves, so only an exact kink shows (then `first` and not ok).
  Derivative complex_step(const ParamRef& p, const std::vector<Index>& cols, double h, double complex_roundoff,
                          Crossing& first) {
    Derivative d;
    Crossing cr;
    const std::complex<double> v = cline_->eval(p, std::complex<double>(0.0, h), cols, &cr);
    d.value = v.imag() / h;
    d.error = complex_roundoff * unreduce_;
    d.ok = std::isfinite(d.value);
    if (cr.exact) {
      first = cr;
      d.ok = false;
    }
    return d;
  }

  // Central differences (extrapolated by Ridders from a quarter of the step where
  // the step does not resolve the loss), or Ridders checked against a central difference.
  template <class F>
  Derivative difference(F& f, double h, double scale, double f0, double eps_f) const {
    if (method_ == Method::central) {
      const Derivative cd = central_difference_3(f, h, f0, eps_f);
      return !cd.ok || cd.resolved ? cd : ridders(f, h / 4, eps_f);
    }
    Derivative d = ridders(f, h, eps_f);
    // Ridders' tableau can converge on a wrong value when its first steps are
    // far outside the region where the loss is smooth at their scale (a large
    // weight feeding saturated units): its estimate is then too small. A
    // central difference at ∛ε is independent of that; their discrepancy
    // widens the error estimate, so the method never claims more than both
    // support.
    if (d.ok) {
      const Derivative cd = central_difference(f, default_relative_step(Method::central) * scale, eps_f);
      if (cd.ok) d.error = std::max(d.error, std::abs(d.value - cd.value) + cd.error);
    }
    return d;
  }

  // z = 0 exactly at θ: the one-sided slopes (the backward one is the value, the engine's convention).
  template <class F>
  void at_exact_kink(F& f, const Crossing& first, double h1, double eps_f, double f0, NumericEntry& out) {
    line_.tolerate_exact_zeros(true);
    const Derivative fw = ridders(f, h1, eps_f, Side::forward, f0);
    const Derivative bw = ridders(f, h1, eps_f, Side::backward, f0);
    line_.tolerate_exact_zeros(false);
    Kink k = line_.kink_at(first.exact_layer, first.exact_unit, first.exact_sample);
    k.z = 0;
    k.exact = true;
    k.forward_slope = fw.ok ? fw.value / unreduce_ : kNaN;
    k.backward_slope = bw.ok ? bw.value / unreduce_ : kNaN;
    out.kink = k;
    out.exact = true;
    out.exact_count = first.exact_count;
    out.value = bw.ok ? k.backward_slope : k.forward_slope;
    out.error = std::max(fw.ok ? fw.error : 0.0, bw.ok ? bw.error : 0.0) / unreduce_;
    out.undecided = !fw.ok && !bw.ok;
  }

  // The stencil crosses a kink near θ: the first one-sided stencil that does not, else undecided.
  template <class F>
  void across_kink(F& f, const Crossing& first, double h1, double eps_f, double f0, double central_value,
                   NumericEntry& out) {
    const Kink k = line_.kink_at(first.layer, first.unit, first.sample);
    out.kink = k;
    const std::string crossing = "the stencil crosses the kink of " + kink_name(k) + " (" + kink_value(k) + ")";
    for (Side side : {Side::forward, Side::backward}) {
      const Derivative o = ridders(f, h1, eps_f, side, f0);
      if (!o.ok) continue;
      out.value = o.value / unreduce_;
      out.error = o.error / unreduce_;
      out.stencil = side == Side::forward ? Stencil::forward : Stencil::backward;
      out.note = crossing + "; re-checked one-sided (" + to_string(out.stencil) + ")";
      return;
    }
    out.undecided = true;
    out.value = central_value / unreduce_;
    out.note = crossing + " on both sides at every step: not decided";
  }

  const Case& c_;
  LineLoss<double> line_;
  const Vector<double>& noise_;
  Method method_;
  double rel_step_;
  double unreduce_ = 1;
  Network<std::complex<double>> cnet_;
  Matrix<std::complex<double>> cx_, cy_;
  std::optional<LineLoss<std::complex<double>>> cline_;
};

Entry judge_numeric(double a, const NumericEntry& n, double roundoff, double floor, const Tolerances& tol) {
  Entry e;
  e.analytic = a;
  e.numeric = n.value;
  e.error_estimate = n.error;
  e.roundoff = roundoff;
  e.stencil = n.stencil;
  e.kink = n.kink;
  e.note = n.note;
  const Comparison cmp = compare(a, n.value, n.error, roundoff, floor, tol);
  e.tolerance = cmp.tolerance;
  e.absolute_error = cmp.absolute_error;
  e.relative_error = cmp.relative_error;
  e.verdict = cmp.verdict;
  if (n.undecided) {
    e.verdict = Verdict::inconclusive_kink;
    if (e.note.empty()) e.note = "at the exact kink of " + kink_name(*n.kink) + ": no one-sided slope could be computed";
    return e;
  }
  if (n.exact) {
    const Kink& k = *n.kink;
    auto matches = [&](double s) {
      return std::isfinite(s) && compare(a, s, n.error, roundoff, floor, tol).verdict == Verdict::agree;
    };
    const bool fwd = matches(k.forward_slope), bwd = matches(k.backward_slope);
    // Only a single pre-activation at 0, with both one-sided slopes known, pins
    // the possible values down to those two slopes; otherwise undecided.
    const bool decided = n.exact_count == 1 && std::isfinite(k.forward_slope) && std::isfinite(k.backward_slope);
    e.verdict = (fwd || bwd || !decided) ? Verdict::inconclusive_kink : Verdict::disagree;
    e.note = (k.kind == KinkKind::relu
                  ? "z = 0 exactly at the kink of " + kink_name(k) +
                        ": the derivative is undefined (the engine uses relu'(0) = 0, leaky 0.01: the slope of the side "
                        "where the unit is off)"
                  : exact_kink_text(k)) +
             "; one-sided slopes: forward " + format_number(k.forward_slope) + ", backward " +
             format_number(k.backward_slope) + "; the value under test matches " +
             (fwd && bwd ? "both" : fwd ? "the forward slope" : bwd ? "the backward slope" : "neither");
    if (n.exact_count > 1)
      e.note += " (" + std::to_string(n.exact_count) +
                (k.kind == KinkKind::relu ? " pre-activations at 0 move)" : " kinks move)");
  }
  return e;
}

}  // namespace detail

namespace detail {

namespace {

// Full mode by the 50-digit reference; `include` keeps the entries of the chosen tensors only.
CheckResult full_check_multiprecision(const Case& c, const std::vector<LayerGradient>& analytic,
                                      const Matrix<double>* input_gradient, const CheckOptions& o,
                                      const std::vector<TensorId>& ids, const std::vector<char>* include) {
  ReferenceOptions ro = o.reference;
  ro.input_gradients = o.input_gradients;
  ro.seed = o.seed;
  const Reference ref = reference_gradients(c, ro);
  CheckResult r = compare_with_reference(c, analytic, input_gradient, ref, o.tolerances);
  if (include) {
    std::vector<Entry> kept;
    for (auto& e : r.entries)
      for (std::size_t k = 0; k < ids.size(); ++k)
        if ((*include)[k] && ids[k].layer == e.layer && ids[k].tensor == e.tensor) kept.push_back(std::move(e));
    r.entries = std::move(kept);
  }
  return r;
}

// One entry to difference: its tensor (tensors_of order) and its column-major index there.
struct Job {
  std::size_t tensor;
  Index flat;
};

std::vector<Job> jobs_of(const std::vector<TensorId>& ids, const std::vector<const Matrix<double>*>& an,
                         const std::vector<char>* include) {
  std::vector<Job> jobs;
  for (std::size_t k = 0; k < ids.size(); ++k)
    if (an[k] && (!include || (*include)[k]))
      for (Index i = 0; i < ids[k].rows * ids[k].cols; ++i) jobs.push_back({k, i});
  return jobs;
}

// The numerical value of every job's entry, over `threads` workers with an EntryNumerics each.
std::vector<NumericEntry> differentiate(const Case& c, const CheckOptions& o, const std::vector<TensorId>& ids,
                                        const std::vector<Job>& jobs, const Conditioning& cond, unsigned threads) {
  const double rel_step = o.relative_step > 0 ? o.relative_step : default_relative_step(o.method);
  ForwardPass<double> fp;
  forward(c.network, c.inputs, fp);
  Gradients<double> g;
  backward(c.network, fp, c.targets, g, false);
  const Vector<double> noise = loss_noise(c, fp, g);
  std::vector<std::unique_ptr<EntryNumerics>> workers(threads);
  std::vector<NumericEntry> numerics(jobs.size());
  parallel_for(jobs.size(), threads, [&](std::size_t j, unsigned w) {
    if (!workers[w]) workers[w] = std::make_unique<EntryNumerics>(c, fp, noise, o.method, rel_step);
    const auto& id = ids[jobs[j].tensor];
    ParamRef p;
    p.layer = id.layer;
    p.tensor = id.tensor;
    p.row = jobs[j].flat % id.rows;
    p.col = jobs[j].flat / id.rows;
    numerics[j] = (*workers[w])(p, cond.roundoff[jobs[j].tensor].data()[jobs[j].flat]);
  });
  return numerics;
}

// One summary per tensor, its floor from the largest finite, decided numerical entry.
std::vector<TensorSummary> tensor_summaries(const std::vector<TensorId>& ids, const std::vector<Job>& jobs,
                                            const std::vector<NumericEntry>& numerics, const Tolerances& tol) {
  std::vector<double> max_abs(ids.size(), 0.0);
  for (std::size_t j = 0; j < jobs.size(); ++j)
    if (std::isfinite(numerics[j].value) && !numerics[j].undecided)
      max_abs[jobs[j].tensor] = std::max(max_abs[jobs[j].tensor], std::abs(numerics[j].value));
  std::vector<TensorSummary> out;
  for (std::size_t k = 0; k < ids.size(); ++k) {
    TensorSummary ts = summary_of(ids[k]);
    ts.max_abs_reference = max_abs[k];
    ts.floor = tensor_floor(max_abs[k], tol);
    out.push_back(ts);
  }
  return out;
}

}  // namespace

CheckResult full_check(const Case& c, const std::vector<LayerGradient>& analytic, const Matrix<double>* input_gradient,
                       const CheckOptions& o, const std::vector<char>* include) {
  const auto ids = tensors_of(c.network, c.inputs.cols(), o.input_gradients);
  if (o.method == Method::multiprecision)
    return full_check_multiprecision(c, analytic, input_gradient, o, ids, include);
  CheckResult r;
  std::vector<Matrix<double>> storage;
  const auto an = claimed_tensors(c, analytic, input_gradient, ids, storage, r.findings);
  const Conditioning cond = conditioning(c, o.input_gradients, o.seed);
  const std::vector<Job> jobs = jobs_of(ids, an, include);
  const unsigned threads = thread_count(o.threads);
  const std::vector<NumericEntry> numerics = differentiate(c, o, ids, jobs, cond, threads);
  r.summary.threads = threads;
  r.tensors = tensor_summaries(ids, jobs, numerics, o.tolerances);
  r.entries.reserve(jobs.size());
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    const std::size_t k = jobs[j].tensor;
    const Index i = jobs[j].flat;
    Entry e = judge_numeric(an[k]->data()[i], numerics[j], cond.roundoff[k].data()[i], r.tensors[k].floor,
                            o.tolerances);
    e.layer = ids[k].layer;
    e.tensor = ids[k].tensor;
    e.row = i % ids[k].rows;
    e.col = i / ids[k].rows;
    r.entries.push_back(std::move(e));
  }
  return r;
}

}  // namespace detail

CheckResult check_gradients(const Case& c, const std::vector<LayerGradient>& analytic, const CheckOptions& o,
                            const Matrix<double>* input_gradient) {
  const auto start = std::chrono::steady_clock::now();
  detail::validate_case(c);
  CheckResult r = o.mode == Mode::fast ? detail::fast_check(c, analytic, input_gradient, o)
                                       : detail::full_check(c, analytic, input_gradient, o, nullptr);
  r.summary.method = o.method;
  r.summary.mode = o.mode;
  r.summary.relative_step = o.relative_step > 0 ? o.relative_step : default_relative_step(o.method);
  r.summary.seed = o.seed;
  r.summary.tolerances = o.tolerances;
  r.summary.parameters = 0;
  for (const auto& id : detail::tensors_of(c.network, c.inputs.cols(), o.input_gradients))
    r.summary.parameters += id.rows * id.cols;
  if (r.summary.threads == 0) r.summary.threads = 1;
  summarize(r);
  r.summary.elapsed_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

CheckResult check_network(const Case& c, const CheckOptions& options) {
  detail::validate_case(c);
  ForwardPass<double> fp;
  forward(c.network, c.inputs, fp);
  Gradients<double> g;
  backward(c.network, fp, c.targets, g, options.input_gradients);
  return check_gradients(c, as_layer_gradients(g), options, options.input_gradients ? &g.inputs : nullptr);
}

}  // namespace gradcheck
