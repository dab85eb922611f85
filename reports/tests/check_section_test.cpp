#include "check_results.hpp"
#include "section_blocks.hpp"
#include "xml_check.hpp"

#include <gradcheck/reports/check_section.hpp>
#include <gradcheck/reports/render.hpp>

#include <gtest/gtest.h>

#include <sstream>

namespace gradcheck::reports {
namespace {

using test::blocks_of;
using test::count_of;

TEST(CheckSection, TheAskersGradientsFailWithEveryNonZeroEntryDisagreeing) {
  const CheckResult r = test::compare_tensors(test::asker_321());
  ASSERT_FALSE(r.summary.passed);
  const Section s = check_section(r);
  EXPECT_EQ(s.heading, "Gradients");
  EXPECT_EQ(s.status, Status::fail);
  // 11 entries; the two zero weights (input 0 is 0) agree, the other nine do not.
  EXPECT_EQ(s.summary.rfind("9 of 11 entries disagree; worst relative error ", 0), 0u) << s.summary;
  const auto paragraphs = blocks_of<Paragraph>(s);
  ASSERT_FALSE(paragraphs.empty());
  EXPECT_EQ(paragraphs[0]->severity, Severity::error);
  EXPECT_EQ(paragraphs[0]->text.rfind("Worst entry: " + entry_name(*r.summary.worst) + ": analytic ", 0), 0u);
}

TEST(CheckSection, BarChartHasOneBarPerTensorWithItsWorstErrorAndTolerance) {
  const CheckResult r = test::compare_tensors(test::asker_321());
  const Section section = check_section(r);
  const auto bars = blocks_of<BarChart>(section);
  ASSERT_EQ(bars.size(), 1u);
  const BarChart& b = *bars[0];
  EXPECT_TRUE(b.log_scale);
  EXPECT_EQ(b.labels, (std::vector<std::string>{"layers[0].weights", "layers[0].biases", "layers[1].weights",
                                                "layers[1].biases"}));
  ASSERT_EQ(b.values.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(b.values[i], r.tensors[i].worst_relative_error);
    EXPECT_EQ(b.verdicts[i], Verdict::disagree);
    // Every bar is above its tolerance mark, as its worst entry disagrees.
    EXPECT_GT(b.values[i], b.bar_thresholds[i]);
  }
  // layers[1].biases: |0.11470326 + 0.0351261147| / 0.0351261147.
  EXPECT_NEAR(b.values[3], (0.11470326 + 0.0351261147127841) / 0.0351261147127841, 1e-12);
}

TEST(CheckSection, HeatmapPerWeightMatrixPlacesEachEntryAtItsRowAndColumn) {
  const CheckResult r = test::compare_tensors(test::asker_321());
  const Section section = check_section(r);
  const auto maps = blocks_of<Heatmap>(section);
  ASSERT_EQ(maps.size(), 2u);
  const Heatmap& h0 = *maps[0];
  EXPECT_EQ(h0.title, "Relative error of layers[0].weights (2 \u00d7 3)");
  ASSERT_EQ(h0.rows, 2u);
  ASSERT_EQ(h0.cols, 3u);
  EXPECT_EQ(h0.verdict(0, 0), Verdict::agree);  // 0 against 0
  EXPECT_EQ(h0.verdict(1, 0), Verdict::agree);
  EXPECT_EQ(h0.verdict(0, 2), Verdict::disagree);
  EXPECT_NEAR(h0.value(0, 2), (0.013393611 + 0.0041015878238128) / 0.0041015878238128, 1e-9);
  EXPECT_EQ(maps[1]->rows, 1u);
  EXPECT_EQ(maps[1]->cols, 2u);
  // One colour scale for both.
  EXPECT_EQ(h0.scale_min, maps[1]->scale_min);
  EXPECT_EQ(h0.scale_max, maps[1]->scale_max);
}

// A conv2d layer's weights: one 3 × 3 block per (output, input) channel pair, the entry
// at row o, column (i·3 + y)·3 + x drawn at cell (o·3 + y, i·3 + x).
TEST(CheckSection, ConvWeightsHeatmapHasOneBlockPerKernel) {
  const CheckResult r = test::conv_check();
  const Section section = check_section(r);
  const auto maps = blocks_of<Heatmap>(section);
  ASSERT_EQ(maps.size(), 1u);
  const Heatmap& h = *maps[0];
  EXPECT_EQ(h.title, "Relative error of layers[0].weights (2 \u00d7 2 \u00d7 3 \u00d7 3)");
  ASSERT_EQ(h.rows, 6u);
  ASSERT_EQ(h.cols, 6u);
  EXPECT_EQ(h.block_rows, 3u);
  EXPECT_EQ(h.block_cols, 3u);
  std::size_t disagreeing = 0;
  for (Verdict v : h.verdicts) disagreeing += v == Verdict::disagree;
  EXPECT_EQ(disagreeing, 1u);
  EXPECT_EQ(h.verdict(5, 5), Verdict::disagree);  // weights[1][1][2][2]
  EXPECT_EQ(h.verdict(2, 5), Verdict::agree);     // weights[0][1][2][2]
  EXPECT_NEAR(h.value(5, 5), 2.0, 1e-12);         // |−r − r| / |r|
  EXPECT_EQ(h.row_labels.at(4), "1 y1");
  EXPECT_EQ(h.col_labels.at(2), "0 x2");
  EXPECT_NE(h.caption.find("One block per kernel"), std::string::npos);
}

TEST(CheckSection, TableListsTheEntriesThatDoNotAgreeWorstFirst) {
  const CheckResult r = test::compare_tensors(test::asker_321());
  CheckSectionOptions o;
  o.max_table_rows = 4;
  const Section section = check_section(r, o);
  const auto tables = blocks_of<Table>(section);
  ASSERT_EQ(tables.size(), 1u);
  const Table& t = *tables[0];
  ASSERT_EQ(t.rows.size(), 4u);
  EXPECT_EQ(t.omitted_rows, 5u);
  EXPECT_EQ(t.rows[0][0].text, entry_name(*r.summary.worst));
  for (std::size_t i = 1; i < t.rows.size(); ++i) EXPECT_GE(*t.rows[i - 1][4].sort_key, *t.rows[i][4].sort_key);
  EXPECT_EQ(t.rows[0][7].text, "disagree");
  EXPECT_EQ(t.rows[0][7].verdict, Verdict::disagree);
  // The output bias: the asker's 0.11470326 against the reference -0.0351261147.
  const Section full = check_section(r);
  const auto all = blocks_of<Table>(full);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0]->rows.size(), 9u);
  bool found = false;
  for (const auto& row : all[0]->rows)
    found = found || (row[0].text == "layers[1].biases[0]" && row[1].text == "0.11470326" && row[2].text == "-0.03512611471");
  EXPECT_TRUE(found);
}

