// Report adapter of a verification (verify_section.hpp).
#include <gradcheck/reports/check_section.hpp>
#include <gradcheck/reports/format.hpp>
#include <gradcheck/reports/verify_section.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace gradcheck::reports {
namespace {

using nlohmann::json;

std::string num(double v, int digits = 9) { return format_number(v, digits); }
std::string err(double v) { return format_number(v, 2); }

Verdict verdict_of(gradcheck::Verdict v, bool note) {
  switch (v) {
    case gradcheck::Verdict::agree: return Verdict::agree;
    case gradcheck::Verdict::disagree: return note ? Verdict::note : Verdict::disagree;
    case gradcheck::Verdict::inconclusive_kink: return Verdict::inconclusive_kink;
    case gradcheck::Verdict::non_finite: return Verdict::non_finite;
  }
  return Verdict::none;
}

std::size_t layer_count(const VerifyResult& r) {
  std::size_t n = r.chain.recovered.size();
  for (const TensorSummary& t : r.gradients.tensors) n = std::max(n, static_cast<std::size_t>(t.layer) + 1);
  return n;
}

std::string layer_name(std::size_t l, std::size_t L) {
  return "layers[" + std::to_string(l) + "]" + (l + 1 == L ? " (the output layer)" : "");
}

// The one-line verdict, shared by the summary and the first paragraph.
std::string headline(const VerifyResult& r) {
  const std::size_t L = layer_count(r);
  const std::string at = r.fault_layer ? layer_name(*r.fault_layer, L) : "?";
  switch (r.status) {
    case VerifyStatus::declined: return "declined: " + r.declined_message.value_or("");
    case VerifyStatus::agree: return "every value agrees with the reference";
    case VerifyStatus::notes: return "agrees, with notes (not bugs)";
    case VerifyStatus::diverge: break;
  }
  if (r.malformed) return "the reply is malformed: " + *r.malformed;
  switch (r.fault) {
    case FaultLocation::forward: return "the forward pass differs (outputs or loss)";
    case FaultLocation::output_error_term:
      return "wrong gradients: the fault is in the output error term δ_L (the backward steps are consistent with it)";
    case FaultLocation::backward_step: return "wrong gradients: the backward step through " + at + " is wrong";
    case FaultLocation::weight_gradient: return "wrong gradients: the weight gradient of " + at + " is wrong";
    case FaultLocation::bias_gradient: return "wrong gradients: the bias gradient of " + at + " is wrong";
    case FaultLocation::layer_gradients:
      return "wrong gradients: the weight and bias gradients of " + at + " do not fit one δ";
    case FaultLocation::none:
    case FaultLocation::undetermined: break;
  }
  return "wrong gradients";
}

// ---------------------------------------------------------------------------
// report.json

json matrix_rows_per_sample(const Matrix<double>& m) {  // units × samples → one row per sample
  json rows = json::array();
  for (Index s = 0; s < m.cols(); ++s) {
    json row = json::array();
    for (Index k = 0; k < m.rows(); ++k) row.push_back(json_number(m(k, s)));
    rows.push_back(std::move(row));
  }
  return rows;
}

// Forward rows in exactly the format of the gradients' entries.
json entries_json(const std::vector<Entry>& entries) {
  CheckResult rows;
  rows.entries = entries;
  return to_json(rows).at("entries");
}

json consistency_json(const LayerConsistency& c) {
  return {{"layer", c.layer},
          {"weights_error", json_number(c.weights_error)},
          {"biases_error", json_number(c.biases_error)},
          {"tolerance", json_number(c.tolerance)},
          {"weights_consistent", c.weights_consistent},
          {"biases_consistent", c.biases_consistent}};
}

json recovered_json(const RecoveredDelta& d) {
  return {{"layer", d.layer},
          {"how", to_string(d.how)},
          {"delta", matrix_rows_per_sample(d.delta)},
          {"condition", json_number(d.condition)},
          {"residual_tested", d.residual_tested},
          {"weights_residual", json_number(d.weights_residual)},
          {"biases_residual", json_number(d.biases_residual)}};
}

json optional_index(const std::optional<std::size_t>& i) { return i ? json(*i) : json(nullptr); }

json forward_json(const ForwardCheck& f) {
  return {{"outputs_sent", f.outputs_sent},
          {"loss_sent", f.loss_sent},
          {"outputs_shape_problem", f.outputs_shape_problem ? json(*f.outputs_shape_problem) : json(nullptr)},
          {"verdict", to_string(f.verdict)},
          {"reference_outputs", matrix_rows_per_sample(f.reference_outputs)},
          {"reference_loss", json_number(f.reference_loss)},
          {"worst_relative_error", json_number(f.worst_relative_error)},
          {"within_precision", f.within_precision ? json(to_string(*f.within_precision)) : json(nullptr)},
          {"entries", entries_json(f.entries)}};
}

json chain_json(const ChainConsistency& c) {
  json layers = json::array(), steps = json::array(), recovered = json::array();
  for (const auto& l : c.layers) layers.push_back(consistency_json(l));
  for (const auto& s : c.steps) steps.push_back(s ? consistency_json(*s) : json(nullptr));
  for (const auto& d : c.recovered) recovered.push_back(recovered_json(d));
  return {{"status", to_string(c.status)},
          {"output", recovered_json(c.output)},
          {"reference_output_delta", matrix_rows_per_sample(c.reference_output_delta)},
          {"layers", layers},
          {"recovered", recovered},
          {"steps", steps}};
}

json ratios_json(const std::vector<TensorRatio>& ratios) {
  json out = json::array();
  for (const TensorRatio& t : ratios)
    out.push_back({{"layer", t.layer},
                   {"tensor", t.biases ? "biases" : "weights"},
                   {"defined", t.defined},
                   {"ratio", json_number(t.ratio)},
                   {"residual", json_number(t.residual)}});
  return out;
}


json update_json(const UpdateEffect& u) {
  return {{"computed", u.computed},
          {"learning_rate", json_number(u.learning_rate)},
          {"outputs_before", matrix_rows_per_sample(u.outputs_before)},
          {"outputs_after_claimed", matrix_rows_per_sample(u.outputs_after_claimed)},
          {"outputs_after_reference", matrix_rows_per_sample(u.outputs_after_reference)},
          {"loss_before", json_number(u.loss_before)},
          {"loss_after_claimed", json_number(u.loss_after_claimed)},
          {"loss_after_reference", json_number(u.loss_after_reference)},
          {"cosine", json_number(u.cosine)}};
}

}  // namespace

