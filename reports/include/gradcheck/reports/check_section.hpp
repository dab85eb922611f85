#pragma once
// The adapter for the checks' CheckResult (gradcheck/gradient/result.hpp): the pattern every
// result type follows (docs/reports.md).
//
//   Report report;
//   add(report, check_network(c, options));   // a section in report.md/.html/junit.xml,
//                                              // the whole result in report.json
//   write_report("out", report);
//
// What the section shows:
//   - the method, mode, step, seed, tolerances and counts per verdict;
//   - findings (shape mismatches, an untrustworthy reference) and the worst entry;
//   - a bar chart of the worst relative error of each tensor (log scale), with each
//     tensor's tolerance at that entry as a mark (tolerances are per entry, not global);
//   - a heatmap of the relative error of every entry of each weight matrix, coloured by
//     verdict; matrices larger than heatmap_max_rows × heatmap_max_cols are max-pooled
//     (the caption says so), entries not compared are grey;
//   - the table of the entries that do not agree (first max_table_rows, the rest counted);
//   - JUnit: one testcase per tensor (suite "gradients"), failing with its worst entries.

#include <gradcheck/gradient/result.hpp>
#include <gradcheck/reports/document.hpp>
#include <gradcheck/reports/report.hpp>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>

namespace gradcheck::reports {

struct CheckSectionOptions {
  std::string heading = "Gradients";
  std::string junit_suite = "gradients";  // classname of the testcases
  // Entries listed in the table of entries that do not agree; the rest are counted.
  std::size_t max_table_rows = 50;
  // Weight matrices with more cells are max-pooled to at most this many.
  std::size_t heatmap_max_rows = 48;
  std::size_t heatmap_max_cols = 64;
  // Failing entries listed in a tensor's JUnit failure text.
  std::size_t junit_max_entries = 20;
};

// "layers[1].weights", "layers[0].biases", "inputs", "x", "outputs", "loss".
std::string tensor_name(int layer, TensorKind tensor);
// The entry's path as the case or reply JSON writes it: "layers[1].weights[0][2]",
// "layers[1].biases[0]", "inputs[sample][feature]", "x[3]", "outputs[sample][unit]", "loss";
// a conv2d layer's weights "layers[0].weights[out][in][y][x]" when `tensor` (the entry's
// TensorSummary) gives the kernel's shape.
std::string entry_name(const Entry& e, const TensorSummary* tensor = nullptr);
// The same, with the entry's tensor looked up in r.tensors (tensor_of).
std::string entry_name(const CheckResult& r, const Entry& e);
// "2 × 18", or a conv2d layer's weights as the JSON nests them, "2 × 2 × 3 × 3"
// (out × in × kernel_h × kernel_w); `times` joins the sizes.
std::string shape_text(const TensorSummary& t, const std::string& times = " \u00d7 ");
// An empty heatmap of weight tensor t's entries (every cell unchecked, value NaN), titled
// "Relative error of layers[l].weights (shape)". A dense layer's: a row per unit, a column
// per input. A conv2d layer's: one kernel_h × kernel_w block per (output, input) channel
// pair, rows out·kh, columns in·kw, block_rows/block_cols set. heatmap_cell places an entry.
Heatmap weights_heatmap_frame(const TensorSummary& t);
// The index into values and verdicts of t's entry (row, col) in weights_heatmap_frame(t).
std::size_t heatmap_cell(const TensorSummary& t, const Heatmap& h, Index row, Index col);
// The TensorSummary of e's layer and tensor kind in r; nullptr when there is none.
const TensorSummary* tensor_of(const CheckResult& r, const Entry& e);

Section check_section(const CheckResult& result, const CheckSectionOptions& options = {});

// report.json's {"type": "check", ...}: every field of the result (docs/report-schema.md).
nlohmann::json to_json(const CheckResult& result);

// Both of the above into a report.
void add(Report& report, const CheckResult& result, const CheckSectionOptions& options = {});

}  // namespace gradcheck::reports
