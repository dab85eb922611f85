#pragma once
// The report adapter and the terminal text of `gradcheck fd`
// (checks/probe/include/gradcheck/probe/fd.hpp, docs/fd.md#output).
//
// How to use:
//   Report report;
//   add(report, fd_result, strict);        // the section, its JUnit testcases and report.json's entry
//   write_report(dir, report);
//   std::cout << render_fd_text(fd_result, strict);
//
// The section shows the run (command, loss, noise, evaluations), a table per
// tensor (entries by verdict, worst relative error), the worst entries with
// their error bars, the signatures, and a bar chart of each tensor's worst
// relative error. JUnit: one testcase per tensor (class "fd"), failing on a
// disagreeing or non-finite entry, and one "determinism" testcase.
// inconclusive-noise cells are coloured as inconclusive (the document's
// Verdict has one inconclusive colour); their text says which.

#include <gradcheck/probe/fd.hpp>
#include <gradcheck/reports/report.hpp>

#include <nlohmann/json.hpp>

#include <string>

namespace gradcheck::reports {

// "W1[2][1]", "b[0]", "scale" (a scalar): the entry as the program's parameter.
std::string fd_entry_name(const FdResult& r, const FdEntry& e);

Section fd_section(const FdResult& result, bool strict = false);
// report.json's {"type": "fd", ...} (fields: docs/fd.md#reportjson).
nlohmann::json to_json(const FdResult& result);
void add(Report& report, const FdResult& result, bool strict = false);

// What `gradcheck fd` prints: the run, the tensors, the worst entries, the
// signatures, then AGREE, DIVERGES or NONDETERMINISTIC.
std::string render_fd_text(const FdResult& result, bool strict = false);

}  // namespace gradcheck::reports
