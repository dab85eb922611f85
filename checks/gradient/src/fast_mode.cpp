// Fast mode: stratified random-direction checks (see network_check.hpp and
// docs/checks.md for the escape-probability derivation).
#include <gradcheck/gradient/finite_difference.hpp>

#include "network_internal.hpp"

#include <cmath>
#include <complex>
#include <cstdio>
#include <limits>

namespace gradcheck::detail {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

Matrix<double> rademacher(Index rows, Index cols, std::mt19937_64& rng) {
  Matrix<double> v(rows, cols);
  for (Index k = 0; k < v.size(); ++k) v.data()[k] = (rng() & 1) ? 1.0 : -1.0;
  return v;
}

// v·a summed in long double; the analytic value's round-off bound n·u·Σ|a|.
std::pair<double, double> directional(const Matrix<double>& v, const Matrix<double>& a) {
  long double s = 0, abs_sum = 0;
  for (Index k = 0; k < v.size(); ++k) {
    s += static_cast<long double>(v.data()[k]) * a.data()[k];
    abs_sum += std::abs(static_cast<long double>(a.data()[k]));
  }
  const double n = static_cast<double>(v.size());
  return {static_cast<double>(s), (n + 4) * unit_roundoff * static_cast<double>(abs_sum)};
}

// Δz of the layer a direction on tensor `id` moves, per unit t (a conv2d layer's
// z is linear in each of its tensors too; a pooling first layer's is not, and its
// input directions are evaluated by LineLoss::eval_input_shift instead).
template <class S>
Matrix<S> shift_of(const Network<S>& net, const ForwardPass<S>& fp, const TensorId& id, const Matrix<double>& v) {
  const std::size_t l = static_cast<std::size_t>(id.layer);
  const Matrix<S> vs = v.cast<S>();
  if (const auto& layer = net.layers[id.tensor == TensorKind::inputs ? 0 : l]; !layer.is_dense()) {
    Layer<S> linear = layer;  // the layer's map with only the moved tensor in it (inputs: no bias)
    if (id.tensor == TensorKind::weights) linear.weights = vs;
    if (id.tensor == TensorKind::biases) linear.weights.setZero();
    if (id.tensor == TensorKind::biases) linear.biases = vs.col(0);
    else linear.biases.setZero();
    Matrix<S> dz;
    layer_forward(linear, id.tensor == TensorKind::inputs ? vs : fp.a[l], dz);
    return dz;
  }
  if (id.tensor == TensorKind::weights) return vs * fp.a[l];
  if (id.tensor == TensorKind::biases) return vs * Matrix<S>::Ones(1, fp.a[l].cols());
  return net.layers[0].weights * vs;  // inputs: Δz_0 = W_0 V
}

std::string probability(double p) { return format_number(p, 3); }

// The loss's round-off at θ, summed over the samples, ×4: the function noise of a directional difference.
double loss_eps(const Case& c, const ForwardPass<double>& fp) {
  Gradients<double> g;
  backward(c.network, fp, c.targets, g, false);
  const Vector<double> noise = loss_noise(c, fp, g);
  return 4 * noise.sum();
}

// The 50-digit reference when the method is multiprecision: its directions are read from it, not differenced.
std::optional<Reference> reference_for(const Case& c, const CheckOptions& o) {
  if (o.method != Method::multiprecision) return std::nullopt;
  ReferenceOptions ro = o.reference;
  ro.input_gradients = o.input_gradients;
  ro.seed = o.seed;
  return reference_gradients(c, ro);
}

// What the directions of one fast check share: the tensors under test, the forward pass at θ and the loss along a
// line by the check's method. Not copyable: `cline` refers to `cnet`, `cx` and `cy`.
struct Fast {
  Fast(const Case& the_case, const CheckOptions& options, const std::vector<TensorId>& tensors,
       const std::vector<const Matrix<double>*>& claimed)
      : c(the_case),
        o(options),
        ids(tensors),
        an(claimed),
        fp(forward(the_case.network, the_case.inputs)),
        eps_f(loss_eps(the_case, fp)),
        unreduce(batch_divisor(the_case.network.reduction, the_case.inputs.cols())),
        rel_step(options.relative_step > 0 ? options.relative_step : default_relative_step(options.method)),
        line(the_case.network, the_case.inputs, the_case.targets, fp),
        ref(reference_for(the_case, options)) {
    if (o.method == Method::complex_step) {
      cnet = c.network.cast<std::complex<double>>();
      cx = c.inputs.cast<std::complex<double>>();
      cy = c.targets.cast<std::complex<double>>();
      cline.emplace(cnet, cx, cy);
    }
  }
  Fast(const Fast&) = delete;
  Fast& operator=(const Fast&) = delete;

