// docs/limits.md against the code: every bound the page names by its code name
// must show the default the code has. (Here because this suite links the
// engine, the checks and the reports, where the bounds live.)
#include <gradcheck/gradient/network_check.hpp>
#include <gradcheck/gradient/reference.hpp>
#include <gradcheck/probe/subprocess.hpp>
#include <gradcheck/engine/case_format.hpp>
#include <gradcheck/engine/idx.hpp>
#include <gradcheck/engine/network.hpp>
#include <gradcheck/reports/check_section.hpp>
#include <gradcheck/reports/render.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "../../tests/limits_page.hpp"

namespace gradcheck {
namespace {

using testing::limits_page::row_naming;
using testing::limits_page::with_commas;

#define EXPECT_ROW_SAYS(code, text)                                          \
  do {                                                                       \
    const std::string row = row_naming(code);                                \
    EXPECT_NE(row, "") << "docs/limits.md has no row naming `" << code << "`"; \
    EXPECT_NE(row.find(text), std::string::npos) << "expected \"" << (text) << "\" in: " << row; \
  } while (0)

TEST(LimitsPage, ShowsTheDefaultsOfTheFilesAndNetworksBounds) {
  EXPECT_ROW_SAYS("max_json_bytes", with_commas(max_json_bytes) + " bytes");
  EXPECT_ROW_SAYS("max_json_bytes", std::to_string(max_json_bytes >> 20) + " MiB");
  EXPECT_ROW_SAYS("max_json_depth", std::to_string(max_json_depth) + " levels");
  EXPECT_ROW_SAYS("max_layer_width", with_commas(static_cast<unsigned long long>(max_layer_width)));
  EXPECT_ROW_SAYS("max_recorded_non_finite", std::to_string(max_recorded_non_finite) + " paths");
  EXPECT_ROW_SAYS("idx::Limits::max_bytes", with_commas(idx::Limits{}.max_bytes) + " bytes");
}

TEST(LimitsPage, ShowsTheDefaultsOfTheSubprocessBounds) {
  const LineProcessOptions o;
  EXPECT_ROW_SAYS("LineProcessOptions::max_line_bytes", std::to_string(o.max_line_bytes >> 20) + " MiB");
  EXPECT_EQ(o.max_line_bytes, max_json_bytes) << "the page says the reply cap equals the parser's limit";
  EXPECT_ROW_SAYS("LineProcessOptions::stderr_tail_bytes", std::to_string(o.stderr_tail_bytes >> 10) + " KiB");
  EXPECT_ROW_SAYS("LineProcessOptions::exit_grace", std::to_string(o.exit_grace.count()) + " ms");
}

TEST(LimitsPage, ShowsTheDefaultsOfTheCheckBounds) {
  const ReferenceOptions r;
  EXPECT_ROW_SAYS("ReferenceOptions::cross_check_all_up_to", std::to_string(r.cross_check_all_up_to) + " parameters");
  EXPECT_ROW_SAYS("ReferenceOptions::cross_check_all_up_to", std::to_string(r.cross_check_per_tensor) + " per tensor");
  const CheckOptions c;
  EXPECT_ROW_SAYS("CheckOptions::directions_per_tensor", std::to_string(c.directions_per_tensor) + " per tensor + " +
                                                            std::to_string(c.whole_network_directions) + " over");
}

TEST(LimitsPage, ShowsTheDefaultsOfTheReportBounds) {
  const reports::MarkdownOptions m;
  EXPECT_ROW_SAYS("MarkdownOptions::max_table_rows", "| " + std::to_string(m.max_table_rows) + " (");
  EXPECT_ROW_SAYS("MarkdownOptions::max_preformatted_lines", "| " + std::to_string(m.max_preformatted_lines) + " (");
  EXPECT_ROW_SAYS("MarkdownOptions::max_chars", "| " + with_commas(m.max_chars) + " (");
  const reports::CheckSectionOptions s;
  EXPECT_ROW_SAYS("CheckSectionOptions::max_table_rows", "| " + std::to_string(s.max_table_rows) + " |");
  EXPECT_ROW_SAYS("CheckSectionOptions::heatmap_max_rows",
                  std::to_string(s.heatmap_max_rows) + " × " + std::to_string(s.heatmap_max_cols) + " cells");
  EXPECT_ROW_SAYS("CheckSectionOptions::junit_max_entries", "| " + std::to_string(s.junit_max_entries) + " |");
}

}  // namespace
}  // namespace gradcheck
