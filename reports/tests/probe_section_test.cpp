// The probe adapter: the section people read (counts, the minimal
// counterexample with the charts of its verification, the implementation
// failures), its JUnit testcases and the JSON report.json holds. The results
// are built from real verifications of the 3-2-1 fixture (fixtures/321/).
#include "probe_results.hpp"
#include "section_blocks.hpp"

#include <gradcheck/reports/probe_section.hpp>
#include <gradcheck/reports/render.hpp>
#include <gradcheck/reports/verify_section.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <string>
#include <variant>

namespace gradcheck::reports {
namespace {

using test::blocks_of;

std::vector<const TestCase*> suite(const Section& s, const std::string& name) {
  std::vector<const TestCase*> out;
  for (const TestCase& t : s.testcases)
    if (t.suite == name) out.push_back(&t);
  return out;
}

TEST(ProbeSection, ADivergenceShowsTheCounterexampleAndTheChartsOfItsVerification) {
  const ProbeResult r = test::probe_with_counterexample();
  const Section s = probe_section(r);
  EXPECT_EQ(s.status, Status::fail);
  EXPECT_EQ(s.summary, "4 of 20 cases: 3 agree, 0 with notes, 0 declined, 1 diverge, 0 implementation failures");
  // The seed, for replay.
  const auto facts = blocks_of<KeyValues>(s);
  ASSERT_FALSE(facts.empty());
  bool seed = false;
  for (const auto& row : facts[0]->rows)
    if (row.first == "seed") seed = row.second == "7 (replay with --seed 7)";
  EXPECT_TRUE(seed);
  // The minimal case and the reply, as the files `gradcheck verify` replays.
  const auto pre = blocks_of<Preformatted>(s);
  ASSERT_EQ(pre.size(), 2u);
  EXPECT_EQ(pre[0]->caption, "Minimal counterexample (counterexample.case.json)");
  EXPECT_NE(pre[0]->text.find("\"activation\": \"sigmoid\""), std::string::npos) << pre[0]->text;
  EXPECT_EQ(pre[1]->text, r.counterexample->minimal_reply);
  // The signature that explains it, as a failure paragraph.
  bool signature = false;
  for (const Paragraph* p : blocks_of<Paragraph>(s))
    if (p->text.rfind("output-error-term: ", 0) == 0) signature = p->severity == Severity::error;
  EXPECT_TRUE(signature);
  // The charts of the minimal counterexample: a bar per tensor, a heatmap per weight matrix.
  const auto bars = blocks_of<BarChart>(s);
  ASSERT_EQ(bars.size(), 1u);
  EXPECT_EQ(bars[0]->title, "Worst relative error per tensor (minimal counterexample)");
  EXPECT_EQ(bars[0]->labels,
            (std::vector<std::string>{"layers[0].weights", "layers[0].biases", "layers[1].weights", "layers[1].biases"}));
  EXPECT_NEAR(bars[0]->values[3], (0.11470326 + 0.0351261147127841) / 0.0351261147127841, 1e-6);
  for (Verdict v : bars[0]->verdicts) EXPECT_EQ(v, Verdict::disagree);
  const auto maps = blocks_of<Heatmap>(s);
  ASSERT_EQ(maps.size(), 2u);
  EXPECT_EQ(maps[0]->title, "Relative error of layers[0].weights (2 \u00d7 3) (minimal counterexample)");
  EXPECT_EQ(maps[0]->rows, 2u);
  EXPECT_EQ(maps[0]->cols, 3u);
  EXPECT_EQ(maps[0]->verdict(0, 0), Verdict::agree);     // 0 against 0: the input is 0
  EXPECT_EQ(maps[0]->verdict(0, 1), Verdict::disagree);
  EXPECT_EQ(maps[1]->rows, 1u);
  EXPECT_EQ(maps[1]->cols, 2u);
}

TEST(ProbeSection, JunitHasTheCasesAndOneTestcasePerParameterTensorOfTheCounterexample) {
  const Section s = probe_section(test::probe_with_counterexample());
  const auto cases = suite(s, "probe");
  ASSERT_EQ(cases.size(), 1u);
  EXPECT_EQ(cases[0]->name, "cases");
  EXPECT_EQ(cases[0]->outcome, Outcome::fail);
  EXPECT_NE(cases[0]->message.find("case 3 diverged"), std::string::npos) << cases[0]->message;
  const auto tensors = suite(s, "probe.counterexample");
  std::vector<std::string> names;
  for (const TestCase* t : tensors)
    if (t->name != "forward") names.push_back(t->name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"layers[0].weights", "layers[0].biases", "layers[1].weights", "layers[1].biases"}));
  for (const TestCase* t : tensors) {
    if (t->name == "forward") EXPECT_EQ(t->outcome, Outcome::pass);  // the asker's output is right
    else EXPECT_EQ(t->outcome, Outcome::fail) << t->name;
  }
}

