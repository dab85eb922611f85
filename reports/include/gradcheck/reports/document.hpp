#pragma once
// The report document: what the human-readable formats (Markdown, HTML, JUnit XML) are
// rendered from. report.json is NOT rendered from it: it holds the result structs
// themselves (see report.hpp and docs/report-schema.md).
//
// How to use (an adapter, reports/src/<type>_section.cpp, does this for one result type):
//
//   Section s;
//   s.heading = "Gradients";
//   s.status = Status::fail;
//   s.summary = "2 of 9 entries disagree";                  // one line, for the summary table
//   s.add(Paragraph{Severity::error, "layers[1].biases: analytic 0.1147, reference -0.03513"});
//   BarChart chart;  chart.title = "Worst relative error per tensor";
//   chart.labels = {"layers[0].weights", "layers[0].biases"};
//   chart.values = {3e-11, 0.27};
//   chart.verdicts = {Verdict::agree, Verdict::disagree};
//   chart.log_scale = true;  chart.threshold = 1e-6;  chart.threshold_label = "tolerance";
//   s.add(std::move(chart));
//   s.testcases.push_back({"gradients", "layers[0].biases", Outcome::fail, "rel. error 0.27", ""});
//
// Every field holds text and numbers ready to be shown. Adapters decide verdicts and
// statuses from the result's data; renderers only lay them out. Numbers that are not
// finite (NaN, ±inf) are legal everywhere a double appears and are drawn as such.

#include <gradcheck/engine/findings.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace gradcheck::reports {

// The outcome of a report or a section, from best to worst.
enum class Status {
  pass,   // everything agrees
  notes,  // agrees, with notes worth reading (float32-level differences, relu'(0) at a kink, ...)
  fail,   // a divergence, or an implementation that misbehaved
  error,  // the run itself could not be completed (gradcheck's own error)
};

using gradcheck::Severity;  // info, note, warning, error (engine/findings.hpp)

// What a number means, for colouring a bar, a heatmap cell or a table cell. Ordered by
// how much it matters when cells are pooled (worst() keeps the later one).
enum class Verdict {
  unchecked,          // no data: the entry was not compared (sampled out); its value is ignored
  none,               // plain data: no colour
  agree,
  note,               // agrees, with a note
  inconclusive_kink,  // the finite-difference stencil crosses a kink (relu at 0, max-pool tie)
  disagree,
  non_finite,         // NaN or ±inf where a finite number was expected
};

// JUnit outcome of one testcase.
enum class Outcome { pass, fail, skip, error };

const char* to_string(Status s) noexcept;    // "pass", "notes", "fail", "error"
const char* to_string(Verdict v) noexcept;   // "unchecked", "", "agree", "note", "inconclusive-kink", "disagree", "non-finite"
const char* to_string(Outcome o) noexcept;   // "pass", "fail", "skip", "error"

// The worse of two: error > fail > notes > pass, and
// non_finite > disagree > inconclusive_kink > note > agree > none > unchecked.
Status worst(Status a, Status b) noexcept;
Verdict worst(Verdict a, Verdict b) noexcept;

struct Paragraph {
  Severity severity = Severity::info;
  std::string text;
};

// Two columns: a name and its value ("method" → "Ridders", "seed" → "42").
struct KeyValues {
  std::string caption;
  std::vector<std::pair<std::string, std::string>> rows;
};

struct Cell {
  std::string text;
  Verdict verdict = Verdict::none;
  std::optional<double> sort_key;  // set for numbers, so that sorting a column is numeric

  Cell() = default;
  Cell(std::string t, Verdict v = Verdict::none) : text(std::move(t)), verdict(v) {}  // implicit: {"text", v}
  Cell(const char* t, Verdict v = Verdict::none) : text(t), verdict(v) {}
  // A number shown with `digits` significant digits and sorted by value.
  static Cell number(double value, int digits = 6, Verdict v = Verdict::none);
};

struct Table {
  std::string caption;
  std::vector<std::string> header;
  std::vector<std::vector<Cell>> rows;
  // Rows the adapter left out (e.g. "first 50 failing entries"); renderers say "… and N more".
  std::size_t omitted_rows = 0;
};

// One bar per label. On a log scale, zero is drawn as a stub at the axis floor, and
// non-finite values as a full-height bar in the non-finite colour, labelled "NaN"/"inf".
struct BarChart {
  std::string title;
  std::string caption;
  std::string y_label;
  std::vector<std::string> labels;
  std::vector<double> values;
  std::vector<Verdict> verdicts;  // one per bar, or empty (all Verdict::none)
  bool log_scale = false;
  std::optional<double> threshold;  // a horizontal line, e.g. the tolerance
  // Or one threshold per bar (NaN: none for that bar), drawn as a mark across its bar:
  // a tolerance that differs from tensor to tensor.
  std::vector<double> bar_thresholds;
  std::string threshold_label;
};

