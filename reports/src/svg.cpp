// Inline SVG charts: axes, ticks, labels, legends, drawn from the document's numbers.
// Layout works in a fixed coordinate system (viewBox); the page scales it to its width.
#include "detail/svg.hpp"

#include "detail/text.hpp"

#include <gradcheck/reports/format.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <set>
#include <sstream>

namespace gradcheck::reports::detail {

const char* verdict_colour(Verdict v) noexcept {
  switch (v) {
    case Verdict::unchecked: return "#e6e6e6";
    case Verdict::none: return "#5b6b7c";
    case Verdict::agree: return "#1a9850";
    case Verdict::note: return "#4575b4";
    case Verdict::inconclusive_kink: return "#e69500";
    case Verdict::disagree: return "#d73027";
    case Verdict::non_finite: return "#762a83";
  }
  return "#5b6b7c";
}

namespace {

constexpr double char_width = 6.2;  // average advance of an 11px sans-serif glyph
constexpr int ramp_steps = 40;

struct Rgb {
  double r, g, b;
};

Rgb parse_hex(const char* hex) {
  auto h = [&](int i) {
    const char c = hex[i];
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
  };
  return {double(h(1) * 16 + h(2)), double(h(3) * 16 + h(4)), double(h(5) * 16 + h(6))};
}

std::string hex(Rgb c) {
  static const char digits[] = "0123456789abcdef";
  std::string s = "#";
  for (double x : {c.r, c.g, c.b}) {
    const int v = std::clamp(static_cast<int>(std::lround(x)), 0, 255);
    s += digits[v / 16];
    s += digits[v % 16];
  }
  return s;
}

// Light and dark ends of the lightness ramp used for a verdict's heatmap cells.
std::pair<const char*, const char*> ramp_of(Verdict v) {
  switch (v) {
    case Verdict::agree: return {"#e5f5e0", "#00441b"};
    case Verdict::inconclusive_kink: return {"#fff1cc", "#7a4a00"};
    case Verdict::disagree: return {"#fcbba1", "#67000d"};
    case Verdict::non_finite: return {"#762a83", "#762a83"};
    case Verdict::note:
    case Verdict::unchecked:
    case Verdict::none: break;
  }
  return {"#eef3fa", "#08306b"};
}

std::string ramp_colour(Verdict v, double t) {
  const auto [l, d] = ramp_of(v);
  const Rgb a = parse_hex(l), b = parse_hex(d);
  t = std::clamp(t, 0.0, 1.0);
  return hex({a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t});
}

std::string truncate_label(const std::string& s, std::size_t max_chars) {
  // Count code points, not bytes, so that "–" or "×" does not cut a character in half.
  std::size_t count = 0, cut = s.size();
  for (std::size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
    if (count == max_chars - 1 && cut == s.size()) cut = i;
    ++count;
  }
  if (count <= max_chars) return s;
  return s.substr(0, cut) + "\u2026";
}

std::size_t text_chars(const std::string& s) {
  std::size_t n = 0;
  for (char c : s)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  return n;
}

// A numeric axis: data range, pixel range, tick positions and their labels.
struct Scale {
  bool log = false;
  double lo = 0, hi = 1;  // data units; positive when log
  double p0 = 0, p1 = 1;  // pixels of lo and hi
  std::vector<double> ticks;

