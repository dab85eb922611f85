// Report adapter of a probe (probe_section.hpp).
#include <gradcheck/reports/probe_section.hpp>

#include "detail/text.hpp"

#include <gradcheck/engine/case_format.hpp>
#include <gradcheck/reports/format.hpp>
#include <gradcheck/reports/text.hpp>
#include <gradcheck/reports/verify_section.hpp>

#include <string>
#include <variant>

namespace gradcheck::reports {
namespace {

nlohmann::json exit_json(const std::optional<ExitStatus>& e) {
  if (!e) return nullptr;
  return {{"signaled", e->signaled},
          {"code", e->code},
          {"signal", e->signal},
          {"killed_by_gradcheck", e->killed_by_us},
          {"description", e->describe()}};
}

nlohmann::json counterexample_json(const Counterexample& cx) {
  return {
      {"case_index", cx.case_index},
      {"original_case", to_json(cx.original)},
      {"original_reply", cx.original_reply},
      {"minimal_case", to_json(cx.minimal)},
      {"minimal_reply", cx.minimal_reply},
      {"shrinks", cx.shrinks},
      {"shrink_queries", cx.shrink_queries},
      {"shrink_capped", cx.shrink_capped},
      {"shrink_misbehaved", cx.shrink_misbehaved},
      {"shrink_slipped", cx.shrink_slipped},
      {"status", to_string(cx.minimal_result.status)},
      {"origin_layer", cx.minimal_result.origin_layer ? nlohmann::json(*cx.minimal_result.origin_layer)
                                                       : nlohmann::json(nullptr)},
      {"fault", to_string(cx.minimal_result.fault)},
      {"signatures", signatures_json(cx.minimal_result.signatures)},
      {"cause", cx.minimal_result.cause ? cause_json(*cx.minimal_result.cause) : nlohmann::json(nullptr)},
  };
}

nlohmann::json failure_json(const Failure& f) {
  return {{"kind", to_string(f.kind)},
          {"case_index", f.case_index},
          {"case", to_json(f.input)},
          {"message", f.message},
          {"exit", exit_json(f.exit)},
          {"reply_excerpt", f.reply_excerpt},
          {"second_reply_excerpt", f.second_reply_excerpt},
          {"experiment", f.experiment},
          {"stderr_tail", f.stderr_tail}};
}

// The run: the command and its seed, what became of the cases, and how the process ended.
KeyValues run_facts(const ProbeResult& r) {
  KeyValues facts;
  facts.caption = "Run";
  facts.rows = {{"command", shell_command(r.command)},
                {"seed", std::to_string(r.seed) + " (replay with --seed " + std::to_string(r.seed) + ")"},
                {"cases sent", std::to_string(r.cases_sent) + " of " + std::to_string(r.cases_requested)},
                {"agree", std::to_string(r.agreed)},
                {"with notes", std::to_string(r.noted)},
                {"declined", std::to_string(r.declined)},
                {"diverge", std::to_string(r.diverged)},
                {"repeated, bitwise identical", std::to_string(r.repeats)},
                {"restarts", std::to_string(r.restarts)},
                {"stderr", std::to_string(r.stderr_bytes) + " bytes"}};
  if (r.final_exit) facts.rows.push_back({"at the end", r.final_exit->describe()});
  return facts;
}

// An interruption, the declined messages and the notes on cases, one paragraph each.
void add_run_paragraphs(Section& s, const ProbeResult& r) {
  if (r.interrupted)
    s.add(Paragraph{Severity::warning, "Interrupted after " + std::to_string(r.cases_sent) +
                                           " cases: these results are partial."});
  for (const auto& m : r.declined_messages) s.add(Paragraph{Severity::info, "Declined: " + m});
  for (const auto& n : r.notes)
    for (const auto& sig : n.notes)
      s.add(Paragraph{Severity::note, "Case " + std::to_string(n.case_index) + ": " + to_string(sig.kind) + ": " +
                                          sig.message});
}

// The counterexample in words and as files; the cases testcase fails with it.
void add_counterexample(Section& s, const Counterexample& cx, TestCase& cases) {
  if (cx.minimal_result.cause) add_cause(s, *cx.minimal_result.cause);
  s.add(Paragraph{Severity::error,
                  "Case " + std::to_string(cx.case_index) + " diverged (" + detail::describe_case(cx.original) + "); shrunk in " +
                      std::to_string(cx.shrinks) + " steps (" + std::to_string(cx.shrink_queries) + " queries" +
                      (cx.shrink_capped ? ", stopped at the cap on shrink steps" : "") + ") to " +
                      detail::describe_case(cx.minimal) + "."});
  for (const auto& sig : cx.minimal_result.signatures)
    s.add(Paragraph{sig.severity,
                    std::string(to_string(sig.kind)) + ": " + sig.message});
  const std::string case_text = case_to_json(cx.minimal, 2);
  s.add(Preformatted{"Minimal counterexample (counterexample.case.json)", case_text, "json"});
  s.add(Preformatted{"The implementation's reply to it (counterexample.reply.json)", cx.minimal_reply, "json"});
  cases.outcome = Outcome::fail;
  cases.message =
      "case " + std::to_string(cx.case_index) + " diverged; minimal counterexample: " + detail::describe_case(cx.minimal);
  cases.details = case_text + "\nreply: " + cx.minimal_reply;
}

// The verification of the minimal counterexample as `gradcheck verify` shows it: its charts (worst relative
// error per tensor, one heatmap per weight matrix) and one JUnit testcase per parameter tensor.
void add_counterexample_verification(Section& s, const Counterexample& cx) {
  Section v = verify_section(cx.minimal_result, {"counterexample.case.json", "counterexample.reply.json"});
  for (Block& b : v.blocks) {
    if (auto* bar = std::get_if<BarChart>(&b)) bar->title += " (minimal counterexample)";
    else if (auto* map = std::get_if<Heatmap>(&b)) map->title += " (minimal counterexample)";
    else continue;
    s.blocks.push_back(std::move(b));
  }
  for (TestCase& tc : v.testcases) {
    tc.suite = "probe.counterexample";
    s.testcases.push_back(std::move(tc));
  }
}

// The implementation's failures: a table row and a failing testcase each.
void add_failures(Section& s, const ProbeResult& r) {
  if (r.failures.empty()) return;
  Table t;
  t.caption = "Implementation failures" +
              std::string(r.stopped_at_max_failures ? " (stopped at the cap on failures)" : "");
  t.header = {"case", "kind", "what happened", "case shape", "stderr (tail)"};
  for (std::size_t i = 0; i < r.failures.size(); ++i) {
    const Failure& f = r.failures[i];
    std::string tail = f.stderr_tail.size() > 600 ? "..." + f.stderr_tail.substr(f.stderr_tail.size() - 600)
                                                  : f.stderr_tail;
    t.rows.push_back({Cell(std::to_string(f.case_index)), Cell(to_string(f.kind), Verdict::disagree),
                      Cell(f.message + (f.reply_excerpt.empty() ? "" : "; it sent: " + f.reply_excerpt)),
                      Cell(detail::describe_case(f.input)), Cell(tail)});
    s.testcases.push_back({"probe.failures", "failure " + std::to_string(i + 1) + ": " + to_string(f.kind),
                           Outcome::fail, f.message, case_to_json(f.input, 2) + "\nstderr:\n" + f.stderr_tail, 0});
  }
  s.add(std::move(t));
}

}  // namespace

nlohmann::json to_json(const ProbeResult& r) {
  nlohmann::json j = {
      {"type", "probe"},
      {"command", r.command},
      {"seed", r.seed},
      {"cases_requested", r.cases_requested},
      {"cases_sent", r.cases_sent},
      {"agreed", r.agreed},
      {"noted", r.noted},
      {"declined", r.declined},
      {"diverged", r.diverged},
      {"repeats", r.repeats},
      {"restarts", r.restarts},
      {"interrupted", r.interrupted},
      {"stopped_at_max_failures", r.stopped_at_max_failures},
      {"elapsed_seconds", r.elapsed.count()},
      {"stderr_bytes", r.stderr_bytes},
      {"stderr_tail", r.stderr_tail},
      {"final_exit", exit_json(r.final_exit)},
      {"declined_messages", r.declined_messages},
      {"passed", r.passed(false)},
      {"passed_strict", r.passed(true)},
  };
  j["counterexample"] = r.counterexample ? counterexample_json(*r.counterexample) : nlohmann::json(nullptr);
  nlohmann::json failures = nlohmann::json::array();
  for (const auto& f : r.failures) failures.push_back(failure_json(f));
  j["failures"] = failures;
  nlohmann::json notes = nlohmann::json::array();
  for (const auto& n : r.notes) notes.push_back({{"case_index", n.case_index}, {"notes", signatures_json(n.notes)}});
  j["notes"] = notes;
  return j;
}

Section probe_section(const ProbeResult& r, bool strict) {
  Section s;
  s.heading = "Probe: " + shell_command(r.command);
  s.status = !r.passed(strict) ? Status::fail : r.noted > 0 ? Status::notes : Status::pass;
  s.summary = std::to_string(r.cases_sent) + " of " + std::to_string(r.cases_requested) + " cases: " +
              std::to_string(r.agreed) + " agree, " + std::to_string(r.noted) + " with notes, " +
              std::to_string(r.declined) + " declined, " + std::to_string(r.diverged) + " diverge, " +
              std::to_string(r.failures.size()) + " implementation failures";
  s.add(run_facts(r));
  add_run_paragraphs(s, r);
  TestCase cases{"probe", "cases", Outcome::pass, "", "", r.elapsed.count()};
  if (r.counterexample) add_counterexample(s, *r.counterexample, cases);
  s.testcases.push_back(std::move(cases));
  if (r.counterexample) add_counterexample_verification(s, *r.counterexample);
  add_failures(s, r);
  return s;
}

void add(Report& report, const ProbeResult& result, bool strict) {
  report.add_section(probe_section(result, strict));
  report.add_result(to_json(result));
}

}  // namespace gradcheck::reports