json signatures_json(const std::vector<Signature>& signatures) {
  json sigs = json::array();
  for (const Signature& s : signatures) {
    json ev = json::array();
    for (const Evidence& e : s.evidence) ev.push_back({{"label", e.label}, {"value", json_number(e.value)}});
    sigs.push_back({{"kind", to_string(s.kind)},
                    {"severity", severity_word(s)},
                    {"finding", s.message},
                    {"layers", s.layers},
                    {"evidence", ev},
                    {"fix", s.fix}});
  }
  return sigs;
}

std::string confidence_words(const Cause& c) {
  const std::string entries = c.compared == 1 ? " compared entry" : " compared entries";
  const std::string of = std::to_string(c.explained) + " of " + std::to_string(c.compared) + entries;
  switch (c.confidence) {
    case CauseConfidence::explains_all:
      return c.compared ? (c.compared == 1 ? "explains the 1" : "explains all " + std::to_string(c.compared)) + entries
                        : "explains the reply";
    case CauseConfidence::confirmed: return "confirmed by experiment";
    case CauseConfidence::closest: return "closest hypothesis, reproduces " + of;
    case CauseConfidence::not_identified: return "not identified";
  }
  return "?";
}

json cause_json(const Cause& c) {
  json experiments = json::array();
  for (const Experiment& e : c.experiments)
    experiments.push_back({{"name", e.name},
                           {"question", e.question},
                           {"cases_sent", e.cases_sent},
                           {"finding", e.finding},
                           {"confirms_cause", e.confirms_cause}});
  return {{"confidence", to_string(c.confidence)},
          {"kind", c.kind ? json(to_string(*c.kind)) : json(nullptr)},
          {"statement", c.statement},
          {"entries_explained", c.explained},
          {"entries_compared", c.compared},
          {"ruled_out", c.ruled_out},
          {"experiments", experiments}};
}

void add_cause(Section& s, const Cause& c) {
  const Severity sev = c.confidence == CauseConfidence::not_identified || c.confidence == CauseConfidence::closest
                           ? Severity::warning
                           : Severity::error;
  s.add(Paragraph{sev, "Cause (" + confidence_words(c) + "): " + c.statement});
  for (const Experiment& e : c.experiments)
    s.add(Paragraph{Severity::info, "Experiment, " + e.question + " (" + std::to_string(e.cases_sent) + " case" +
                                        (e.cases_sent == 1 ? "" : "s") + "): " + e.finding});
  if (!c.ruled_out.empty()) {
    std::string list;
    for (const std::string& r : c.ruled_out) list += (list.empty() ? "" : "; ") + r;
    s.add(Paragraph{Severity::info, "Ruled out (no disagreeing entry reproduced): " + list + "."});
  }
}

