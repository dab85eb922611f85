#include <gradcheck/reports/document.hpp>
#include <gradcheck/reports/format.hpp>

#include <algorithm>
#include <cmath>

namespace gradcheck::reports {

const char* to_string(Status s) noexcept {
  switch (s) {
    case Status::pass: return "pass";
    case Status::notes: return "notes";
    case Status::fail: return "fail";
    case Status::error: return "error";
  }
  return "error";
}

const char* to_string(Verdict v) noexcept {
  switch (v) {
    case Verdict::unchecked: return "unchecked";
    case Verdict::none: return "";
    case Verdict::agree: return "agree";
    case Verdict::note: return "note";
    case Verdict::inconclusive_kink: return "inconclusive-kink";
    case Verdict::disagree: return "disagree";
    case Verdict::non_finite: return "non-finite";
  }
  return "";
}

const char* to_string(Outcome o) noexcept {
  switch (o) {
    case Outcome::pass: return "pass";
    case Outcome::fail: return "fail";
    case Outcome::skip: return "skip";
    case Outcome::error: return "error";
  }
  return "error";
}

// The enumerators are declared from best to worst.
Status worst(Status a, Status b) noexcept { return static_cast<int>(a) >= static_cast<int>(b) ? a : b; }
Verdict worst(Verdict a, Verdict b) noexcept { return static_cast<int>(a) >= static_cast<int>(b) ? a : b; }

Cell Cell::number(double value, int digits, Verdict v) {
  Cell c(format_number(value, digits), v);
  // NaN sorts after every number (as the worst), +inf before it.
  c.sort_key = std::isnan(value) ? HUGE_VAL : value;
  return c;
}

namespace {

// Splits n items into `parts` contiguous blocks of (almost) equal size.
std::size_t block_start(std::size_t n, std::size_t parts, std::size_t k) { return k * n / parts; }

std::string range_label(const std::vector<std::string>& labels, std::size_t begin, std::size_t end) {
  auto name = [&](std::size_t i) { return i < labels.size() ? labels[i] : std::to_string(i); };
  if (end - begin == 1) return name(begin);
  return name(begin) + "\u2013" + name(end - 1);
}

}  // namespace

Heatmap max_pool(const Heatmap& h, std::size_t max_rows, std::size_t max_cols) {
  max_rows = std::max<std::size_t>(max_rows, 1);
  max_cols = std::max<std::size_t>(max_cols, 1);
  if (h.rows <= max_rows && h.cols <= max_cols) return h;
  const std::size_t pr = std::min(h.rows, max_rows), pc = std::min(h.cols, max_cols);
  Heatmap p(pr, pc);
  p.title = h.title;
  p.caption = h.caption;
  p.value_label = h.value_label;
  p.row_title = h.row_title;
  p.col_title = h.col_title;
  p.log_scale = h.log_scale;
  p.threshold = h.threshold;
  p.scale_min = h.scale_min;
  p.scale_max = h.scale_max;
  for (std::size_t i = 0; i < pr; ++i) {
    const std::size_t r0 = block_start(h.rows, pr, i), r1 = block_start(h.rows, pr, i + 1);
    p.row_labels.push_back(range_label(h.row_labels, r0, r1));
    for (std::size_t j = 0; j < pc; ++j) {
      const std::size_t c0 = block_start(h.cols, pc, j), c1 = block_start(h.cols, pc, j + 1);
      double m = -HUGE_VAL;
      Verdict v = Verdict::unchecked;
      bool any = false;
      for (std::size_t r = r0; r < r1; ++r)
        for (std::size_t c = c0; c < c1; ++c) {
          v = worst(v, h.verdict(r, c));
          if (h.verdict(r, c) == Verdict::unchecked) continue;
          const double x = h.value(r, c);
          any = true;
          if (std::isnan(x) || std::isnan(m))
            m = std::nan("");
          else
            m = std::max(m, x);
        }
      p.value(i, j) = any ? m : std::nan("");
      p.verdicts[i * pc + j] = v;
    }
  }
  for (std::size_t j = 0; j < pc; ++j)
    p.col_labels.push_back(range_label(h.col_labels, block_start(h.cols, pc, j), block_start(h.cols, pc, j + 1)));
  return p;
}

std::string pooled_caption(const Heatmap& original, const Heatmap& pooled) {
  if (original.rows == pooled.rows && original.cols == pooled.cols) return "";
  auto ceil_div = [](std::size_t a, std::size_t b) { return (a + b - 1) / b; };
  return "Downsampled: each cell is the maximum over a block of up to " +
         std::to_string(ceil_div(original.rows, pooled.rows)) + " \u00d7 " +
         std::to_string(ceil_div(original.cols, pooled.cols)) + " entries (" + std::to_string(original.rows) +
         " \u00d7 " + std::to_string(original.cols) + " shown as " + std::to_string(pooled.rows) + " \u00d7 " +
         std::to_string(pooled.cols) + "); the cell's verdict is the worst in its block.";
}

std::string Document::interruption_note() const {
  if (!interrupted_by) return "";
  return "interrupted: the report holds what was gathered before " + *interrupted_by;
}

}  // namespace gradcheck::reports
