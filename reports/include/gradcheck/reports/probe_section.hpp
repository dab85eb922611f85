#pragma once
// The report adapter for `gradcheck probe` (checks/probe/include/gradcheck/probe/probe.hpp).
//
// How to use:
//   Report report;
//   add(report, probe_result, strict);     // the section, its JUnit testcases and report.json's
//   if (probe_result.interrupted) report.mark_interrupted("SIGINT");
//   write_report(dir, report);
//
// The section shows the counts (agree, notes, declined, diverge, repeats,
// restarts), the minimal counterexample — the case as JSON, the
// implementation's reply, the signatures that explain it — and every
// implementation failure with its case, how the process ended and the tail of
// its stderr. report.json holds to_json(result): {"type": "probe", ...}, its
// fields listed in docs/probe.md.

#include <gradcheck/probe/probe.hpp>
#include <gradcheck/reports/report.hpp>

#include <nlohmann/json.hpp>

namespace gradcheck::reports {

Section probe_section(const ProbeResult& result, bool strict = false);
nlohmann::json to_json(const ProbeResult& result);
void add(Report& report, const ProbeResult& result, bool strict = false);

}  // namespace gradcheck::reports
