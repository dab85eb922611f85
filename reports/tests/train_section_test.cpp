// The training watch's adapter on real watch results: a healthy run, a run that
// overflows at a known step, and data read as signed bytes.
#include <gradcheck/watch/watch.hpp>
#include <gradcheck/engine/init.hpp>
#include <gradcheck/reports/format.hpp>
#include <gradcheck/reports/render.hpp>
#include <gradcheck/reports/train_section.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "../../engine/tests/test_helpers.hpp"
#include "../../tests/documented_fields.hpp"
#include "section_blocks.hpp"

namespace gradcheck::reports {
namespace {

namespace w = gradcheck::watch;
using testing::sgd;

using test::blocks_of;
using test::titled;

Dataset<double> random_set(Index features, Index n, int classes, std::uint64_t seed) {
  Rng rng(seed);
  Dataset<double> d;
  d.inputs.resize(features, n);
  for (Index i = 0; i < d.inputs.size(); ++i) d.inputs.data()[i] = rng.uniform();
  // A learnable label: the band of the first feature.
  for (Index c = 0; c < n; ++c) d.labels.push_back(std::min(classes - 1, static_cast<int>(d.inputs(0, c) * classes)));
  d.targets = one_hot(d.labels, classes);
  return d;
}

// 1 → 1 identity, quadratic, η = 3: a_t = (−5)^t, the loss overflows at step 221.
w::Result overflowing_run() {
  Network<double> net;
  net.loss = Loss::quadratic;
  net.layers.push_back({Activation::identity, Matrix<double>::Ones(1, 1), Vector<double>::Zero(1)});
  Dataset<double> d;
  d.inputs = Matrix<double>::Ones(1, 4);
  d.targets = Matrix<double>::Zero(1, 4);
  return w::train_watched(net, d, sgd(3.0, 1, 1000)).watch;
}

w::Result healthy_run() {
  const auto training = random_set(6, 200, 3, 1), test = random_set(6, 100, 3, 2);
  auto net = make_network({6, 8, 3}, Activation::tanh, Activation::softmax, Loss::cross_entropy, Init::xavier, 3);
  return w::train_watched(net, training, sgd(0.1, 10, 3), &test).watch;
}

TEST(TrainSection, AHealthyRunPassesWithItsCurvesAndNoFinding) {
  const w::Result r = healthy_run();
  ASSERT_FALSE(r.worst().has_value());
  const Section s = train_section(r);
  EXPECT_EQ(s.heading, "Training");
  EXPECT_EQ(s.status, Status::pass);
  EXPECT_EQ(s.summary, "60 steps, 3 epochs, test accuracy " +
                           format_number(100 * r.epochs.back().test->accuracy, 4) + " %; no warning");
  const LineChart* loss = titled<LineChart>(s, "Training loss");
  ASSERT_NE(loss, nullptr);
  ASSERT_EQ(loss->series.size(), 3u) << "batch, window, epoch";
  EXPECT_EQ(loss->series[0].y.size(), 60u);
  EXPECT_EQ(loss->series[0].y[7], r.steps[7].loss);
  EXPECT_EQ(loss->series[2].y, (std::vector<double>{r.epochs[0].train_loss, r.epochs[1].train_loss, r.epochs[2].train_loss}));
  const LineChart* acc = titled<LineChart>(s, "Test accuracy");
  ASSERT_NE(acc, nullptr);
  EXPECT_EQ(acc->series[0].y.back(), r.epochs.back().test->accuracy);
  ASSERT_TRUE(acc->threshold.has_value());
  EXPECT_DOUBLE_EQ(*acc->threshold, 1.0 / 3.0) << "chance";
  const LineChart* norms = titled<LineChart>(s, "Weight norm per layer");
  ASSERT_NE(norms, nullptr);
  ASSERT_EQ(norms->series.size(), 2u);
  EXPECT_EQ(norms->series[1].y[10], r.steps[10].layers[1].weight_norm);
  const Table* per_epoch = nullptr;
  for (const Table* t : blocks_of<Table>(s))
    if (t->caption.rfind("Per layer and epoch", 0) == 0) per_epoch = t;
  ASSERT_NE(per_epoch, nullptr);
  EXPECT_EQ(per_epoch->rows.size(), 6u) << "3 epochs × 2 layers";
  ASSERT_EQ(s.testcases.size(), 1u);
  EXPECT_EQ(s.testcases[0].name, "run");
  EXPECT_EQ(s.testcases[0].outcome, Outcome::pass);
}

TEST(TrainSection, AnOverflowingRunFailsAndShowsTheProducerAndWhatPassedItOn) {
  const w::Result r = overflowing_run();
  ASSERT_TRUE(r.first_non_finite.has_value());
  const Section s = train_section(r);
  EXPECT_EQ(s.status, Status::fail);
  EXPECT_NE(s.summary.find("first non-finite value at step 221: overflow in the quadratic loss (layer 0)"),
            std::string::npos)
      << s.summary;
  EXPECT_NE(s.summary.find("error"), std::string::npos);
  const auto paragraphs = blocks_of<Paragraph>(s);
  ASSERT_FALSE(paragraphs.empty());
  EXPECT_EQ(paragraphs[0]->severity, Severity::error) << "errors first";
  const KeyValues* nf = titled<KeyValues>(s, "The first non-finite value");
  ASSERT_NE(nf, nullptr);
  bool cause = false;
  for (const auto& [k, v] : nf->rows) cause = cause || (k == "cause" && v == "overflow in the quadratic loss");
  EXPECT_TRUE(cause);
  const Table* operands = titled<Table>(s, "Operands of the operation that produced it");
  ASSERT_NE(operands, nullptr);
  EXPECT_EQ(operands->rows.back()[0].text, "(a − y)²");
  EXPECT_EQ(operands->rows.back()[1].verdict, Verdict::non_finite);
  const Table* passed = titled<Table>(s, "What only passed it on, later in the same step");
  ASSERT_NE(passed, nullptr);
  EXPECT_EQ(passed->rows[0][1].text, "loss") << "the batch loss, after the per-sample one";
  const LineChart* history = titled<LineChart>(s, "Norms in the 32 steps up to it");
  ASSERT_NE(history, nullptr);
  EXPECT_TRUE(history->log_y);
  EXPECT_EQ(history->series[0].x.back(), 221.0);
  bool failing = false;
  for (const TestCase& t : s.testcases) failing = failing || (t.name == "non-finite (layer 0)" && t.outcome == Outcome::fail);
  EXPECT_TRUE(failing);
  // The Markdown carries the finding and its fix.
  Document doc;
  doc.sections.push_back(s);
  const std::string md = render_markdown(doc);
  EXPECT_NE(md.find("overflow in the quadratic loss"), std::string::npos);
  EXPECT_NE(md.find("lower the learning rate (η = 3; try 0.3)"), std::string::npos);
}

TEST(TrainSection, SignedBytesShowTheByteHistogram) {
  Rng rng(4);
  Dataset<double> d = random_set(16, 300, 2, 5);
  for (Index i = 0; i < d.inputs.size(); ++i) {
    const int b = rng.uniform() < 0.5 ? 0 : 1 + static_cast<int>(rng.below(255));
    d.inputs.data()[i] = (b > 127 ? b - 256 : b) / 255.0;
  }
  auto net = make_network({16, 4, 2}, Activation::sigmoid, Activation::sigmoid, Loss::quadratic, Init::xavier, 6);
  const w::Result r = w::train_watched(net, d, sgd(0.5, 10, 1)).watch;
  ASSERT_TRUE(r.inputs && r.inputs->signed_bytes);
  const Section s = train_section(r);
  EXPECT_EQ(s.status, Status::fail);
  EXPECT_NE(s.summary.find("(signed-bytes)"), std::string::npos) << s.summary;
  const LineChart* h = nullptr;
  for (const LineChart* c : blocks_of<LineChart>(s))
    if (c->title.rfind("Values as bytes", 0) == 0) h = c;
  ASSERT_NE(h, nullptr);
  ASSERT_EQ(h->series[0].x.size(), 256u);
  EXPECT_EQ(h->series[0].x.front(), -128.0);
  EXPECT_EQ(h->series[0].y[128], r.inputs->bytes.histogram[128]) << "k = 0: the background";
}

TEST(TrainSection, JsonHoldsEveryFieldWithNonFiniteNumbersAsStrings) {
  const w::Result r = overflowing_run();
  const nlohmann::json j = to_json(r);
  EXPECT_EQ(j.at("type"), "training");
  EXPECT_EQ(j.at("steps_seen"), 222);
  EXPECT_EQ(j.at("stopped"), true);
  EXPECT_EQ(j.at("steps").size(), r.steps.size());
  const auto& nf = j.at("first_non_finite");
  EXPECT_EQ(nf.at("step"), 221);
  EXPECT_EQ(nf.at("pass"), "loss");
  EXPECT_EQ(nf.at("value"), "inf");
  EXPECT_EQ(nf.at("operation"), "overflow");
  EXPECT_EQ(nf.at("site"), "loss");
  EXPECT_EQ(nf.at("history").size(), 32u);
  EXPECT_EQ(j.at("findings")[1].at("kind"), "non-finite");
  EXPECT_EQ(j.at("findings")[1].at("severity"), "error");
  EXPECT_EQ(j.at("options").at("numerics").at("softmax"), "stable");
  EXPECT_TRUE(j.at("inputs").at("bytes").at("histogram").empty()) << "not a signed grid";
  EXPECT_EQ(to_json(healthy_run()).at("first_non_finite"), nullptr);
}

TEST(TrainSection, AddPutsTheSectionAndTheResultIntoTheReport) {
  Report report;
  add(report, overflowing_run());
  ASSERT_EQ(report.document.sections.size(), 1u);
  EXPECT_EQ(report.document.status, Status::fail);
  ASSERT_EQ(report.results.size(), 1u);
  EXPECT_EQ(report.results[0].at("type"), "training");
}

// docs/report-schema.md documents every field of {"type": "training"}: a field
// added to to_json without its line in the doc fails here, and back.

// The backticked names in the first column of the tables under `heading` in docs/report-schema.md.
std::set<std::string> documented(const std::string& heading) {
  return gradcheck::testing::documented_fields("docs/report-schema.md", heading);
}

std::set<std::string> keys(const nlohmann::json& j, const std::set<std::string>& nested = {}) {
  std::set<std::string> out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    out.insert(it.key());
    if (nested.count(it.key()) && it->is_object())
      for (auto jt = it->begin(); jt != it->end(); ++jt) out.insert(it.key() + "." + jt.key());
  }
  return out;
}

TEST(TrainSchemaDoc, DocumentsEveryFieldOfATrainingResult) {
  // A result with every part present: inputs on a signed grid, steps, epochs with
  // a test set, and a first non-finite value.
  Rng rng(8);
  Dataset<double> d = random_set(4, 40, 2, 9);
  for (Index i = 0; i < d.inputs.size(); ++i) {
    const int b = rng.uniform() < 0.5 ? 0 : 1 + static_cast<int>(rng.below(255));
    d.inputs.data()[i] = (b > 127 ? b - 256 : b) / 255.0 * 1e153;
  }
  Network<double> net;
  net.loss = Loss::quadratic;
  net.layers.push_back({Activation::identity, Matrix<double>::Ones(2, 4), Vector<double>::Zero(2)});
  const w::Result r = w::train_watched(net, d, sgd(3.0, 10, 5), &d).watch;
  ASSERT_TRUE(r.first_non_finite.has_value());
  ASSERT_FALSE(r.epochs.empty());
  const nlohmann::json j = to_json(r);
  EXPECT_EQ(documented("## `\"type\": \"training\"`"), keys(j));
  EXPECT_EQ(documented("### training: `options`"), keys(j.at("options"), {"numerics"}));
  EXPECT_EQ(documented("### training: `inputs`"), keys(j.at("inputs"), {"bytes"}));
  EXPECT_EQ(documented("### training: `steps[]`"), keys(j.at("steps")[0]));
  EXPECT_EQ(documented("### training: `layers[]`"), keys(j.at("steps")[0].at("layers")[0]));
  nlohmann::json epoch = j.at("epochs")[0];
  epoch["test"] = {{"loss", 0}, {"accuracy", 0}, {"correct", 0}, {"samples", 0}};
  EXPECT_EQ(documented("### training: `epochs[]`"), keys(epoch, {"test"}));
  EXPECT_EQ(documented("### training: `loss_windows[]`"), keys(j.at("loss_windows")[0]));
  EXPECT_EQ(documented("### training: `first_non_finite`"), keys(j.at("first_non_finite")));
  nlohmann::json passed = {{"pass", ""}, {"quantity", ""}, {"layer", 0}, {"non_finite", 0}, {"entries", 0}};
  if (!j.at("first_non_finite").at("passed_on").empty()) passed = j.at("first_non_finite").at("passed_on")[0];
  EXPECT_EQ(documented("### training: `passed_on[]`"), keys(passed));
  EXPECT_EQ(documented("### training: `findings[]`"), keys(j.at("findings")[0]));
  EXPECT_EQ(documented("### training: `evidence[]`"), keys(j.at("findings")[0].at("evidence")[0]));
}

}  // namespace
}  // namespace gradcheck::reports
