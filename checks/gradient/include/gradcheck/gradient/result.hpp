#pragma once
// What a check returns: plain data, one row per compared entry, a summary per
// tensor and one for the whole check. Nothing here formats text for people;
// reports/ renders these structs (JSON, Markdown, HTML, JUnit) and the tests'
// failure tables print them.
//
// How to read a CheckResult:
//   const CheckResult r = check_network(c, options);        // or compare_gradients, check_gradient
//   if (!r.summary.passed) {
//     for (const Entry& e : r.entries)                       // every compared entry
//       if (e.verdict == Verdict::disagree) ...              // e.layer, e.tensor, e.row, e.col, ...
//   }
//   r.tensors          one TensorSummary per parameter tensor (weights and biases of every layer)
//   r.directions       fast mode: the directional checks
//   r.findings         what is wrong beyond single entries (shapes, the reference itself)
//
// Conventions: layers are numbered from 0 (the first layer with weights);
// `row, col` index the tensor as the case's JSON writes it (weights[row][col]
// is the weight from input col into unit row; vectors use col = 0; the input
// gradient uses row = feature, col = sample); check_gradient on a plain
// function reports tensor `x`, layer 0, row = index into x, col 0.

#include <gradcheck/gradient/compare.hpp>
#include <gradcheck/engine/findings.hpp>
#include <gradcheck/engine/scalar.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gradcheck {

// Which tensor an entry belongs to.
//   weights, biases: dL/dW_l, dL/db_l;  inputs: dL/d(inputs) (features × samples);
//   x: the argument of check_gradient;  outputs, loss: forward values (verify
//   compares a reply's outputs and loss with the same rule, layer = last layer).
enum class TensorKind { weights, biases, inputs, x, outputs, loss };

inline const char* to_string(TensorKind t) {
  switch (t) {
    case TensorKind::weights: return "weights";
    case TensorKind::biases: return "biases";
    case TensorKind::inputs: return "inputs";
    case TensorKind::x: return "x";
    case TensorKind::outputs: return "outputs";
    case TensorKind::loss: return "loss";
  }
  return "?";
}

// How the reference value of an entry was obtained.
//   central         central differences, step h = relative_step · max(|θ|, 1),
//                   error estimate from step halving plus a round-off bound
//   ridders         Ridders' extrapolation (Numerical Recipes' dfridr), its tableau's error estimate
//   complex_step    Im L(θ + i h) / h with the engine in std::complex<double>: no cancellation
//   multiprecision  the engine's analytic backward in cpp_bin_float_50, rounded to double,
//                   cross-checked by 50-digit central differences (the ground truth)
enum class Method { central, ridders, complex_step, multiprecision };

inline const char* to_string(Method m) {
  switch (m) {
    case Method::central: return "central";
    case Method::ridders: return "ridders";
    case Method::complex_step: return "complex-step";
    case Method::multiprecision: return "multiprecision";
  }
  return "?";
}

// full: every entry; fast: random directions per tensor, per-entry only where a direction disagrees.
enum class Mode { full, fast };

inline const char* to_string(Mode m) { return m == Mode::full ? "full" : "fast"; }

// The stencil that produced an entry's reference value: the method's own
// (central for central/Ridders/50-digit differences, complex for complex step,
// analytic for the 50-digit backward), or a one-sided re-check next to a kink.
enum class Stencil { central, forward, backward, complex, analytic };

inline const char* to_string(Stencil s) {
  switch (s) {
    case Stencil::central: return "central";
    case Stencil::forward: return "forward";
    case Stencil::backward: return "backward";
    case Stencil::complex: return "complex";
    case Stencil::analytic: return "analytic";
  }
  return "?";
}

// What has the kink: a relu/leaky_relu pre-activation at 0, or a max-pool window
// whose two largest entries are tied (the window's gradient switches entry there).
enum class KinkKind { relu, max_pool };

inline const char* to_string(KinkKind k) { return k == KinkKind::relu ? "relu" : "max_pool"; }