Status status_of(const VerifyResult& r) {
  switch (r.status) {
    case VerifyStatus::agree:
    case VerifyStatus::declined: return Status::pass;
    case VerifyStatus::notes: return Status::notes;
    case VerifyStatus::diverge: return Status::fail;
  }
  return Status::error;
}

nlohmann::json to_json(const VerifyResult& r) {
  json j = {{"type", "verify"}, {"status", to_string(r.status)}};
  j["declined_message"] = r.declined_message ? json(*r.declined_message) : json(nullptr);
  j["malformed"] = r.malformed ? json(*r.malformed) : json(nullptr);
  j["cause"] = r.cause ? cause_json(*r.cause) : json(nullptr);
  if (r.status == VerifyStatus::declined || r.malformed) return j;

  j["forward"] = forward_json(r.forward);
  j["gradients"] = to_json(r.gradients);
  j["gradients"].erase("type");  // the CheckResult itself, nested
  j["origin_layer"] = optional_index(r.origin_layer);
  j["fault"] = to_string(r.fault);
  j["fault_layer"] = optional_index(r.fault_layer);
  j["chain"] = chain_json(r.chain);
  j["ratios"] = ratios_json(r.ratios);
  j["signatures"] = signatures_json(r.signatures);
  j["cause"] = r.cause ? cause_json(*r.cause) : json(nullptr);
  j["worst"] = r.worst;
  j["update"] = update_json(r.update);
  return j;
}