TEST(CheckSection, JunitHasOneFailingTestcasePerTensorNamingItsWorstEntries) {
  const CheckResult r = test::compare_tensors(test::asker_321());
  const Section s = check_section(r);
  ASSERT_EQ(s.testcases.size(), 4u);
  for (const TestCase& t : s.testcases) {
    EXPECT_EQ(t.suite, "gradients");
    EXPECT_EQ(t.outcome, Outcome::fail);
  }
  EXPECT_EQ(s.testcases[0].name, "layers[0].weights");
  EXPECT_EQ(s.testcases[0].message.rfind("4 of 6 entries disagree; worst relative error ", 0), 0u) << s.testcases[0].message;
  EXPECT_EQ(s.testcases[3].message.rfind("1 of 1 entry disagrees; worst relative error 4.27 at layers[1].biases[0]", 0), 0u)
      << s.testcases[3].message;
  EXPECT_EQ(s.testcases[3].details.rfind("layers[1].biases[0]: analytic 0.11470326, reference -0.03512611471, ", 0), 0u)
      << s.testcases[3].details;
  // And in junit.xml.
  Document doc;
  doc.sections.push_back(s);
  const test::XmlNode root = test::parse_xml(render_junit(doc));
  EXPECT_EQ(root.attr("tests"), "4");
  EXPECT_EQ(root.attr("failures"), "4");
}

