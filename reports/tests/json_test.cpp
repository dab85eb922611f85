#include "sample_document.hpp"

#include <gradcheck/engine/version.hpp>
#include <gradcheck/reports/format.hpp>
#include <gradcheck/reports/render.hpp>

#include <gtest/gtest.h>

#include <cmath>

namespace gradcheck::reports {
namespace {

TEST(JsonReport, TopLevelCarriesTheSchemaVersionStatusAndResults) {
  Report r = test::sample_report();
  r.document.generator.clear();
  const auto j = nlohmann::json::parse(render_json(r));
  EXPECT_EQ(j.at("schema"), 1);
  EXPECT_EQ(j.at("generator"), std::string("gradcheck ") + gradcheck::version());
  EXPECT_EQ(j.at("title"), "gradcheck check <net> & \"friends\"");
  EXPECT_EQ(j.at("status"), "fail");
  EXPECT_EQ(j.at("interrupted"), false);
  EXPECT_TRUE(j.at("interrupted_by").is_null());
  EXPECT_EQ(j.at("facts").at("case"), "case<1>.json");
  ASSERT_EQ(j.at("results").size(), 1u);
  EXPECT_EQ(j.at("results")[0].at("type"), "sample");
  EXPECT_EQ(j.at("results")[0].at("worst"), 0.5);
}

TEST(JsonReport, InterruptedReportSaysBy) {
  Report r = test::sample_report();
  r.mark_interrupted("SIGTERM");
  const auto j = nlohmann::json::parse(render_json(r));
  EXPECT_EQ(j.at("interrupted"), true);
  EXPECT_EQ(j.at("interrupted_by"), "SIGTERM");
}

TEST(JsonReport, InvalidUtf8InResultsIsReplacedNotThrown) {
  Report r;
  r.add_result({{"type", "x"}, {"message", std::string("reply: \xff\xfe garbage")}});
  std::string text;
  ASSERT_NO_THROW(text = render_json(r));
  const auto j = nlohmann::json::parse(text);
  EXPECT_EQ(j.at("results")[0].at("message"), "reply: \xEF\xBF\xBD\xEF\xBF\xBD garbage");
}

TEST(JsonNumber, KeepsNonFiniteValuesAsStrings) {
  EXPECT_EQ(json_number(0.25), nlohmann::json(0.25));
  EXPECT_EQ(json_number(std::nan("")), nlohmann::json("NaN"));
  EXPECT_EQ(json_number(HUGE_VAL), nlohmann::json("inf"));
  EXPECT_EQ(json_number(-HUGE_VAL), nlohmann::json("-inf"));
  // Round trip of a double through the report's JSON is exact.
  const double x = 0.1 + 0.2;
  EXPECT_EQ(nlohmann::json::parse(json_number(x).dump()).get<double>(), x);
}

TEST(ReportStatus, IsTheWorstOfItsSections) {
  Report r;
  EXPECT_EQ(r.document.status, Status::pass);
  Section s;
  s.status = Status::notes;
  r.add_section(s);
  EXPECT_EQ(r.document.status, Status::notes);
  s.status = Status::fail;
  r.add_section(s);
  s.status = Status::pass;
  r.add_section(s);
  EXPECT_EQ(r.document.status, Status::fail);
  s.status = Status::error;
  r.add_section(s);
  EXPECT_EQ(r.document.status, Status::error);
  EXPECT_EQ(r.document.sections.size(), 4u);
}

}  // namespace
}  // namespace gradcheck::reports