namespace {

// A reply that was declined or malformed: said in one paragraph and one testcase. False for any other reply.
bool add_unusable_reply(Section& s, const VerifyResult& r, const std::string& suite) {
  if (r.status == VerifyStatus::declined) {
    s.add(Paragraph{Severity::info, "The implementation declined this case (\"" + r.declined_message.value_or("") +
                                        "\"): counted as declined, not as a failure."});
    s.testcases.push_back({suite, "reply", Outcome::skip, "declined: " + r.declined_message.value_or(""), "", 0});
    return true;
  }
  if (r.malformed) {
    s.add(Paragraph{Severity::error, "The reply is malformed: " + *r.malformed});
    s.testcases.push_back({suite, "reply", Outcome::fail, "malformed reply", *r.malformed, 0});
    return true;
  }
  return false;
}

// The forward pass: the files, then each value against the reference (the first 8 outputs of them).
KeyValues forward_facts(const VerifyResult& r, const VerifySectionOptions& o) {
  KeyValues facts;
  facts.caption = "Forward pass";
  if (!o.case_name.empty()) facts.rows.push_back({"case", o.case_name});
  if (!o.reply_name.empty()) facts.rows.push_back({"reply", o.reply_name});
  if (r.forward.outputs_shape_problem) facts.rows.push_back({"outputs", *r.forward.outputs_shape_problem});
  std::size_t shown = 0;
  for (const Entry& e : r.forward.entries) {
    if (e.tensor == TensorKind::outputs && shown++ >= 8) continue;
    facts.rows.push_back({entry_name(e), num(e.analytic) + " (reference " + num(e.numeric) + ", relative error " +
                                             err(e.relative_error) + ", " + to_string(e.verdict) + ")"});
  }
  if (!r.forward.outputs_sent) facts.rows.push_back({"outputs", "not sent"});
  if (!r.forward.loss_sent) facts.rows.push_back({"loss", "not sent (reference " + num(r.forward.reference_loss, 6) + ")"});
  if (r.forward.within_precision)
    facts.rows.push_back({"within precision", std::string("every difference is within ") +
                                                  to_string(*r.forward.within_precision) +
                                                  "'s rounding: the forward pass agrees"});
  return facts;
}

// Chain consistency of a diverging reply: a table per layer, or one sentence when there are no layers to show.
void add_chain(Section& s, const VerifyResult& r) {
  if (r.status != VerifyStatus::diverge) return;
  if (r.chain.layers.empty()) {
    s.add(Paragraph{Severity::info, std::string("Chain consistency: ") + to_string(r.chain.status) + "."});
    return;
  }
  Table t;
  t.caption = std::string("Chain consistency: ") + to_string(r.chain.status) +
              " — earlier layers predicted from the implementation's own output delta (" +
              to_string(r.chain.output.how) + ") through the reference forward pass";
  t.header = {"layer", "weights distance", "biases distance", "follows"};
  for (const LayerConsistency& c : r.chain.layers)
    t.rows.push_back({"layers[" + std::to_string(c.layer) + "]", Cell::number(c.weights_error, 2),
                      Cell::number(c.biases_error, 2),
                      Cell(c.consistent() ? "yes" : "no", c.consistent() ? Verdict::agree : Verdict::disagree)});
  s.add(std::move(t));
}

// Each signature that fits: its finding, then its evidence.
void add_signatures(Section& s, const VerifyResult& r) {
  for (const Signature& sig : r.signatures) {
    s.add(Paragraph{sig.severity, std::string(to_string(sig.kind)) + severity_tag(sig) + ": " + sig.message});
    KeyValues ev;
    ev.caption = std::string("Evidence: ") + to_string(sig.kind);
    for (const Evidence& e : sig.evidence) ev.rows.push_back({e.label, num(e.value)});
    if (!sig.fix.empty()) ev.rows.push_back({"fix", sig.fix});
    if (!ev.rows.empty()) s.add(std::move(ev));
  }
  if (r.status == VerifyStatus::diverge && r.signatures.empty())
    s.add(Paragraph{Severity::warning, "None of the known bugs fits the numbers."});
}

// Per tensor: the worst relative error, one bar each.
BarChart tensor_bar_chart(const VerifyResult& r, bool notes) {
  BarChart chart;
  chart.title = "Worst relative error per tensor";
  chart.y_label = "relative error";
  chart.log_scale = true;
  chart.threshold = r.gradients.summary.tolerances.rtol;
  chart.threshold_label = "rtol";
  for (const TensorSummary& t : r.gradients.tensors) {
    chart.labels.push_back(tensor_name(t.layer, t.tensor));
    chart.values.push_back(t.shape_mismatch ? std::nan("") : t.worst_relative_error);
    Verdict v = Verdict::agree;
    if (t.counts.inconclusive_kink) v = Verdict::inconclusive_kink;
    if (t.counts.disagree) v = notes ? Verdict::note : Verdict::disagree;
    if (t.counts.non_finite || t.shape_mismatch) v = Verdict::non_finite;
    chart.verdicts.push_back(v);
  }
  return chart;
}

// Per weight tensor: every entry's relative error (pooled when large; a conv layer's kernels
// up to 128 × 128 cells never), none when no entry of it was compared.
void add_heatmaps(Section& s, const VerifyResult& r, const VerifySectionOptions& o, bool notes) {
  for (const TensorSummary& t : r.gradients.tensors) {
    if (t.tensor != TensorKind::weights || t.shape_mismatch || t.rows < 1 || t.cols < 1) continue;
    Heatmap h = weights_heatmap_frame(t);
    h.threshold = r.gradients.summary.tolerances.rtol;
    bool any = false;
    for (const Entry& e : r.gradients.entries) {
      if (e.layer != t.layer || e.tensor != t.tensor || e.row >= t.rows || e.col >= t.cols) continue;
      const std::size_t k = heatmap_cell(t, h, e.row, e.col);
      h.values[k] = e.relative_error;
      h.verdicts[k] = verdict_of(e.verdict, notes);
      any = true;
    }
    if (!any) continue;
    const bool kernels = h.block_rows > 0;
    Heatmap pooled = max_pool(h, std::max<std::size_t>(o.heatmap_max_rows, kernels ? 128 : 0),
                              std::max<std::size_t>(o.heatmap_max_cols, kernels ? 128 : 0));
    if (kernels) pooled.caption = "One block per kernel: the block in row o, column i is the kernel from input channel i "
                                  "to output channel o.";
    const std::string pooled_text = pooled_caption(h, pooled);
    if (!pooled_text.empty()) pooled.caption += (pooled.caption.empty() ? "" : " ") + pooled_text;
    s.add(std::move(pooled));
  }
}

void add_worst_table(Section& s, const VerifyResult& r, const VerifySectionOptions& o, bool notes) {
  if (r.worst.empty()) return;
  Table t;
  t.caption = "Worst entries";
  t.header = {"entry", "claimed", "reference", "relative error", "verdict"};
  for (std::size_t i : r.worst) {
    if (t.rows.size() >= o.worst_rows) break;
    const Entry& e = r.gradients.entries[i];
    const Verdict v = verdict_of(e.verdict, notes);
    t.rows.push_back({entry_name(r.gradients, e), Cell::number(e.analytic, 9), Cell::number(e.numeric, 9),
                      Cell::number(e.relative_error, 2, v), Cell(to_string(e.verdict), v)});
  }
  s.add(std::move(t));
}

// The first 4 values of m, "…" when there are more.
std::string first_outputs(const Matrix<double>& m) {
  std::string x;
  const Index n = std::min<Index>(m.size(), 4);
  for (Index i = 0; i < n; ++i) x += (i ? ", " : "") + format_number(m.data()[i], 8);
  return m.size() > n ? x + ", …" : x;
}

// What one training step does with the reply's gradients and with the correct ones.
void add_update_effect(Section& s, const UpdateEffect& u) {
  if (!u.computed) return;
  Table t;
  t.caption = "Update effect of one step θ −= " + format_number(u.learning_rate) + "·gradient on this batch";
  t.header = {"step", "outputs", "loss"};
  t.rows.push_back({"before", first_outputs(u.outputs_before), Cell::number(u.loss_before, 6)});
  const bool rises = u.loss_after_claimed > u.loss_before;
  t.rows.push_back({"with the reply's gradients", first_outputs(u.outputs_after_claimed),
                    Cell::number(u.loss_after_claimed, 6, rises ? Verdict::disagree : Verdict::none)});
  t.rows.push_back({"with the correct gradients", first_outputs(u.outputs_after_reference),
                    Cell::number(u.loss_after_reference, 6)});
  s.add(std::move(t));
  s.add(Paragraph{u.cosine < 0 ? Severity::warning : Severity::info,
                  "cos ∠(reply, correct) = " + format_number(u.cosine, 3) +
                      (u.cosine < 0 ? ": the reply's step points uphill." : ".")});
}

// JUnit: the forward pass, then one testcase per parameter tensor.
void add_testcases(Section& s, const VerifyResult& r, const std::string& suite, bool notes) {
  if (r.forward.outputs_sent || r.forward.loss_sent) {
    const bool ok = (r.forward.verdict == gradcheck::Verdict::agree || r.forward.within_precision) &&
                    !r.forward.outputs_shape_problem;
    s.testcases.push_back({suite, "forward", ok ? Outcome::pass : Outcome::fail,
                           "worst relative error " + err(r.forward.worst_relative_error), "", 0});
  }
  for (const TensorSummary& t : r.gradients.tensors) {
    TestCase tc{suite, tensor_name(t.layer, t.tensor), Outcome::pass, "", "", 0};
    if (t.shape_mismatch) {
      tc.outcome = Outcome::fail;
      tc.message = "shape mismatch";
    } else {
      const bool bad = t.counts.non_finite > 0 || (t.counts.disagree > 0 && !notes);
      tc.outcome = bad ? Outcome::fail : Outcome::pass;
      tc.message = std::to_string(t.counts.disagree) + " of " + std::to_string(t.counts.total()) +
                   " entries disagree, worst relative error " + err(t.worst_relative_error) +
                   (notes && t.counts.disagree ? " (a note: " + headline(r) + ")" : "");
    }
    for (const Signature& sig : r.signatures)
      tc.details += std::string(to_string(sig.kind)) + ": " + sig.message + "\n";
    s.testcases.push_back(std::move(tc));
  }
}

}  // namespace

