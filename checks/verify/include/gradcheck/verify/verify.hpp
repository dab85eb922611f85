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

#include <gradcheck/gradient/compare.hpp>
#include <gradcheck/gradient/result.hpp>
#include <gradcheck/verify/signatures.hpp>
#include <gradcheck/engine/case.hpp>

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace gradcheck {

// The format a program's replies so far show (probe, docs/verify.md#precision):
// every nonzero finite value they sent is a number of `precision`, and enough
// of them use nearly all its bits that a float64 program would not land there
// by chance.
struct ProgramFormat {
  Precision precision = Precision::float64;
  std::size_t values = 0;   // nonzero finite values looked at
  std::size_t replies = 0;  // over this many replies
};

// Gathers what one program's replies say about its format, reply by reply.
// One reply may carry too few informative values (a loss alone beside zero
// gradients); a program computes every reply in the same format.
class FormatEvidence {
 public:
  void add(const Reply& reply);
  // The narrowest format shown so far (bfloat16, float16, then float32).
  std::optional<ProgramFormat> shown() const;
  // Some narrower format than float64 still holds every value sent.
  bool could_be_narrow() const;

 private:
  struct PerFormat {
    bool all_in = true;
    std::size_t informative = 0;
  };
  std::array<PerFormat, 3> formats_{};  // bfloat16, float16, float32
  std::size_t values_ = 0, replies_ = 0;
};

struct VerifyOptions {
  // The comparison rule's terms for the gradients (compare.hpp); derived by default.
  Tolerances tolerances;
  // The forward pass (outputs, loss) is compared with the same rule against the
  // 50-digit forward pass, whose error is negligible: only rtol/atol matter.
  // 1e-8 accepts values printed with 9 significant digits, as the 3-2-1
  // question's are, and flags float32 outputs (≈ 1e-7) as a precision note.
  Tolerances forward_tolerances = Tolerances::fixed(0, 1e-8);
  // The format the implementation computes in, when the reply does not say
  // ("precision" in the reply wins); inferred from the values when neither
  // does. Differences within what a correct implementation in that format
  // can produce (the precision model, docs/comparison-rule.md#the-precision-model)
  // are notes, not divergences (docs/verify.md#precision).
  std::optional<Precision> precision;
  // The format the program's earlier replies showed (probe): used where
  // neither the reply nor `precision` states one and the reply's own values
  // do not show one.
  std::optional<ProgramFormat> program_format;
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

struct ForwardCheck {
  bool outputs_sent = false;
  bool loss_sent = false;
  // Set when the reply's outputs do not have the case's shape (then not compared).
  std::optional<std::string> outputs_shape_problem;
  // Rows in the checks' format (result.hpp): tensor outputs (row = unit, col =
  // sample) then loss (row = col = 0), layer = the output layer; analytic is
  // the claimed value, numeric the 50-digit reference.
  std::vector<Entry> entries;
  Matrix<double> reference_outputs;   // outputs × samples, the 50-digit forward rounded to double
  double reference_loss = 0;
  // Worst verdict over the entries (agree when nothing was sent).
  Verdict verdict = Verdict::agree;
  double worst_relative_error = 0;
  // Set when entries differ and every difference is within what a correct
  // program in the reply's known format computes (its precision model,
  // docs/verify.md#precision): the forward pass then counts as agreeing,
  // whatever the gradients do.
  std::optional<Precision> within_precision;
};

// Consistency of one claimed layer with gradients predicted from a delta
// (normwise relative errors ‖claimed − predicted‖ / max(‖claimed‖, ‖predicted‖)).
struct LayerConsistency {
  std::size_t layer = 0;
  double weights_error = 0;
  double biases_error = 0;
  double tolerance = 0;             // match_tolerance × the condition of the δ recovery
  bool weights_consistent = false;  // weights_error ≤ tolerance
  bool biases_consistent = false;
  bool consistent() const { return weights_consistent && biases_consistent; }
};

// How δ_l was recovered from layer l's own claimed gradients.
enum class DeltaRecovery {
  exact,         // batch 1: δ = db
  solved,        // [dW, db] = δ [a_{l−1}ᵀ, 1] determines δ (least squares, unique)
  from_weights,  // db is zero or missing: dW = δ a_{l−1}ᵀ alone determines δ
  undetermined,  // more samples than equations, or samples with the same activations
  unavailable,   // shapes differ or values are not finite
};
const char* to_string(DeltaRecovery r);

struct RecoveredDelta {
  std::size_t layer = 0;
  DeltaRecovery how = DeltaRecovery::unavailable;
  Matrix<double> delta;  // units × batch, empty unless recovered
  // Condition number of the linear system δ was solved from (1 for batch 1).
  // Errors in the reply are amplified up to this much in δ, so consistency
  // is judged at match_tolerance × condition; above 1e3 δ counts as undetermined.
  double condition = 1;
  // How well δ reproduces the layer's own [dW, db] (normwise relative), when
  // there are more equations than unknowns (residual_tested). Large: dW and db
  // are not consistent with ANY δ under the reference activations (dW built
  // from z, say). For batch 1 it tests dW = db a_{l−1}ᵀ.
  bool residual_tested = false;
  double weights_residual = 0;
  double biases_residual = 0;
};

struct ChainConsistency {
  enum class Status {
    not_applicable,  // a single layer: there is no earlier layer to test
    undetermined,    // δ_L cannot be recovered from the output layer (see output.how)
    consistent,      // every earlier layer follows from the implementation's own δ_L
    inconsistent,    // some earlier layer does not
  };
  Status status = Status::not_applicable;
  RecoveredDelta output;                  // δ_L recovered from the reply's output layer
  Matrix<double> reference_output_delta;  // δ_L of the reference
  // Earlier layers predicted from output.delta through the reference forward
  // pass, from layer L−2 down to 0.
  std::vector<LayerConsistency> layers;
  // One backward step at a time, from the output down: δ_l recovered from
  // claimed layer l (recovered[k] is layer L−1−k), propagated one step and
  // compared with claimed layer l − 1 (steps[k] tests layer L−2−k; nullopt
  // when δ_l was not recoverable).
  std::vector<RecoveredDelta> recovered;
  std::vector<std::optional<LayerConsistency>> steps;
};
const char* to_string(ChainConsistency::Status s);

// Where the fault is, from the origin layer and the chain test.
enum class FaultLocation {
  none,               // nothing diverges (notes allowed)
  forward,            // the forward pass itself differs (outputs or loss)
  output_error_term,  // every layer follows from the implementation's own δ_L: δ_L is wrong
  backward_step,      // the step δ_l → δ_{l−1} (through W_l and act'_{l−1}) is wrong, l = fault_layer
  weight_gradient,    // dW of fault_layer is not δ a_{l−1}ᵀ for the δ its own db gives (batch 1),
                      // or is wrong while db follows from the layer above
  bias_gradient,      // db of fault_layer is not δ·1 for the δ its own dW gives, or is wrong
                      // while dW follows from the layer above
  layer_gradients,    // dW and db of fault_layer are not consistent with any one δ (batch N)
  undetermined,       // the numbers do not say (δ not recoverable, shapes, non-finite values)
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

// A question asked of the program after a divergence (probe, on its minimal
// counterexample; docs/probe.md#experiments): what was sent and what the
// replies showed.
struct Experiment {
  std::string name;      // "samples-alone", "sample-pairs", "third-sample", "scale", "derivative", "symmetric-weights"
  std::string question;  // "each of the 2 samples of the minimal case alone"
  int cases_sent = 0;
  std::string finding;   // one sentence
  bool confirms_cause = false;  // the replies are what the stated cause predicts, and not what the others do
};

// How sure the cause is (docs/verify.md#cause). The honesty rule: a mistake is
// stated as THE cause only when it reproduces every compared gradient entry
// within the comparison rule, or an experiment confirmed it.
enum class CauseConfidence {
  explains_all,    // a named mistake reproduces every compared entry
  confirmed,       // an experiment on the program confirmed it (probe)
  closest,         // the nearest named mistake reproduces some disagreeing entries, not all: a hypothesis
  not_identified,  // no named mistake reproduces a disagreeing entry
};
const char* to_string(CauseConfidence c);  // "explains-all", "confirmed", "closest", "not-identified"

// What caused a divergence, first in every report.
struct Cause {
  CauseConfidence confidence = CauseConfidence::not_identified;
  std::optional<BugKind> kind;   // the named mistake; none when not identified
  std::string statement;         // one sentence: the mistake, or where the fault is when not identified
  std::size_t explained = 0;     // gradient entries the mistake reproduces ...
  std::size_t compared = 0;      // ... of those compared (agree or disagree; kinks and non-finite left out)
  std::vector<std::string> ruled_out;    // mistakes of the catalogue that reproduce no disagreeing entry
  std::vector<Experiment> experiments;   // probe: the questions asked of the program, in order
};

struct VerifyResult {
  VerifyStatus status = VerifyStatus::agree;
  std::optional<std::string> declined_message;  // the reply's "error"
  // Set when the reply could not be read at all (not JSON, not a reply): the
  // implementation failed and nothing else is filled in (malformed_reply()).
  std::optional<std::string> malformed;
  ForwardCheck forward;
  // Entry by entry (one row per entry of every tensor whose shape matches);
  // tensors whose shape differs are listed in a shape_mismatch signature.
  CheckResult gradients;
  // The first layer, walking back from the output, with a disagreeing or
  // non-finite entry (inconclusive-kink entries do not count).
  std::optional<std::size_t> origin_layer;
  ChainConsistency chain;
  FaultLocation fault = FaultLocation::none;
  std::optional<std::size_t> fault_layer;
  std::vector<TensorRatio> ratios;     // layer by layer, weights then biases
  std::vector<Signature> signatures;   // divergences first, then notes
  std::optional<Cause> cause;          // set when status is diverge
  // Indices into gradients.entries of the worst entries, largest relative
  // error first (non-finite first of all), at most VerifyOptions::worst_entries.
  std::vector<std::size_t> worst;
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

// The result for a reply that could not be parsed (status diverge), e.g. from
// the InputError of parse_reply: a failure of the implementation, not of gradcheck.
VerifyResult malformed_reply(std::string message);

}  // namespace gradcheck
