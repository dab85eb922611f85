// The adapter for CheckResult: a document section (what people read) and to_json (what
// report.json holds). Verdicts, counts and worst entries come from the result as the
// checks computed them; this file only chooses what to show and how.
#include <gradcheck/reports/check_section.hpp>
#include <gradcheck/reports/format.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <tuple>

namespace gradcheck::reports {
namespace {

using CheckVerdict = gradcheck::Verdict;

Verdict shown(CheckVerdict v) {
  switch (v) {
    case CheckVerdict::agree: return Verdict::agree;
    case CheckVerdict::disagree: return Verdict::disagree;
    case CheckVerdict::inconclusive_kink: return Verdict::inconclusive_kink;
    case CheckVerdict::non_finite: return Verdict::non_finite;
  }
  return Verdict::none;
}

std::string n_of(std::size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// The verdict a tensor is drawn with: the worst among its entries and findings.
Verdict tensor_verdict(const TensorSummary& t) {
  if (t.entries_checked == 0 && t.directions == 0 && !t.shape_mismatch) return Verdict::unchecked;
  Verdict v = Verdict::agree;
  if (t.counts.inconclusive_kink) v = worst(v, Verdict::inconclusive_kink);
  if (!t.passed) v = worst(v, Verdict::disagree);
  if (t.counts.non_finite) v = worst(v, Verdict::non_finite);
  return v;
}

using TensorKey = std::pair<int, TensorKind>;

// The relative tolerance at an entry: τ on the scale of e (compare.hpp), so that
// e > this  ⇔  |a − r| > τ  ⇔  disagree.
double relative_tolerance(const Entry& e, double floor) {
  return e.tolerance / std::max({std::abs(e.numeric), floor, gradcheck::absolute_floor});
}

std::string counts_text(const VerdictCounts& c) {
  return "agree " + std::to_string(c.agree) + ", disagree " + std::to_string(c.disagree) + ", inconclusive-kink " +
         std::to_string(c.inconclusive_kink) + ", non-finite " + std::to_string(c.non_finite);
}

std::string tolerance_rule(const Tolerances& t) {
  if (t.is_fixed())
    return "fixed: |a \u2212 r| \u2264 atol + rtol\u00b7|r| with atol " + format_number(t.atol, 3) + ", rtol " +
           format_number(t.rtol, 3);
  return "derived: \u03c4 = atol + rtol\u00b7max(|r|, floor) + \u03ba\u00b7\u03b5_r + \u03ba_a\u00b7\u03b5_a with rtol " +
         format_number(t.rtol, 3) + ", atol " + format_number(t.atol, 3) + ", floor " + format_number(t.floor_fraction, 3) +
         "\u00b7max|r|, \u03ba " + format_number(t.estimate_factor, 3) + ", \u03ba_a " + format_number(t.roundoff_factor, 3);
}

std::string entry_line(const CheckResult& r, const Entry& e) {
  std::string s = entry_name(r, e) + ": analytic " + format_number(e.analytic, 10) + ", reference " +
                  format_number(e.numeric, 10) + ", relative error " + format_number(e.relative_error, 3) +
                  ", tolerance " + format_number(e.tolerance, 3) + " (" + gradcheck::to_string(e.verdict) + ")";
  if (!e.note.empty()) s += "; " + e.note;
  return s;
}

// Non-finite first, then disagree, then inconclusive; within each, larger relative error first.
bool more_severe(const Entry& a, const Entry& b) {
  auto rank = [](CheckVerdict v) {
    switch (v) {
      case CheckVerdict::non_finite: return 0;
      case CheckVerdict::disagree: return 1;
      case CheckVerdict::inconclusive_kink: return 2;
      case CheckVerdict::agree: return 3;
    }
    return 3;
  };
  if (rank(a.verdict) != rank(b.verdict)) return rank(a.verdict) < rank(b.verdict);
  const double ea = std::isnan(a.relative_error) ? HUGE_VAL : a.relative_error;
  const double eb = std::isnan(b.relative_error) ? HUGE_VAL : b.relative_error;
  return ea > eb;
}

std::string summary_line(const CheckResult& r) {
  const Summary& s = r.summary;
  const VerdictCounts& c = s.counts;
  std::string line;
  if (c.total() == 0 && !r.directions.empty()) {
    std::size_t bad = 0;
    for (const auto& d : r.directions) bad += d.verdict != CheckVerdict::agree;
    line = bad == 0 ? "all " + n_of(r.directions.size(), "random direction agrees", "random directions agree")
                    : std::to_string(bad) + " of " + n_of(r.directions.size(), "random direction", "random directions") +
                          " disagree";
  } else if (c.disagree == 0 && c.non_finite == 0) {
    line = c.inconclusive_kink == 0 ? "all " + n_of(c.total(), "entry agrees", "entries agree")
                                    : std::to_string(c.agree) + " of " + n_of(c.total(), "entry", "entries") + " agree, " +
                                          std::to_string(c.inconclusive_kink) + " inconclusive at kinks";
  } else {
    line = std::to_string(c.disagree) + " of " + n_of(c.total(), "entry disagrees", "entries disagree");
    if (c.non_finite) line += ", " + std::to_string(c.non_finite) + " non-finite";
  }
  if (!r.findings.empty()) line += "; " + n_of(r.findings.size(), "finding", "findings");
  if (s.worst && (!s.passed || s.worst->relative_error > 0))
    line += "; worst relative error " + format_number(s.worst->relative_error, 3) + " at " + entry_name(r, *s.worst);
  return line;
}

}  // namespace

std::string tensor_name(int layer, TensorKind tensor) {
  switch (tensor) {
    case TensorKind::weights: return "layers[" + std::to_string(layer) + "].weights";
    case TensorKind::biases: return "layers[" + std::to_string(layer) + "].biases";
    default: return gradcheck::to_string(tensor);
  }
}

std::string entry_name(const Entry& e, const TensorSummary* tensor) {
  const std::string r = "[" + std::to_string(e.row) + "]", c = "[" + std::to_string(e.col) + "]";
  switch (e.tensor) {
    case TensorKind::weights:
      if (tensor && tensor->kernel_h > 0 && tensor->kernel_w > 0) {  // weights[out][in][y][x]
        const Index kw = tensor->kernel_w, khw = tensor->kernel_h * kw;
        return tensor_name(e.layer, e.tensor) + r + "[" + std::to_string(e.col / khw) + "][" +
               std::to_string(e.col % khw / kw) + "][" + std::to_string(e.col % kw) + "]";
      }
      return tensor_name(e.layer, e.tensor) + r + c;
    case TensorKind::biases: return tensor_name(e.layer, e.tensor) + r;
    case TensorKind::x: return "x" + r;
    // The case and reply files write one row per sample: [sample][feature or unit].
    case TensorKind::inputs: return "inputs" + c + r;
    case TensorKind::outputs: return "outputs" + c + r;
    case TensorKind::loss: return "loss";
  }
  return "?";
}

const TensorSummary* tensor_of(const CheckResult& r, const Entry& e) {
  for (const TensorSummary& t : r.tensors)
    if (t.layer == e.layer && t.tensor == e.tensor) return &t;
  return nullptr;
}

std::string entry_name(const CheckResult& r, const Entry& e) { return entry_name(e, tensor_of(r, e)); }

Heatmap weights_heatmap_frame(const TensorSummary& t) {
  const Index kh = t.kernel_h, kw = t.kernel_w;
  const bool conv = kh > 0 && kw > 0;
  const Index rows = conv ? t.rows * kh : t.rows, cols = conv ? t.cols / kh : t.cols;
  Heatmap h(static_cast<std::size_t>(rows), static_cast<std::size_t>(cols));
  h.verdicts.assign(h.values.size(), Verdict::unchecked);
  h.values.assign(h.values.size(), std::nan(""));
  h.title = "Relative error of " + tensor_name(t.layer, t.tensor) + " (" + shape_text(t) + ")";
  h.value_label = "relative error";
  h.log_scale = true;
  if (!conv) {
    h.row_title = "unit", h.col_title = "input";
    return h;
  }
  h.row_title = "output channel, kernel row", h.col_title = "input channel, kernel column";
  h.block_rows = static_cast<std::size_t>(kh), h.block_cols = static_cast<std::size_t>(kw);
  for (Index i = 0; i < rows; ++i) h.row_labels.push_back(std::to_string(i / kh) + " y" + std::to_string(i % kh));
  for (Index j = 0; j < cols; ++j) h.col_labels.push_back(std::to_string(j / kw) + " x" + std::to_string(j % kw));
  return h;
}

std::size_t heatmap_cell(const TensorSummary& t, const Heatmap& h, Index row, Index col) {
  if (t.kernel_h <= 0 || t.kernel_w <= 0) return static_cast<std::size_t>(row) * h.cols + static_cast<std::size_t>(col);
  const Index kw = t.kernel_w, khw = t.kernel_h * kw;  // col = (in·kh + y)·kw + x
  const Index in = col / khw, y = col % khw / kw, x = col % kw;
  return static_cast<std::size_t>(row * t.kernel_h + y) * h.cols + static_cast<std::size_t>(in * kw + x);
}

std::string shape_text(const TensorSummary& t, const std::string& times) {
  if (t.kernel_h <= 0 || t.kernel_w <= 0) return std::to_string(t.rows) + times + std::to_string(t.cols);
  return std::to_string(t.rows) + times + std::to_string(t.cols / (t.kernel_h * t.kernel_w)) + times +
         std::to_string(t.kernel_h) + times + std::to_string(t.kernel_w);
}

namespace {

// Each tensor's entries, as indices into r.entries.
struct EntryIndex {
  const CheckResult& r;
  std::map<TensorKey, std::vector<std::size_t>> by_tensor;