Section verify_section(const VerifyResult& r, const VerifySectionOptions& o) {
  Section s;
  s.heading = "Verification" + (o.reply_name.empty() ? std::string() : " of " + o.reply_name);
  s.status = status_of(r);
  s.summary = headline(r);
  const std::string suite = "verify";
  if (add_unusable_reply(s, r, suite)) return s;

  const std::size_t L = layer_count(r);
  const bool notes = r.status == VerifyStatus::notes;
  const Severity verdict_severity =
      r.status == VerifyStatus::diverge ? Severity::error : notes ? Severity::note : Severity::info;
  s.add(Paragraph{verdict_severity, headline(r) + "."});
  if (r.cause) add_cause(s, *r.cause);
  s.add(forward_facts(r, o));
  if (r.origin_layer)
    s.add(Paragraph{Severity::error, "Origin layer: " + layer_name(*r.origin_layer, L) +
                                           ", the first layer walking back from the output whose gradients disagree."});
  add_chain(s, r);
  add_signatures(s, r);
  if (!r.gradients.tensors.empty()) s.add(tensor_bar_chart(r, notes));
  add_heatmaps(s, r, o, notes);
  add_worst_table(s, r, o, notes);
  add_update_effect(s, r.update);
  add_testcases(s, r, suite, notes);
  return s;
}

void add(Report& report, const VerifyResult& r, const VerifySectionOptions& options) {
  report.add_section(verify_section(r, options));
  report.add_result(to_json(r));
}

}  // namespace gradcheck::reports