TEST(CheckSection, CorrectGradientsPassWithNoTableAndPassingTestcases) {
  const CheckResult r = test::compare_tensors(test::correct_321());
  ASSERT_TRUE(r.summary.passed);
  const Section s = check_section(r);
  EXPECT_EQ(s.status, Status::pass);
  EXPECT_EQ(s.summary, "all 11 entries agree");
  EXPECT_TRUE(blocks_of<Table>(s).empty());
  ASSERT_EQ(s.testcases.size(), 4u);
  for (const TestCase& t : s.testcases) EXPECT_EQ(t.outcome, Outcome::pass);
  EXPECT_EQ(s.testcases[0].message, "6 entries agree; worst relative error 0 at layers[0].weights[0][0]");
  for (Verdict v : blocks_of<BarChart>(s)[0]->verdicts) EXPECT_EQ(v, Verdict::agree);
}

TEST(CheckSection, KinksMakeANotesSectionThatStillPasses) {
  CheckResult r = test::compare_tensors(test::correct_321());
  r.entries[4].verdict = gradcheck::Verdict::inconclusive_kink;
  r.entries[4].note = "stencil crosses the kink of layer 0 unit 1 (sample 0)";
  summarize(r);
  ASSERT_TRUE(r.summary.passed);
  const Section s = check_section(r);
  EXPECT_EQ(s.status, Status::notes);
  EXPECT_EQ(s.summary, "10 of 11 entries agree, 1 inconclusive at kinks");
  const auto tables = blocks_of<Table>(s);
  ASSERT_EQ(tables.size(), 1u);
  ASSERT_EQ(tables[0]->rows.size(), 1u);
  EXPECT_EQ(tables[0]->rows[0][0].text, "layers[0].weights[1][1]");
  EXPECT_EQ(tables[0]->rows[0][7].verdict, Verdict::inconclusive_kink);
  EXPECT_EQ(tables[0]->rows[0][8].text, "stencil crosses the kink of layer 0 unit 1 (sample 0)");
  EXPECT_EQ(blocks_of<BarChart>(s)[0]->verdicts[0], Verdict::inconclusive_kink);
  EXPECT_EQ(s.testcases[0].outcome, Outcome::pass);
}

TEST(CheckSection, NonFiniteEntriesComeFirstAndSurviveInJson) {
  std::vector<test::TensorValues> t = test::correct_321();
  t[2].claimed[1] = std::nan("");
  const CheckResult r = test::compare_tensors(t);
  const Section s = check_section(r);
  EXPECT_EQ(s.status, Status::fail);
  EXPECT_EQ(s.summary, "0 of 11 entries disagree, 1 non-finite; worst relative error NaN at layers[1].weights[0][1]");
  EXPECT_EQ(blocks_of<Table>(s)[0]->rows[0][1].text, "NaN");
  EXPECT_EQ(blocks_of<BarChart>(s)[0]->verdicts[2], Verdict::non_finite);
  const nlohmann::json j = to_json(r);
  EXPECT_EQ(j.at("entries")[9].at("analytic"), "NaN");
  EXPECT_EQ(j.at("entries")[9].at("verdict"), "non-finite");
  EXPECT_EQ(j.at("summary").at("worst").at("name"), "layers[1].weights[0][1]");
}