  explicit EntryIndex(const CheckResult& result) : r(result) {
    for (std::size_t i = 0; i < r.entries.size(); ++i)
      by_tensor[{r.entries[i].layer, r.entries[i].tensor}].push_back(i);
  }
  // The indices of t's entries; nullptr when it has none.
  const std::vector<std::size_t>* of(const TensorSummary& t) const {
    auto it = by_tensor.find({t.layer, t.tensor});
    return it == by_tensor.end() ? nullptr : &it->second;
  }
  const Entry* find(const TensorSummary& t, Index row, Index col) const {
    if (const std::vector<std::size_t>* entries = of(t))
      for (std::size_t i : *entries)
        if (r.entries[i].row == row && r.entries[i].col == col) return &r.entries[i];
    return nullptr;
  }
};

// What was done.
KeyValues check_facts(const Summary& s) {
  KeyValues facts;
  facts.caption = "Check";
  facts.rows.push_back({"method", gradcheck::to_string(s.method)});
  facts.rows.push_back({"mode", gradcheck::to_string(s.mode)});
  if (s.relative_step > 0) facts.rows.push_back({"relative step", format_number(s.relative_step, 3)});
  facts.rows.push_back({"seed", std::to_string(s.seed)});
  facts.rows.push_back({"tolerance", tolerance_rule(s.tolerances)});
  facts.rows.push_back({"parameters", std::to_string(s.parameters)});
  facts.rows.push_back({"entries checked", std::to_string(s.entries_checked)});
  facts.rows.push_back({"verdicts", counts_text(s.counts)});
  if (s.mode == Mode::fast) {
    facts.rows.push_back({"directions per tensor", std::to_string(s.directions_per_tensor)});
    facts.rows.push_back({"whole-network directions", std::to_string(s.whole_network_directions)});
  }
  facts.rows.push_back({"threads", std::to_string(s.threads)});
  facts.rows.push_back({"time", format_number(s.elapsed_seconds, 3) + " s"});
  return facts;
}

// The findings, the worst entry, the inconclusive entries and the escape statement, in words.
void add_paragraphs(Section& sec, const CheckResult& r) {
  const Summary& s = r.summary;
  for (const CheckFinding& f : r.findings)
    sec.add(Paragraph{Severity::error, std::string(gradcheck::to_string(f.kind)) + " (" + tensor_name(f.layer, f.tensor) +
                                             "): " + f.message});
  if (s.worst) {
    const bool bad = s.worst->verdict == CheckVerdict::disagree || s.worst->verdict == CheckVerdict::non_finite;
    sec.add(Paragraph{bad ? Severity::error : Severity::info, "Worst entry: " + entry_line(r, *s.worst)});
  }
  if (s.counts.inconclusive_kink > 0)
    sec.add(Paragraph{Severity::note,
                      n_of(s.counts.inconclusive_kink, "entry is", "entries are") +
                          " inconclusive: the finite-difference stencil crosses a kink (a relu at 0, a max-pool tie) and no one-sided re-check "
                          "decided it. Inconclusive entries do not fail the check; they are listed below."});
  if (!s.escape_statement.empty()) sec.add(Paragraph{Severity::info, s.escape_statement});
}

// Fast mode without the per-entry fallback: the largest relative error of the tensor's random directions.
double worst_direction_error(const CheckResult& r, const TensorSummary& t) {
  double value = 0;
  for (const DirectionCheck& d : r.directions)
    if (!d.whole_network && d.layer == t.layer && d.tensor == t.tensor && !(d.relative_error <= value))
      value = d.relative_error;
  return value;
}

// Worst relative error per tensor, each bar marked with the tolerance of the entry it shows.
BarChart tensor_bar_chart(const CheckResult& r, const EntryIndex& index) {
  BarChart bar;
  bar.title = "Worst relative error per tensor";
  bar.y_label = "relative error";
  bar.log_scale = true;
  bar.threshold_label = "tolerance at that entry";
  bool from_directions = false;
  for (const TensorSummary& t : r.tensors) {
    bar.labels.push_back(tensor_name(t.layer, t.tensor));
    bar.verdicts.push_back(tensor_verdict(t));
    double value = t.worst_relative_error, threshold = std::nan("");
    if (const Entry* w = t.worst_row >= 0 ? index.find(t, t.worst_row, t.worst_col) : nullptr) {
      value = w->relative_error;
      threshold = relative_tolerance(*w, t.floor);
    } else if (t.entries_checked == 0 && t.directions > 0) {
      value = worst_direction_error(r, t);
      from_directions = true;
    }
    bar.values.push_back(value);
    bar.bar_thresholds.push_back(threshold);
  }
  bar.caption = "Log scale. Each bar is the largest relative error e = |a \u2212 r| / max(|r|, floor) among the "
                "tensor's entries; the black mark is the tolerance \u03c4 / max(|r|, floor) of that same entry "
                "(bar above its mark: that entry disagrees). Colour: the tensor's worst verdict.";
  if (from_directions) bar.caption += " Tensors checked by random directions only show their worst direction.";
  return bar;
}

// The positive finite relative errors of all weight entries span [lo, hi]; hi is 0 when there are none.
std::pair<double, double> weights_error_range(const CheckResult& r) {
  double lo = HUGE_VAL, hi = 0;
  for (const Entry& e : r.entries)
    if (e.tensor == TensorKind::weights && std::isfinite(e.relative_error) && e.relative_error > 0)
      lo = std::min(lo, e.relative_error), hi = std::max(hi, e.relative_error);
  return {lo, hi};
}

// Weight tensor t's relative errors (entries not checked: grey), pooled as the options allow
// (a conv layer's kernels up to 128 × 128 cells are never pooled), captioned.
Heatmap weights_heatmap(const CheckResult& r, const TensorSummary& t, const std::vector<std::size_t>& entries,
                        std::pair<double, double> range, const CheckSectionOptions& o) {
  const auto [lo, hi] = range;
  Heatmap h = weights_heatmap_frame(t);
  std::size_t placed = 0;
  for (std::size_t i : entries) {
    const Entry& e = r.entries[i];
    if (e.row < 0 || e.col < 0 || e.row >= t.rows || e.col >= t.cols) continue;
    const std::size_t k = heatmap_cell(t, h, e.row, e.col);
    h.values[k] = e.relative_error;
    h.verdicts[k] = shown(e.verdict);
    ++placed;
  }
  if (hi > 0) h.scale_min = lo, h.scale_max = hi;
  if (r.summary.tolerances.is_fixed() && r.summary.tolerances.rtol > 0) h.threshold = r.summary.tolerances.rtol;
  const bool kernels = h.block_rows > 0;
  Heatmap shown_map = max_pool(h, std::max<std::size_t>(o.heatmap_max_rows, kernels ? 128 : 0),
                               std::max<std::size_t>(o.heatmap_max_cols, kernels ? 128 : 0));
  std::string caption = kernels ? "One block per kernel: the block in row o, column i is the kernel from input channel i "
                                  "to output channel o (its rows y, columns x)."
                                : "Row: the unit, column: the input it weighs.";
  caption += " Hue: the verdict; darker: a larger relative error (one colour scale for every weight tensor of this "
             "check).";
  if (placed < h.values.size())
    caption += " " + std::to_string(h.values.size() - placed) + " entries were not checked (grey).";
  const std::string pooled_text = pooled_caption(h, shown_map);
  if (!pooled_text.empty()) caption += " " + pooled_text;
  shown_map.caption = caption;
  return shown_map;
}

// One heatmap per weight matrix, on one colour scale.
void add_heatmaps(Section& sec, const CheckResult& r, const EntryIndex& index, const CheckSectionOptions& o) {
  const std::pair<double, double> range = weights_error_range(r);
  for (const TensorSummary& t : r.tensors) {
    if (t.tensor != TensorKind::weights || t.rows <= 0 || t.cols <= 0 || t.shape_mismatch) continue;
    if (const std::vector<std::size_t>* entries = index.of(t)) sec.add(weights_heatmap(r, t, *entries, range, o));
  }
}

// Indices of the entries `keep` accepts, most severe first (stable: ties stay in result order).
template <class Keep>
std::vector<std::size_t> most_severe_first(const CheckResult& r, const std::vector<std::size_t>& candidates,
                                           Keep keep) {
  std::vector<std::size_t> out;
  for (std::size_t i : candidates)
    if (keep(r.entries[i])) out.push_back(i);
  std::stable_sort(out.begin(), out.end(),
                   [&](std::size_t a, std::size_t b) { return more_severe(r.entries[a], r.entries[b]); });
  return out;
}

// The entries that do not agree.
void add_entries_table(Section& sec, const CheckResult& r, const CheckSectionOptions& o) {
  std::vector<std::size_t> all(r.entries.size());
  std::iota(all.begin(), all.end(), std::size_t{0});
  const std::vector<std::size_t> bad =
      most_severe_first(r, all, [](const Entry& e) { return e.verdict != CheckVerdict::agree; });
  if (bad.empty()) return;
  Table t;
  t.caption = "Entries that do not agree (" + std::to_string(bad.size()) +
              "): non-finite and disagreeing first, then by relative error";
  t.header = {"entry", "analytic", "reference", "|a \u2212 r|", "relative error", "tolerance \u03c4", "error estimate",
              "verdict"};
  const std::size_t shown_rows = std::min(bad.size(), o.max_table_rows);
  bool notes = false;
  for (std::size_t k = 0; k < shown_rows; ++k) notes = notes || !r.entries[bad[k]].note.empty();
  if (notes) t.header.push_back("note");
  for (std::size_t k = 0; k < shown_rows; ++k) {
    const Entry& e = r.entries[bad[k]];
    const Verdict v = shown(e.verdict);
    t.rows.push_back({Cell(entry_name(r, e)), Cell::number(e.analytic, 10), Cell::number(e.numeric, 10),
                      Cell::number(e.absolute_error, 3), Cell::number(e.relative_error, 3, v), Cell::number(e.tolerance, 3),
                      Cell::number(e.error_estimate, 3), Cell(gradcheck::to_string(e.verdict), v)});
    if (notes) t.rows.back().push_back(Cell(e.note));
  }
  t.omitted_rows = bad.size() - shown_rows;
  sec.add(std::move(t));
}

// Fast mode: the directions that disagree.
void add_directions_table(Section& sec, const CheckResult& r, const CheckSectionOptions& o) {
  std::vector<const DirectionCheck*> bad_directions;
  for (const auto& d : r.directions)
    if (d.verdict != CheckVerdict::agree) bad_directions.push_back(&d);
  if (bad_directions.empty()) return;
  Table t;
  t.caption = "Random directions that do not agree (" + std::to_string(bad_directions.size()) + " of " +
              std::to_string(r.directions.size()) + ")";
  t.header = {"direction", "v\u00b7\u2207L analytic", "directional derivative", "relative error", "tolerance \u03c4",
              "verdict", "note"};
  for (std::size_t k = 0; k < std::min(bad_directions.size(), o.max_table_rows); ++k) {
    const DirectionCheck& d = *bad_directions[k];
    const Verdict v = shown(d.verdict);
    t.rows.push_back({Cell((d.whole_network ? std::string("whole network") : tensor_name(d.layer, d.tensor)) + " #" +
                           std::to_string(d.index)),
                      Cell::number(d.analytic, 10), Cell::number(d.numeric, 10), Cell::number(d.relative_error, 3, v),
                      Cell::number(d.tolerance, 3), Cell(gradcheck::to_string(d.verdict), v), Cell(d.note)});
  }
  t.omitted_rows = bad_directions.size() - std::min(bad_directions.size(), o.max_table_rows);
  sec.add(std::move(t));
}

// A tensor's JUnit message: its verdict counts (or its directions') and its worst entry.
std::string tensor_message(const TensorSummary& t, const EntryIndex& index) {
  const VerdictCounts& c = t.counts;
  std::string message;
  if (t.entries_checked > 0) {
    message = c.disagree + c.non_finite == 0
                  ? n_of(c.total(), "entry", "entries") + " agree"
                  : std::to_string(c.disagree) + " of " + n_of(c.total(), "entry disagrees", "entries disagree");
    if (c.non_finite) message += ", " + std::to_string(c.non_finite) + " non-finite";
    if (c.inconclusive_kink) message += ", " + std::to_string(c.inconclusive_kink) + " inconclusive at kinks";
    if (t.worst_row >= 0) {
      message += "; worst relative error " + format_number(t.worst_relative_error, 3);
      if (const Entry* w = index.find(t, t.worst_row, t.worst_col)) message += " at " + entry_name(index.r, *w);
    }
  } else if (t.directions > 0) {
    message = std::to_string(t.directions_disagreeing) + " of " + n_of(static_cast<std::size_t>(t.directions), "direction", "directions") +
              " disagree";
  } else {
    message = "not checked";
  }
  if (t.shape_mismatch) message = "shape mismatch; " + message;
  return message;
}

// A failed tensor's disagreeing and non-finite entries, most severe first, one line each, up to the options' cap.
std::string failing_entries_text(const TensorSummary& t, const EntryIndex& index, const CheckSectionOptions& o) {
  std::string details;
  std::vector<std::size_t> failing;
  if (const std::vector<std::size_t>* entries = index.of(t))
    failing = most_severe_first(index.r, *entries, [](const Entry& e) {
      return e.verdict == CheckVerdict::disagree || e.verdict == CheckVerdict::non_finite;
    });
  for (std::size_t k = 0; k < std::min(failing.size(), o.junit_max_entries); ++k)
    details += entry_line(index.r, index.r.entries[failing[k]]) + "\n";
  if (failing.size() > o.junit_max_entries)
    details += "\u2026 and " + std::to_string(failing.size() - o.junit_max_entries) + " more (report.json)\n";
  return details;
}

// A tensor's testcase; the findings about it (marked used) open its details.
TestCase tensor_testcase(const CheckResult& r, const TensorSummary& t, const EntryIndex& index,
                         const CheckSectionOptions& o, std::vector<bool>& finding_used) {
  TestCase tc;
  tc.suite = o.junit_suite;
  tc.name = tensor_name(t.layer, t.tensor);
  tc.outcome = t.passed ? Outcome::pass : Outcome::fail;
  tc.message = tensor_message(t, index);
  std::string details;
  for (std::size_t k = 0; k < r.findings.size(); ++k)
    if (r.findings[k].layer == t.layer && r.findings[k].tensor == t.tensor) {
      details += std::string(gradcheck::to_string(r.findings[k].kind)) + ": " + r.findings[k].message + "\n";
      finding_used[k] = true;
    }
  if (!t.passed) details += failing_entries_text(t, index, o);
  tc.details = details;
  return tc;
}

// JUnit: one testcase per tensor, then one per finding about no tensor of the result.
void add_testcases(Section& sec, const CheckResult& r, const EntryIndex& index, const CheckSectionOptions& o) {
  std::vector<bool> finding_used(r.findings.size(), false);
  for (const TensorSummary& t : r.tensors) sec.testcases.push_back(tensor_testcase(r, t, index, o, finding_used));
  for (std::size_t k = 0; k < r.findings.size(); ++k) {
    if (finding_used[k]) continue;
    const CheckFinding& f = r.findings[k];
    sec.testcases.push_back({o.junit_suite, std::string(gradcheck::to_string(f.kind)) + " " + tensor_name(f.layer, f.tensor),
                             Outcome::fail, f.message, "", 0});
  }
  if (sec.testcases.empty())  // a check of nothing still says so in CI
    sec.testcases.push_back(
        {o.junit_suite, "check", r.summary.passed ? Outcome::pass : Outcome::fail, sec.summary, "", 0});
}

}  // namespace

Section check_section(const CheckResult& r, const CheckSectionOptions& o) {
  const Summary& s = r.summary;
  Section sec;
  sec.heading = o.heading;
  sec.status = !s.passed ? Status::fail : s.counts.inconclusive_kink > 0 ? Status::notes : Status::pass;
  sec.summary = summary_line(r);
  const EntryIndex index(r);
  add_paragraphs(sec, r);
  sec.add(check_facts(s));
  if (!r.tensors.empty()) sec.add(tensor_bar_chart(r, index));
  add_heatmaps(sec, r, index, o);
  add_entries_table(sec, r, o);
  add_directions_table(sec, r, o);
  add_testcases(sec, r, index, o);
  return sec;
}

namespace {

nlohmann::json counts_json(const VerdictCounts& c) {
  return {{"agree", c.agree},
          {"disagree", c.disagree},
          {"inconclusive-kink", c.inconclusive_kink},
          {"non-finite", c.non_finite},
          {"total", c.total()}};
}

nlohmann::json entry_json(const CheckResult& r, const Entry& e) {
  nlohmann::json j = {
      {"name", entry_name(r, e)},
      {"layer", e.layer},
      {"tensor", gradcheck::to_string(e.tensor)},
      {"row", e.row},
      {"col", e.col},
      {"analytic", json_number(e.analytic)},
      {"numeric", json_number(e.numeric)},
      {"error_estimate", json_number(e.error_estimate)},
      {"roundoff", json_number(e.roundoff)},
      {"tolerance", json_number(e.tolerance)},
      {"absolute_error", json_number(e.absolute_error)},
      {"relative_error", json_number(e.relative_error)},
      {"verdict", gradcheck::to_string(e.verdict)},
      {"stencil", gradcheck::to_string(e.stencil)},
      {"kink", nullptr},
      {"note", e.note},
  };
  if (e.kink) {
    const Kink& k = *e.kink;
    j["kink"] = {{"layer", k.layer},
                 {"unit", k.unit},
                 {"sample", k.sample},
                 {"z", json_number(k.z)},
                 {"exact", k.exact},
                 {"forward_slope", json_number(k.forward_slope)},
                 {"backward_slope", json_number(k.backward_slope)}};
  }
  return j;
}

nlohmann::json tolerances_json(const Tolerances& t) {
  return {{"rule", t.is_fixed() ? "fixed" : "derived"},
          {"rtol", json_number(t.rtol)},
          {"atol", json_number(t.atol)},
          {"floor_fraction", json_number(t.floor_fraction)},
          {"estimate_factor", json_number(t.estimate_factor)},
          {"roundoff_factor", json_number(t.roundoff_factor)}};
}

nlohmann::json summary_json(const CheckResult& r) {
  const Summary& s = r.summary;
  return {
      {"method", gradcheck::to_string(s.method)},
      {"mode", gradcheck::to_string(s.mode)},
      {"relative_step", json_number(s.relative_step)},
      {"seed", s.seed},
      {"tolerances", tolerances_json(s.tolerances)},
      {"counts", counts_json(s.counts)},
      {"worst", s.worst ? entry_json(r, *s.worst) : nlohmann::json(nullptr)},
      {"passed", s.passed},
      {"parameters", s.parameters},
      {"entries_checked", s.entries_checked},
      {"threads", s.threads},
      {"directions_per_tensor", s.directions_per_tensor},
      {"whole_network_directions", s.whole_network_directions},
      {"escape_delta", json_number(s.escape_delta)},
      {"escape_probability", json_number(s.escape_probability)},
      {"escape_statement", s.escape_statement},
      {"elapsed_seconds", json_number(s.elapsed_seconds)},
  };
}

nlohmann::json tensor_json(const TensorSummary& ts) {
  return {{"name", tensor_name(ts.layer, ts.tensor)},
          {"layer", ts.layer},
          {"tensor", gradcheck::to_string(ts.tensor)},
          {"rows", ts.rows},
          {"cols", ts.cols},
          {"kernel", ts.kernel_h > 0 ? nlohmann::json::array({ts.kernel_h, ts.kernel_w}) : nlohmann::json(nullptr)},
          {"entries_checked", ts.entries_checked},
          {"counts", counts_json(ts.counts)},
          {"worst_relative_error", json_number(ts.worst_relative_error)},
          {"worst_row", ts.worst_row},
          {"worst_col", ts.worst_col},
          {"max_abs_reference", json_number(ts.max_abs_reference)},
          {"floor", json_number(ts.floor)},
          {"directions", ts.directions},
          {"directions_disagreeing", ts.directions_disagreeing},
          {"fell_back_to_entries", ts.fell_back_to_entries},
          {"shape_mismatch", ts.shape_mismatch},
          {"passed", ts.passed}};
}

nlohmann::json direction_json(const DirectionCheck& d) {
  return {{"whole_network", d.whole_network},
          {"layer", d.layer},
          {"tensor", gradcheck::to_string(d.tensor)},
          {"index", d.index},
          {"analytic", json_number(d.analytic)},
          {"numeric", json_number(d.numeric)},
          {"error_estimate", json_number(d.error_estimate)},
          {"roundoff", json_number(d.roundoff)},
          {"tolerance", json_number(d.tolerance)},
          {"absolute_error", json_number(d.absolute_error)},
          {"relative_error", json_number(d.relative_error)},
          {"verdict", gradcheck::to_string(d.verdict)},
          {"note", d.note}};
}

nlohmann::json finding_json(const CheckFinding& f) {
  return {{"kind", gradcheck::to_string(f.kind)},
          {"layer", f.layer},
          {"tensor", gradcheck::to_string(f.tensor)},
          {"message", f.message}};
}

// A JSON array of f(x) for each x of xs.
template <class T, class F>
nlohmann::json array_of(const std::vector<T>& xs, F f) {
  nlohmann::json out = nlohmann::json::array();
  for (const T& x : xs) out.push_back(f(x));
  return out;
}

}  // namespace

nlohmann::json to_json(const CheckResult& r) {
  return {{"type", "check"},
          {"summary", summary_json(r)},
          {"tensors", array_of(r.tensors, tensor_json)},
          {"entries", array_of(r.entries, [&r](const Entry& e) { return entry_json(r, e); })},
          {"directions", array_of(r.directions, direction_json)},
          {"findings", array_of(r.findings, finding_json)}};
}

void add(Report& report, const CheckResult& result, const CheckSectionOptions& options) {
  report.add_section(check_section(result, options));
  report.add_result(to_json(result));
}

}  // namespace gradcheck::reports
