#pragma once
// The ground truth: the engine's analytic backward pass in cpp_bin_float_50
// (50 significant digits), rounded to double, cross-checked by 50-digit central
// differences — every entry for small networks, a stratified sample (every
// tensor, its largest entry included) for large ones. A disagreement between
// the two 50-digit methods is a CheckFinding (reference_disagreement): the reference
// itself is then not to be trusted, and every check built on it fails.
//
// Besides the values, a Reference carries what comparing against it needs:
//   error      ε_r of compare.hpp: the rounding to double plus the cross-check's discrepancy
//   roundoff   ε_a: how far a CORRECT double-precision implementation may be from the
//              exact gradient, estimated from the problem's conditioning (the gradient's
//              change under random relative perturbations of 4 ulps of every weight,
//              bias and input, computed in long double, largest of 4 samples ×3, plus the summation bound
//              (N + 4 + 2·Σ widths above)·u·Σ_n |δ||a|; docs/comparison-rule.md)
//   kinks      relu/leaky_relu pre-activations whose side of 0 is not decided: exactly
//              0, or within the round-off a double computation of z makes. For each, the
//              gradient with that unit's derivative on the other side is computed; an
//              entry that changes is "kink-sensitive" and is judged against both sides.
//
// How to use (what `gradcheck verify` does):
//   const Reference ref = reference_gradients(c);                // once per case
//   const CheckResult r = compare_gradients(c, reply.layers, ref, Tolerances{});

#include <gradcheck/gradient/compare.hpp>
#include <gradcheck/gradient/result.hpp>
#include <gradcheck/engine/case.hpp>

#include <cstdint>
#include <vector>

namespace gradcheck {

struct ReferenceOptions {
  // Cross-check every entry when the case has at most this many parameters ...
  Index cross_check_all_up_to = 600;
  // ... otherwise this many entries per tensor: the largest and random others.
  Index cross_check_per_tensor = 3;
  std::uint64_t seed = 1;          // the sample's and the perturbations' random choices
  bool input_gradients = false;    // also dL/d(inputs) (TensorKind::inputs)
  // The 50-digit forward and backward passes run on two threads, each over half
  // of the samples, from this much work (parameters × samples) on, with two
  // samples or more and two hardware threads; 0: always. The values agree with
  // one thread's to about 1e-49 relative (the batch sums are added in another order).
  Index halves_from = 50'000;
};

// One tensor of the reference, in the case's shape (vectors are n × 1).
struct ReferenceTensor {
  int layer = 0;
  TensorKind tensor = TensorKind::weights;
  Matrix<double> value;        // the 50-digit gradient rounded to double
  Matrix<double> error;        // ε_r
  Matrix<double> roundoff;     // ε_a
  // Kink-sensitive entries (their value changes when a kink's side is flipped):
  // `kink` indexes Reference::kinks (the first such kink; −1: none), `kinks_involved`
  // counts them, `other_side` is the gradient with the first one flipped (NaN where
  // no kink matters), `at_exact_kink` is 1 when one of them sits at z == 0 exactly.
  Eigen::Matrix<int, Eigen::Dynamic, Eigen::Dynamic> kink, kinks_involved;
  Matrix<double> other_side;
  Matrix<char> at_exact_kink;
  Matrix<double> forward_slope, backward_slope;  // one-sided derivatives at exact kinks (NaN elsewhere)
  Matrix<char> cross_checked;  // 1 where the 50-digit central difference was computed
  double max_abs = 0;          // largest |value|
};

struct Reference {
  std::vector<ReferenceTensor> tensors;  // weights 0, biases 0, weights 1, biases 1, ..., [inputs]
  double loss = 0;                       // the 50-digit loss, rounded
  Matrix<double> outputs;                // the 50-digit outputs, rounded (outputs × samples)
  Matrix<double> output_delta;           // δ_L = dL/dz_L of the 50-digit pass, rounded (outputs × samples)
  Matrix<double> outputs_roundoff;       // ε_a of a correct double computation of each output: the
                                         // round-off estimate of z_L carried through act'
                                         // (softmax: a_k (ε_k + max_j ε_j))
  std::vector<Kink> kinks;               // undecided pre-activations (Kink::exact: z == 0)
  std::vector<CheckFinding> findings;         // reference_disagreement
  Index cross_checked = 0;               // entries cross-checked by 50-digit differences
  double worst_cross_check = 0;          // largest relative discrepancy found (e of compare.hpp)
  double elapsed_seconds = 0;

  const ReferenceTensor* find(int layer, TensorKind tensor) const {
    for (const auto& t : tensors)
      if (t.layer == layer && t.tensor == tensor) return &t;
    return nullptr;
  }
};

// Throws InputError when the case is malformed (validate(), batch shapes).
Reference reference_gradients(const Case& c, const ReferenceOptions& options = {});

// Gradients claimed by an implementation under test against the reference.
// Every entry of every layer's weights and biases gets a row; a tensor of the
// wrong shape, or a missing or extra layer, is a CheckFinding (shape_mismatch), its
// entries are not compared, and the rest of the check goes on.
CheckResult compare_gradients(const Case& c, const std::vector<LayerGradient>& claimed, const Reference& reference,
                              const Tolerances& tolerances = {});

}  // namespace gradcheck