TEST(CheckSection, FindingsFailTheirTensorsTestcaseAndAreSaidFirst) {
  CheckResult r = test::compare_tensors(test::correct_321());
  r.findings.push_back({FindingKind::shape_mismatch, 1, TensorKind::weights, "claimed weights of layer 1 are 2×1, the case's are 1×2"});
  summarize(r);
  const Section s = check_section(r);
  EXPECT_EQ(s.status, Status::fail);
  EXPECT_EQ(blocks_of<Paragraph>(s)[0]->text,
            "shape-mismatch (layers[1].weights): claimed weights of layer 1 are 2×1, the case's are 1×2");
  EXPECT_EQ(s.testcases[2].outcome, Outcome::fail);
  EXPECT_EQ(s.testcases[2].message.rfind("shape mismatch; ", 0), 0u);
  EXPECT_EQ(s.testcases[2].details, "shape-mismatch: claimed weights of layer 1 are 2×1, the case's are 1×2\n");
  EXPECT_TRUE(blocks_of<Heatmap>(s).size() == 1u) << "no heatmap for a matrix of the wrong shape";
}

TEST(CheckSection, LargeMatricesArePooledAndSaySo) {
  const CheckResult r = test::large_check(30, 784, 3, [](Index, Index) { return true; });
  const Section s = check_section(r);
  const auto maps = blocks_of<Heatmap>(s);
  ASSERT_EQ(maps.size(), 1u);
  EXPECT_EQ(maps[0]->rows, 30u);
  EXPECT_EQ(maps[0]->cols, 64u);
  EXPECT_NE(maps[0]->caption.find("Downsampled: each cell is the maximum over a block of up to 1 × 13 entries "
                                  "(30 × 784 shown as 30 × 64)"),
            std::string::npos)
      << maps[0]->caption;
  // The three disagreeing entries are still visible after pooling.
  std::size_t disagree = 0;
  for (Verdict v : maps[0]->verdicts) disagree += v == Verdict::disagree;
  EXPECT_EQ(disagree, 3u);
  Document doc;
  doc.sections.push_back(s);
  const std::string html = render_html(doc);
  EXPECT_EQ(count_of(html, "class=\"cell\""), 30u * 64u);
  EXPECT_EQ(count_of(html, "class=\"cell\" data-verdict=\"disagree\""), 3u);
}

TEST(CheckSection, EntriesLeftOutOfASampledCheckAreGreyNotNonFinite) {
  const CheckResult r = test::large_check(4, 5, 0, [](Index i, Index j) { return (i + j) % 2 == 0; });
  const Section section = check_section(r);
  const auto maps = blocks_of<Heatmap>(section);
  ASSERT_EQ(maps.size(), 1u);
  EXPECT_EQ(maps[0]->verdict(0, 0), Verdict::agree);
  EXPECT_EQ(maps[0]->verdict(0, 1), Verdict::unchecked);
  EXPECT_NE(maps[0]->caption.find("10 entries were not checked (grey)"), std::string::npos);
  Document doc;
  Section s;
  s.add(*maps[0]);
  doc.sections.push_back(s);
  const std::string html = render_html(doc);
  EXPECT_EQ(count_of(html, "data-verdict=\"unchecked\""), 10u);
  EXPECT_EQ(count_of(html, "data-verdict=\"non-finite\""), 0u);
}

TEST(CheckSection, FastModeTensorsShowTheirWorstDirection) {
  CheckResult r;
  r.summary.mode = Mode::fast;
  r.summary.escape_statement = "a single entry wrong by 1% escapes with probability below 1e-6";
  TensorSummary t;
  t.layer = 0;
  t.tensor = TensorKind::biases;
  t.rows = 3;
  t.cols = 1;
  t.directions = 2;
  r.tensors.push_back(t);
  for (int k = 0; k < 2; ++k) {
    DirectionCheck d;
    d.layer = 0;
    d.tensor = TensorKind::biases;
    d.index = k;
    d.relative_error = k == 0 ? 1e-12 : 3e-11;
    r.directions.push_back(d);
  }
  summarize(r);
  const Section s = check_section(r);
  EXPECT_EQ(s.summary, "all 2 random directions agree");
  const auto bars = blocks_of<BarChart>(s);
  ASSERT_EQ(bars.size(), 1u);
  EXPECT_EQ(bars[0]->values[0], 3e-11);
  EXPECT_EQ(s.testcases[0].message, "0 of 2 directions disagree");
  bool statement = false;
  for (const Paragraph* p : blocks_of<Paragraph>(s)) statement = statement || p->text == r.summary.escape_statement;
  EXPECT_TRUE(statement);
}

