// The verify adapter: the section people read and the JSON report.json holds,
// built from real verifications of the 3-2-1 fixture (fixtures/321/).
#include <gradcheck/verify/verify.hpp>
#include <gradcheck/engine/case_format.hpp>
#include <gradcheck/reports/render.hpp>
#include <gradcheck/reports/text.hpp>
#include <gradcheck/reports/verify_section.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <string>
#include <variant>

#include "../../tests/documented_fields.hpp"
#include "section_blocks.hpp"

namespace gradcheck::reports {
namespace {

const std::string dir = std::string(GRADCHECK_SOURCE_DIR) + "/fixtures/321/";

const Case& case_321() {
  static const Case c = read_case(dir + "case.json");
  return c;
}
VerifyResult verify(const std::string& reply) { return verify_reply(case_321(), read_reply(dir + reply)); }

using test::blocks_of;

TEST(VerifySection, TheAskersRepliesFailWithTheFindingsInTheSection) {
  const Section s = verify_section(verify("asker-reply.json"), {"case.json", "asker-reply.json"});
  EXPECT_EQ(s.status, Status::fail);
  EXPECT_EQ(s.heading, "Verification of asker-reply.json");
  EXPECT_NE(s.summary.find("output error term"), std::string::npos) << s.summary;
  // The signature as a failure paragraph, its evidence as key-values.
  bool signature = false;
  for (const Paragraph* p : blocks_of<Paragraph>(s))
    if (p->text.rfind("output-error-term: ", 0) == 0) {
      signature = true;
      EXPECT_EQ(p->severity, Severity::error);
      EXPECT_NE(p->text.find("target 0.1"), std::string::npos);
    }
  EXPECT_TRUE(signature);
  // One bar per tensor, all disagreeing.
  const auto charts = blocks_of<BarChart>(s);
  ASSERT_EQ(charts.size(), 1u);
  EXPECT_EQ(charts[0]->labels,
            (std::vector<std::string>{"layers[0].weights", "layers[0].biases", "layers[1].weights", "layers[1].biases"}));
  for (Verdict v : charts[0]->verdicts) EXPECT_EQ(v, Verdict::disagree);
  EXPECT_NEAR(charts[0]->values[3], (0.11470326 + 0.0351261147127841) / 0.0351261147127841, 1e-6);
  // A heatmap per weight matrix, in the case's shape.
  const auto maps = blocks_of<Heatmap>(s);
  ASSERT_EQ(maps.size(), 2u);
  EXPECT_EQ(maps[0]->rows, 2u);
  EXPECT_EQ(maps[0]->cols, 3u);
  EXPECT_EQ(maps[0]->verdict(0, 0), Verdict::agree);  // 0 against 0: the input is 0
  EXPECT_EQ(maps[0]->verdict(0, 1), Verdict::disagree);
  // The update effect table: before, the reply's step, the correct step.
  bool update = false;
  for (const Table* t : blocks_of<Table>(s))
    if (t->caption.rfind("Update effect", 0) == 0) {
      update = true;
      ASSERT_EQ(t->rows.size(), 3u);
      EXPECT_EQ(t->rows[1][1].text, "0.74862305");
      EXPECT_EQ(t->rows[1][2].verdict, Verdict::disagree);  // the loss rises
      EXPECT_EQ(t->rows[2][1].text, "0.80043469");
    }
  EXPECT_TRUE(update);
  // JUnit: the forward pass passes, every tensor fails.
  ASSERT_EQ(s.testcases.size(), 5u);
  EXPECT_EQ(s.testcases[0].name, "forward");
  EXPECT_EQ(s.testcases[0].outcome, Outcome::pass);
  for (std::size_t i = 1; i < 5; ++i) EXPECT_EQ(s.testcases[i].outcome, Outcome::fail) << s.testcases[i].name;
}

TEST(VerifySection, ACorrectReplyPasses) {
  const Section s = verify_section(verify("correct-reply.json"));
  EXPECT_EQ(s.status, Status::pass);
  for (const TestCase& t : s.testcases) EXPECT_EQ(t.outcome, Outcome::pass) << t.name;
  EXPECT_TRUE(blocks_of<Table>(s).size() >= 1u);
}

TEST(VerifySection, NotesPassWithStatusNotes) {
  Reply r = read_reply(dir + "correct-reply.json");
  for (auto& l : r.layers) {
    l.weights = l.weights.cast<float>().cast<double>();
    l.biases = l.biases.cast<float>().cast<double>();
  }
  // A float64 forward with 11 float32 gradients is mixed precision, which the
  // reply states (too few values to infer it: docs/verify.md#precision).
  r.precision = Precision::float32;
  const VerifyResult v = verify_reply(case_321(), r);
  ASSERT_EQ(v.status, VerifyStatus::notes);
  const Section s = verify_section(v);
  EXPECT_EQ(s.status, Status::notes);
  for (const TestCase& t : s.testcases) EXPECT_EQ(t.outcome, Outcome::pass) << t.name << ": " << t.message;
  const auto charts = blocks_of<BarChart>(s);
  ASSERT_EQ(charts.size(), 1u);
  EXPECT_EQ(charts[0]->verdicts[3], Verdict::note);
}

TEST(VerifySection, DeclinedAndMalformedRepliesAreOneParagraph) {
  Reply declined;
  declined.error = "no softmax here";
  const Section d = verify_section(verify_reply(case_321(), declined));
  EXPECT_EQ(d.status, Status::pass);
  ASSERT_EQ(d.testcases.size(), 1u);
  EXPECT_EQ(d.testcases[0].outcome, Outcome::skip);
  const Section m = verify_section(malformed_reply("reply.json: layers: expected an array"));
  EXPECT_EQ(m.status, Status::fail);
  ASSERT_EQ(blocks_of<Paragraph>(m).size(), 1u);
  EXPECT_NE(blocks_of<Paragraph>(m)[0]->text.find("expected an array"), std::string::npos);
}

TEST(VerifySection, JsonHoldsEveryPartOfTheResult) {
  const VerifyResult v = verify("asker-reply.json");
  const nlohmann::json j = to_json(v);
  EXPECT_EQ(j.at("type"), "verify");
  EXPECT_EQ(j.at("status"), "diverge");
  EXPECT_EQ(j.at("fault"), "output-error-term");
  EXPECT_EQ(j.at("origin_layer"), 1);
  EXPECT_EQ(j.at("fault_layer"), 1);
  EXPECT_EQ(j.at("forward").at("entries").size(), 1u);
  EXPECT_EQ(j.at("forward").at("entries")[0].at("verdict"), "agree");
  EXPECT_EQ(j.at("gradients").at("entries").size(), 11u);
  EXPECT_EQ(j.at("chain").at("status"), "consistent");
  EXPECT_EQ(j.at("chain").at("output").at("how"), "exact");
  EXPECT_EQ(j.at("chain").at("output").at("delta")[0][0], 0.11470326);
  EXPECT_EQ(j.at("signatures").size(), 1u);
  EXPECT_EQ(j.at("signatures")[0].at("kind"), "output-error-term");
  EXPECT_EQ(j.at("signatures")[0].at("severity"), "divergence");
  EXPECT_NEAR(j.at("update").at("loss_after_claimed").get<double>(), 0.0315952, 5e-8);
  EXPECT_EQ(j.at("ratios").size(), 4u);
  // Renders without losing anything to a non-finite value.
  Report report;
  add(report, v);
  EXPECT_NO_THROW(render_json(report));
  EXPECT_NE(render_markdown(report.document).find("output error term"), std::string::npos);
}

// docs/verify.md documents report.json's verify object field by field: a
// field added to to_json without a line there fails here, and back.
// The backticked names in the first column of the tables under `heading` in docs/verify.md.
std::set<std::string> documented(const std::string& heading) {
  return gradcheck::testing::documented_fields("docs/verify.md", heading);
}

std::set<std::string> keys(const nlohmann::json& j) {
  std::set<std::string> out;
  for (auto it = j.begin(); it != j.end(); ++it) out.insert(it.key());
  return out;
}

TEST(VerifySection, DocsDescribeEveryJsonField) {
  const VerifyResult v = verify("asker-reply.json");
  const nlohmann::json j = to_json(v);
  EXPECT_EQ(documented("### `verify`"), keys(j));
  EXPECT_EQ(documented("### `forward`"), keys(j.at("forward")));
  EXPECT_EQ(documented("### `chain`"), keys(j.at("chain")));
  EXPECT_EQ(documented("### `chain.output`"), keys(j.at("chain").at("output")));
  EXPECT_EQ(documented("### `chain.layers[]`"), keys(j.at("chain").at("layers")[0]));
  EXPECT_EQ(documented("### `ratios[]`"), keys(j.at("ratios")[0]));
  EXPECT_EQ(documented("### `signatures[]`"), keys(j.at("signatures")[0]));
  EXPECT_EQ(documented("### `update`"), keys(j.at("update")));
  EXPECT_EQ(documented("### `cause`"), keys(j.at("cause")));
}

TEST(VerifySection, TheCauseComesFirstInTheTextAndTheSection) {
  const VerifyResult v = verify("asker-reply.json");
  ASSERT_TRUE(v.cause.has_value());
  const std::string text = render_verify_text(v, {"case.json", "reply.json"});
  const std::size_t second_line = text.find('\n') + 1;
  EXPECT_EQ(text.substr(second_line).rfind("cause: not identified — the fault is", 0), 0u) << text;
  EXPECT_NE(text.find("  confidence: not identified\n"), std::string::npos) << text;
  const Section s = verify_section(v);
  ASSERT_GE(s.blocks.size(), 2u);
  const auto* p = std::get_if<Paragraph>(&s.blocks[1]);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->text.rfind("Cause (not identified): not identified — ", 0), 0u) << p->text;
  const nlohmann::json j = to_json(v);
  EXPECT_EQ(j.at("cause").at("confidence"), "not-identified");
  EXPECT_EQ(j.at("cause").at("kind"), nullptr);
}

}  // namespace
}  // namespace gradcheck::reports