// A matrix of values (row-major). Each cell is coloured by its verdict (hue) and by its
// value on the colour scale (lightness); the scale is drawn as a legend with the threshold.
struct Heatmap {
  std::string title;
  std::string caption;
  std::string value_label = "value";
  std::size_t rows = 0, cols = 0;
  std::vector<double> values;           // rows * cols, row-major
  std::vector<Verdict> verdicts;        // rows * cols, or empty (all Verdict::none)
  std::vector<std::string> row_labels;  // rows entries, or empty (0, 1, 2, ...)
  std::vector<std::string> col_labels;  // cols entries, or empty
  std::string row_title, col_title;     // what rows and columns are ("unit", "input")
  bool log_scale = true;
  std::optional<double> threshold;  // marked on the colour scale
  // The colour scale's range; by default that of the values. Set it to compare the colours
  // of several heatmaps (e.g. every weight matrix of one check).
  std::optional<double> scale_min, scale_max;
  // When both are set, lines divide the grid into blocks of block_rows × block_cols
  // cells (a conv2d layer's weights: one block per kernel). max_pool drops them.
  std::size_t block_rows = 0, block_cols = 0;

  Heatmap() = default;
  Heatmap(std::size_t r, std::size_t c) : rows(r), cols(c), values(r * c, 0.0), verdicts(r * c, Verdict::none) {}
  double& value(std::size_t r, std::size_t c) { return values[r * cols + c]; }
  double value(std::size_t r, std::size_t c) const { return values[r * cols + c]; }
  Verdict verdict(std::size_t r, std::size_t c) const {
    return verdicts.empty() ? Verdict::none : verdicts[r * cols + c];
  }
};

// A presentation step, not a computation on results: a heatmap with at most max_rows ×
// max_cols cells, each the maximum of a block of the original (NaN wins, unchecked cells
// are ignored; verdict: the worst in the block). Labels become ranges "0–3". Returns `h`
// unchanged when it fits.
// The caller says so in the caption (pooled_caption() words it).
Heatmap max_pool(const Heatmap& h, std::size_t max_rows, std::size_t max_cols);
// "Each cell is the maximum over a block of 4 × 13 entries (30 × 784 shown as 8 × 61)."
std::string pooled_caption(const Heatmap& original, const Heatmap& pooled);

struct Series {
  std::string name;
  std::vector<double> x, y;  // same length; non-finite y breaks the line and is marked
};

// Loss curves, norms per step: several named series against a shared x axis.
struct LineChart {
  std::string title;
  std::string caption;
  std::string x_label, y_label;
  std::vector<Series> series;
  bool log_y = false;
  std::optional<double> threshold;
  std::string threshold_label;
};

// Text shown verbatim in a monospaced block, e.g. a minimal counterexample as JSON.
struct Preformatted {
  std::string caption;
  std::string text;
  std::string language;  // "json", "text": a hint for Markdown fences
};

using Block = std::variant<Paragraph, KeyValues, Table, BarChart, Heatmap, LineChart, Preformatted>;

// One JUnit testcase. `suite` becomes the testcase's classname.
struct TestCase {
  std::string suite;
  std::string name;
  Outcome outcome = Outcome::pass;
  std::string message;  // one line, e.g. "relative error 0.27 > tolerance 1e-06"
  std::string details;  // free text: the failing entries, the counterexample
  double seconds = 0;
};

struct Section {
  std::string heading;
  Status status = Status::pass;
  std::string summary;        // one line for the summary table of Markdown and HTML
  std::vector<Block> blocks;  // shown in this order
  // JUnit testcases. A section without any is written as one testcase named after its heading.
  std::vector<TestCase> testcases;

  template <class B>
  Section& add(B&& block) {
    blocks.emplace_back(std::forward<B>(block));
    return *this;
  }
};

struct Document {
  std::string title = "gradcheck report";
  Status status = Status::pass;  // keep it the worst of the sections' (Report::add does)
  KeyValues facts;               // shown under the title: command, case file, seed, ...
  std::vector<Section> sections;
  // Set when the run was cut short (by SIGINT, SIGTERM, a time limit): every format then
  // says "interrupted: the report holds what was gathered before <interrupted_by>".
  std::optional<std::string> interrupted_by;
  std::string generator;  // "gradcheck 0.1.0"; filled by Report when empty

  std::string interruption_note() const;  // the sentence above, or "" when not interrupted
};

}  // namespace gradcheck::reports