// A kink that made an entry inconclusive: the reference's stencil moved it across
// (z across 0, or another entry of the window became the largest), or it sits on it.
//   relu:     z_layer(unit, sample), the pre-activation.
//   max_pool: the window of layer `layer` whose output is z_layer(unit, sample), at
//             (channel, out_y, out_x); its largest entry (the one the engine gives the
//             gradient) and the entry tied or nearly tied with it (the runner-up, or
//             another entry within round-off of the largest), at (channel, y, x) of the
//             layer's input; z = their gap, first_value − second_value (0: a tie).
struct Kink {
  int layer = 0;
  Index unit = 0;
  Index sample = 0;
  double z = 0;        // its value at θ (max_pool: the gap)
  bool exact = false;  // z == 0 at θ (a tie for max_pool): the derivative is undefined there
  // One-sided derivatives of the loss along the entry's coordinate, where
  // computed (NaN otherwise). At an exact kink the engine's convention
  // relu'(0) = 0 (leaky: 0.01; max pool: the first largest entry) is compared with these in the note.
  double forward_slope = std::numeric_limits<double>::quiet_NaN();
  double backward_slope = std::numeric_limits<double>::quiet_NaN();
  KinkKind kind = KinkKind::relu;
  Index channel = 0, out_y = 0, out_x = 0;                    // max_pool: the window
  Index first = -1, first_y = 0, first_x = 0;                 // max_pool: its largest entry (feature, y, x)
  Index second = -1, second_y = 0, second_x = 0;              // and the runner-up
  double first_value = std::numeric_limits<double>::quiet_NaN();
  double second_value = std::numeric_limits<double>::quiet_NaN();
};

// One compared entry (Ceres' error_log row, with a verdict).
struct Entry {
  int layer = 0;
  TensorKind tensor = TensorKind::weights;
  Index row = 0, col = 0;
  double analytic = 0;        // the value under test: engine, user function or claimed gradient
  double numeric = 0;         // the reference value it is compared with
  double error_estimate = 0;  // ε_r: estimated |numeric − exact|
  double roundoff = 0;        // ε_a: estimated round-off of a correct double computation of analytic
  double tolerance = 0;       // τ of compare.hpp
  double absolute_error = 0;  // |analytic − numeric|
  double relative_error = 0;  // e of compare.hpp
  Verdict verdict = Verdict::agree;
  Stencil stencil = Stencil::central;
  std::optional<Kink> kink;   // set when a kink was involved (verdict inconclusive-kink or a one-sided re-check)
  std::string note;           // e.g. "stencil crosses the kink of layer 1 unit 3 (sample 0); re-checked one-sided (backward)"
};

struct VerdictCounts {
  std::size_t agree = 0, disagree = 0, inconclusive_kink = 0, non_finite = 0;

  std::size_t total() const { return agree + disagree + inconclusive_kink + non_finite; }
  std::size_t of(Verdict v) const {
    switch (v) {
      case Verdict::agree: return agree;
      case Verdict::disagree: return disagree;
      case Verdict::inconclusive_kink: return inconclusive_kink;
      case Verdict::non_finite: return non_finite;
    }
    return 0;
  }
  void add(Verdict v, std::size_t n = 1) {
    switch (v) {
      case Verdict::agree: agree += n; break;
      case Verdict::disagree: disagree += n; break;
      case Verdict::inconclusive_kink: inconclusive_kink += n; break;
      case Verdict::non_finite: non_finite += n; break;
    }
  }
  void add(const VerdictCounts& o) {
    agree += o.agree;
    disagree += o.disagree;
    inconclusive_kink += o.inconclusive_kink;
    non_finite += o.non_finite;
  }
};

// One parameter tensor (or x, or the input gradient).
struct TensorSummary {
  int layer = 0;
  TensorKind tensor = TensorKind::weights;
  Index rows = 0, cols = 0;      // the case's shape (cols = 1 for vectors)
  // A conv2d layer's weights: rows = output channels, cols = in_channels · kernel_h ·
  // kernel_w, column (i·kernel_h + y)·kernel_w + x = the JSON's weights[row][i][y][x]
  // (docs/case-format.md). 0 for every other tensor.
  Index kernel_h = 0, kernel_w = 0;
  Index entries_checked = 0;     // entries in CheckResult::entries for this tensor
  VerdictCounts counts;          // over those entries
  double worst_relative_error = 0;
  Index worst_row = -1, worst_col = -1;  // -1: no entry compared
  double max_abs_reference = 0;  // largest finite |reference entry|: the scale of floor_T
  double floor = 0;              // floor_T of compare.hpp
  // Fast mode: directions tried on this tensor alone, how many disagreed, and
  // whether the per-entry fallback ran (then entries_checked = rows × cols).
  int directions = 0;
  int directions_disagreeing = 0;
  bool fell_back_to_entries = false;
  bool shape_mismatch = false;   // claimed gradients: this tensor's shape differs (see findings)
  bool passed = true;            // no disagree, no non-finite, no shape mismatch
};

