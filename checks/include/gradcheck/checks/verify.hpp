#pragma once
// Verification of gradients claimed by ANOTHER implementation (a reply, see
// docs/case-format.md) against gradcheck's 50-digit reference, and the analysis
// that says where and why they diverge (docs/verify.md).
//
// verify_reply answers, in this order:
//   1. forward:     do the reply's outputs and loss (when sent) match the reference forward pass?
//   2. gradients:   every entry, with the one comparison rule (compare.hpp) and its verdicts;
//   3. origin:      the first layer, walking back from the output, whose gradients disagree;
//   4. chain:       recover the implementation's OWN output deltas δ_L from its output-layer
//                   gradients (batch 1: δ_L = db_L; batch N: solve dW_L = δ_L a_{L−1}ᵀ,
//                   db_L = δ_L·1 when that determines δ_L), backpropagate them through the
//                   reference forward pass and compare with its earlier layers. Consistent
//                   means the backward steps are right and the fault is in the output error
//                   term; inconsistent names the first backward step that is wrong;
//   5. signatures:  known bugs recognised from the numbers, each with its evidence
//                   (signatures.hpp);
//   6. update:      what one step θ −= η·g does to the outputs and the loss, with the
//                   claimed gradients and with the correct ones.
// A divergence is data in the result, never an exception. Notes (precision at
// float32 level, a relu'(0) convention at an exact kink) leave the status at
// `notes`, which passes unless the caller is strict.
//
// How to use:
//   const Case c = read_case("case.json");
//   const Reply r = read_reply("reply.json");
//   const VerifyResult v = verify_reply(c, r, VerifyOptions{});
//   if (!v.passed(/*strict=*/false)) ...      // v.signatures, v.origin_layer, v.chain, v.update

#include <gradcheck/checks/compare.hpp>
#include <gradcheck/checks/result.hpp>
#include <gradcheck/checks/signatures.hpp>
#include <gradcheck/engine/case.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace gradcheck {

struct VerifyOptions {
  // The comparison rule's terms for the gradients (compare.hpp); derived by default.
  Tolerances tolerances;
  // The forward pass (outputs, loss) is compared with the same rule against the
  // 50-digit forward pass, whose error is negligible: only rtol/atol matter.
  // 1e-8 accepts values printed with 9 significant digits, as the 3-2-1
  // question's are, and flags float32 outputs (≈ 1e-7) as a precision note.
  Tolerances forward_tolerances = Tolerances::fixed(0, 1e-8);
  // Disagreements whose error is at most this, relative to max(|reference|,
  // precision_floor · the tensor's largest |reference|), are reported as a
  // precision note, not as a divergence. float32 carries ε = 1.2e-7 and a
  // backward pass accumulates a few dozen roundings: measured float32
  // implementations stay below 1e-5, every bug in signatures.hpp is ≥ 1e-3 off.
  double precision_limit = 1e-5;
  double precision_floor = 1e-2;
  // Agreement required when matching the reply against a hypothesis (a known
  // bug, the chain test): normwise relative error per tensor. Loose enough for
  // a float32 implementation of the bug, tight enough to tell bugs apart.
  double match_tolerance = 1e-5;
  // The step of the update effect: θ −= learning_rate · gradient.
  double learning_rate = 1.0;
  // How many of the worst entries the summary lists.
  std::size_t worst_entries = 5;
};

enum class VerifyStatus {
  agree,     // every comparison agrees
  notes,     // only notes (precision, kink convention): passes unless strict
  diverge,   // a divergence: forward, gradients, shapes or non-finite values
  declined,  // the reply was {"error": ...}: the implementation does not handle the case
};
const char* to_string(VerifyStatus s);

// One forward quantity: an output entry ("outputs[0][1]", sample 0, unit 1) or "loss".
struct ForwardEntry {
  std::string what;
  double claimed = 0;
  double reference = 0;
  Comparison comparison;
};

struct ForwardCheck {
  bool outputs_sent = false;
  bool loss_sent = false;
  // Set when the reply's outputs do not have the case's shape (then not compared).
  std::optional<std::string> outputs_shape_problem;
  std::vector<ForwardEntry> entries;  // outputs (sample-major), then the loss
  Matrix<double> reference_outputs;   // outputs × samples, the 50-digit forward rounded to double
  double reference_loss = 0;
  // Worst verdict over the entries (agree when nothing was sent).
  Verdict verdict = Verdict::agree;
  // True when every disagreement is within the precision limit (a note).
  bool precision_only = false;
  double worst_relative_error = 0;
};

// Consistency of one claimed layer with gradients predicted from a delta.
struct LayerConsistency {
  std::size_t layer = 0;
  double weights_error = 0;  // normwise relative error ‖claimed − predicted‖ / ‖predicted‖
  double biases_error = 0;
  bool consistent = false;   // both ≤ match_tolerance
};

