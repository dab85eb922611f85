#pragma once
// Checking a network's gradients on a case.
//
//   check_network(case, options)             the engine's own double-precision backward
//   check_gradients(case, analytic, options) any gradients (e.g. a mutated backward, or
//                                            another implementation's) against the method
//   compare_gradients(case, claimed, ref)    against a precomputed Reference (reference.hpp)
//
// Methods (CheckOptions::method): multiprecision (default: the 50-digit
// reference), central, ridders, complex_step; see result.hpp. Every entry is
// judged by the rule of compare.hpp.
//
// Full mode checks every entry (layers ≥ l recomputed from cached activations,
// split over threads). Fast mode checks Rademacher directions per tensor and
// over the whole network, and re-checks a failing tensor entry by entry; its
// miss probability is stated in Summary::escape_statement. Entries whose
// stencil crosses a relu kink are re-checked one-sided, or reported
// inconclusive-kink. The derivations: docs/checks.md.
//
// How to use:
//   CheckOptions o;                           // multiprecision, full mode, all cores
//   o.method = Method::central;               // or ridders, complex_step
//   const CheckResult r = check_network(c, o);
//   if (!r.summary.passed) ...                // r.entries: one row per entry

#include <gradcheck/gradient/reference.hpp>
#include <gradcheck/gradient/result.hpp>
#include <gradcheck/engine/case.hpp>

#include <cstdint>
#include <vector>

namespace gradcheck {

struct CheckOptions {
  Method method = Method::multiprecision;
  Mode mode = Mode::full;
  // h = relative_step · max(|θ|, 1); 0 takes the method's default:
  // central 6.06e-6 (∛ε: balances O(h²) truncation against ε/h round-off),
  // ridders 1e-3 (the initial step of its shrinking sequence), complex_step 1e-20.
  double relative_step = 0;
  Tolerances tolerances;
  unsigned threads = 0;            // 0: std::thread::hardware_concurrency()
  std::uint64_t seed = 1;          // fast mode's directions; the reference's sample
  bool input_gradients = false;    // also check dL/d(inputs)
  // Fast mode.
  int directions_per_tensor = 4;
  int whole_network_directions = 1;
  double escape_delta = 0.01;      // the single wrong entry of the escape statement, × its tensor's largest entry
  bool fallback = true;            // per-entry check of a tensor whose direction disagrees
  ReferenceOptions reference;      // multiprecision only
};

// The method's default relative step (see CheckOptions::relative_step).
double default_relative_step(Method method);

// The engine's own gradients (double) on the case.
CheckResult check_network(const Case& c, const CheckOptions& options = {});

// The given gradients (the case's shapes; input gradients ignored unless
// options.input_gradients, then `input_gradient` must be features × samples).
CheckResult check_gradients(const Case& c, const std::vector<LayerGradient>& analytic, const CheckOptions& options = {},
                            const Matrix<double>* input_gradient = nullptr);

// Gradients<double> as the claimed/analytic layers of the functions above.
std::vector<LayerGradient> as_layer_gradients(const Gradients<double>& g);

}  // namespace gradcheck
