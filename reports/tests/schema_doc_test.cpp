// docs/report-schema.md documents report.json field by field: these tests keep the two
// in step (a field added to to_json without a line in the doc fails here, and back).
#include "check_results.hpp"

#include <gradcheck/reports/check_section.hpp>
#include <gradcheck/reports/report.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "../../tests/documented_fields.hpp"

namespace gradcheck::reports {
namespace {

// The backticked names in the first column of the tables under `heading` in docs/report-schema.md.
std::set<std::string> documented(const std::string& heading) {
  return gradcheck::testing::documented_fields("docs/report-schema.md", heading);
}

// The keys of an object; the keys of the objects named in `nested` as "name.key".
std::set<std::string> keys(const nlohmann::json& j, const std::set<std::string>& nested = {}) {
  std::set<std::string> out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (nested.count(it.key())) {
      for (auto jt = it->begin(); jt != it->end(); ++jt) out.insert(it.key() + "." + jt.key());
    } else {
      out.insert(it.key());
    }
  }
  return out;
}

nlohmann::json full_check_json() {
  CheckResult r = test::compare_tensors(test::asker_321());
  r.directions.push_back(DirectionCheck{});
  r.findings.push_back({FindingKind::shape_mismatch, 0, TensorKind::weights, "m"});
  summarize(r);
  return to_json(r);
}

TEST(ReportSchemaDoc, DocumentsEveryTopLevelField) {
  EXPECT_EQ(documented("## Top level"), keys(to_json(Report{})));
}

TEST(ReportSchemaDoc, DocumentsEveryFieldOfACheck) {
  const nlohmann::json j = full_check_json();
  EXPECT_EQ(keys(j), (std::set<std::string>{"type", "summary", "tensors", "entries", "directions", "findings"}));
  EXPECT_EQ(documented("### `summary`"), keys(j.at("summary"), {"tolerances"}));
  EXPECT_EQ(documented("### `tensors[]`"), keys(j.at("tensors")[0]));
  EXPECT_EQ(documented("### `entries[]`"), keys(j.at("entries")[0]));
  EXPECT_EQ(documented("### `directions[]`"), keys(j.at("directions")[0]));
  EXPECT_EQ(documented("### `findings[]`"), keys(j.at("findings")[0]));
}

}  // namespace
}  // namespace gradcheck::reports