  double fraction(double v) const {
    if (log) return (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
    return (v - lo) / (hi - lo);
  }
  double px(double v) const { return p0 + (p1 - p0) * std::clamp(fraction(v), 0.0, 1.0); }
  std::string label(double t) const {
    if (!log) return format_number(t, 6);
    const int e = static_cast<int>(std::lround(std::log10(t)));
    if (e >= -3 && e <= 3) return format_number(t, 6);
    return "1e" + std::to_string(e);
  }
};

// Ticks at 1, 2 or 5 × 10^k, about `target` of them, range widened to whole ticks.
Scale linear_scale(double lo, double hi, int target = 5) {
  Scale s;
  if (!(hi > lo)) {
    const double pad = lo == 0 ? 1 : std::abs(lo) * 0.5;
    lo -= pad, hi += pad;
  }
  const double raw = (hi - lo) / target;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / p;
  const double step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * p;
  s.lo = std::floor(lo / step + 1e-9) * step;
  s.hi = std::ceil(hi / step - 1e-9) * step;
  for (double t = s.lo; t <= s.hi + step * 1e-6; t += step) s.ticks.push_back(std::abs(t) < step * 1e-9 ? 0 : t);
  return s;
}

// Whole decades; at most about 8 labelled ticks.
Scale log_scale(double lo, double hi) {
  Scale s;
  s.log = true;
  // Headroom: a value within a third of a decade of an end gets a decade more, so that
  // the smallest bar is not flat on the axis and the largest leaves room for its label.
  const double llo = std::log10(lo), lhi = std::log10(hi);
  int elo = static_cast<int>(std::floor(llo));
  int ehi = static_cast<int>(std::ceil(lhi));
  if (llo - elo < 0.3) --elo;
  if (ehi - lhi < 0.3) ++ehi;
  const int stride = std::max(1, (ehi - elo + 7) / 8);
  // Ticks on multiples of the stride, the range widened to whole strides.
  elo = static_cast<int>(std::floor(static_cast<double>(elo) / stride)) * stride;
  ehi = static_cast<int>(std::ceil(static_cast<double>(ehi) / stride)) * stride;
  s.lo = std::pow(10.0, elo);
  s.hi = std::pow(10.0, ehi);
  for (int e = elo; e <= ehi; e += stride) s.ticks.push_back(std::pow(10.0, e));
  return s;
}

// The range of the values a scale must show (finite ones; positive ones on a log scale).
struct Range {
  double lo = HUGE_VAL, hi = -HUGE_VAL;
  void add(double v, bool log) {
    if (!std::isfinite(v) || (log && v <= 0)) return;
    lo = std::min(lo, v), hi = std::max(hi, v);
  }
  bool empty() const { return lo > hi; }
};

Scale scale_for(Range r, bool log, bool include_zero) {
  if (log) {
    if (r.empty()) r.lo = 1e-16, r.hi = 1;
    return log_scale(r.lo, r.hi);
  }
  if (r.empty()) r.lo = 0, r.hi = 1;
  if (include_zero) r.lo = std::min(r.lo, 0.0), r.hi = std::max(r.hi, 0.0);
  return linear_scale(r.lo, r.hi);
}

std::string value_text(double v) { return format_number(v, 4); }

// A value a scale can place: finite, and positive on a log scale.
bool drawable(double v, bool log) { return std::isfinite(v) && !(log && v <= 0); }

// The label of slot i: its own, or its index when the chart names fewer slots.
std::string label_at(const std::vector<std::string>& labels, std::size_t i) {
  return i < labels.size() ? labels[i] : std::to_string(i);
}

// Characters in the longest of the first n labels, each counted up to `cap` (longer ones are truncated); at least 1.
std::size_t longest_label(const std::vector<std::string>& labels, std::size_t n, std::size_t cap) {
  std::size_t longest = 1;
  for (std::size_t i = 0; i < n; ++i)
    longest = std::max(longest, std::min<std::size_t>(text_chars(label_at(labels, i)), cap));
  return longest;
}

// The hover text of a bar or a cell: "<what>: <value> (<verdict>)".
std::string mark_tip(const std::string& what, double v, Verdict vd) {
  std::string tip = what + ": " + (vd == Verdict::unchecked ? std::string("not checked") : format_number(v, 6));
  if (vd != Verdict::none && vd != Verdict::unchecked) tip += std::string(" (") + to_string(vd) + ")";
  return tip;
}

std::string class_attr(const char* cls) { return std::string(" class=\"") + cls + '"'; }

constexpr const char* threshold_stroke = " stroke-width=\"1.2\" stroke-dasharray=\"6 4\"";

class Svg {
 public:
  Svg(const char* kind, double width, double height, const std::string& title) {
    os_ << "<svg class=\"chart " << kind << "\" viewBox=\"0 0 " << coord(width) << ' ' << coord(height)
        << "\" width=\"" << coord(width) << "\" height=\"" << coord(height)
        << "\" role=\"img\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"11\">"
        << "<title>" << xml_escape(title) << "</title>";
  }
  std::ostringstream& out() { return os_; }
  void text(double x, double y, const std::string& s, const char* anchor = "start", const std::string& extra = "") {
    os_ << "<text x=\"" << coord(x) << "\" y=\"" << coord(y) << "\" text-anchor=\"" << anchor << '"' << extra << '>'
        << xml_escape(s) << "</text>";
  }
  // Text turned by `angle` degrees about its anchor point (x, y).
  void rotated_text(double x, double y, int angle, const char* anchor, const char* cls, const std::string& s) {
    os_ << "<text x=\"" << coord(x) << "\" y=\"" << coord(y) << "\" text-anchor=\"" << anchor
        << "\" transform=\"rotate(" << angle << ' ' << coord(x) << ' ' << coord(y) << ")\" class=\"" << cls << "\">"
        << xml_escape(s) << "</text>";
  }
  void line(double x1, double y1, double x2, double y2, const char* stroke, const std::string& extra = "") {
    os_ << "<line x1=\"" << coord(x1) << "\" y1=\"" << coord(y1) << "\" x2=\"" << coord(x2) << "\" y2=\""
        << coord(y2) << "\" stroke=\"" << stroke << '"' << extra << "/>";
  }
  void rect(double x, double y, double w, double h, const std::string& fill, const char* cls = nullptr,
            const std::string& tooltip = "", const std::string& extra = "") {
    os_ << "<rect";
    if (cls) os_ << " class=\"" << cls << '"';
    os_ << " x=\"" << coord(x) << "\" y=\"" << coord(y) << "\" width=\"" << coord(std::max(w, 0.0))
        << "\" height=\"" << coord(std::max(h, 0.0)) << "\" fill=\"" << fill << '"' << extra;
    if (tooltip.empty()) {
      os_ << "/>";
    } else {
      os_ << "><title>" << xml_escape(tooltip) << "</title></rect>";
    }
  }
  // A data mark (a bar or a cell): its verdict as data for the tests and the page, its value as the hover title.
  void mark(const char* cls, Verdict vd, double x, double y, double w, double h, const std::string& fill,
            const char* extra, const std::string& tip) {
    os_ << "<rect class=\"" << cls << "\" data-verdict=\"" << to_string(vd) << "\" x=\"" << coord(x) << "\" y=\""
        << coord(y) << "\" width=\"" << coord(w) << "\" height=\"" << coord(h) << "\" fill=\"" << fill << '"' << extra
        << "><title>" << xml_escape(tip) << "</title></rect>";
  }
  std::string finish() {
    os_ << "</svg>";
    return os_.str();
  }

