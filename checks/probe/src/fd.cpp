// Finite differences that know their error (docs/fd.md#how-an-entry-is-decided):
// the noise measured first, then per entry a central difference (2 losses),
// one-sided and h/2h differences where that does not decide (2 more), Ridders
// where those do not either (2 per tableau step). Requests are batched: each
// stage sends every undecided entry's points at once.
#include <gradcheck/probe/fd.hpp>

#include "fd_internal.hpp"

#include <gradcheck/gradient/finite_difference.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <stdexcept>

namespace gradcheck {

const char* to_string(FdVerdict v) {
  switch (v) {
    case FdVerdict::agree: return "agree";
    case FdVerdict::disagree: return "disagree";
    case FdVerdict::inconclusive_kink: return "inconclusive-kink";
    case FdVerdict::inconclusive_noise: return "inconclusive-noise";
    case FdVerdict::non_finite: return "non-finite";
  }
  return "?";
}

namespace {

using detail::FdEvaluator;

constexpr double nan_value = std::numeric_limits<double>::quiet_NaN();
// Error bars are judged against at least this fraction of the model's largest
// gradient entry: a tensor of dead units (all zero, finite differences 0 ± ε)
// agrees at the model's scale instead of being too noisy for its own 0.
constexpr double bar_fraction = 1e-3;

// How bad a verdict is, for the worst of a tensor and the order of the worst entries.
int rank(FdVerdict v) {
  switch (v) {
    case FdVerdict::agree: return 0;
    case FdVerdict::inconclusive_noise: return 1;
    case FdVerdict::inconclusive_kink: return 2;
    case FdVerdict::disagree: return 3;
    case FdVerdict::non_finite: return 4;
  }
  return 0;
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0 || (std::isnan(a) && std::isnan(b)); }

// A step h such that θ + h and θ − h are exactly θ ± h in double.
double representable_step(double theta, double h) {
  volatile double up = theta + h;
  return up - theta;
}

std::vector<double> scales_of(const FdParameter& p) {
  double sum = 0;
  for (double v : p.values) sum += v * v;
  const double rms = p.values.empty() ? 0 : std::sqrt(sum / static_cast<double>(p.values.size()));
  std::vector<double> s(p.values.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    s[i] = std::max(std::abs(p.values[i]), rms);
    if (!(s[i] > 0) || !std::isfinite(s[i])) s[i] = 1;
  }
  return s;
}

// Moré & Wild's ECnoise on one line of equally spaced losses: the k-th
// differences of pure noise of deviation σ have mean square σ²·(2k)!/(k!)².
// Orders 4 to 6 see nothing of a smooth loss at tiny steps; the largest is kept.
double ecnoise(const std::vector<double>& f) {
  std::vector<double> d = f;
  double sigma = 0;
  double gamma = 1;  // (k!)² / (2k)!
  for (std::size_t k = 1; k < f.size() && k <= 6; ++k) {
    for (std::size_t j = 0; j + k < f.size(); ++j) d[j] = d[j + 1] - d[j];
    gamma *= static_cast<double>(k * k) / static_cast<double>((2 * k) * (2 * k - 1));
    if (k < 4) continue;
    double ms = 0;
    const std::size_t n = f.size() - k;
    for (std::size_t j = 0; j < n; ++j) ms += d[j] * d[j];
    sigma = std::max(sigma, std::sqrt(gamma * ms / static_cast<double>(n)));
  }
  return sigma;
}

// Up to `count` distinct entries drawn over every tensor, each with a random sign.
std::vector<FdShift> sparse_direction(const FdDescription& d, std::size_t count, double step, std::mt19937_64& rng) {
  std::size_t total = 0;
  for (const FdParameter& p : d.parameters) total += p.values.size();
  std::vector<FdShift> out;
  std::vector<std::vector<double>> scales;
  for (const FdParameter& p : d.parameters) scales.push_back(scales_of(p));
  std::vector<std::size_t> picks(total);
  for (std::size_t i = 0; i < total; ++i) picks[i] = i;
  std::shuffle(picks.begin(), picks.end(), rng);
  picks.resize(std::min(count, total));
  for (std::size_t flat : picks) {
    std::size_t p = 0;
    while (flat >= d.parameters[p].values.size()) flat -= d.parameters[p++].values.size();
    out.push_back({p, flat, ((rng() & 1) ? 1.0 : -1.0) * scales[p][flat] * step});
  }
  return out;
}

FdNoise measure_noise(const FdDescription& d, FdEvaluator& ev, const FdOptions& o) {
  FdNoise n;
  const int repeats = std::max(2, o.base_repeats);
  const int first = repeats / 2, lines = std::max(1, o.noise_directions), per_line = std::max(7, o.noise_points);
  std::vector<FdPoint> pts(static_cast<std::size_t>(first));
  std::mt19937_64 rng(o.seed);
  for (int l = 0; l < lines; ++l) {
    const std::vector<FdShift> dir = sparse_direction(d, o.noise_entries, o.noise_step, rng);
    for (int k = 0; k < per_line; ++k) {
      FdPoint p;
      for (FdShift s : dir) p.shifts.push_back({s.param, s.index, s.delta * k});
      pts.push_back(std::move(p));
    }
  }
  std::vector<double> v = ev.run(pts);
  const std::vector<double> second = ev.run(std::vector<FdPoint>(static_cast<std::size_t>(repeats - first)));
  n.repeats.assign(v.begin(), v.begin() + first);
  n.repeats.insert(n.repeats.end(), second.begin(), second.end());
  n.base_loss = n.repeats.front();
  const auto [lo, hi] = std::minmax_element(n.repeats.begin(), n.repeats.end());
  for (double r : n.repeats) n.deterministic = n.deterministic && same_bits(r, n.base_loss);
  n.spread = *hi - *lo;
  for (int l = 0; l < lines; ++l) {
    const auto b = v.begin() + first + l * per_line;
    n.tiny_step_noise = std::max(n.tiny_step_noise, ecnoise(std::vector<double>(b, b + per_line)));
  }
  const double u = format_of(d.precision.value_or(Precision::float64)).unit_roundoff;
  n.noise = std::max({n.spread, n.tiny_step_noise, 4 * u * std::abs(n.base_loss)});
  n.relative = n.base_loss != 0 ? n.noise / std::abs(n.base_loss) : u;
  n.relative = std::max(n.relative, u);
  return n;
}

using Work = detail::FdWork;

double floor_of(const FdTensor& t, const Tolerances& tol) {
  return tensor_floor(std::max(t.max_abs_numeric, t.max_abs_analytic), tol);
}

// What an entry's error bar is judged against besides the entry itself: the
// model-wide bar_scale, or the tensor's largest finite difference when that is
// larger. An entry is decided once its bar is below 1 % of its own size or of its
// tensor's largest entry, the resolution fast mode promises for a wrong entry:
// a float32 loss's noise (ε_f/h ≈ 1e-5) cannot resolve an entry of 1e-3 to 1 %
// of itself, but it can to 1 % of its tensor. The finite differences, not the
// program's values, so that one wildly wrong entry does not widen the others' bars.
double bar_scale_of(const FdTensor& t) { return std::max(t.bar_scale, t.max_abs_numeric); }

// Decides `e` from a value and its error bar; false when the bar is too wide.
bool decide(FdEntry& e, double numeric, double error, double step, double floor, double bar_scale,
            const FdOptions& o) {
  const Comparison c = compare(e.analytic, numeric, error, 0, floor, o.tolerances);
  e.numeric = numeric;
  e.error = error;
  e.step = step;
  e.relative_error = c.relative_error;
  e.tolerance = c.tolerance;
  if (c.verdict == Verdict::non_finite) {
    e.verdict = FdVerdict::non_finite;
    return true;
  }
  const double scale = std::max({std::abs(e.analytic), std::abs(numeric), floor, bar_scale});
  if (!(o.tolerances.estimate_factor * error <= o.max_error_fraction * scale)) return false;
  e.verdict = c.verdict == Verdict::agree ? FdVerdict::agree : FdVerdict::disagree;
  return true;
}

FdPoint shifted(std::size_t param, std::size_t index, double delta) { return {{{param, index, delta}}, {}, 0}; }

// Stage 1: the central difference at h, for every entry.
std::vector<Work*> central_stage(std::vector<Work>& work, std::vector<FdTensor>& tensors, FdEvaluator& ev,
                                 const FdOptions& o) {
  std::vector<FdPoint> pts;
  pts.reserve(2 * work.size());
  for (const Work& w : work) {
    pts.push_back(shifted(w.entry->param, w.entry->index, w.h));
    pts.push_back(shifted(w.entry->param, w.entry->index, -w.h));
  }
  const std::vector<double> v = ev.run(pts);
  for (std::size_t k = 0; k < work.size(); ++k) {
    Work& w = work[k];
    w.fp = v[2 * k];
    w.fm = v[2 * k + 1];
    w.entry->numeric = (w.fp - w.fm) / (2 * w.h);
    w.entry->evaluations = 2;
    FdTensor& t = tensors[w.entry->param];
    if (std::isfinite(w.entry->numeric)) t.max_abs_numeric = std::max(t.max_abs_numeric, std::abs(w.entry->numeric));
  }
  std::vector<Work*> undecided;
  for (Work& w : work) {
    const double floor = floor_of(tensors[w.entry->param], o.tolerances);
    const double eps = w.entry->error;  // ε_f / h, set by the caller
    if (!decide(*w.entry, w.entry->numeric, eps, w.h, floor, bar_scale_of(tensors[w.entry->param]), o) ||
        w.entry->verdict == FdVerdict::disagree)
      undecided.push_back(&w);
  }
  return undecided;
}

// Stage 2: f(θ ± 2h): one-sided derivatives (a kink) and the truncation of D(h).
std::vector<Work*> kink_stage(const std::vector<Work*>& todo, std::vector<FdTensor>& tensors, FdEvaluator& ev,
                              double f0, double noise, const FdOptions& o) {
  std::vector<FdPoint> pts;
  for (const Work* w : todo) {
    pts.push_back(shifted(w->entry->param, w->entry->index, 2 * w->h));
    pts.push_back(shifted(w->entry->param, w->entry->index, -2 * w->h));
  }
  const std::vector<double> v = ev.run(pts);
  std::vector<Work*> undecided;
  const double kappa = o.tolerances.estimate_factor;
  for (std::size_t k = 0; k < todo.size(); ++k) {
    Work& w = *todo[k];
    FdEntry& e = *w.entry;
    const double h = w.h, fp2 = v[2 * k], fm2 = v[2 * k + 1];
    e.evaluations += 2;
    e.refined = true;
    const double F1 = (w.fp - f0) / h, F2 = (fp2 - f0) / (2 * h), B1 = (f0 - w.fm) / h, B2 = (f0 - fm2) / (2 * h);
    e.forward = 2 * F1 - F2;
    e.backward = 2 * B1 - B2;
    const double eF = std::abs(F1 - F2) + 3 * noise / h, eB = std::abs(B1 - B2) + 3 * noise / h;
    const double floor = floor_of(tensors[e.param], o.tolerances);
    const double jump = std::abs(e.forward - e.backward);
    const double scale = std::max({std::abs(e.forward), std::abs(e.backward), floor});
    if (std::isfinite(jump) && jump > kappa * (eF + eB) + o.tolerances.rtol * scale &&
        jump > o.max_error_fraction * scale) {
      e.verdict = FdVerdict::inconclusive_kink;
      e.error = eF + eB;
      continue;
    }
    const double D1 = (w.fp - w.fm) / (2 * h), D2 = (fp2 - fm2) / (4 * h);
    if (!decide(e, D1, std::abs(D1 - D2) / 3 + noise / h, h, floor, bar_scale_of(tensors[e.param]), o))
      undecided.push_back(&w);
  }
  return undecided;
}

// Stage 3: Ridders' tableau for what is left (its steps requested at once). Its first step
// is ridders_first_step × scale, or (ε_f/|f|)^(1/7) × scale when larger (at most 1/2): a
// float32 loss (ε_f/|f| ≈ 1e-7) starts at 0.1, where its noise over the step is small and
// the tableau's extrapolation removes the truncation.
void ridders_stage(const std::vector<Work*>& todo, std::vector<FdTensor>& tensors, FdEvaluator& ev, double noise,
                   double f0, const FdOptions& o) {
  RiddersOptions ro;
  ro.tableau = std::max(2, o.ridders_steps);
  ro.max_skipped = 0;
  std::vector<FdPoint> pts;
  std::vector<std::vector<double>> steps(todo.size());
  const double relative = f0 != 0 ? noise / std::abs(f0) : noise;
  const double first = std::min(0.5, std::max(o.ridders_first_step, std::pow(relative, 1.0 / 7)));
  for (std::size_t k = 0; k < todo.size(); ++k) {
    const Work& w = *todo[k];
    double hh = first * w.scale;
    for (int i = 0; i < ro.tableau; ++i, hh /= ro.shrink) {
      steps[k].push_back(hh);
      pts.push_back(shifted(w.entry->param, w.entry->index, hh));
      pts.push_back(shifted(w.entry->param, w.entry->index, -hh));
    }
  }
  const std::vector<double> v = ev.run(pts);
  std::size_t at = 0;
  for (std::size_t k = 0; k < todo.size(); ++k) {
    FdEntry& e = *todo[k]->entry;
    std::map<double, double> table;
    for (double hh : steps[k]) {
      table[hh] = v[at++];
      table[-hh] = v[at++];
    }
    e.evaluations += static_cast<int>(2 * steps[k].size());
    const auto f = [&table](double t) -> std::optional<double> {
      const auto it = table.find(t);
      if (it == table.end()) return std::nullopt;
      return it->second;
    };
    const Derivative d = ridders(f, steps[k].front(), noise, Side::central, 0, ro);
    const double floor = floor_of(tensors[e.param], o.tolerances);
    if (!d.ok || !decide(e, d.value, d.error, d.step, floor, bar_scale_of(tensors[e.param]), o)) {
      if (d.ok || !std::isfinite(d.value)) {
        e.numeric = d.value;
        e.error = d.error;
      }
      e.verdict = std::isfinite(e.numeric) ? FdVerdict::inconclusive_noise : FdVerdict::non_finite;
    }
  }
}

void summarise(FdResult& r, std::size_t max_worst) {
  std::vector<const FdEntry*> all;
  for (FdTensor& t : r.tensors) {
    for (const FdEntry& e : t.entries) {
      switch (e.verdict) {
        case FdVerdict::agree: ++t.agree; break;
        case FdVerdict::disagree: ++t.disagree; break;
        case FdVerdict::inconclusive_kink: ++t.kink; break;
        case FdVerdict::inconclusive_noise: ++t.noise; break;
        case FdVerdict::non_finite: ++t.non_finite; break;
      }
      if ((e.verdict == FdVerdict::agree || e.verdict == FdVerdict::disagree) && std::isfinite(e.relative_error))
        t.worst_relative_error = std::max(t.worst_relative_error, e.relative_error);
      all.push_back(&e);
    }
  }
  std::stable_sort(all.begin(), all.end(), [](const FdEntry* a, const FdEntry* b) {
    if (rank(a->verdict) != rank(b->verdict)) return rank(a->verdict) > rank(b->verdict);
    return a->relative_error > b->relative_error;
  });
  for (const FdEntry* e : all) {
    if (r.worst.size() >= max_worst) break;
    r.worst.push_back(*e);
  }
  r.signatures = detail::fd_signatures(r.tensors);
}

// Tensors with every entry's value and the program's gradient, nothing decided yet.
// Every tensor with its size and the largest |gradient entry|; with
// `entries`, one FdEntry per entry holding the value and the program's gradient.
std::vector<FdTensor> tensors_of(const FdDescription& d, const std::vector<std::vector<double>>& gradient,
                                 bool entries) {
  if (gradient.size() != d.parameters.size())
    throw std::invalid_argument("fd: " + std::to_string(gradient.size()) + " gradient tensors for " +
                                std::to_string(d.parameters.size()) + " parameters");
  std::vector<FdTensor> tensors;
  for (std::size_t p = 0; p < d.parameters.size(); ++p) {
    const FdParameter& par = d.parameters[p];
    if (gradient[p].size() != par.values.size())
      throw std::invalid_argument("fd: gradient of " + par.name + ": " + std::to_string(gradient[p].size()) +
                                  " values, expected " + std::to_string(par.values.size()));
    FdTensor t;
    t.name = par.name;
    t.shape = par.shape;
    t.size = par.values.size();
    if (entries) t.entries.reserve(par.values.size());
    for (std::size_t i = 0; i < par.values.size(); ++i) {
      if (std::isfinite(gradient[p][i])) t.max_abs_analytic = std::max(t.max_abs_analytic, std::abs(gradient[p][i]));
      if (entries) t.entries.push_back(detail::fd_entry(d, gradient, p, i));
    }
    tensors.push_back(std::move(t));
  }
  double largest = 0;
  for (const FdTensor& t : tensors) largest = std::max(largest, t.max_abs_analytic);
  for (FdTensor& t : tensors) t.bar_scale = bar_fraction * largest;
  return tensors;
}

}  // namespace

FdVerdict FdTensor::verdict() const {
  FdVerdict v = FdVerdict::agree;
  for (const FdEntry& e : entries)
    if (rank(e.verdict) > rank(v)) v = e.verdict;
  return v;
}

std::size_t FdResult::count(FdVerdict v) const {
  std::size_t n = 0;
  for (const FdTensor& t : tensors)
    for (const FdEntry& e : t.entries) n += e.verdict == v;
  return n;
}

bool FdResult::passed(bool strict) const {
  if (!noise.deterministic || count(FdVerdict::disagree) > 0 || count(FdVerdict::non_finite) > 0 ||
      count(FdVerdict::inconclusive_noise) > 0)
    return false;
  for (const FdTensor& t : tensors)  // an undecided direction's entries were all checked on their own
    if (t.directions_disagree > 0) return false;
  return !strict || count(FdVerdict::inconclusive_kink) == 0;
}

namespace detail {

FdEntry fd_entry(const FdDescription& d, const std::vector<std::vector<double>>& gradient, std::size_t p,
                 std::size_t i) {
  FdEntry e;
  e.param = p;
  e.index = i;
  e.value = d.parameters[p].values[i];
  e.analytic = gradient[p][i];
  e.forward = e.backward = nan_value;
  return e;
}

std::vector<double> fd_scales(const FdParameter& p) { return scales_of(p); }
double fd_step(double theta, double h) { return representable_step(theta, h); }

bool fd_decide(FdEntry& e, double numeric, double error, double step, double floor, double bar_scale,
               const FdOptions& o) {
  return decide(e, numeric, error, step, floor, bar_scale, o);
}

void fd_check_entries(std::vector<FdWork>& work, std::vector<FdTensor>& tensors, FdEvaluator& ev, double f0,
                      double eps, const FdOptions& o) {
  if (work.empty()) return;
  if (!std::isfinite(f0)) {
    for (Work& w : work) w.entry->verdict = FdVerdict::non_finite, w.entry->numeric = nan_value;
    return;
  }
  const std::vector<Work*> second = central_stage(work, tensors, ev, o);
  const std::vector<Work*> third = kink_stage(second, tensors, ev, f0, eps, o);
  ridders_stage(third, tensors, ev, eps, f0, o);
}

}  // namespace detail

FdResult fd_check(const FdDescription& description, double gradient_loss,
                  const std::vector<std::vector<double>>& gradient, const FdLossAt& loss_at, const FdOptions& o) {
  FdResult r;
  r.description = description;
  r.gradient_loss = gradient_loss;
  r.mode = o.mode;
  r.tensors = tensors_of(description, gradient, o.mode == FdMode::full);
  FdEvaluator ev(loss_at, o.max_points_per_request);
  try {
    r.noise = measure_noise(description, ev, o);
    const double f0 = r.noise.base_loss;
    r.noise.gradient_loss_matches =
        same_bits(gradient_loss, f0) || std::abs(gradient_loss - f0) <= o.tolerances.estimate_factor * r.noise.noise +
                                                                             o.tolerances.rtol * std::abs(f0);
    const double h_relative = std::cbrt(std::min(r.noise.relative, 1e-3));
    if (o.mode == FdMode::fast) {
      detail::fd_fast(r, gradient, ev, h_relative, o);
    } else {
      std::vector<Work> work;
      std::size_t count = 0;
      for (const FdTensor& t : r.tensors) count += t.entries.size();
      work.reserve(count);
      for (std::size_t p = 0; p < r.tensors.size(); ++p) {
        const std::vector<double> s = scales_of(description.parameters[p]);
        for (FdEntry& e : r.tensors[p].entries) {
          const double h = representable_step(e.value, h_relative * s[e.index]);
          e.error = r.noise.noise / h;
          work.push_back({&e, s[e.index], h});
        }
      }
      detail::fd_check_entries(work, r.tensors, ev, r.noise.base_loss, r.noise.noise, o);
    }
  } catch (const detail::FdInterrupted&) {
    r.interrupted = true;  // what was not decided is not reported as decided
    for (FdTensor& t : r.tensors) t.entries.clear();
  }
  r.evaluations = ev.evaluations;
  r.requests = ev.requests;
  summarise(r, o.max_worst);
  return r;
}

}  // namespace gradcheck