// Fast mode: one random direction v (supported on one tensor, or on the whole
// network) and the check of v·∇L (analytic) against the directional derivative.
struct DirectionCheck {
  bool whole_network = false;
  int layer = 0;                 // the tensor of v when !whole_network
  TensorKind tensor = TensorKind::weights;
  int index = 0;                 // 0, 1, ... within its tensor
  double analytic = 0;           // v · gradient under test
  double numeric = 0;            // d/dt L(θ + t v) at t = 0
  double error_estimate = 0;
  double roundoff = 0;
  double tolerance = 0;
  double absolute_error = 0;
  double relative_error = 0;
  Verdict verdict = Verdict::agree;
  std::string note;
};

// Problems beyond single entries. Every finding fails the check.
//   shape_mismatch           a claimed tensor has the wrong shape, or a layer is missing / extra
//   reference_disagreement   the 50-digit analytic backward and the 50-digit central
//                            differences disagree: the reference itself cannot be trusted
enum class FindingKind { shape_mismatch, reference_disagreement };

inline const char* to_string(FindingKind k) {
  return k == FindingKind::shape_mismatch ? "shape-mismatch" : "reference-disagreement";
}

// A finding of the check (severity error), e.g. "claimed weights of layer 1 are
// 2×3, the case's are 3×2", and the tensor it concerns.
struct CheckFinding : Finding {
  FindingKind kind = FindingKind::shape_mismatch;
  int layer = 0;
  TensorKind tensor = TensorKind::weights;

  CheckFinding() = default;
  CheckFinding(FindingKind k, int l, TensorKind t, std::string msg)
      : Finding{Severity::error, std::move(msg), {}, {}}, kind(k), layer(l), tensor(t) {}
};

struct Summary {
  Method method = Method::multiprecision;
  Mode mode = Mode::full;
  double relative_step = 0;      // h = relative_step · max(|θ|, 1) (Ridders: the initial step)
  std::uint64_t seed = 0;        // random directions / samples; replay with the same seed
  Tolerances tolerances;
  VerdictCounts counts;          // over every entry
  std::optional<Entry> worst;    // the entry of largest relative error (finite errors first)
  bool passed = false;           // no disagree, no non-finite, no finding (inconclusive-kink passes)
  Index parameters = 0;          // entries of every tensor checked (weights + biases [+ inputs])
  Index entries_checked = 0;     // = entries.size()
  unsigned threads = 1;
  // Fast mode. escape_delta: the size, relative to its tensor's largest
  // gradient entry, of a single wrong entry; escape_probability: the bound on
  // the probability that such an entry passes every direction of its tensor
  // (the worst tensor); escape_statement says it in a sentence (docs/checks.md
  // derives it). Empty / NaN in full mode.
  int directions_per_tensor = 0;
  int whole_network_directions = 0;
  double escape_delta = std::numeric_limits<double>::quiet_NaN();
  double escape_probability = std::numeric_limits<double>::quiet_NaN();
  std::string escape_statement;
  double elapsed_seconds = 0;
};

struct CheckResult {
  Summary summary;
  std::vector<TensorSummary> tensors;
  std::vector<Entry> entries;
  std::vector<DirectionCheck> directions;
  std::vector<CheckFinding> findings;
};

// Recomputes everything derived from `entries`, `directions` and `findings`:
// each tensor's counts, entries_checked, worst entry and passed (tensors are
// matched by layer and kind; a tensor that has entries but no TensorSummary
// gets one), and the summary's counts, worst, entries_checked and passed.
// Leaves the rest (method, seed, floors, escape statement, ...) alone. Checks
// call it last; verify calls it again after adding its own entries or findings.
void summarize(CheckResult& result);

}  // namespace gradcheck
