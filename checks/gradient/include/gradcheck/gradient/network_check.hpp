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
// Full mode checks every entry. Perturbing a parameter of layer l recomputes
// layers ≥ l only, from cached activations (a weight or bias changes one row of
// z_l, so layer l + 1 is a rank-one update), only for the samples it touches,
// and the entries are split over `threads` threads.
//
// Fast mode checks random directions: for every tensor (each layer's weights,
// each layer's biases, the inputs if asked) `directions_per_tensor` Rademacher
// vectors v supported on that tensor alone, plus `whole_network_directions`
// over all parameters; v·(analytic gradient) is compared with the directional
// derivative d/dt L(θ + t v) by the same rule. A tensor whose direction
// disagrees (or is undecided at a kink) is re-checked entry by entry
// (`fallback`). Why Rademacher: a single wrong entry k changes v·g by exactly
// ±δ_k, whatever v, so an error larger than twice the directional tolerance
// cannot escape; for any error pattern with an entry above the tolerance, each
// direction misses it with probability ≤ ½ (two sign choices of v_k cannot
// both land in the tolerance band), so m directions miss it with probability
// ≤ 2^−m. Summary::escape_statement states both for the case at hand
// (derivation in docs/checks.md).
//
// Kinks (relu, leaky_relu): the side of 0 of every such pre-activation is
// recorded at θ and at every point of a stencil; an entry whose stencil crosses
// is re-checked one-sided on the side that does not cross (Ridders in powers of
// h) and is `inconclusive-kink` when that is impossible. At an exact kink (z = 0
// at θ) the note gives the engine's convention relu'(0) = 0 and both one-sided
// slopes.
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
