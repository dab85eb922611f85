#pragma once
// The report adapter of a verification (checks/verify.hpp): what the document
// shows (verdict, forward, origin layer, chain consistency, signatures with
// their evidence, per-tensor chart, per-entry heatmaps, worst entries, update
// effect; one JUnit testcase per parameter tensor) and what report.json holds
// (docs/verify.md lists the fields).
//
// How to use (what `gradcheck verify --report DIR` does):
//   Report report;
//   add(report, verify_result, {"case.json", "reply.json"});
//   write_report("out", report);

#include <gradcheck/verify/verify.hpp>
#include <gradcheck/reports/report.hpp>

#include <nlohmann/json.hpp>

#include <string>

namespace gradcheck::reports {

struct VerifySectionOptions {
  std::string case_name;   // e.g. the case file's path; "" leaves it out
  std::string reply_name;  // e.g. the reply file's path
  // Heatmaps larger than this are max-pooled (the caption says so).
  std::size_t heatmap_max_rows = 40, heatmap_max_cols = 80;
  // Rows of the worst-entries table (report.json holds every entry).
  std::size_t worst_rows = 20;
};

// reports::Status of a verification: agree and declined pass, notes, diverge fails.
Status status_of(const VerifyResult& r);

Section verify_section(const VerifyResult& r, const VerifySectionOptions& options = {});
nlohmann::json to_json(const VerifyResult& r);
// report.json's `signatures` array (docs/verify.md#signatures), also in probe's
// counterexample and notes.
nlohmann::json signatures_json(const std::vector<Signature>& signatures);
// report.json's `cause` object (docs/verify.md#cause), in verify's result and
// probe's counterexample.
nlohmann::json cause_json(const Cause& c);
// "explains all 11 compared entries", "confirmed by experiment", ...
std::string confidence_words(const Cause& c);
// The cause block, first in a section: the cause, its confidence, the
// experiments with their cases, what was ruled out.
void add_cause(Section& s, const Cause& c);
void add(Report& report, const VerifyResult& r, const VerifySectionOptions& options = {});

}  // namespace gradcheck::reports