// How δ of a layer was recovered from that layer's claimed gradients.
enum class DeltaRecovery {
  exact,         // batch 1: δ = db
  solved,        // batch N: [dW, db] = δ [a_prevᵀ, 1] has a unique least-squares solution
  undetermined,  // more samples than equations (N > inputs + 1) or degenerate activations
  unavailable,   // shapes differ or values are not finite
};
const char* to_string(DeltaRecovery r);

struct ChainConsistency {
  enum class Status {
    not_applicable,  // a single layer: there is no earlier layer to test
    undetermined,    // δ_L cannot be recovered from the output layer (see recovery)
    consistent,      // every earlier layer follows from the implementation's own δ_L
    inconsistent,    // some earlier layer does not
  };
  Status status = Status::not_applicable;
  DeltaRecovery recovery = DeltaRecovery::unavailable;
  Matrix<double> claimed_output_delta;    // δ_L recovered from the reply (units × batch)
  Matrix<double> reference_output_delta;  // δ_L of the reference
  // How well the recovered δ_L reproduces the reply's own output-layer [dW, db]
  // (normwise relative). Large: dW_L and db_L are not consistent with ANY δ_L
  // under the reference activations (e.g. dW built from z, or db dropped).
  double recovery_residual = 0;
  // Earlier layers predicted from claimed_output_delta, from the output down.
  std::vector<LayerConsistency> layers;
  // One backward step at a time: δ_l recovered from claimed layer l, propagated
  // one step and compared with claimed layer l − 1 (entry l − 1 in `steps` is
  // the step from layer l to layer l − 1; absent when δ_l was not recoverable).
  std::vector<std::optional<LayerConsistency>> steps;
  // The layer l whose backward step (δ_l → δ_{l−1}, through W_l and act'_{l−1})
  // is the first wrong one walking back from the output.
  std::optional<std::size_t> first_wrong_step;
};
const char* to_string(ChainConsistency::Status s);

// Where the fault is, from the origin layer and the chain test.
enum class FaultLocation {
  none,               // nothing diverges
  forward,            // the forward pass itself differs
  output_error_term,  // earlier layers follow from the implementation's own δ_L: δ_L is wrong
  output_layer,       // dW_L and db_L are not consistent with one δ_L
  backward_step,      // a step δ_l → δ_{l−1} is wrong (ChainConsistency::first_wrong_step)
  unknown,            // the numbers do not say (undetermined δ_L, shapes, non-finite values)
};
const char* to_string(FaultLocation f);

// Least-squares ratio claimed ≈ ratio · reference, per tensor.
struct TensorRatio {
  std::size_t layer = 0;
  bool biases = false;       // false: weights
  double ratio = 0;          // ⟨claimed, reference⟩ / ⟨reference, reference⟩
  double residual = 0;       // ‖claimed − ratio · reference‖ / ‖claimed‖ (0: an exact multiple)
  bool defined = false;      // false when the reference tensor is zero or shapes differ
};

// One step θ −= η·g of every weight and bias, with the claimed gradients and
// with the correct ones, on the case's own batch.
struct UpdateEffect {
  bool computed = false;          // false when shapes differ or claimed values are not finite
  double learning_rate = 0;
  Matrix<double> outputs_before;  // outputs × samples
  Matrix<double> outputs_after_claimed;
  Matrix<double> outputs_after_reference;
  double loss_before = 0;
  double loss_after_claimed = 0;
  double loss_after_reference = 0;
  // cos ∠(claimed, reference) over all parameters: < 0 means the claimed step
  // climbs the loss to first order.
  double cosine = 0;
};

struct VerifyResult {
  VerifyStatus status = VerifyStatus::agree;
  std::optional<std::string> declined_message;  // the reply's "error"
  ForwardCheck forward;
  // Entry by entry (one row per entry of every tensor whose shape matches);
  // tensors whose shape differs are listed in a shape_mismatch signature.
  CheckResult gradients;
  // The first layer, walking back from the output, with a disagreeing or
  // non-finite entry (inconclusive-kink entries do not count).
  std::optional<std::size_t> origin_layer;
  ChainConsistency chain;
  FaultLocation fault = FaultLocation::none;
  std::vector<TensorRatio> ratios;     // layer by layer, weights then biases
  std::vector<Signature> signatures;   // divergences first, then notes
  UpdateEffect update;

  bool has_notes() const;
  bool has_divergence() const { return status == VerifyStatus::diverge; }
  // agree and declined pass; notes pass unless strict; diverge fails.
  bool passed(bool strict = false) const;
};

// Never throws on a bad reply: shape mismatches, missing tensors and
// non-finite values are results. Throws InputError only for an invalid case
// (validate(case.network) fails, or inputs/targets do not fit the network).
VerifyResult verify_reply(const Case& c, const Reply& reply, const VerifyOptions& options = {});

}  // namespace gradcheck