TEST(CheckJson, SerialisesEveryEntryAndTheSummary) {
  const CheckResult r = test::compare_tensors(test::asker_321());
  const nlohmann::json j = nlohmann::json::parse(to_json(r).dump());
  EXPECT_EQ(j.at("type"), "check");
  const auto& s = j.at("summary");
  EXPECT_EQ(s.at("method"), "multiprecision");
  EXPECT_EQ(s.at("mode"), "full");
  EXPECT_EQ(s.at("seed"), 42);
  EXPECT_EQ(s.at("passed"), false);
  EXPECT_EQ(s.at("counts").at("disagree"), 9);
  EXPECT_EQ(s.at("counts").at("agree"), 2);
  EXPECT_EQ(s.at("counts").at("total"), 11);
  EXPECT_EQ(s.at("tolerances").at("rule"), "derived");
  EXPECT_EQ(s.at("tolerances").at("rtol"), 1e-8);
  ASSERT_EQ(j.at("tensors").size(), 4u);
  EXPECT_EQ(j.at("tensors")[3].at("name"), "layers[1].biases");
  EXPECT_EQ(j.at("tensors")[3].at("passed"), false);
  ASSERT_EQ(j.at("entries").size(), 11u);
  const auto& e = j.at("entries")[10];
  EXPECT_EQ(e.at("name"), "layers[1].biases[0]");
  EXPECT_EQ(e.at("layer"), 1);
  EXPECT_EQ(e.at("tensor"), "biases");
  EXPECT_EQ(e.at("row"), 0);
  EXPECT_EQ(e.at("col"), 0);
  EXPECT_EQ(e.at("analytic"), 0.11470326);
  EXPECT_EQ(e.at("numeric"), -0.0351261147127841);
  EXPECT_EQ(e.at("verdict"), "disagree");
  EXPECT_EQ(e.at("stencil"), "analytic");
  EXPECT_TRUE(e.at("kink").is_null());
  EXPECT_EQ(e.at("relative_error").get<double>(), r.entries[10].relative_error);
  EXPECT_TRUE(j.at("directions").empty());
  EXPECT_TRUE(j.at("findings").empty());
}

TEST(CheckJson, WritesKinksWithTheirSlopes) {
  CheckResult r = test::compare_tensors(test::correct_321());
  Kink k;
  k.layer = 0;
  k.unit = 1;
  k.z = 0;
  k.exact = true;
  k.forward_slope = 0.25;
  r.entries[0].kink = k;
  const nlohmann::json j = to_json(r);
  const auto& kj = j.at("entries")[0].at("kink");
  EXPECT_EQ(kj.at("unit"), 1);
  EXPECT_EQ(kj.at("exact"), true);
  EXPECT_EQ(kj.at("forward_slope"), 0.25);
  EXPECT_EQ(kj.at("backward_slope"), "NaN");
}

TEST(CheckReport, AddPutsTheSectionInTheDocumentAndTheResultInTheJson) {
  Report report;
  add(report, test::compare_tensors(test::correct_321()));
  add(report, test::compare_tensors(test::asker_321()), {"Gradients (asker)", "asker", 50, 48, 64, 20});
  EXPECT_EQ(report.document.status, Status::fail);
  ASSERT_EQ(report.document.sections.size(), 2u);
  EXPECT_EQ(report.document.sections[1].heading, "Gradients (asker)");
  EXPECT_EQ(report.document.sections[1].testcases[0].suite, "asker");
  const auto j = nlohmann::json::parse(render_json(report));
  ASSERT_EQ(j.at("results").size(), 2u);
  EXPECT_EQ(j.at("results")[0].at("summary").at("passed"), true);
  EXPECT_EQ(j.at("results")[1].at("summary").at("passed"), false);
  EXPECT_EQ(j.at("status"), "fail");
  const std::string md = render_markdown(report.document);
  EXPECT_NE(md.find("| Gradients | pass | all 11 entries agree |"), std::string::npos) << md;
  EXPECT_NE(md.find("| layers\\[1\\].biases\\[0\\] | 0.11470326 | -0.03512611471 |"), std::string::npos) << md;
}