TEST(ProbeSection, APassingRunHasNoChartsAndPassingCases) {
  ProbeResult r;
  r.command = {"python3", "mlp.py"};
  r.seed = 1;
  r.cases_requested = r.cases_sent = 10;
  r.agreed = 8;
  r.declined = 2;
  r.declined_messages = {"not implemented: softmax"};
  const Section s = probe_section(r);
  EXPECT_EQ(s.status, Status::pass);
  EXPECT_TRUE(blocks_of<BarChart>(s).empty());
  EXPECT_TRUE(blocks_of<Heatmap>(s).empty());
  ASSERT_EQ(s.testcases.size(), 1u);
  EXPECT_EQ(s.testcases[0].outcome, Outcome::pass);
  bool declined = false;
  for (const Paragraph* p : blocks_of<Paragraph>(s))
    declined = declined || p->text == "Declined: not implemented: softmax";
  EXPECT_TRUE(declined);
  EXPECT_EQ(to_json(r).at("counterexample"), nullptr);
}

TEST(ProbeSection, NotesPassUnlessStrict) {
  ProbeResult r;
  r.command = {"impl"};
  r.cases_requested = r.cases_sent = 3;
  r.agreed = 2;
  r.noted = 1;
  Signature note;
  note.kind = BugKind::precision;
  note.severity = Severity::note;
  note.message = "float32 level";
  r.notes.push_back({1, {note}});
  EXPECT_EQ(probe_section(r).status, Status::notes);
  EXPECT_EQ(probe_section(r, true).status, Status::fail);
  const auto j = to_json(r);
  EXPECT_EQ(j.at("passed"), true);
  EXPECT_EQ(j.at("passed_strict"), false);
  EXPECT_EQ(j.at("notes")[0].at("notes")[0].at("kind"), "precision");
}

TEST(ProbeSection, EachFailureIsARowAndAFailingTestcaseWithItsCase) {
  const ProbeResult r = test::probe_with_failure();
  const Section s = probe_section(r);
  EXPECT_EQ(s.status, Status::fail);
  const auto failures = suite(s, "probe.failures");
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0]->name, "failure 1: crash");
  EXPECT_EQ(failures[0]->outcome, Outcome::fail);
  EXPECT_NE(failures[0]->details.find("\"activation\": \"sigmoid\""), std::string::npos);
  EXPECT_NE(failures[0]->details.find("Traceback"), std::string::npos);
  const auto tables = blocks_of<Table>(s);
  ASSERT_EQ(tables.size(), 1u);
  ASSERT_EQ(tables[0]->rows.size(), 1u);
  const auto j = to_json(r);
  EXPECT_EQ(j.at("failures")[0].at("kind"), "crash");
  EXPECT_EQ(j.at("failures")[0].at("exit").at("signal"), 6);
  EXPECT_EQ(j.at("failures")[0].at("exit").at("signaled"), true);
}