  // The directional derivative of the loss along a direction: `eval_real(t, crossing)` is the loss at θ + t v,
  // `eval_complex(h)` the imaginary part of the loss at θ + i h v (complex step).
  template <class Real, class Complex>
  double derivative(Real&& eval_real, Complex&& eval_complex, double theta_scale, double& error, std::string& note) {
    const double h = rel_step * theta_scale;
    if (o.method == Method::complex_step) {
      error = 0;
      const double v = eval_complex(h) / h;
      return v / unreduce;
    }
    Crossing first;
    auto f = [&](double t) -> std::optional<double> {
      Crossing cr;
      const double v = eval_real(t, &cr);
      if (cr.crossed) {
        if (!first.crossed) first = cr;
        return std::nullopt;
      }
      return v;
    };
    const Derivative d = o.method == Method::central ? central_difference(f, h, eps_f) : ridders(f, h, eps_f);
    if (!d.ok) {
      note = first.crossed ? "the direction crosses the kink of " +
                                 kink_name(line.kink_at(first.layer, first.unit, first.sample)) +
                                 " at every step: not decided"
                           : "the directional derivative is not finite";
      error = std::numeric_limits<double>::infinity();
      return first.crossed ? kNaN : d.value / unreduce;
    }
    error = d.error / unreduce;
    return d.value / unreduce;
  }

