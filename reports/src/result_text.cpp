// Plain text of verify and check results (text.hpp): the same data as
// report.json, laid out for a terminal.
#include <gradcheck/reports/text.hpp>
#include <gradcheck/reports/check_section.hpp>
#include <gradcheck/reports/verify_section.hpp>

#include <gradcheck/reports/format.hpp>

#include "detail/text.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

namespace gradcheck::reports {

namespace {

using detail::left;
using detail::right;

std::string fmt_value(double v) { return format_number(v, 9); }
std::string fmt_error(double v) { return format_number(v, 2); }
std::string out_value(double v) { return format_number(v, 8); }
std::string loss_value(double v) { return format_number(v, 6); }


std::string layer_name(std::size_t l, std::size_t L) {
  std::string s = "layers[" + std::to_string(l) + "]";
  if (l + 1 == L) s += " (the output layer)";
  return s;
}

std::string forward_name(const Entry& e) {
  if (e.tensor == TensorKind::loss) return "loss";
  return "outputs[" + std::to_string(e.col) + "][" + std::to_string(e.row) + "]";  // JSON: one row per sample
}

// "opposite sign, 3.27× the magnitude" / "2× the reference"
std::string relation(double claimed, double reference) {
  if (reference == 0 || !std::isfinite(claimed)) return "";
  const double r = claimed / reference;
  if (r < 0) return " (opposite sign, " + format_number(-r, 3) + "× the magnitude)";
  if (std::abs(r - 1) > 1e-3) return " (" + format_number(r, 3) + "× the reference)";
  return "";
}

void print_entries_table(std::ostream& out, const CheckResult& r, const std::vector<const Entry*>& rows,
                         const char* tested) {
  std::size_t w = 5;
  for (const Entry* e : rows) w = std::max(w, entry_name(r, *e).size());
  out << "  " << left("entry", w) << "  " << right(tested, 17) << "  " << right("reference", 17) << "  "
      << right("rel.err", 9) << "  verdict\n";
  for (const Entry* e : rows)
    out << "  " << left(entry_name(r, *e), w) << "  " << right(format_number(e->analytic, 9), 17) << "  "
        << right(format_number(e->numeric, 9), 17) << "  " << right(format_number(e->relative_error, 2), 9) << "  "
        << to_string(e->verdict) << "\n";
}

std::string verdict_line(const VerifyResult& r, const TextNames& names, std::size_t L) {
  const std::string& reply = names.reply_name;
  switch (r.status) {
    case VerifyStatus::declined:
      return "DECLINED: the implementation declined this case (\"" + r.declined_message.value_or("") +
             "\"): counted as declined, not as a failure";
    case VerifyStatus::agree: return "AGREE: every value in " + reply + " matches the reference";
    case VerifyStatus::notes:
      return "AGREE WITH NOTES: " + reply + " matches the reference except for the notes below (not bugs; --strict fails on them)";
    case VerifyStatus::diverge: break;
  }
  if (r.malformed) return "DIVERGES: the reply is malformed: " + *r.malformed;
  std::string s = "DIVERGES: " + reply + " ";
  const std::string at = r.fault_layer ? layer_name(*r.fault_layer, L) : std::string("?");
  switch (r.fault) {
    case FaultLocation::forward: return s + "computes a different forward pass (outputs or loss)";
    case FaultLocation::output_error_term:
      return s + "has wrong gradients; the fault is in the output error term δ_L (the backward steps are consistent with it)";
    case FaultLocation::backward_step: return s + "has wrong gradients; the backward step through " + at + " is wrong";
    case FaultLocation::weight_gradient: return s + "has wrong gradients; the weight gradient of " + at + " is wrong";
    case FaultLocation::bias_gradient: return s + "has wrong gradients; the bias gradient of " + at + " is wrong";
    case FaultLocation::layer_gradients:
      return s + "has wrong gradients; the weight and bias gradients of " + at + " do not fit one δ";
    case FaultLocation::none:
    case FaultLocation::undetermined: break;
  }
  return s + "has wrong gradients";
}

void print_forward(std::ostream& out, const ForwardCheck& f) {
  if (!f.outputs_sent && !f.loss_sent) {
    out << "forward: not checked (the reply sends neither outputs nor loss); reference loss "
        << loss_value(f.reference_loss) << "\n";
    return;
  }
  if (f.outputs_shape_problem) out << "forward: outputs have the wrong shape: " << *f.outputs_shape_problem << "\n";
  std::vector<const Entry*> outs;
  const Entry* l = nullptr;
  for (const Entry& e : f.entries) {
    if (e.tensor == TensorKind::loss) l = &e;
    else outs.push_back(&e);
  }
  if (!outs.empty()) {
    std::size_t bad = 0;
    const Entry* worst = outs.front();
    for (const Entry* e : outs) {
      if (e->verdict != gradcheck::Verdict::agree) ++bad;
      if (!(e->relative_error <= worst->relative_error)) worst = e;
    }
    const std::string within = f.within_precision ? std::string(" within ") + to_string(*f.within_precision) + "'s rounding" : "";
    if (bad > 0 && f.within_precision)
      out << "forward: outputs agree" << within << " (" << bad << " of " << outs.size() << " values differ; worst "
          << forward_name(*worst) << " = " << fmt_value(worst->analytic) << " where the reference is "
          << fmt_value(worst->numeric) << ", relative error " << fmt_error(worst->relative_error) << ")\n";
    else if (bad == 0 && outs.size() == 1)
      out << "forward: output agrees: " << out_value(worst->analytic) << " (reference " << fmt_value(worst->numeric)
          << ", relative error " << fmt_error(worst->relative_error) << ")\n";
    else if (bad == 0)
      out << "forward: outputs agree (" << outs.size() << " values, worst relative error "
          << fmt_error(worst->relative_error) << ")\n";
    else
      out << "forward: outputs DIFFER: " << bad << " of " << outs.size() << " values; worst " << forward_name(*worst)
          << " = " << fmt_value(worst->analytic) << " where the reference is " << fmt_value(worst->numeric)
          << " (relative error " << fmt_error(worst->relative_error) << ")\n";
  } else if (!f.outputs_shape_problem) {
    out << "forward: outputs not sent\n";
  }
  const std::string loss_verdict =
      l && l->verdict == gradcheck::Verdict::agree ? "agrees: "
      : f.within_precision ? std::string("agrees within ") + to_string(*f.within_precision) + "'s rounding: "
                           : "DIFFERS: ";
  if (l)
    out << "forward: loss " << loss_verdict << loss_value(l->analytic)
        << " (reference " << fmt_value(l->numeric) << ", relative error " << fmt_error(l->relative_error) << ")\n";
  else
    out << "forward: loss not sent (reference " << loss_value(f.reference_loss) << ")\n";
}

void print_origin(std::ostream& out, const VerifyResult& r, std::size_t L) {
  if (!r.origin_layer) return;
  const std::size_t o = *r.origin_layer;
  out << "origin layer: " << layer_name(o, L)
      << " — the first layer, walking back from the output, whose gradients disagree\n";
  // Its worst entry, bias first when it disagrees (it is δ itself for batch 1).
  const Entry* worst = nullptr;
  for (const Entry& e : r.gradients.entries) {
    if (static_cast<std::size_t>(e.layer) != o || e.verdict == gradcheck::Verdict::agree) continue;
    const bool better = !worst || (e.tensor == TensorKind::biases && worst->tensor != TensorKind::biases) ||
                        (e.tensor == worst->tensor && e.absolute_error > worst->absolute_error);
    if (better) worst = &e;
  }
  if (worst)
    out << "  " << entry_name(r.gradients, *worst) << " = " << fmt_value(worst->analytic) << " where the reference is "
        << fmt_value(worst->numeric) << relation(worst->analytic, worst->numeric) << "\n";
}

void print_chain(std::ostream& out, const VerifyResult& r, std::size_t L) {
  const ChainConsistency& c = r.chain;
  const std::string out_layer = "layers[" + std::to_string(L - 1) + "]";
  std::string how;
  switch (c.output.how) {
    case DeltaRecovery::exact: how = "= its biases, exact for a batch of 1"; break;
    case DeltaRecovery::solved: how = "solved from its weights and biases, condition " + fmt_error(c.output.condition); break;
    case DeltaRecovery::from_weights: how = "solved from its weights alone (its biases are zero or missing)"; break;
    default: break;
  }
  switch (c.status) {
    case ChainConsistency::Status::not_applicable:
      out << "chain consistency: not applicable (a single layer has no earlier layer to test)\n";
      break;
    case ChainConsistency::Status::undetermined:
      out << "chain consistency: UNDETERMINED — your output delta δ_L cannot be recovered from " << out_layer;
      if (c.output.how == DeltaRecovery::undetermined)
        out << " (dW = δ a_prevᵀ and db = δ·1 do not determine δ for this batch: more samples than equations, "
               "or samples with the same activations)";
      else
        out << " (shapes differ or values are not finite)";
      out << "\n";
      break;
    case ChainConsistency::Status::consistent:
    case ChainConsistency::Status::inconsistent: {
      out << "chain consistency: " << (c.status == ChainConsistency::Status::consistent ? "CONSISTENT" : "INCONSISTENT")
          << " — your own δ_L (from " << out_layer << ", " << how << ")";
      if (c.output.delta.size() == 1) out << " = " << fmt_value(c.output.delta(0, 0));
      out << ", backpropagated through the reference forward pass:\n";
      for (const LayerConsistency& lc : c.layers)
        out << "  layers[" << lc.layer << "]: weights " << (lc.weights_consistent ? "follow" : "do NOT follow")
            << " (distance " << fmt_error(lc.weights_error) << "), biases "
            << (lc.biases_consistent ? "follow" : "do NOT follow") << " (distance " << fmt_error(lc.biases_error)
            << ")\n";
      if (c.status == ChainConsistency::Status::consistent && r.fault == FaultLocation::output_error_term)
        out << "  your earlier layers are consistent with your own output delta: the backward steps are right, "
               "the fault is in the output error term\n";
      break;
    }
  }
  // Single steps, when the whole chain does not hold.
  if (c.status == ChainConsistency::Status::inconsistent || r.fault == FaultLocation::backward_step ||
      r.fault == FaultLocation::weight_gradient || r.fault == FaultLocation::bias_gradient ||
      r.fault == FaultLocation::layer_gradients) {
    for (std::size_t k = 0; k < c.steps.size(); ++k) {
      const std::size_t from = L - 1 - k;
      if (!c.steps[k]) {
        out << "  step layers[" << from << "] → layers[" << from - 1 << "]: undetermined (δ of layers[" << from
            << "] not recoverable)\n";
        continue;
      }
      const LayerConsistency& s = *c.steps[k];
      out << "  step layers[" << from << "] → layers[" << from - 1 << "]: "
          << (s.consistent() ? "consistent" : "INCONSISTENT") << " (weights " << fmt_error(s.weights_error)
          << ", biases " << fmt_error(s.biases_error) << ")\n";
    }
  }
  if (r.fault_layer && (r.fault == FaultLocation::weight_gradient || r.fault == FaultLocation::bias_gradient ||
                        r.fault == FaultLocation::layer_gradients)) {
    for (const RecoveredDelta& rd : c.recovered)
      if (rd.layer == *r.fault_layer && rd.residual_tested)
        out << "  layers[" << rd.layer << "] own consistency: dW vs δ a_prevᵀ " << fmt_error(rd.weights_residual)
            << ", db vs δ·1 " << fmt_error(rd.biases_residual) << "\n";
  }
}

// The cause block: the cause, its confidence, the experiments, what was ruled out.
void print_cause(std::ostream& out, const Cause& c) {
  out << "cause: " << c.statement << "\n";
  out << "  confidence: " << confidence_words(c) << "\n";
  for (const Experiment& e : c.experiments)
    out << "  experiment, " << e.question << " (" << e.cases_sent << (e.cases_sent == 1 ? " case" : " cases")
        << "): " << e.finding << "\n";
  if (c.ruled_out.empty()) return;
  out << "  ruled out (no disagreeing entry reproduced): ";
  for (std::size_t i = 0; i < c.ruled_out.size(); ++i) out << (i ? "; " : "") << c.ruled_out[i];
  out << "\n";
}

void print_signatures(std::ostream& out, const VerifyResult& r) {
  if (r.signatures.empty()) {
    if (r.status == VerifyStatus::diverge) out << "signatures: none of the known bugs fits the numbers\n";
    return;
  }
  out << "signatures:\n";
  for (const Signature& s : r.signatures) {
    out << "  - " << to_string(s.kind) << severity_tag(s) << ": " << s.message << "\n";
    for (const Evidence& e : s.evidence) out << "      " << e.label << ": " << fmt_value(e.value) << "\n";
    if (!s.fix.empty()) out << "      fix: " << s.fix << "\n";
  }
}

void print_update(std::ostream& out, const UpdateEffect& u) {
  if (!u.computed) return;
  auto outputs = [](const Matrix<double>& m) {
    std::string s;
    const Index n = std::min<Index>(m.size(), 4);
    for (Index i = 0; i < n; ++i) s += (i ? ", " : "") + out_value(m.data()[i]);
    if (m.size() > n) s += ", ...";
    return m.size() == 1 ? s : "[" + s + "]";
  };
  const std::string noun = u.outputs_before.size() == 1 ? "output " : "outputs ";
  out << "update effect of one step θ −= " << format_number(u.learning_rate, 6) << "·gradient on this batch:\n";
  out << "  with your gradients:   " << noun << outputs(u.outputs_before) << " → " << outputs(u.outputs_after_claimed)
      << ", loss " << loss_value(u.loss_before) << " → " << loss_value(u.loss_after_claimed)
      << (u.loss_after_claimed > u.loss_before ? " (the loss RISES)" : " (the loss falls)") << "\n";
  out << "  with the correct ones: " << noun << outputs(u.outputs_before) << " → "
      << outputs(u.outputs_after_reference) << ", loss " << loss_value(u.loss_before) << " → "
      << loss_value(u.loss_after_reference) << "\n";
  out << "  cos ∠(yours, correct) = " << format_number(u.cosine, 3)
      << (u.cosine < 0 ? " (your step points uphill)" : "") << "\n";
}

}  // namespace

std::string render_verify_text(const VerifyResult& r, const TextNames& names) {
  std::ostringstream out;
  std::size_t layers = r.chain.recovered.size();
  for (const TensorSummary& t : r.gradients.tensors) layers = std::max(layers, static_cast<std::size_t>(t.layer) + 1);
  out << verdict_line(r, names, layers) << "\n";
  if (r.status == VerifyStatus::declined || r.malformed) return out.str();
  if (r.cause) print_cause(out, *r.cause);
  out << "case: " << names.case_name << "\n";
  print_forward(out, r.forward);
  const VerdictCounts& n = r.gradients.summary.counts;
  out << "gradients: " << n.total() << " entries compared: " << n.agree << " agree, " << n.disagree << " disagree";
  if (n.inconclusive_kink) out << ", " << n.inconclusive_kink << " inconclusive at a kink";
  if (n.non_finite) out << ", " << n.non_finite << " non-finite";
  out << "\n";
  for (const CheckFinding& f : r.gradients.findings) out << "  " << to_string(f.kind) << ": " << f.message << "\n";
  print_origin(out, r, layers);
  if (r.status == VerifyStatus::diverge) print_chain(out, r, layers);
  print_signatures(out, r);
  if (!r.worst.empty()) {
    out << "worst entries:\n";
    std::vector<const Entry*> rows;
    for (std::size_t i : r.worst) rows.push_back(&r.gradients.entries[i]);
    print_entries_table(out, r.gradients, rows, "claimed");
  }
  print_update(out, r.update);
  return out.str();
}

std::string render_check_text(const CheckResult& r, const std::string& case_name) {
  std::ostringstream out;
  const VerdictCounts& n = r.summary.counts;
  out << (r.summary.passed ? "AGREE: gradcheck's own gradients match the reference on " : "DIVERGES: gradcheck's own gradients do NOT match the reference on ")
      << case_name << "\n";
  out << "method: " << to_string(r.summary.method) << ", mode " << to_string(r.summary.mode) << "; "
      << n.total() << " entries: " << n.agree << " agree, " << n.disagree << " disagree, " << n.inconclusive_kink
      << " inconclusive at a kink, " << n.non_finite << " non-finite\n";
  if (!r.summary.escape_statement.empty()) out << r.summary.escape_statement << "\n";
  for (const CheckFinding& f : r.findings) out << "  " << to_string(f.kind) << ": " << f.message << "\n";
  out << "tensors:\n";
  for (const TensorSummary& t : r.tensors)
    out << "  layers[" << t.layer << "]." << to_string(t.tensor) << " (" << shape_text(t, "×") << "): "
        << (t.passed ? "agree" : "DISAGREE") << ", worst relative error " << fmt_error(t.worst_relative_error) << "\n";
  std::vector<const Entry*> rows;
  for (const Entry& e : r.entries) rows.push_back(&e);
  std::stable_sort(rows.begin(), rows.end(),
                   [](const Entry* a, const Entry* b) { return a->relative_error > b->relative_error; });
  if (rows.size() > 5) rows.resize(5);
  if (!rows.empty()) {
    out << "worst entries:\n";
    print_entries_table(out, r, rows, "analytic");
  }
  for (const Entry& e : r.entries)
    if (e.verdict == gradcheck::Verdict::inconclusive_kink && !e.note.empty()) {
      out << "note: " << entry_name(r, e) << ": " << e.note << "\n";
      break;
    }
  return out.str();
}

}  // namespace gradcheck::reports
