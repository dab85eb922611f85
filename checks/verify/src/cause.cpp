// The cause of a divergence (verify.hpp, docs/verify.md#cause): the first
// named mistake among the signatures, with how many compared entries it
// reproduces; failing that, the catalogue's closest hypothesis (one that
// reproduces some disagreeing entries) stated as a hypothesis; failing that,
// "not identified", with where the fault is and what was ruled out. Nothing
// here adds a story the signatures' numbers do not carry.
#include "verify_detail.hpp"

#include <algorithm>
#include <string>

namespace gradcheck {

const char* to_string(CauseConfidence c) {
  switch (c) {
    case CauseConfidence::explains_all: return "explains-all";
    case CauseConfidence::confirmed: return "confirmed";
    case CauseConfidence::closest: return "closest";
    case CauseConfidence::not_identified: return "not-identified";
  }
  return "?";
}

namespace detail {
namespace {

// Kinds that say where the fault is, not what it is.
bool locates_only(BugKind k) { return k == BugKind::output_error_term || k == BugKind::backward_step; }

std::string layer_at(const VerifyResult& r) {
  return r.fault_layer ? "layers[" + std::to_string(*r.fault_layer) + "]" : std::string("a layer");
}

// Where the fault is, as the localisation found it.
std::string fault_sentence(const VerifyResult& r) {
  switch (r.fault) {
    case FaultLocation::forward: return "the forward pass differs (outputs or loss)";
    case FaultLocation::output_error_term:
      return "the fault is in the output error term δ_L (the backward steps are consistent with it)";
    case FaultLocation::backward_step: return "the fault is in the backward step through " + layer_at(r);
    case FaultLocation::weight_gradient: return "the fault is in the weight gradient of " + layer_at(r);
    case FaultLocation::bias_gradient: return "the fault is in the bias gradient of " + layer_at(r);
    case FaultLocation::layer_gradients:
      return "the weight and bias gradients of " + layer_at(r) + " do not fit one δ";
    case FaultLocation::none:
    case FaultLocation::undetermined: break;
  }
  return "the gradients differ where the localisation cannot place the fault";
}

double evidence_value(const Signature& s, const char* label, double otherwise) {
  for (const Evidence& e : s.evidence)
    if (e.label == label) return e.value;
  return otherwise;
}

// Compared entries: agree or disagree (kinks and non-finite values left out).
std::size_t compared_entries(const VerifyResult& r) {
  std::size_t n = 0;
  for (const Entry& e : r.gradients.entries)
    if (e.verdict == Verdict::agree || e.verdict == Verdict::disagree) ++n;
  return n;
}

// A named signature: hypotheses carry their entry counts; the fits (scales,
// per-sample weights, weight decay, zeroed biases) and the direct readings
// (shapes, non-finite values) hold for every tensor they name by construction.
Cause named_cause(const Signature& s, const VerifyResult& r) {
  Cause c;
  c.kind = s.kind;
  c.statement = s.message;
  const std::size_t n = compared_entries(r);
  c.compared = static_cast<std::size_t>(evidence_value(s, entries_compared_label, static_cast<double>(n)));
  c.explained = static_cast<std::size_t>(evidence_value(s, entries_explained_label, static_cast<double>(c.compared)));
  c.confidence = c.explained == c.compared ? CauseConfidence::explains_all : CauseConfidence::closest;
  return c;
}

// The fits that are not hypotheses, as they are ruled out.
const char* const fits_ruled_out[] = {"one scale for every tensor", "one weight per sample", "one scale per tensor",
                                      "λW added to dW (weight decay)"};

}  // namespace

Cause find_cause(const VerifyContext& ctx, const VerifyResult& r) {
  for (const Signature& s : r.signatures)
    if (s.severity == Severity::error && !locates_only(s.kind)) return named_cause(s, r);
  Cause c;
  c.compared = compared_entries(r);
  const std::vector<HypothesisScore> scores = hypothesis_scores(ctx, r);
  const HypothesisScore* best = nullptr;
  for (const HypothesisScore& h : scores) {
    if (h.fit.shown == 0) {
      c.ruled_out.push_back(h.label);
      continue;
    }
    if (!best || h.fit.explained > best->fit.explained) best = &h;
  }
  if (ctx.usable.any() && ctx.claimed_finite)
    for (const char* f : fits_ruled_out) c.ruled_out.push_back(f);
  if (best) {
    c.confidence = CauseConfidence::closest;
    c.kind = best->kind;
    c.explained = best->fit.explained;
    c.statement = "closest hypothesis: " + best->message + " — it reproduces " + std::to_string(c.explained) +
                  " of the " + std::to_string(best->fit.compared) + " compared entries, not all; " + fault_sentence(r);
    c.compared = best->fit.compared;
    return c;
  }
  c.statement = "not identified — " + fault_sentence(r) + "; no mistake of the catalogue reproduces a "
                                                                 "disagreeing entry";
  return c;
}

}  // namespace detail
}  // namespace gradcheck
