#pragma once
// CheckResults for the adapter's tests, made the way the checks make them: each entry
// compared with the one rule (compare.hpp), then summarize(). The 3-2-1 network of the
// question: the reference gradients (50-digit values) against the asker's
// (the 3-2-1 question), or against themselves.

#include <gradcheck/gradient/compare.hpp>
#include <gradcheck/gradient/result.hpp>

#include <cmath>
#include <random>
#include <vector>

namespace gradcheck::reports::test {

struct TensorValues {
  int layer;
  TensorKind kind;
  Index rows, cols;
  std::vector<double> reference, claimed;  // row-major
  Index kernel_h = 0, kernel_w = 0;         // a conv2d layer's weights (TensorSummary's fields)
};

inline const std::vector<TensorValues>& reference_321() {
  static const std::vector<TensorValues> t = {
      {0, TensorKind::weights, 2, 3,
       {0, -0.0020507939119064, -0.0041015878238128, 0, -0.0018771637035870, -0.0037543274071740}, {}},
      {0, TensorKind::biases, 2, 1, {-0.0041015878238128, -0.0037543274071740}, {}},
      {1, TensorKind::weights, 1, 2, {-0.0220703065059623, -0.0258509023294301}, {}},
      {1, TensorKind::biases, 1, 1, {-0.0351261147127841}, {}},
  };
  return t;
}

// The asker's gradients: the output error term has the wrong sign and scale.
inline std::vector<TensorValues> asker_321() {
  std::vector<TensorValues> t = reference_321();
  t[0].claimed = {0, 0.0066968054, 0.013393611, 0, 0.0061298212, 0.012259642};
  t[1].claimed = {0.013393611, 0.012259642};
  t[2].claimed = {0.072069918, 0.084415339};
  t[3].claimed = {0.11470326};
  return t;
}

inline std::vector<TensorValues> correct_321() {
  std::vector<TensorValues> t = reference_321();
  for (auto& x : t) x.claimed = x.reference;
  return t;
}

// Compares claimed with reference entry by entry (error estimate: a few ulps of r).
inline CheckResult compare_tensors(const std::vector<TensorValues>& tensors, const Tolerances& tol = {}) {
  CheckResult r;
  r.summary.method = Method::multiprecision;
  r.summary.mode = Mode::full;
  r.summary.seed = 42;
  r.summary.tolerances = tol;
  for (const TensorValues& t : tensors) {
    TensorSummary ts;
    ts.layer = t.layer;
    ts.tensor = t.kind;
    ts.rows = t.rows;
    ts.cols = t.cols;
    ts.kernel_h = t.kernel_h;
    ts.kernel_w = t.kernel_w;
    for (double x : t.reference)
      if (std::isfinite(x)) ts.max_abs_reference = std::max(ts.max_abs_reference, std::abs(x));
    ts.floor = tensor_floor(ts.max_abs_reference, tol);
    r.tensors.push_back(ts);
    for (Index i = 0; i < t.rows; ++i)
      for (Index j = 0; j < t.cols; ++j) {
        const auto k = static_cast<std::size_t>(i * t.cols + j);
        if (k >= t.claimed.size()) continue;
        Entry e;
        e.layer = t.layer;
        e.tensor = t.kind;
        e.row = i;
        e.col = j;
        e.analytic = t.claimed[k];
        e.numeric = t.reference[k];
        e.error_estimate = 4e-16 * std::abs(e.numeric);
        const Comparison c = compare(e.analytic, e.numeric, e.error_estimate, 0, ts.floor, tol);
        e.tolerance = c.tolerance;
        e.absolute_error = c.absolute_error;
        e.relative_error = c.relative_error;
        e.verdict = c.verdict;
        e.stencil = Stencil::analytic;
        r.entries.push_back(e);
      }
  }
  r.summary.parameters = static_cast<Index>(r.entries.size());
  summarize(r);
  return r;
}

// A [784, 30, 10]-shaped check: layer 0's weights are 30 × 784. Entries get small
// relative errors; `bad` of them (spread out) disagree; entries where `keep` says false
// are left out (a sampled check).
template <class Keep>
CheckResult large_check(Index rows, Index cols, int bad, Keep keep) {
  std::vector<TensorValues> t = {{0, TensorKind::weights, rows, cols, {}, {}}, {0, TensorKind::biases, rows, 1, {}, {}}};
  std::mt19937 gen(7);
  std::uniform_real_distribution<double> value(-1, 1), noise(-1, 1);
  for (auto& x : t) {
    for (Index k = 0; k < x.rows * x.cols; ++k) {
      const double r = value(gen);
      x.reference.push_back(r);
      x.claimed.push_back(r * (1 + 1e-13 * noise(gen)));
    }
  }
  for (int b = 0; b < bad; ++b) {
    const auto k = static_cast<std::size_t>((b * 7919 + 13) % (rows * cols));
    t[0].claimed[k] = -t[0].reference[k];
  }
  CheckResult r = compare_tensors(t);
  std::vector<Entry> kept;
  for (const Entry& e : r.entries)
    if (e.tensor != TensorKind::weights || keep(e.row, e.col)) kept.push_back(e);
  r.entries = kept;
  summarize(r);
  return r;
}

// A conv2d layer of 2 output and 2 input channels with 3 × 3 kernels (weights 2 × 18) and
// its biases: every entry agrees but weights[1][1][2][2] (row 1, column 17), negated.
inline CheckResult conv_check() {
  std::vector<TensorValues> t = {{0, TensorKind::weights, 2, 18, {}, {}, 3, 3}, {0, TensorKind::biases, 2, 1, {}, {}}};
  for (auto& x : t)
    for (Index k = 0; k < x.rows * x.cols; ++k) x.reference.push_back(0.01 * static_cast<double>(k + 1));
  for (auto& x : t) x.claimed = x.reference;
  t[0].claimed[1 * 18 + 17] = -t[0].claimed[1 * 18 + 17];
  return compare_tensors(t);
}

}  // namespace gradcheck::reports::test
