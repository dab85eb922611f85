#pragma once
// A report: the document every human-readable format is rendered from, plus the data
// that report.json holds (the result structs themselves, serialised by each adapter's
// to_json; schema in docs/report-schema.md).
//
// How to use:
//   Report report;
//   report.document.title = "gradcheck check case.json";
//   report.document.facts.rows.push_back({"case", "case.json"});
//   add(report, check_result);          // an adapter: sections + to_json(check_result)
//   if (interrupted) report.mark_interrupted("SIGINT");
//   write_report("out", report);        // write.hpp: report.json, report.md, report.html, junit.xml
//
// An adapter for a new result type T (reports/src/<type>_section.cpp, see docs/reports.md):
//   Section <type>_section(const T&, const Options& = {});    // what the document shows
//   nlohmann::json to_json(const T&);                          // what report.json holds
//   void add(Report& r, const T& t) { r.add_section(<type>_section(t)); r.add_result(to_json(t)); }

#include <gradcheck/reports/document.hpp>

#include <nlohmann/json.hpp>

#include <string>

namespace gradcheck::reports {

// The version of report.json's layout. Bumped when a field changes meaning or is removed;
// adding a field does not bump it (readers must ignore fields they do not know).
inline constexpr int schema_version = 1;

struct Report {
  Document document;
  nlohmann::json results = nlohmann::json::array();  // one object per result, each with a "type"

  // Appends a section; the document's status becomes the worse of the two.
  Section& add_section(Section section);
  // Appends one result's serialisation (an object with a "type" field) to report.json.
  void add_result(nlohmann::json result);
  // The run was cut short: every format says "interrupted: the report holds what was
  // gathered before <by>". The probe and train commands call it from their SIGINT path.
  void mark_interrupted(std::string by = "SIGINT");
};

// report.json's top level: {"schema", "generator", "title", "status", "interrupted",
// "interrupted_by", "facts", "results"}.
nlohmann::json to_json(const Report& report);

}  // namespace gradcheck::reports
