#pragma once
// The adapter for the training watch's result (gradcheck/watch/watch.hpp).
//
//   Report report;
//   add(report, watch.result());          // a "Training" section; {"type": "training", ...} in report.json
//   write_report("out", report);
//
// What the section shows, in reading order:
//   - every finding as a paragraph (errors first) with its fix, and the table of
//     findings with their evidence;
//   - the first non-finite value: where, the operation that produced it, its
//     operands, what passed it on, and the per-layer norms of the steps before it;
//   - the loss (per step or per window, and per epoch) and the test accuracy per epoch;
//   - per layer: activation, gradient and weight norms, the update/weight ratio
//     (log scale), and a table per epoch with dead and saturated fractions;
//   - the input sanity of the training set, with the byte histogram when the
//     values lie on a signed byte grid (the signed-byte signature is visible in it).
// Status: fail when a finding is an error, notes when one is a warning, pass otherwise.
// JUnit (suite "training"): one testcase per finding (failing for errors) and one for the run.

#include <gradcheck/watch/watch.hpp>
#include <gradcheck/reports/document.hpp>
#include <gradcheck/reports/report.hpp>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>

namespace gradcheck::reports {

struct TrainSectionOptions {
  std::string heading = "Training";
  std::string junit_suite = "training";
  // Line charts of per-step series keep at most this many points per series
  // (every k-th step, the last always kept); the data in report.json is complete.
  std::size_t max_points = 2000;
  // Rows of the per-layer, per-epoch table; the rest are counted.
  std::size_t max_table_rows = 200;
};

Section train_section(const watch::Result& result, const TrainSectionOptions& options = {});

// report.json's {"type": "training", ...}: every field of the result (docs/report-schema.md).
nlohmann::json to_json(const watch::Result& result);

void add(Report& report, const watch::Result& result, const TrainSectionOptions& options = {});

}  // namespace gradcheck::reports
