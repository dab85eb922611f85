// Fast mode (docs/fd.md#fast-mode): each tensor compared along a few random
// Gaussian directions d (d_i = z_i · s_i), the program's g·d against the
// directional difference (f(θ + h d) − f(θ − h d)) / 2h. A tensor that
// agrees along every direction passes with its miss probability; one that
// disagrees is bisected: each half of a failing block gets a fresh direction
// of its own, until blocks of 2 are checked entry by entry as in full mode.
// A direction the estimates cannot decide (a kink, noise) sends its block to
// the entry-by-entry check instead: nothing undecided is passed.
#include "fd_internal.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>

namespace gradcheck::detail {
namespace {

// A one-escape probability for an error ≥ 10 × the tolerance along a
// Gaussian direction: P(|N(0, σ²)| ≤ σ/10) = erf(0.1/√2) ≈ 0.0797.
constexpr double escape_one = 0.0797;
constexpr std::size_t entry_block = 2;  // blocks this small are checked entry by entry

enum class DirVerdict { agree, disagree, undecided };

struct Direction {
  std::size_t param = 0;
  std::vector<std::size_t> block;  // the entries it moves
  std::vector<double> d;           // one per block entry
  double analytic = 0, abs_sum = 0;
  double fp = 0, fm = 0;
  int evaluations = 2;
  DirVerdict verdict = DirVerdict::undecided;
};

Direction random_direction(std::size_t param, std::vector<std::size_t> block, const std::vector<double>& scales,
                           const std::vector<double>& gradient, std::mt19937_64& rng) {
  std::normal_distribution<double> normal;
  Direction dir;
  dir.param = param;
  dir.block = std::move(block);
  for (std::size_t i : dir.block) {
    dir.d.push_back(normal(rng) * scales[i]);
    dir.analytic += gradient[i] * dir.d.back();
    dir.abs_sum += std::abs(gradient[i] * dir.d.back());
  }
  return dir;
}

// θ + step·d: as shifts when d moves less than half its tensor (the line
// then shrinks with the bisection's blocks), else as a dense direction.
FdPoint along(const Direction& dir, std::size_t parameters, std::size_t size, double step) {
  FdPoint p;
  if (2 * dir.block.size() < size) {
    for (std::size_t k = 0; k < dir.block.size(); ++k) p.shifts.push_back({dir.param, dir.block[k], step * dir.d[k]});
    return p;
  }
  p.direction.assign(parameters, {});
  p.direction[dir.param].assign(size, 0.0);
  for (std::size_t k = 0; k < dir.block.size(); ++k) p.direction[dir.param][dir.block[k]] = dir.d[k];
  p.step = step;
  return p;
}

// The comparison rule on g·d; false when the bar is too wide.
bool judge(Direction& dir, double numeric, double error, double bar_scale, const FdOptions& o) {
  FdEntry e;
  e.analytic = dir.analytic;
  // a correct g·d carries the round-off of its sum of n products
  const double floor = tensor_floor(dir.abs_sum, o.tolerances);
  const double roundoff = static_cast<double>(dir.block.size()) * 1.2e-16 * dir.abs_sum;
  if (!fd_decide(e, numeric, error + roundoff, 0, floor, bar_scale, o)) return false;
  dir.verdict = e.verdict == FdVerdict::agree ? DirVerdict::agree : DirVerdict::disagree;
  return true;
}

// Two stages, as full mode's first two: the central difference at h, then
// f(θ ± 2h d): one-sided slopes (a kink leaves it undecided) and the h/2h estimate.
void judge_all(std::vector<Direction>& dirs, const FdResult& r, FdEvaluator& ev, double h, const FdOptions& o) {
  const double f0 = r.noise.base_loss, eps = r.noise.noise, kappa = o.tolerances.estimate_factor;
  const std::size_t n = r.tensors.size();
  std::vector<FdPoint> pts;
  for (const Direction& d : dirs)
    for (double t : {h, -h}) pts.push_back(along(d, n, r.tensors[d.param].size, t));
  std::vector<double> v = ev.run(pts);
  std::vector<Direction*> todo;
  for (std::size_t k = 0; k < dirs.size(); ++k) {
    Direction& d = dirs[k];
    d.fp = v[2 * k];
    d.fm = v[2 * k + 1];
    if (!judge(d, (d.fp - d.fm) / (2 * h), eps / h, r.tensors[d.param].bar_scale, o) ||
        d.verdict == DirVerdict::disagree)
      todo.push_back(&d);
  }
  pts.clear();
  for (const Direction* d : todo)
    for (double t : {2 * h, -2 * h}) pts.push_back(along(*d, n, r.tensors[d->param].size, t));
  v = ev.run(pts);
  for (std::size_t k = 0; k < todo.size(); ++k) {
    Direction& d = *todo[k];
    const double fp2 = v[2 * k], fm2 = v[2 * k + 1];
    d.evaluations += 2;
    const double F1 = (d.fp - f0) / h, F2 = (fp2 - f0) / (2 * h), B1 = (f0 - d.fm) / h, B2 = (f0 - fm2) / (2 * h);
    const double F = 2 * F1 - F2, B = 2 * B1 - B2;
    const double eF = std::abs(F1 - F2) + 3 * eps / h, eB = std::abs(B1 - B2) + 3 * eps / h;
    const double scale = std::max({std::abs(F), std::abs(B), tensor_floor(d.abs_sum, o.tolerances)});
    d.verdict = DirVerdict::undecided;
    const double jump = std::abs(F - B);
    // A kink anywhere along d moves few of its terms: its jump can be far
    // below 1 % of g·d, so any jump beyond the errors leaves d undecided.
    if (std::isfinite(jump) && jump > kappa * (eF + eB) + o.tolerances.rtol * scale) continue;
    const double D1 = (d.fp - d.fm) / (2 * h), D2 = (fp2 - fm2) / (4 * h);
    if (!judge(d, D1, std::abs(D1 - D2) / 3 + eps / h, r.tensors[d.param].bar_scale, o))
      d.verdict = DirVerdict::undecided;
  }
}

std::vector<std::size_t> all_entries(std::size_t n) {
  std::vector<std::size_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = i;
  return v;
}

}  // namespace

void fd_fast(FdResult& r, const std::vector<std::vector<double>>& gradient, FdEvaluator& ev, double h_relative,
             const FdOptions& o) {
  std::mt19937_64 rng(o.seed ^ 0x9e3779b97f4a7c15ull);
  std::vector<std::vector<double>> scales;
  for (const FdParameter& p : r.description.parameters) scales.push_back(fd_scales(p));
  std::vector<Direction> dirs;
  for (std::size_t p = 0; p < r.tensors.size(); ++p)
    for (int k = 0; k < std::max(1, o.directions); ++k)
      dirs.push_back(random_direction(p, all_entries(r.tensors[p].size), scales[p], gradient[p], rng));
  judge_all(dirs, r, ev, h_relative, o);
  std::vector<std::vector<std::size_t>> failing(r.tensors.size());  // a disagreeing block per tensor
  std::vector<std::vector<std::size_t>> by_entry(r.tensors.size());  // entries to check on their own
  for (const Direction& d : dirs) {
    FdTensor& t = r.tensors[d.param];
    ++t.directions;
    t.directions_disagree += d.verdict == DirVerdict::disagree;
    t.directions_undecided += d.verdict == DirVerdict::undecided;
  }
  std::vector<std::pair<std::size_t, std::vector<std::size_t>>> blocks;
  for (std::size_t p = 0; p < r.tensors.size(); ++p) {
    FdTensor& t = r.tensors[p];
    t.miss_probability = std::pow(escape_one, t.directions);
    if (t.directions_disagree > 0) blocks.push_back({p, all_entries(t.size)});
    else if (t.directions_undecided > 0) by_entry[p] = all_entries(t.size);
  }
  // Bisection, one level per round of requests.
  while (!blocks.empty()) {
    std::vector<Direction> halves;
    for (auto& [p, block] : blocks) {
      if (block.size() <= entry_block) {
        by_entry[p].insert(by_entry[p].end(), block.begin(), block.end());
        continue;
      }
      const auto mid = block.begin() + static_cast<std::ptrdiff_t>(block.size() / 2);
      halves.push_back(random_direction(p, {block.begin(), mid}, scales[p], gradient[p], rng));
      halves.push_back(random_direction(p, {mid, block.end()}, scales[p], gradient[p], rng));
    }
    judge_all(halves, r, ev, h_relative, o);
    blocks.clear();
    for (Direction& d : halves) {
      r.tensors[d.param].search_evaluations += static_cast<std::size_t>(d.evaluations);
      if (d.verdict == DirVerdict::disagree) blocks.push_back({d.param, std::move(d.block)});
      else if (d.verdict == DirVerdict::undecided)
        by_entry[d.param].insert(by_entry[d.param].end(), d.block.begin(), d.block.end());
    }
  }
  // The entries the search reached, checked on their own as in full mode.
  std::vector<FdWork> work;
  for (std::size_t p = 0; p < r.tensors.size(); ++p) {
    FdTensor& t = r.tensors[p];
    t.entries.reserve(by_entry[p].size());
    for (std::size_t i : by_entry[p]) t.entries.push_back(fd_entry(r.description, gradient, p, i));
  }
  for (std::size_t p = 0; p < r.tensors.size(); ++p)
    for (FdEntry& e : r.tensors[p].entries) {
      const double h = fd_step(e.value, h_relative * scales[p][e.index]);
      e.error = r.noise.noise / h;
      work.push_back({&e, scales[p][e.index], h});
    }
  fd_check_entries(work, r.tensors, ev, r.noise.base_loss, r.noise.noise, o);
  for (const FdWork& w : work) r.tensors[w.entry->param].search_evaluations += static_cast<std::size_t>(w.entry->evaluations);
}

}  // namespace gradcheck::detail