  const Case& c;
  const CheckOptions& o;
  const std::vector<TensorId>& ids;
  const std::vector<const Matrix<double>*>& an;
  const ForwardPass<double> fp;
  const double eps_f, unreduce, rel_step;
  LineLoss<double> line;
  const std::optional<Reference> ref;
  Network<std::complex<double>> cnet;
  Matrix<std::complex<double>> cx, cy;
  std::optional<LineLoss<std::complex<double>>> cline;
};

// The comparison rule on one direction; a NaN from a direction that crosses a kink at every step is undecided.
void judge(DirectionCheck& dc, double floor, const Tolerances& tol) {
  const Comparison cmp = compare(dc.analytic, dc.numeric, dc.error_estimate, dc.roundoff, floor, tol);
  dc.tolerance = cmp.tolerance;
  dc.absolute_error = cmp.absolute_error;
  dc.relative_error = cmp.relative_error;
  dc.verdict = std::isnan(dc.numeric) && !dc.note.empty() ? Verdict::inconclusive_kink : cmp.verdict;
}

// ---------------------------------------------------------------------------
// Per-tensor random directions.

// The largest |θ| of the tensor a direction moves: the scale of its step.
double theta_max_of(const Case& c, const TensorId& id) {
  const std::size_t l = static_cast<std::size_t>(id.layer);
  if (id.tensor == TensorKind::weights) return c.network.layers[l].weights.cwiseAbs().maxCoeff();
  if (id.tensor == TensorKind::biases) return c.network.layers[l].biases.cwiseAbs().maxCoeff();
  return c.inputs.cwiseAbs().maxCoeff();
}

// Direction `index` (v) of tensor k: v·a against the directional derivative, or against the reference's v·g.
DirectionCheck tensor_direction(Fast& f, std::size_t k, int index, const Matrix<double>& v, double theta_max) {
  const TensorId& id = f.ids[k];
  DirectionCheck dc;
  dc.layer = id.layer;
  dc.tensor = id.tensor;
  dc.index = index;
  std::tie(dc.analytic, dc.roundoff) = directional(v, *f.an[k]);
  if (f.ref) {
    const ReferenceTensor* rt = f.ref->find(id.layer, id.tensor);
    std::tie(dc.numeric, std::ignore) = directional(v, rt->value);
    dc.error_estimate = directional(v, rt->error.cwiseAbs()).first;  // Σ|v||ε| = Σ ε
    return dc;
  }
  const std::size_t zl = id.tensor == TensorKind::inputs ? 0 : static_cast<std::size_t>(id.layer);
  if (id.tensor == TensorKind::inputs && is_pooling(f.c.network.layers[0].kind)) {  // not linear: pooled again
    const Matrix<std::complex<double>> cv = v.cast<std::complex<double>>();
    dc.numeric = f.derivative(
        [&](double t, Crossing* cr) { return f.line.eval_input_shift(Matrix<double>(t * v), cr); },
        [&](double h) {
          return f.cline->eval_input_shift(Matrix<std::complex<double>>(std::complex<double>(0.0, h) * cv), nullptr).imag();
        },
        std::max(theta_max, 1.0), dc.error_estimate, dc.note);
    if (f.o.method == Method::complex_step) dc.error_estimate = dc.roundoff;
    return dc;
  }
  const Matrix<double> shift = shift_of(f.c.network, f.fp, id, v);
  Matrix<std::complex<double>> cshift;
  if (f.cline) cshift = shift_of(f.cnet, f.cline->base(), id, v);
  dc.numeric = f.derivative(
      [&](double t, Crossing* cr) { return f.line.eval_layer_shift(zl, t * shift, cr); },
      [&](double h) { return f.cline->eval_layer_shift(zl, std::complex<double>(0.0, h) * cshift, nullptr).imag(); },
      std::max(theta_max, 1.0), dc.error_estimate, dc.note);
  if (f.o.method == Method::complex_step) dc.error_estimate = dc.roundoff;
  return dc;
}

// Judges one tensor's directions (from `first` on) against the floor they share (their own scale), counts them in
// `ts`, and returns the smallest tolerance among those that agree.
double judge_tensor(std::vector<DirectionCheck>& directions, std::size_t first, const Tolerances& tol,
                    TensorSummary& ts) {
  double max_abs = 0;
  for (std::size_t i = first; i < directions.size(); ++i)
    if (std::isfinite(directions[i].numeric)) max_abs = std::max(max_abs, std::abs(directions[i].numeric));
  const double floor = tensor_floor(max_abs, tol);
  double min_tau = std::numeric_limits<double>::infinity();
  for (std::size_t i = first; i < directions.size(); ++i) {
    DirectionCheck& dc = directions[i];
    judge(dc, floor, tol);
    ++ts.directions;
    if (dc.verdict != Verdict::agree) ++ts.directions_disagreeing;
    else min_tau = std::min(min_tau, dc.tolerance);
  }
  ts.max_abs_reference = max_abs;
  ts.floor = floor;
  return min_tau;
}

// What the per-tensor directions leave for the summary and the fallback.
struct TensorPass {
  std::vector<char> fall_back;  // in tensors_of order: the tensors whose directions disagreed
  double escape = 0, worst_margin = std::numeric_limits<double>::infinity();
  int tensors_seen = 0;
};

TensorPass tensor_directions(Fast& f, std::mt19937_64& rng, CheckResult& r) {
  TensorPass out;
  out.fall_back.assign(f.ids.size(), 0);
  for (std::size_t k = 0; k < f.ids.size(); ++k) {
    const TensorId& id = f.ids[k];
    TensorSummary ts = summary_of(id);
    if (!f.an[k]) {
      r.tensors.push_back(ts);
      continue;
    }
    const double theta_max = theta_max_of(f.c, id);
    const std::size_t first_dir = r.directions.size();
    for (int d = 0; d < f.o.directions_per_tensor; ++d)
      r.directions.push_back(tensor_direction(f, k, d, rademacher(id.rows, id.cols, rng), theta_max));
    const double min_tau = judge_tensor(r.directions, first_dir, f.o.tolerances, ts);
    // A single entry wrong by δ shifts v·a by exactly ±δ for every Rademacher v:
    // a direction whose error estimate holds cannot miss it once δ > 2τ_v.
    const double delta = f.o.escape_delta * f.an[k]->cwiseAbs().maxCoeff();
    ++out.tensors_seen;
    const double margin = delta / (2 * min_tau);
    out.worst_margin = std::min(out.worst_margin, margin);
    if (!(margin > 1)) out.escape = 1;
    if (ts.directions_disagreeing > 0 && f.o.fallback) out.fall_back[k] = 1;
    r.tensors.push_back(ts);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Whole-network directions.

// v·a over every tensor, with its round-off; false when a tensor has no claimed gradient (no direction then).
bool whole_network_analytic(const Fast& f, const std::vector<Matrix<double>>& vs, DirectionCheck& dc) {
  long double s = 0;
  for (std::size_t k = 0; k < f.ids.size(); ++k) {
    if (!f.an[k]) return false;
    const auto [dot, err] = directional(vs[k], *f.an[k]);
    s += dot;
    dc.roundoff += err;
  }
  dc.analytic = static_cast<double>(s);
  return true;
}

// The reference's v·g and its error Σ ε (every |v| is 1).
void whole_network_reference(const Fast& f, const std::vector<Matrix<double>>& vs, DirectionCheck& dc) {
  long double n = 0, e = 0;
  for (std::size_t k = 0; k < f.ids.size(); ++k) {
    const ReferenceTensor* rt = f.ref->find(f.ids[k].layer, f.ids[k].tensor);
    n += directional(vs[k], rt->value).first;
    e += rt->error.cwiseAbs().sum();
  }
  dc.numeric = static_cast<double>(n);
  dc.error_estimate = static_cast<double>(e);
}

// d/dt L(θ + t v) with every weight and bias moved at once; the inputs stay fixed, so their part leaves v·a.
void whole_network_numeric(Fast& f, const std::vector<Matrix<double>>& vs, DirectionCheck& dc) {
  const Case& c = f.c;
  const auto& ids = f.ids;
  double theta_max = c.inputs.cwiseAbs().maxCoeff() * (f.o.input_gradients ? 1 : 0);
  for (const auto& layer : c.network.layers)
    if (layer.weights.size() > 0)  // a pooling layer has no parameters
      theta_max = std::max({theta_max, layer.weights.cwiseAbs().maxCoeff(), layer.biases.cwiseAbs().maxCoeff()});
  auto moved = [&](auto net, const auto& t) {
    using S = typename std::decay_t<decltype(net.layers[0].weights)>::Scalar;
    for (std::size_t k = 0; k < ids.size(); ++k) {
      const auto& id = ids[k];
      if (id.tensor == TensorKind::inputs) continue;
      auto& layer = net.layers[static_cast<std::size_t>(id.layer)];
      if (id.tensor == TensorKind::weights) layer.weights += t * vs[k].template cast<S>();
      else layer.biases += t * vs[k].col(0).template cast<S>();
    }
    return net;
  };
  if (f.o.input_gradients) {
    dc.note = "whole-network directions leave the inputs fixed";
  }
  // Layer 0 moves linearly in t: its shift V_0 X + v_b0 is computed once.
  Matrix<double> d0 = Matrix<double>::Zero(f.fp.z[0].rows(), f.fp.z[0].cols());
  for (std::size_t k = 0; k < ids.size(); ++k)
    if (ids[k].layer == 0 && ids[k].tensor != TensorKind::inputs) d0 += shift_of(c.network, f.fp, ids[k], vs[k]);
  Matrix<std::complex<double>> cd0;
  if (f.cline) cd0 = d0.cast<std::complex<double>>();
  std::string note;
  dc.numeric = f.derivative(
      [&](double t, Crossing* cr) { return f.line.eval_network(moved(c.network, t), Matrix<double>(t * d0), cr); },
      [&](double h) {
        const std::complex<double> t(0.0, h);
        return f.cline->eval_network(moved(f.cnet, t), Matrix<std::complex<double>>(t * cd0), nullptr).imag();
      },
      std::max(theta_max, 1.0), dc.error_estimate, note);
  if (!note.empty()) dc.note = note;
  if (f.o.method == Method::complex_step) dc.error_estimate = dc.roundoff;
  if (f.o.input_gradients) {  // the inputs did not move: take their part out of v·a
    for (std::size_t k = 0; k < ids.size(); ++k)
      if (ids[k].tensor == TensorKind::inputs) dc.analytic -= directional(vs[k], *f.an[k]).first;
  }
}

// Each whole-network direction is judged on its own scale; none is tried when a tensor has no claimed gradient.
void whole_network_directions(Fast& f, std::mt19937_64& rng, CheckResult& r) {
  for (int d = 0; d < f.o.whole_network_directions; ++d) {
    std::vector<Matrix<double>> vs;
    for (const auto& id : f.ids) vs.push_back(rademacher(id.rows, id.cols, rng));
    DirectionCheck dc;
    dc.whole_network = true;
    dc.index = d;
    if (!whole_network_analytic(f, vs, dc)) break;
    if (f.ref) whole_network_reference(f, vs, dc);
    else whole_network_numeric(f, vs, dc);
    judge(dc, tensor_floor(std::abs(dc.numeric), f.o.tolerances), f.o.tolerances);
    r.directions.push_back(dc);
  }
}

// ---------------------------------------------------------------------------
// Per-entry fallback for the tensors whose directions disagreed: full mode on those tensors alone.
void fall_back_to_entries(const Case& c, const std::vector<LayerGradient>& analytic,
                          const Matrix<double>* input_gradient, const CheckOptions& o, const std::vector<TensorId>& ids,
                          const std::vector<char>& fall_back, CheckResult& r) {
  bool any = false;
  for (char f : fall_back) any = any || f;
  if (!any) return;
  CheckOptions full = o;
  full.mode = Mode::full;
  if (full.method != Method::multiprecision) full.relative_step = 0;  // the per-entry method's default step
  CheckResult entries = full_check(c, analytic, input_gradient, full, &fall_back);
  for (std::size_t k = 0; k < ids.size(); ++k)
    if (fall_back[k]) {
      r.tensors[k].fell_back_to_entries = true;
      for (const auto& t : entries.tensors)
        if (t.layer == ids[k].layer && t.tensor == ids[k].tensor) {
          r.tensors[k].max_abs_reference = t.max_abs_reference;
          r.tensors[k].floor = t.floor;
        }
    }
  for (auto& e : entries.entries) r.entries.push_back(std::move(e));
  r.summary.threads = entries.summary.threads;
}

// The summary's sentence on what the directions could have missed (docs/checks.md).
std::string escape_statement(const CheckOptions& o, const TensorPass& tp) {
  const double miss = std::pow(0.5, o.directions_per_tensor);
  const std::string pct = probability(o.escape_delta * 100) + " %";
  std::string text = "fast mode: " + std::to_string(o.directions_per_tensor) + " Rademacher direction" +
                     (o.directions_per_tensor == 1 ? "" : "s") + " on each of " + std::to_string(tp.tensors_seen) +
                     " tensors (every weight matrix and bias vector on its own) + " +
                     std::to_string(o.whole_network_directions) + " over the whole network. ";
  if (tp.escape == 0)
    text += "A single entry wrong by >= " + pct +
            " of its tensor's largest gradient entry escapes with probability 0: it shifts every direction of its "
            "tensor by its full size, at least " + probability(tp.worst_margin) +
            " times the margin of the tolerance (2 tau). ";
  else
    text += "A single entry wrong by " + pct +
            " of its tensor's largest gradient entry is NOT certain to be caught: some tensor's directional "
            "tolerance is larger than half of it (use full mode). ";
  text += "Errors in several entries, one of them above the tolerance, escape all directions of their tensor with "
          "probability <= 2^-" + std::to_string(o.directions_per_tensor) + " = " + probability(miss) + ".";
  return text;
}

}  // namespace

CheckResult fast_check(const Case& c, const std::vector<LayerGradient>& analytic, const Matrix<double>* input_gradient,
                       const CheckOptions& o) {
  CheckResult r;
  const auto ids = tensors_of(c.network, c.inputs.cols(), o.input_gradients);
  std::vector<Matrix<double>> storage;
  const auto an = claimed_tensors(c, analytic, input_gradient, ids, storage, r.findings);
  Fast f(c, o, ids, an);
  std::mt19937_64 rng(o.seed);
  const TensorPass tp = tensor_directions(f, rng, r);
  whole_network_directions(f, rng, r);
  fall_back_to_entries(c, analytic, input_gradient, o, ids, tp.fall_back, r);

  Summary& s = r.summary;
  s.directions_per_tensor = o.directions_per_tensor;
  s.whole_network_directions = o.whole_network_directions;
  s.escape_delta = o.escape_delta;
  s.escape_probability = tp.tensors_seen > 0 ? tp.escape : kNaN;
  s.escape_statement = escape_statement(o, tp);
  return r;
}

}  // namespace gradcheck::detail