TEST(EntryName, FollowsTheCaseFilesPaths) {
  Entry e;
  e.layer = 2, e.row = 1, e.col = 3;
  e.tensor = TensorKind::weights;
  EXPECT_EQ(entry_name(e), "layers[2].weights[1][3]");
  e.tensor = TensorKind::biases;
  EXPECT_EQ(entry_name(e), "layers[2].biases[1]");
  e.tensor = TensorKind::inputs;  // row = feature, col = sample; the file is one row per sample
  EXPECT_EQ(entry_name(e), "inputs[3][1]");
  e.tensor = TensorKind::x;
  EXPECT_EQ(entry_name(e), "x[1]");
  e.tensor = TensorKind::loss;
  EXPECT_EQ(entry_name(e), "loss");
}

TEST(EntryName, NamesAConvWeightByOutputInputRowAndColumnAsTheJsonNestsThem) {
  const CheckResult r = test::conv_check();
  ASSERT_TRUE(r.summary.worst);
  EXPECT_EQ(entry_name(r, *r.summary.worst), "layers[0].weights[1][1][2][2]");
  const nlohmann::json j = to_json(r);
  EXPECT_EQ(j["summary"]["worst"]["name"], "layers[0].weights[1][1][2][2]");
  EXPECT_EQ(j["entries"][3]["name"], "layers[0].weights[0][0][1][0]");  // column 3 = (0·3 + 1)·3 + 0
  EXPECT_EQ(j["tensors"][0]["kernel"], nlohmann::json::array({3, 3}));
  EXPECT_TRUE(j["tensors"][1]["kernel"].is_null());
  EXPECT_EQ(shape_text(r.tensors[0], "x"), "2x2x3x3");
  EXPECT_EQ(shape_text(r.tensors[1], "x"), "2x1");
}

}  // namespace
}  // namespace gradcheck::reports

namespace gradcheck::reports {
namespace {

TEST(CheckJson, ReportJsonPutsTheSchemaFirstAndEachEntryOnItsOwnLine) {
  Report report;
  const CheckResult r = test::compare_tensors(test::asker_321());
  add(report, r);
  const std::string text = render_json(report);
  std::vector<std::string> lines;
  std::istringstream is(text);
  for (std::string line; std::getline(is, line);) lines.push_back(line);
  ASSERT_GT(lines.size(), 3u);
  EXPECT_EQ(lines[0], "{");
  EXPECT_EQ(lines[1], "  \"schema\": 1,");
  std::size_t entry_lines = 0;
  for (const Entry& e : r.entries) {
    const std::string start = "        {\"name\":\"" + entry_name(e) + "\",";
    for (const auto& line : lines)
      if (line.rfind(start, 0) == 0 && (line.back() == '}' || line.substr(line.size() - 2) == "},")) {
        ++entry_lines;
        const auto one = nlohmann::json::parse(line.back() == ',' ? line.substr(0, line.size() - 1) : line);
        EXPECT_EQ(one.at("name"), entry_name(e));
        break;
      }
  }
  EXPECT_EQ(entry_lines, r.entries.size());
  // "entries", the largest array, comes last in its result.
  const auto entries_at = text.find("\"entries\": [");
  ASSERT_NE(entries_at, std::string::npos);
  for (const char* key : {"\"summary\"", "\"tensors\"", "\"findings\"", "\"directions\""}) EXPECT_LT(text.find(key), entries_at) << key;
}

}  // namespace
}  // namespace gradcheck::reports
