// docs/report-schema.md documents report.json field by field: these tests keep the two
// in step (a field added to to_json without a line in the doc fails here, and back).
#include "check_results.hpp"

#include <gradcheck/reports/check_section.hpp>
#include <gradcheck/reports/report.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

namespace gradcheck::reports {
namespace {

// The field names in the first column of the table under `heading` ("### `entries[]`").
std::set<std::string> documented(const std::string& heading) {
  std::ifstream in(std::string(GRADCHECK_SOURCE_DIR) + "/docs/report-schema.md");
  std::set<std::string> names;
  bool inside = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("#", 0) == 0) {
      inside = line.rfind(heading, 0) == 0;
      continue;
    }
    if (!inside || line.rfind("| `", 0) != 0) continue;
    const std::string cell = line.substr(1, line.find('|', 1) - 1);
    std::string previous;
    for (std::size_t pos = cell.find('`'); pos != std::string::npos; pos = cell.find('`', pos + 1)) {
      const std::size_t end = cell.find('`', pos + 1);
      std::string name = cell.substr(pos + 1, end - pos - 1);
      if (!name.empty() && name[0] == '.') name = previous.substr(0, previous.rfind('.')) + name;  // `a.b`, `.c`
      names.insert(name);
      previous = name;
      pos = end;
    }
  }
  return names;
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
