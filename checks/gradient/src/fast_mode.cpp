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

// Δz of the layer a direction on tensor `id` moves, per unit t.
template <class S>
Matrix<S> shift_of(const Network<S>& net, const ForwardPass<S>& fp, const TensorId& id, const Matrix<double>& v) {
  const std::size_t l = static_cast<std::size_t>(id.layer);
  const Matrix<S> vs = v.cast<S>();
  if (id.tensor == TensorKind::weights) return vs * fp.a[l];
  if (id.tensor == TensorKind::biases) return vs * Matrix<S>::Ones(1, fp.a[l].cols());
  return net.layers[0].weights * vs;  // inputs: Δz_0 = W_0 V
}

std::string probability(double p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", p);
  return buf;
}

}  // namespace

CheckResult fast_check(const Case& c, const std::vector<LayerGradient>& analytic, const Matrix<double>* input_gradient,
                       const CheckOptions& o) {
  CheckResult r;
  const Tolerances& tol = o.tolerances;
  const auto ids = tensors_of(c.network, c.inputs.cols(), o.input_gradients);
  std::vector<Matrix<double>> storage;
  auto an = match_shapes(c, analytic, ids, storage, r.findings);
  for (std::size_t k = 0; k < ids.size(); ++k)
    if (ids[k].tensor == TensorKind::inputs && input_gradient && input_gradient->rows() == ids[k].rows &&
        input_gradient->cols() == ids[k].cols)
      an[k] = input_gradient;

  ForwardPass<double> fp;
  forward(c.network, c.inputs, fp);
  Gradients<double> g;
  backward(c.network, fp, c.targets, g, false);
  const Vector<double> noise = loss_noise(c, fp, g);
  const double eps_f = 4 * noise.sum();
  const double unreduce = c.network.reduction == Reduction::mean ? static_cast<double>(c.inputs.cols()) : 1.0;
  LineLoss<double> line(c.network, c.inputs, c.targets, fp);

  std::optional<LineLoss<std::complex<double>>> cline;
  Network<std::complex<double>> cnet;
  Matrix<std::complex<double>> cx, cy;
  if (o.method == Method::complex_step) {
    cnet = c.network.cast<std::complex<double>>();
    cx = c.inputs.cast<std::complex<double>>();
    cy = c.targets.cast<std::complex<double>>();
    cline.emplace(cnet, cx, cy);
  }
  std::optional<Reference> ref;
  if (o.method == Method::multiprecision) {
    ReferenceOptions ro = o.reference;
    ro.input_gradients = o.input_gradients;
    ro.seed = o.seed;
    ref = reference_gradients(c, ro);
  }
  const double rel_step = o.relative_step > 0 ? o.relative_step : default_relative_step(o.method);

  // The directional derivative of the loss along `shift` (a Δz per unit t of
  // layer `layer`), or along a whole-network direction `vs` (one per tensor).
  auto derivative = [&](auto&& eval_real, auto&& eval_complex, double theta_scale, double& error, std::string& note) {
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
      note = first.crossed ? "the direction crosses the kink of layer " + std::to_string(first.layer) + " unit " +
                                 std::to_string(first.unit) + " (sample " + std::to_string(first.sample) +
                                 ") at every step: not decided"
                           : "the directional derivative is not finite";
      error = std::numeric_limits<double>::infinity();
      return first.crossed ? kNaN : d.value / unreduce;
    }
    error = d.error / unreduce;
    return d.value / unreduce;
  };

  std::mt19937_64 rng(o.seed);
  std::vector<char> fall_back(ids.size(), 0);
  double escape = 0, worst_margin = std::numeric_limits<double>::infinity();
  int tensors_seen = 0;
  for (std::size_t k = 0; k < ids.size(); ++k) {
    const TensorId& id = ids[k];
    TensorSummary ts;
    ts.layer = id.layer;
    ts.tensor = id.tensor;
    ts.rows = id.rows;
    ts.cols = id.cols;
    if (!an[k]) {
      r.tensors.push_back(ts);
      continue;
    }
    const std::size_t l = static_cast<std::size_t>(id.layer);
    double theta_max = 0;
    if (id.tensor == TensorKind::weights) theta_max = c.network.layers[l].weights.cwiseAbs().maxCoeff();
    else if (id.tensor == TensorKind::biases) theta_max = c.network.layers[l].biases.cwiseAbs().maxCoeff();
    else theta_max = c.inputs.cwiseAbs().maxCoeff();
    const std::size_t first_dir = r.directions.size();
    for (int d = 0; d < o.directions_per_tensor; ++d) {
      const Matrix<double> v = rademacher(id.rows, id.cols, rng);
      DirectionCheck dc;
      dc.layer = id.layer;
      dc.tensor = id.tensor;
      dc.index = d;
      std::tie(dc.analytic, dc.roundoff) = directional(v, *an[k]);
      const std::size_t zl = id.tensor == TensorKind::inputs ? 0 : l;
      if (ref) {
        const ReferenceTensor* rt = ref->find(id.layer, id.tensor);
        std::tie(dc.numeric, std::ignore) = directional(v, rt->value);
        dc.error_estimate = directional(v, rt->error.cwiseAbs()).first;  // Σ|v||ε| = Σ ε
      } else {
        const Matrix<double> shift = shift_of(c.network, fp, id, v);
        Matrix<std::complex<double>> cshift;
        if (cline) cshift = shift_of(cnet, cline->base(), id, v);
        dc.numeric = derivative(
            [&](double t, Crossing* cr) { return line.eval_layer_shift(zl, t * shift, cr); },
            [&](double h) {
              return cline->eval_layer_shift(zl, std::complex<double>(0.0, h) * cshift, nullptr).imag();
            },
            std::max(theta_max, 1.0), dc.error_estimate, dc.note);
        if (o.method == Method::complex_step) dc.error_estimate = dc.roundoff;
      }
      r.directions.push_back(dc);
    }
    // The tensor's directions share a floor (their own scale), then the rule.
    double max_abs = 0;
    for (std::size_t i = first_dir; i < r.directions.size(); ++i)
      if (std::isfinite(r.directions[i].numeric)) max_abs = std::max(max_abs, std::abs(r.directions[i].numeric));
    const double floor = tensor_floor(max_abs, tol);
    double min_tau = std::numeric_limits<double>::infinity();
    for (std::size_t i = first_dir; i < r.directions.size(); ++i) {
      DirectionCheck& dc = r.directions[i];
      const Comparison cmp = compare(dc.analytic, dc.numeric, dc.error_estimate, dc.roundoff, floor, tol);
      dc.tolerance = cmp.tolerance;
      dc.absolute_error = cmp.absolute_error;
      dc.relative_error = cmp.relative_error;
      dc.verdict = std::isnan(dc.numeric) && !dc.note.empty() ? Verdict::inconclusive_kink : cmp.verdict;
      ++ts.directions;
      if (dc.verdict != Verdict::agree) ++ts.directions_disagreeing;
      else min_tau = std::min(min_tau, dc.tolerance);
    }
    // A single entry wrong by δ shifts v·a by exactly ±δ for every Rademacher v:
    // a direction whose error estimate holds cannot miss it once δ > 2τ_v.
    const double delta = o.escape_delta * an[k]->cwiseAbs().maxCoeff();
    ++tensors_seen;
    const double margin = delta / (2 * min_tau);
    worst_margin = std::min(worst_margin, margin);
    if (!(margin > 1)) escape = 1;
    if (ts.directions_disagreeing > 0 && o.fallback) fall_back[k] = 1;
    ts.max_abs_reference = max_abs;
    ts.floor = floor;
    r.tensors.push_back(ts);
  }

  // Whole-network directions.
  for (int d = 0; d < o.whole_network_directions; ++d) {
    std::vector<Matrix<double>> vs;
    for (const auto& id : ids) vs.push_back(rademacher(id.rows, id.cols, rng));
    DirectionCheck dc;
    dc.whole_network = true;
    dc.index = d;
    bool complete = true;
    long double s = 0;
    for (std::size_t k = 0; k < ids.size(); ++k) {
      if (!an[k]) {
        complete = false;
        continue;
      }
      const auto [dot, err] = directional(vs[k], *an[k]);
      s += dot;
      dc.roundoff += err;
    }
    if (!complete) break;
    dc.analytic = static_cast<double>(s);
    double theta_max = c.inputs.cwiseAbs().maxCoeff() * (o.input_gradients ? 1 : 0);
    for (const auto& layer : c.network.layers)
      theta_max = std::max({theta_max, layer.weights.cwiseAbs().maxCoeff(), layer.biases.cwiseAbs().maxCoeff()});
    if (ref) {
      long double n = 0, e = 0;
      for (std::size_t k = 0; k < ids.size(); ++k) {
        const ReferenceTensor* rt = ref->find(ids[k].layer, ids[k].tensor);
        n += directional(vs[k], rt->value).first;
        e += rt->error.cwiseAbs().sum();
      }
      dc.numeric = static_cast<double>(n);
      dc.error_estimate = static_cast<double>(e);
    } else {
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
      if (o.input_gradients) {
        dc.note = "whole-network directions leave the inputs fixed";
      }
      // Layer 0 moves linearly in t: its shift V_0 X + v_b0 is computed once.
      Matrix<double> d0 = Matrix<double>::Zero(fp.z[0].rows(), fp.z[0].cols());
      for (std::size_t k = 0; k < ids.size(); ++k)
        if (ids[k].layer == 0 && ids[k].tensor != TensorKind::inputs) d0 += shift_of(c.network, fp, ids[k], vs[k]);
      Matrix<std::complex<double>> cd0;
      if (cline) cd0 = d0.cast<std::complex<double>>();
      std::string note;
      dc.numeric = derivative(
          [&](double t, Crossing* cr) { return line.eval_network(moved(c.network, t), Matrix<double>(t * d0), cr); },
          [&](double h) {
            const std::complex<double> t(0.0, h);
            return cline->eval_network(moved(cnet, t), Matrix<std::complex<double>>(t * cd0), nullptr).imag();
          },
          std::max(theta_max, 1.0), dc.error_estimate, note);
      if (!note.empty()) dc.note = note;
      if (o.method == Method::complex_step) dc.error_estimate = dc.roundoff;
      if (o.input_gradients) {  // the inputs did not move: take their part out of v·a
        for (std::size_t k = 0; k < ids.size(); ++k)
          if (ids[k].tensor == TensorKind::inputs) dc.analytic -= directional(vs[k], *an[k]).first;
      }
    }
    const Comparison cmp = compare(dc.analytic, dc.numeric, dc.error_estimate, dc.roundoff,
                                   tensor_floor(std::abs(dc.numeric), tol), tol);
    dc.tolerance = cmp.tolerance;
    dc.absolute_error = cmp.absolute_error;
    dc.relative_error = cmp.relative_error;
    dc.verdict = std::isnan(dc.numeric) && !dc.note.empty() ? Verdict::inconclusive_kink : cmp.verdict;
    r.directions.push_back(dc);
  }

  // Per-entry fallback for the tensors whose directions disagreed.
  bool any = false;
  for (char f : fall_back) any = any || f;
  if (any) {
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

  Summary& s = r.summary;
  s.directions_per_tensor = o.directions_per_tensor;
  s.whole_network_directions = o.whole_network_directions;
  s.escape_delta = o.escape_delta;
  s.escape_probability = tensors_seen > 0 ? escape : kNaN;
  const double miss = std::pow(0.5, o.directions_per_tensor);
  const std::string pct = probability(o.escape_delta * 100) + " %";
  std::string text = "fast mode: " + std::to_string(o.directions_per_tensor) + " Rademacher direction" +
                     (o.directions_per_tensor == 1 ? "" : "s") + " on each of " + std::to_string(tensors_seen) +
                     " tensors (every weight matrix and bias vector on its own) + " +
                     std::to_string(o.whole_network_directions) + " over the whole network. ";
  if (escape == 0)
    text += "A single entry wrong by >= " + pct +
            " of its tensor's largest gradient entry escapes with probability 0: it shifts every direction of its "
            "tensor by its full size, at least " + probability(worst_margin) +
            " times the margin of the tolerance (2 tau). ";
  else
    text += "A single entry wrong by " + pct +
            " of its tensor's largest gradient entry is NOT certain to be caught: some tensor's directional "
            "tolerance is larger than half of it (use full mode). ";
  text += "Errors in several entries, one of them above the tolerance, escape all directions of their tensor with "
          "probability <= 2^-" + std::to_string(o.directions_per_tensor) + " = " + probability(miss) + ".";
  s.escape_statement = text;
  return r;
}

}  // namespace gradcheck::detail