 private:
  std::ostringstream os_;
};

// Vertical value axis at x = left, gridlines across to `right`.
void y_axis(Svg& svg, const Scale& s, double left, double right, const std::string& title, double title_x) {
  for (double t : s.ticks) {
    const double y = s.px(t);
    svg.line(left, y, right, y, "#e3e7ec");
    svg.line(left - 4, y, left, y, "#333");
    svg.text(left - 7, y + 3.5, s.label(t), "end", " class=\"tick\"");
  }
  svg.line(left, s.p0, left, s.p1, "#333");
  if (!title.empty()) svg.rotated_text(title_x, (s.p0 + s.p1) / 2, -90, "middle", "axis-title", title);
}

// Tick marks and their labels along a horizontal scale, hanging below y.
void x_ticks(Svg& svg, const Scale& s, double y, double label_dy) {
  for (double t : s.ticks) {
    const double x = s.px(t);
    svg.line(x, y, x, y + 4, "#333");
    svg.text(x, y + label_dy, s.label(t), "middle", " class=\"tick\"");
  }
}

// A label under its slot, turned by `angle` when the slots are too narrow for it to lie level.
void slot_label(Svg& svg, double cx, double y, const std::string& text, bool rotate, int angle, const char* cls) {
  if (rotate) {
    svg.rotated_text(cx + 3, y, angle, "end", cls, text);
  } else {
    svg.text(cx, y, text, "middle", class_attr(cls));
  }
}

// The line only: its name and value are in the legend, where they cannot cover a bar.
void threshold_line(Svg& svg, const Scale& s, double threshold, double left, double right) {
  if (!drawable(threshold, s.log)) return;
  const double y = s.px(threshold);
  svg.line(left, y, right, y, "#222", std::string(threshold_stroke) + " class=\"threshold\"");
}

std::string threshold_text(const std::string& label, double threshold) {
  return (label.empty() ? std::string("threshold") : label) + " = " + value_text(threshold);
}

// A legend entry: a colour swatch and its name; returns the x after them.
double legend_swatch(Svg& svg, double x, double swatch_y, double text_y, const char* colour, const std::string& name,
                     const std::string& extra = "") {
  svg.rect(x, swatch_y, 10, 10, colour, "legend-swatch", "", extra);
  svg.text(x + 14, text_y, name);
  x += 14 + text_chars(name) * char_width + 16;
  return x;
}

// A legend entry: a short sample of the line, 4 above the label's baseline y, then the label label_dx to the
// right; returns the x after them.
double legend_line(Svg& svg, double x, double y, double label_dx, const char* stroke, const std::string& extra,
                   const std::string& label, const char* cls) {
  svg.line(x, y - 4, x + 22, y - 4, stroke, extra);
  svg.text(x + label_dx, y, label, "start", class_attr(cls));
  x += label_dx + text_chars(label) * char_width + 16;
  return x;
}

// Swatches for the verdicts that occur, left to right from x; returns the x after them.
double verdict_legend(Svg& svg, const std::set<Verdict>& present, double x, double y) {
  for (Verdict v : present) {
    if (v == Verdict::none) continue;
    x = legend_swatch(svg, x, y - 9, y, verdict_colour(v), v == Verdict::unchecked ? "not checked" : to_string(v));
  }
  return x;
}

std::string nonfinite_word(double v) { return std::isnan(v) ? "NaN" : v > 0 ? "inf" : "-inf"; }

// ---------------------------------------------------------------------------
// Bar chart

// Fixed margins, one slot per bar, and room below the axis for the labels (turned when they do not fit).
struct BarLayout {
  double width = 760, left = 72, right = 20, top = 30, plot_h = 240;
  double slot = 0, bottom = 0, height = 0, bar_w = 0;
  double base = 0;  // y of the bars' foot: zero, or the floor of a log axis
  bool rotate = false;
};

BarLayout bar_layout(std::size_t n, std::size_t longest) {
  BarLayout l;
  const double plot_w = l.width - l.left - l.right;
  l.slot = plot_w / static_cast<double>(std::max<std::size_t>(n, 1));
  l.rotate = longest * char_width > l.slot - 4;
  l.bottom = l.rotate ? 24 + longest * char_width * 0.62 : 30;
  l.height = l.top + l.plot_h + l.bottom;
  l.bar_w = std::min(l.slot * 0.7, 56.0);
  return l;
}

// A bar's verdict: its own, except that a value that is not finite is drawn as such.
Verdict bar_verdict(const BarChart& c, std::size_t i) {
  const Verdict v = i < c.verdicts.size() ? c.verdicts[i] : Verdict::none;
  return v == Verdict::unchecked || std::isfinite(c.values[i]) ? v : Verdict::non_finite;
}

Range bar_range(const BarChart& c) {
  Range r;
  for (double v : c.values) r.add(v, c.log_scale);
  if (c.threshold) r.add(*c.threshold, c.log_scale);
  for (double t : c.bar_thresholds) r.add(t, c.log_scale);
  return r;
}

// Above the plot: the verdicts that occur, then the chart-wide threshold and the per-bar one.
void bar_legend(Svg& svg, const BarChart& c, double left) {
  std::set<Verdict> present;
  for (std::size_t i = 0; i < c.values.size(); ++i) present.insert(bar_verdict(c, i));
  bool any_bar_threshold = false;
  for (double t : c.bar_thresholds) any_bar_threshold = any_bar_threshold || drawable(t, c.log_scale);
  double lx = verdict_legend(svg, present, left, 14);
  if (c.threshold)
    lx = legend_line(svg, lx, 14, 26, "#222", threshold_stroke, threshold_text(c.threshold_label, *c.threshold),
                     "threshold-label");
  if (any_bar_threshold)
    legend_line(svg, lx, 14, 26, "#111", " stroke-width=\"2.5\"",
                c.threshold_label.empty() ? "threshold" : c.threshold_label, "threshold-label");
}

// Top and bottom of a bar, and the text shown with it.
struct BarExtent {
  double y0, y1;
  std::string shown;
};

BarExtent bar_extent(double v, Verdict vd, const Scale& s, double base) {
  if (vd == Verdict::unchecked) return {base - 2, base, "not checked"};
  if (!std::isfinite(v)) return {s.p1, s.p0, nonfinite_word(v)};
  if (s.log && v <= 0) return {base - 2, base, value_text(v)};  // zero has no place on a log axis: a stub at the floor
  const double y = s.px(v);
  BarExtent e{std::min(y, base), std::max(y, base), value_text(v)};
  if (e.y1 - e.y0 < 1) e.y0 = e.y1 - 1;
  return e;
}

// Bar i, its value above it (inside it when it fills the plot) and its label below the axis.
void draw_bar(Svg& svg, const BarChart& c, const Scale& s, const BarLayout& l, std::size_t i) {
  const double v = c.values[i];
  const double cx = l.left + l.slot * (static_cast<double>(i) + 0.5);
  const Verdict vd = bar_verdict(c, i);
  const BarExtent e = bar_extent(v, vd, s, l.base);
  svg.mark("bar", vd, cx - l.bar_w / 2, e.y0, l.bar_w, e.y1 - e.y0, verdict_colour(vd),
           std::isfinite(v) ? "" : " fill-opacity=\"0.85\"", mark_tip(label_at(c.labels, i), v, vd));
  if (vd == Verdict::non_finite && !std::isfinite(v))  // inside the full-height bar: no room above it
    svg.text(cx, e.y0 + 14, e.shown, "middle",
             " class=\"bar-value\" font-size=\"10\" fill=\"#fff\" font-weight=\"bold\"");
  else if (c.values.size() <= 40)
    svg.text(cx, e.y0 - 4, e.shown, "middle", " class=\"bar-value\" font-size=\"10\"");
  slot_label(svg, cx, l.top + l.plot_h + 14, truncate_label(label_at(c.labels, i), 28), l.rotate, -38, "bar-label");
}

// Per-bar thresholds: a solid mark across the bar's slot, over the bar.
void bar_threshold_marks(Svg& svg, const BarChart& c, const Scale& s, const BarLayout& l) {
  for (std::size_t i = 0; i < std::min(c.values.size(), c.bar_thresholds.size()); ++i) {
    const double t = c.bar_thresholds[i];
    if (!drawable(t, c.log_scale)) continue;
    const double cx = l.left + l.slot * (static_cast<double>(i) + 0.5), y = s.px(t);
    const double half = std::min(l.slot * 0.45, l.bar_w / 2 + 8);
    svg.out() << "<line class=\"bar-threshold\" x1=\"" << coord(cx - half) << "\" y1=\"" << coord(y) << "\" x2=\""
              << coord(cx + half) << "\" y2=\"" << coord(y) << "\" stroke=\"#111\" stroke-width=\"2.5\"><title>"
              << xml_escape(label_at(c.labels, i) + ": " + threshold_text(c.threshold_label, t)) << "</title></line>";
  }
}

// ---------------------------------------------------------------------------
// Heatmap

constexpr double ramp_w = 320, ramp_h = 10, ramp_gap = 16;  // a legend ramp's size, and the pitch of the ramps

// What a heatmap's values span, and which legend entries they need.
struct HeatmapScan {
  Range range;
  std::set<Verdict> ramps;  // verdicts drawn on a lightness ramp
  bool any_nonfinite = false, any_unchecked = false;
};

HeatmapScan scan_heatmap(const Heatmap& h) {
  HeatmapScan scan;
  for (std::size_t i = 0; i < h.rows; ++i)
    for (std::size_t j = 0; j < h.cols; ++j) {
      const double v = h.value(i, j);
      const Verdict vd = h.verdict(i, j);
      if (vd == Verdict::unchecked) {
        scan.any_unchecked = true;
        continue;
      }
      scan.range.add(v, h.log_scale);
      if (!std::isfinite(v) || vd == Verdict::non_finite)
        scan.any_nonfinite = true;
      else
        scan.ramps.insert(vd);
    }
  if (h.threshold) scan.range.add(*h.threshold, h.log_scale);
  if (h.scale_min) scan.range.add(*h.scale_min, h.log_scale);
  if (h.scale_max) scan.range.add(*h.scale_max, h.log_scale);
  return scan;
}

// Square cells as large as fit; row labels to the left, column labels below, the legend under those.
struct HeatmapLayout {
  double cell = 0, left = 0, top = 10, grid_w = 0, grid_h = 0, col_label_h = 0, legend_top = 0, width = 0, height = 0;
  bool rotate_cols = false;
  std::size_t row_step = 1, col_step = 1;  // every row_step-th row and col_step-th column is labelled
};

HeatmapLayout heatmap_layout(const Heatmap& h, const HeatmapScan& scan) {
  const std::size_t rows = h.rows, cols = h.cols;
  HeatmapLayout l;
  l.cell = std::clamp(std::floor(std::min(600.0 / std::max<std::size_t>(cols, 1),
                                          420.0 / std::max<std::size_t>(rows, 1))),
                      3.0, 28.0);
  const std::size_t row_chars = longest_label(h.row_labels, rows, 16);
  const std::size_t col_chars = longest_label(h.col_labels, cols, 16);
  l.row_step = static_cast<std::size_t>(std::ceil(13.0 / l.cell));
  l.rotate_cols = col_chars * char_width > l.cell - 2;
  l.col_step = static_cast<std::size_t>(std::ceil((l.rotate_cols ? 13.0 : col_chars * char_width + 4) / l.cell));

  l.left = 8 + (h.row_title.empty() ? 0 : 18) + row_chars * char_width + 8;
  l.grid_w = cols * l.cell, l.grid_h = rows * l.cell;
  l.col_label_h = l.rotate_cols ? col_chars * char_width * 0.8 + 16 : 18;
  const double col_title_h = h.col_title.empty() ? 0 : 16;
  l.legend_top = l.top + l.grid_h + l.col_label_h + col_title_h + 22;
  const std::size_t n_ramps = scan.ramps.empty() ? 1 : scan.ramps.size();
  const double legend_h = 18 + n_ramps * ramp_gap + 22 + (scan.any_nonfinite || scan.any_unchecked ? 18 : 0);
  l.width = std::max(l.left + l.grid_w + 16, l.left + ramp_w + 170);
  l.height = l.legend_top + legend_h;
  return l;
}

// Cell (i, j): its verdict's ramp at the value's place on the scale; grey or purple when there is no value to place.
void heatmap_cell(Svg& svg, const Heatmap& h, const HeatmapLayout& l, const Scale& s, std::size_t i, std::size_t j) {
  const double v = h.value(i, j);
  Verdict vd = h.verdict(i, j);
  if (!std::isfinite(v) && vd != Verdict::unchecked) vd = Verdict::non_finite;
  const std::string fill = vd == Verdict::non_finite || vd == Verdict::unchecked
                               ? verdict_colour(vd)
                               : ramp_colour(vd, (h.log_scale && v <= 0) ? 0.0 : std::clamp(s.fraction(v), 0.0, 1.0));
  const std::string what = (h.row_title.empty() ? "row" : h.row_title) + " " + label_at(h.row_labels, i) + ", " +
                           (h.col_title.empty() ? "col" : h.col_title) + " " + label_at(h.col_labels, j);
  // Outlines make single bad entries visible in a sea of good ones when cells are big enough.
  const bool loud = vd == Verdict::disagree || vd == Verdict::non_finite || vd == Verdict::inconclusive_kink;
  const char* outline = l.cell < 6 ? ""
                        : loud     ? " stroke=\"#111\" stroke-width=\"0.8\""
                                   : " stroke=\"#fff\" stroke-width=\"0.5\"";
  svg.mark("cell", vd, l.left + j * l.cell, l.top + i * l.cell, l.cell, l.cell, fill, outline, mark_tip(what, v, vd));
}

// The grid, row by row, each labelled row's label after its cells.
void heatmap_cells(Svg& svg, const Heatmap& h, const HeatmapLayout& l, const Scale& s) {
  for (std::size_t i = 0; i < h.rows; ++i) {
    for (std::size_t j = 0; j < h.cols; ++j) heatmap_cell(svg, h, l, s, i, j);
    if (i % l.row_step == 0)
      svg.text(l.left - 6, l.top + (i + 0.5) * l.cell + 3.5, truncate_label(label_at(h.row_labels, i), 16), "end",
               " class=\"row-label\"");
  }
}

// Column labels, the frame around the grid and the axis titles.
void heatmap_axes(Svg& svg, const Heatmap& h, const HeatmapLayout& l) {
  for (std::size_t j = 0; j < h.cols; j += l.col_step)
    slot_label(svg, l.left + (j + 0.5) * l.cell, l.top + l.grid_h + 12, truncate_label(label_at(h.col_labels, j), 16),
               l.rotate_cols, -55, "col-label");
  svg.rect(l.left, l.top, l.grid_w, l.grid_h, "none", nullptr, "", " stroke=\"#333\" stroke-width=\"1\"");
  if (h.block_rows > 0 && h.block_cols > 0) {  // one block per kernel
    const char* style = " stroke-width=\"1.5\" class=\"block-line\"";
    for (std::size_t i = h.block_rows; i < h.rows; i += h.block_rows)
      svg.line(l.left, l.top + i * l.cell, l.left + l.grid_w, l.top + i * l.cell, "#333", style);
    for (std::size_t j = h.block_cols; j < h.cols; j += h.block_cols)
      svg.line(l.left + j * l.cell, l.top, l.left + j * l.cell, l.top + l.grid_h, "#333", style);
  }
  if (!h.row_title.empty()) svg.rotated_text(14, l.top + l.grid_h / 2, -90, "middle", "axis-title", h.row_title);
  if (!h.col_title.empty())
    svg.text(l.left + l.grid_w / 2, l.top + l.grid_h + l.col_label_h + 10, h.col_title, "middle",
             " class=\"axis-title\"");
}

// One ramp per verdict (or one plain ramp), from y down; returns the y of the last ramp's bottom edge.
double legend_ramps(Svg& svg, const std::set<Verdict>& ramps, double lx, double y) {
  std::vector<Verdict> shown(ramps.begin(), ramps.end());
  if (shown.empty()) shown.push_back(Verdict::none);
  for (Verdict v : shown) {
    for (int k = 0; k < ramp_steps; ++k) {
      const double t = (k + 0.5) / ramp_steps;
      svg.rect(lx + ramp_w * k / ramp_steps, y, ramp_w / ramp_steps + 0.3, ramp_h, ramp_colour(v, t), "ramp");
    }
    if (v != Verdict::none) svg.text(lx + ramp_w + 8, y + 9, to_string(v));
    y += ramp_gap;
  }
  return y - ramp_gap + ramp_h;
}

// Legend: one lightness ramp per verdict that occurs, on the shared colour scale, then swatches for the cells off it.
void heatmap_legend(Svg& svg, const Heatmap& h, const HeatmapScan& scan, const HeatmapLayout& l, Scale s) {
  double y = l.legend_top;
  const double lx = l.left;
  std::string legend_title = h.value_label + (h.log_scale ? " (log scale)" : "");
  const bool has_threshold = h.threshold && drawable(*h.threshold, h.log_scale);
  if (has_threshold) legend_title += "; black line: tolerance " + value_text(*h.threshold);
  svg.text(lx, y, legend_title, "start", " font-weight=\"bold\"");
  y += 8;
  s.p0 = lx, s.p1 = lx + ramp_w;
  const double ramps_top = y;
  const double ramps_bottom = legend_ramps(svg, scan.ramps, lx, y);
  x_ticks(svg, s, ramps_bottom, 15);
  if (has_threshold) {
    const double x = s.px(*h.threshold);
    svg.line(x, ramps_top - 3, x, ramps_bottom + 3, "#111", " stroke-width=\"2\" class=\"threshold\"");
  }
  y = ramps_bottom + 22;
  double sx = lx;
  if (scan.any_nonfinite)
    sx = legend_swatch(svg, sx, y + 2, y + 11, verdict_colour(Verdict::non_finite), "non-finite (NaN or inf)");
  if (scan.any_unchecked)
    legend_swatch(svg, sx, y + 2, y + 11, verdict_colour(Verdict::unchecked), "not checked",
                  " stroke=\"#999\" stroke-width=\"0.5\"");
}

// ---------------------------------------------------------------------------
// Line chart

// The x range of the points with a finite x, and the y range of those points' values.
std::pair<Range, Range> line_ranges(const LineChart& c) {
  Range xr, yr;
  for (const Series& s : c.series) {
    const std::size_t n = std::min(s.x.size(), s.y.size());
    for (std::size_t i = 0; i < n; ++i) {
      xr.add(s.x[i], false);
      if (std::isfinite(s.x[i])) yr.add(s.y[i], c.log_y);
    }
  }
  if (c.threshold) yr.add(*c.threshold, c.log_y);
  return {xr, yr};
}

// A series as one path, lifted where a value cannot be drawn.
void series_path(Svg& svg, const Series& s, const Scale& xs, const Scale& ys, const char* colour,
                 const std::string& dash) {
  const std::size_t n = std::min(s.x.size(), s.y.size());
  std::ostringstream d;
  bool pen_down = false;
  std::size_t valid = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double x = s.x[i], y = s.y[i];
    if (!std::isfinite(x) || !drawable(y, ys.log)) {
      pen_down = false;  // a gap in the line where the value cannot be drawn
      continue;
    }
    d << (pen_down ? " L" : (valid ? " M" : "M")) << coord(xs.px(x)) << ' ' << coord(ys.px(y));
    pen_down = true;
    ++valid;
  }
  svg.out() << "<path class=\"series\" data-series=\"" << xml_escape(s.name) << "\" d=\"" << d.str()
            << "\" fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"1.8\"" << dash << "><title>"
            << xml_escape(s.name) << "</title></path>";
}

// A cross at the top edge (marker_y) for each non-finite value; a dot for each point of a short series.
void series_points(Svg& svg, const Series& s, const Scale& xs, const Scale& ys, const char* colour, double marker_y) {
  const std::size_t n = std::min(s.x.size(), s.y.size());
  for (std::size_t i = 0; i < n; ++i) {
    const double x = s.x[i], y = s.y[i];
    if (!std::isfinite(x)) continue;
    if (!std::isfinite(y)) {
      // Non-finite values are marked on the top edge: where training blew up matters.
      const double px = xs.px(x), py = marker_y;
      svg.out() << "<path class=\"nonfinite-marker\" d=\"M" << coord(px - 4) << ' ' << coord(py - 4) << " L"
                << coord(px + 4) << ' ' << coord(py + 4) << " M" << coord(px - 4) << ' ' << coord(py + 4) << " L"
                << coord(px + 4) << ' ' << coord(py - 4) << "\" stroke=\"" << verdict_colour(Verdict::non_finite)
                << "\" stroke-width=\"2\"><title>" << xml_escape(s.name + " at " + format_number(x, 6) + ": " + nonfinite_word(y))
                << "</title></path>";
    } else if (n <= 60 && !(ys.log && y <= 0)) {
      svg.out() << "<circle class=\"point\" cx=\"" << coord(xs.px(x)) << "\" cy=\"" << coord(ys.px(y)) << "\" r=\"2.5\" fill=\""
                << colour << "\"><title>" << xml_escape(s.name + " at " + format_number(x, 6) + ": " + format_number(y, 6))
                << "</title></circle>";
    }
  }
}

}  // namespace

std::string svg_bar_chart(const BarChart& c) {
  const std::size_t n = c.values.size();
  BarLayout l = bar_layout(n, longest_label(c.labels, n, 28));
  Scale s = scale_for(bar_range(c), c.log_scale, /*include_zero=*/true);
  s.p0 = l.top + l.plot_h, s.p1 = l.top;  // the data's low end at the bottom

  Svg svg("bar-chart", l.width, l.height, c.title);
  bar_legend(svg, c, l.left);
  y_axis(svg, s, l.left, l.width - l.right, c.y_label, 16);
  l.base = c.log_scale ? s.p0 : s.px(0);
  for (std::size_t i = 0; i < n; ++i) draw_bar(svg, c, s, l, i);
  svg.line(l.left, l.base, l.width - l.right, l.base, "#333");
  if (c.threshold) threshold_line(svg, s, *c.threshold, l.left, l.width - l.right);
  bar_threshold_marks(svg, c, s, l);
  return svg.finish();
}

std::string svg_heatmap(const Heatmap& h) {
  const HeatmapScan scan = scan_heatmap(h);
  const Scale s = scale_for(scan.range, h.log_scale, /*include_zero=*/false);
  const HeatmapLayout l = heatmap_layout(h, scan);
  Svg svg("heatmap", l.width, l.height, h.title);
  heatmap_cells(svg, h, l, s);
  heatmap_axes(svg, h, l);
  heatmap_legend(svg, h, scan, l, s);
  return svg.finish();
}

std::string svg_line_chart(const LineChart& c) {
  static constexpr std::array<const char*, 8> palette = {"#0072b2", "#e69f00", "#009e73", "#cc79a7",
                                                         "#56b4e9", "#d55e00", "#6b6b00", "#000000"};
  static constexpr std::array<const char*, 4> dashes = {"", "6 3", "2 3", "8 3 2 3"};
  const double width = 760, left = 72, right = 180, top = 14, plot_h = 260, bottom = 46;
  const double height = top + plot_h + bottom;
  const auto [xr, yr] = line_ranges(c);
  Scale xs = scale_for(xr, false, false);
  xs.p0 = left, xs.p1 = width - right;
  Scale ys = scale_for(yr, c.log_y, false);
  ys.p0 = top + plot_h, ys.p1 = top;

  Svg svg("line-chart", width, height, c.title);
  y_axis(svg, ys, left, width - right, c.y_label, 16);
  x_ticks(svg, xs, top + plot_h, 16);
  svg.line(left, top + plot_h, width - right, top + plot_h, "#333");
  if (!c.x_label.empty()) svg.text((left + width - right) / 2, height - 8, c.x_label, "middle", " class=\"axis-title\"");
  if (c.threshold) threshold_line(svg, ys, *c.threshold, left, width - right);

  const double lx = width - right + 14;
  double legend_y = top + 8;
  if (c.threshold && std::isfinite(*c.threshold)) {
    legend_line(svg, lx, legend_y, 28, "#222", threshold_stroke,
                truncate_label(threshold_text(c.threshold_label, *c.threshold), 22), "threshold-label");
    legend_y += 16;
  }
  for (std::size_t k = 0; k < c.series.size(); ++k) {
    const Series& s = c.series[k];
    const char* colour = palette[k % palette.size()];
    const char* dash = dashes[(k / palette.size() + k) % dashes.size()];
    const std::string dash_attr = *dash ? std::string(" stroke-dasharray=\"") + dash + '"' : std::string();
    series_path(svg, s, xs, ys, colour, dash_attr);
    series_points(svg, s, xs, ys, colour, top + 4);
    legend_line(svg, lx, legend_y, 28, colour, " stroke-width=\"2.2\"" + dash_attr, truncate_label(s.name, 22),
                "legend-label");
    legend_y += 16;
  }
  return svg.finish();
}

}  // namespace gradcheck::reports::detail