TEST(ProbeJson, HoldsTheCounterexampleWithBothCasesAndItsSignatures) {
  const ProbeResult r = test::probe_with_counterexample();
  const auto j = to_json(r);
  EXPECT_EQ(j.at("type"), "probe");
  EXPECT_EQ(j.at("seed"), 7);
  EXPECT_EQ(j.at("diverged"), 1);
  EXPECT_EQ(j.at("passed"), false);
  const auto& cx = j.at("counterexample");
  EXPECT_EQ(cx.at("case_index"), 3);
  EXPECT_EQ(cx.at("minimal_case").at("network").at("layers").size(), 2u);
  EXPECT_EQ(cx.at("status"), "diverge");
  EXPECT_EQ(cx.at("fault"), "output-error-term");
  EXPECT_EQ(cx.at("origin_layer"), 1);
  EXPECT_EQ(cx.at("shrink_slipped"), 2);
  EXPECT_EQ(cx.at("signatures")[0].at("kind"), "output-error-term");
  // Renders without losing anything.
  Report report;
  add(report, r);
  EXPECT_NO_THROW(render_json(report));
  EXPECT_NE(render_markdown(report.document).find("diverged"), std::string::npos);
}

// docs/probe.md documents report.json's probe object in a table: every field
// there, every documented field here.
std::set<std::string> documented_probe_fields(std::map<std::string, std::string>* meanings) {
  std::ifstream in(std::string(GRADCHECK_SOURCE_DIR) + "/docs/probe.md");
  std::set<std::string> names;
  bool inside = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("## ", 0) == 0) {
      inside = line == "## The report";
      continue;
    }
    if (!inside || line.rfind("| `", 0) != 0) continue;
    const std::size_t bar = line.find('|', 1);
    const std::string cell = line.substr(1, bar - 1);
    for (std::size_t pos = cell.find('`'); pos != std::string::npos; pos = cell.find('`', pos + 1)) {
      const std::size_t end = cell.find('`', pos + 1);
      const std::string name = cell.substr(pos + 1, end - pos - 1);
      names.insert(name);
      (*meanings)[name] = line.substr(bar);
      pos = end;
    }
  }
  return names;
}

TEST(ProbeJson, DocsDescribeEveryField) {
  std::map<std::string, std::string> meanings;
  const std::set<std::string> documented = documented_probe_fields(&meanings);
  const auto j = to_json(test::probe_with_failure());
  std::set<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.insert(it.key());
  EXPECT_EQ(documented, keys);
  // The counterexample's and a failure's fields are named in their rows.
  const auto cx = to_json(test::probe_with_counterexample()).at("counterexample");
  for (auto it = cx.begin(); it != cx.end(); ++it)
    EXPECT_NE(meanings["counterexample"].find("`" + it.key() + "`"), std::string::npos) << it.key();
  const auto f = j.at("failures")[0];
  for (auto it = f.begin(); it != f.end(); ++it)
    EXPECT_NE(meanings["failures"].find("`" + it.key() + "`"), std::string::npos) << it.key();
}

TEST(ProbeJson, TheSchemaPageLinksTheVerifyAndProbeTypes) {
  std::ifstream in(std::string(GRADCHECK_SOURCE_DIR) + "/docs/report-schema.md");
  std::set<std::string> headings;
  for (std::string line; std::getline(in, line);)
    if (line.rfind("## ", 0) == 0) headings.insert(line.substr(0, line.find(" —")));
  EXPECT_EQ(headings.count("## `\"type\": \"verify\"`"), 1u);
  EXPECT_EQ(headings.count("## `\"type\": \"probe\"`"), 1u);
  EXPECT_EQ(to_json(ProbeResult{}).at("type"), "probe");
  EXPECT_EQ(to_json(VerifyResult{}).at("type"), "verify");
}

}  // namespace
}  // namespace gradcheck::reports
