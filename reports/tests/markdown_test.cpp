#include "sample_document.hpp"
#include "xml_check.hpp"

#include <gradcheck/reports/render.hpp>

#include <gtest/gtest.h>

#include <sstream>

namespace gradcheck::reports {
namespace {

using test::count_of;

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream is(s);
  for (std::string line; std::getline(is, line);) out.push_back(line);
  return out;
}

// Cells of a Markdown table row, splitting at pipes that are not backslash-escaped.
std::vector<std::string> cells_of(const std::string& row) {
  std::vector<std::string> cells;
  std::string cur;
  for (std::size_t i = 1; i < row.size(); ++i) {
    if (row[i] == '\\' && i + 1 < row.size()) {
      cur += row[i];
      cur += row[++i];
    } else if (row[i] == '|') {
      cells.push_back(cur.substr(cur.find_first_not_of(' ') == std::string::npos ? 0 : cur.find_first_not_of(' ')));
      while (!cells.back().empty() && cells.back().back() == ' ') cells.back().pop_back();
      cur.clear();
    } else {
      cur += row[i];
    }
  }
  return cells;
}

TEST(MarkdownReport, OpensWithTheEscapedTitleAndTheOverallStatus) {
  const std::string md = render_markdown(test::sample_document());
  const auto lines = lines_of(md);
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines[0], "# gradcheck check \\<net\\> \\& \"friends\"");
  EXPECT_EQ(lines[2], "Status: **FAIL** \u00b7 gradcheck test");
  EXPECT_NE(md.find("- case: case\\<1\\>.json\n"), std::string::npos);
}

TEST(MarkdownReport, SummaryTableHasOneRowPerSectionWithItsStatus) {
  const auto lines = lines_of(render_markdown(test::sample_document()));
  auto header = std::find(lines.begin(), lines.end(), "| section | status | summary |");
  ASSERT_NE(header, lines.end());
  ASSERT_EQ(*(header + 1), "|---|---|---|");
  EXPECT_EQ(cells_of(*(header + 2)), (std::vector<std::string>{"Forward pass", "pass", "outputs and loss agree"}));
  EXPECT_EQ(cells_of(*(header + 3)), (std::vector<std::string>{"Gradients", "**FAIL**", "3 of 25 entries disagree"}));
  EXPECT_EQ(cells_of(*(header + 4)), (std::vector<std::string>{"Training", "notes", "loss became NaN at step 3"}));
  EXPECT_EQ(*(header + 5), "");
}

TEST(MarkdownReport, ShowsFailingAndNoteSectionsButNotThePassingOnesBody) {
  const std::string md = render_markdown(test::sample_document());
  EXPECT_NE(md.find("## Gradients \u2014 **FAIL**\n"), std::string::npos);
  EXPECT_NE(md.find("## Training \u2014 notes\n"), std::string::npos);
  EXPECT_EQ(md.find("## Forward pass"), std::string::npos);
  EXPECT_EQ(md.find("0.78900331"), std::string::npos) << "the passing section's key-values leaked in";
  EXPECT_NE(md.find("**Failure:** layers\\[1\\].biases: \\<script\\>alert(1)\\</script\\> \\& more\n"), std::string::npos);
  EXPECT_NE(md.find("**Note:** differences at float32 level\n"), std::string::npos);
}

TEST(MarkdownReport, CutsTablesToTheirFirstRowsAndCountsTheRest) {
  MarkdownOptions o;
  o.max_table_rows = 4;
  const auto lines = lines_of(render_markdown(test::sample_document(), o));
  auto header = std::find(lines.begin(), lines.end(), "| tensor | row | analytic | numeric | verdict |");
  ASSERT_NE(header, lines.end());
  // The escaped pipe in the first tensor name must not split its cell.
  EXPECT_EQ(cells_of(*(header + 2)),
            (std::vector<std::string>{"w\\<1\\>\\&\"q\" 'x'\\|y", "0", "1e-09", "0", "agree"}));
  EXPECT_EQ(cells_of(*(header + 5)),
            (std::vector<std::string>{"layers\\[0\\].weights", "3", "0.3", "-0.5", "**disagree**"}));
  EXPECT_EQ(*(header + 6), "");
  // 25 rows, 4 shown, 7 more the adapter left out.
  EXPECT_EQ(*(header + 7), "\u2026 and 28 more rows: see report.html.");
}

TEST(MarkdownReport, HasNoChartsAndPointsToTheHtmlReport) {
  const std::string md = render_markdown(test::sample_document());
  EXPECT_EQ(md.find("<svg"), std::string::npos);
  EXPECT_EQ(md.find("Worst relative error per tensor"), std::string::npos);
  EXPECT_NE(md.find("_Charts, full tables and every entry: see report.html (and report.json for the data)._"),
            std::string::npos);
}

TEST(MarkdownReport, FencesPreformattedTextWithMoreBackticksThanItHolds) {
  const std::string md = render_markdown(test::sample_document());
  EXPECT_NE(md.find("````json\n{\"inputs\": [[0.5]]}\n```not a fence```\n````\n"), std::string::npos) << md;
}

TEST(MarkdownReport, StaysUnderTheCommentLimitByShrinkingTables) {
  Document doc = test::sample_document();
  Table big;
  big.header = {"entry", "value"};
  for (int i = 0; i < 5000; ++i) big.rows.push_back({Cell("entry number " + std::to_string(i)), Cell::number(i * 0.001)});
  doc.sections[1].add(big);
  MarkdownOptions o;
  o.max_chars = 4000;
  o.max_table_rows = 1000;
  const std::string md = render_markdown(doc, o);
  EXPECT_LE(md.size(), o.max_chars);
  EXPECT_NE(md.find("| Gradients | **FAIL** | 3 of 25 entries disagree |"), std::string::npos);
  EXPECT_NE(md.find("more rows: see report.html."), std::string::npos);
  EXPECT_TRUE(test::is_valid_utf8(md));
}

TEST(MarkdownReport, InterruptedReportSaysSoBeforeAnythingElse) {
  Document doc = test::sample_document();
  doc.interrupted_by = "SIGINT";
  const auto lines = lines_of(render_markdown(doc));
  ASSERT_GE(lines.size(), 5u);
  EXPECT_EQ(lines[4], "> **interrupted: the report holds what was gathered before SIGINT**");
}

TEST(MarkdownReport, ReplacesInvalidUtf8AndControlCharacters) {
  Document doc;
  doc.title = std::string("bad \xff\xfe bytes \x01 here");
  const std::string md = render_markdown(doc);
  EXPECT_TRUE(test::is_valid_utf8(md));
  EXPECT_EQ(md.find('\x01'), std::string::npos);
  EXPECT_NE(md.find("# bad \xEF\xBF\xBD\xEF\xBF\xBD bytes \xEF\xBF\xBD here"), std::string::npos);
}

}  // namespace
}  // namespace gradcheck::reports
