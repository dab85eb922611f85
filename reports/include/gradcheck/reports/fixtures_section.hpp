#pragma once
// The adapters for the fixtures' results (gradcheck/fixtures/*.hpp): one section
// per fixture, and each result whole in report.json. The pattern of every
// adapter (docs/reports.md):
//
//   Report report;
//   add(report, run_biases(options));        // a section + {"type": "fixture", "fixture": "biases", ...}
//   write_report("gradcheck-report", report);
//
// Every section shows the fixture's question, its claims (measured value, the
// band it must fall in, where the documented number comes from, verdict), then
// its own tables and charts. JUnit: one testcase per claim, classname
// "fixtures.<name>". The status is pass when every claim holds, fail otherwise.

#include <gradcheck/fixtures/biases.hpp>
#include <gradcheck/fixtures/claim.hpp>
#include <gradcheck/fixtures/fixture_321.hpp>
#include <gradcheck/fixtures/linear_regression.hpp>
#include <gradcheck/fixtures/relu_backward.hpp>
#include <gradcheck/fixtures/relu_nan.hpp>
#include <gradcheck/fixtures/signed_char.hpp>
#include <gradcheck/fixtures/sine.hpp>
#include <gradcheck/reports/document.hpp>
#include <gradcheck/reports/report.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace gradcheck::reports {

// The claims as a table (one row each, coloured by whether it holds), and as
// JUnit testcases of suite "fixtures.<fixture>".
Table claims_table(const std::vector<fixtures::Claim>& claims);
std::vector<TestCase> claims_testcases(const std::string& fixture, const std::vector<fixtures::Claim>& claims);
// "all 9 claims hold" or "2 of 9 claims fail: a, b".
std::string claims_summary(const std::vector<fixtures::Claim>& claims);
nlohmann::json to_json(const fixtures::Claim& claim);

// Fixture 321: its claims, then the verification of the asker's reply as
// `gradcheck verify` shows it (verify_section's blocks).
Section fixture_section(const fixtures::Fixture321Result& r);
Section fixture_section(const fixtures::SignedCharResult& r);
Section fixture_section(const fixtures::ReluNanResult& r);
Section fixture_section(const fixtures::ReluBackwardResult& r);
Section fixture_section(const fixtures::LinearRegressionResult& r);
Section fixture_section(const fixtures::BiasesResult& r);
Section fixture_section(const fixtures::SineResult& r);

// report.json's {"type": "fixture", "fixture": "<name>", "reproduced": bool, "claims": [...], ...}.
// Fixture 321: its "verify" field is the verification as "type": "verify" holds it.
nlohmann::json to_json(const fixtures::Fixture321Result& r);
nlohmann::json to_json(const fixtures::SignedCharResult& r);
nlohmann::json to_json(const fixtures::ReluNanResult& r);
nlohmann::json to_json(const fixtures::ReluBackwardResult& r);
nlohmann::json to_json(const fixtures::LinearRegressionResult& r);
nlohmann::json to_json(const fixtures::BiasesResult& r);
nlohmann::json to_json(const fixtures::SineResult& r);

void add(Report& report, const fixtures::Fixture321Result& r);
void add(Report& report, const fixtures::SignedCharResult& r);
void add(Report& report, const fixtures::ReluNanResult& r);
void add(Report& report, const fixtures::ReluBackwardResult& r);
void add(Report& report, const fixtures::LinearRegressionResult& r);
void add(Report& report, const fixtures::BiasesResult& r);
void add(Report& report, const fixtures::SineResult& r);

// A fixture that could not run (its data missing, ...): an error section and
// {"type": "fixture", "fixture": name, "error": message} in report.json.
void add_fixture_error(Report& report, const std::string& fixture, const std::string& message);

}  // namespace gradcheck::reports
