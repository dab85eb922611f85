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

class Svg {
 public:
  Svg(const char* kind, double width, double height, const std::string& title) {
    os_ << "<svg class=\"chart " << kind << "\" viewBox=\"0 0 " << coord(width) << ' ' << coord(height)
        << "\" width=\"" << coord(width) << "\" height=\"" << coord(height)
        << "\" role=\"img\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"11\">"
        << "<title>" << xml_escape(title) << "</title>";
  }
  std::ostringstream& out() { return os_; }
  void text(double x, double y, const std::string& s, const char* anchor = "start", const char* extra = "") {
    os_ << "<text x=\"" << coord(x) << "\" y=\"" << coord(y) << "\" text-anchor=\"" << anchor << '"' << extra << '>'
        << xml_escape(s) << "</text>";
  }
  void line(double x1, double y1, double x2, double y2, const char* stroke, const char* extra = "") {
    os_ << "<line x1=\"" << coord(x1) << "\" y1=\"" << coord(y1) << "\" x2=\"" << coord(x2) << "\" y2=\""
        << coord(y2) << "\" stroke=\"" << stroke << '"' << extra << "/>";
  }
  void rect(double x, double y, double w, double h, const std::string& fill, const char* cls = nullptr,
            const std::string& tooltip = "", const char* extra = "") {
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
  if (!title.empty()) {
    const double mid = (s.p0 + s.p1) / 2;
    svg.out() << "<text x=\"" << coord(title_x) << "\" y=\"" << coord(mid) << "\" text-anchor=\"middle\" transform=\"rotate(-90 "
              << coord(title_x) << ' ' << coord(mid) << ")\" class=\"axis-title\">" << xml_escape(title) << "</text>";
  }
}

// The line only: its name and value are in the legend, where they cannot cover a bar.
void threshold_line(Svg& svg, const Scale& s, double threshold, double left, double right) {
  if (!std::isfinite(threshold) || (s.log && threshold <= 0)) return;
  const double y = s.px(threshold);
  svg.line(left, y, right, y, "#222", " stroke-width=\"1.2\" stroke-dasharray=\"6 4\" class=\"threshold\"");
}

std::string threshold_text(const std::string& label, double threshold) {
  return (label.empty() ? std::string("threshold") : label) + " = " + value_text(threshold);
}

// Swatches for the verdicts that occur, left to right from x; returns the x after them.
double verdict_legend(Svg& svg, const std::set<Verdict>& present, double x, double y) {
  for (Verdict v : present) {
    if (v == Verdict::none) continue;
    const std::string name = v == Verdict::unchecked ? "not checked" : to_string(v);
    svg.rect(x, y - 9, 10, 10, verdict_colour(v), "legend-swatch");
    svg.text(x + 14, y, name);
    x += 14 + text_chars(name) * char_width + 16;
  }
  return x;
}

std::string nonfinite_word(double v) { return std::isnan(v) ? "NaN" : v > 0 ? "inf" : "-inf"; }

}  // namespace

std::string svg_bar_chart(const BarChart& c) {
  const std::size_t n = c.values.size();
  auto verdict = [&](std::size_t i) { return i < c.verdicts.size() ? c.verdicts[i] : Verdict::none; };
  auto label = [&](std::size_t i) { return i < c.labels.size() ? c.labels[i] : std::to_string(i); };

  Range r;
  for (double v : c.values) r.add(v, c.log_scale);
  if (c.threshold) r.add(*c.threshold, c.log_scale);
  for (double t : c.bar_thresholds) r.add(t, c.log_scale);
  bool any_bar_threshold = false;
  for (double t : c.bar_thresholds) any_bar_threshold = any_bar_threshold || (std::isfinite(t) && !(c.log_scale && t <= 0));
  std::set<Verdict> present;
  std::size_t longest = 1;
  // A bar's verdict: its own, except that a value that is not finite is drawn as such.
  auto bar_verdict = [&](std::size_t i) {
    const Verdict v = verdict(i);
    return v == Verdict::unchecked || std::isfinite(c.values[i]) ? v : Verdict::non_finite;
  };
  for (std::size_t i = 0; i < n; ++i) {
    present.insert(bar_verdict(i));
    longest = std::max(longest, std::min<std::size_t>(text_chars(label(i)), 28));
  }

  const double width = 760, left = 72, right = 20, top = 30, plot_h = 240;
  const double plot_w = width - left - right;
  const double slot = plot_w / static_cast<double>(std::max<std::size_t>(n, 1));
  const bool rotate = longest * char_width > slot - 4;
  const double bottom = rotate ? 24 + longest * char_width * 0.62 : 30;
  const double height = top + plot_h + bottom;

  Scale s = scale_for(r, c.log_scale, /*include_zero=*/true);
  s.p0 = top + plot_h, s.p1 = top;  // the data's low end at the bottom

  Svg svg("bar-chart", width, height, c.title);
  double lx = verdict_legend(svg, present, left, 14);
  if (c.threshold) {
    svg.line(lx, 10, lx + 22, 10, "#222", " stroke-width=\"1.2\" stroke-dasharray=\"6 4\"");
    svg.text(lx + 26, 14, threshold_text(c.threshold_label, *c.threshold), "start", " class=\"threshold-label\"");
    lx += 26 + text_chars(threshold_text(c.threshold_label, *c.threshold)) * char_width + 16;
  }
  if (any_bar_threshold) {
    svg.line(lx, 10, lx + 22, 10, "#111", " stroke-width=\"2.5\"");
    svg.text(lx + 26, 14, c.threshold_label.empty() ? "threshold" : c.threshold_label, "start", " class=\"threshold-label\"");
  }
  y_axis(svg, s, left, width - right, c.y_label, 16);

  const double base = c.log_scale ? s.p0 : s.px(0);
  const double bar_w = std::min(slot * 0.7, 56.0);
  for (std::size_t i = 0; i < n; ++i) {
    const double v = c.values[i];
    const double cx = left + slot * (static_cast<double>(i) + 0.5);
    const Verdict vd = bar_verdict(i);
    std::string tip = label(i) + ": " + (vd == Verdict::unchecked ? std::string("not checked") : format_number(v, 6));
    if (vd != Verdict::none && vd != Verdict::unchecked) tip += std::string(" (") + to_string(vd) + ")";
    double y0, y1;  // top and bottom of the bar
    std::string shown = value_text(v);
    if (vd == Verdict::unchecked) {
      y0 = base - 2, y1 = base;
      shown = "not checked";
    } else if (!std::isfinite(v)) {
      y0 = s.p1, y1 = s.p0;
      shown = nonfinite_word(v);
    } else if (c.log_scale && v <= 0) {
      y0 = base - 2, y1 = base;  // zero has no place on a log axis: a stub at the floor
    } else {
      const double y = s.px(v);
      y0 = std::min(y, base), y1 = std::max(y, base);
      if (y1 - y0 < 1) y0 = y1 - 1;
    }
    svg.out() << "<rect class=\"bar\" data-verdict=\"" << to_string(vd) << "\" x=\"" << coord(cx - bar_w / 2)
              << "\" y=\"" << coord(y0) << "\" width=\"" << coord(bar_w) << "\" height=\"" << coord(y1 - y0)
              << "\" fill=\"" << verdict_colour(vd) << "\"";
    if (!std::isfinite(v)) svg.out() << " fill-opacity=\"0.85\"";
    svg.out() << "><title>" << xml_escape(tip) << "</title></rect>";
    if (vd == Verdict::non_finite && !std::isfinite(v))  // inside the full-height bar: no room above it
      svg.text(cx, y0 + 14, shown, "middle", " class=\"bar-value\" font-size=\"10\" fill=\"#fff\" font-weight=\"bold\"");
    else if (n <= 40)
      svg.text(cx, y0 - 4, shown, "middle", " class=\"bar-value\" font-size=\"10\"");
    const std::string text = truncate_label(label(i), 28);
    const double ly = top + plot_h + 14;
    if (rotate) {
      svg.out() << "<text x=\"" << coord(cx + 3) << "\" y=\"" << coord(ly) << "\" text-anchor=\"end\" transform=\"rotate(-38 "
                << coord(cx + 3) << ' ' << coord(ly) << ")\" class=\"bar-label\">" << xml_escape(text) << "</text>";
    } else {
      svg.text(cx, ly, text, "middle", " class=\"bar-label\"");
    }
  }
  svg.line(left, base, width - right, base, "#333");
  if (c.threshold) threshold_line(svg, s, *c.threshold, left, width - right);
  // Per-bar thresholds: a solid mark across the bar's slot, over the bar.
  for (std::size_t i = 0; i < std::min(n, c.bar_thresholds.size()); ++i) {
    const double t = c.bar_thresholds[i];
    if (!std::isfinite(t) || (c.log_scale && t <= 0)) continue;
    const double cx = left + slot * (static_cast<double>(i) + 0.5), y = s.px(t);
    const double half = std::min(slot * 0.45, bar_w / 2 + 8);
    svg.out() << "<line class=\"bar-threshold\" x1=\"" << coord(cx - half) << "\" y1=\"" << coord(y) << "\" x2=\""
              << coord(cx + half) << "\" y2=\"" << coord(y) << "\" stroke=\"#111\" stroke-width=\"2.5\"><title>"
              << xml_escape(label(i) + ": " + threshold_text(c.threshold_label, t)) << "</title></line>";
  }
  return svg.finish();
}

std::string svg_heatmap(const Heatmap& h) {
  const std::size_t rows = h.rows, cols = h.cols;
  auto row_label = [&](std::size_t i) { return i < h.row_labels.size() ? h.row_labels[i] : std::to_string(i); };
  auto col_label = [&](std::size_t j) { return j < h.col_labels.size() ? h.col_labels[j] : std::to_string(j); };

  Range r;
  std::set<Verdict> ramps;
  bool any_nonfinite = false, any_unchecked = false;
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < cols; ++j) {
      const double v = h.value(i, j);
      const Verdict vd = h.verdict(i, j);
      if (vd == Verdict::unchecked) {
        any_unchecked = true;
        continue;
      }
      r.add(v, h.log_scale);
      if (!std::isfinite(v) || vd == Verdict::non_finite)
        any_nonfinite = true;
      else
        ramps.insert(vd);
    }
  if (h.threshold) r.add(*h.threshold, h.log_scale);
  if (h.scale_min) r.add(*h.scale_min, h.log_scale);
  if (h.scale_max) r.add(*h.scale_max, h.log_scale);
  Scale s = scale_for(r, h.log_scale, /*include_zero=*/false);

  const double cell = std::clamp(std::floor(std::min(600.0 / std::max<std::size_t>(cols, 1),
                                                     420.0 / std::max<std::size_t>(rows, 1))),
                                 3.0, 28.0);
  std::size_t row_chars = 1, col_chars = 1;
  for (std::size_t i = 0; i < rows; ++i) row_chars = std::max(row_chars, std::min<std::size_t>(text_chars(row_label(i)), 16));
  for (std::size_t j = 0; j < cols; ++j) col_chars = std::max(col_chars, std::min<std::size_t>(text_chars(col_label(j)), 16));
  const std::size_t row_step = static_cast<std::size_t>(std::ceil(13.0 / cell));
  const bool rotate_cols = col_chars * char_width > cell - 2;
  const std::size_t col_step = static_cast<std::size_t>(std::ceil((rotate_cols ? 13.0 : col_chars * char_width + 4) / cell));

  const double left = 8 + (h.row_title.empty() ? 0 : 18) + row_chars * char_width + 8;
  const double top = 10;
  const double grid_w = cols * cell, grid_h = rows * cell;
  const double col_label_h = rotate_cols ? col_chars * char_width * 0.8 + 16 : 18;
  const double col_title_h = h.col_title.empty() ? 0 : 16;
  const double legend_top = top + grid_h + col_label_h + col_title_h + 22;
  const std::size_t n_ramps = ramps.empty() ? 1 : ramps.size();
  const double ramp_w = 320, ramp_h = 10, ramp_gap = 16;
  const double legend_h = 18 + n_ramps * ramp_gap + 22 + (any_nonfinite || any_unchecked ? 18 : 0);
  const double width = std::max(left + grid_w + 16, left + ramp_w + 170);
  const double height = legend_top + legend_h;

  Svg svg("heatmap", width, height, h.title);
  auto fraction = [&](double v) { return (h.log_scale && v <= 0) ? 0.0 : std::clamp(s.fraction(v), 0.0, 1.0); };

  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t j = 0; j < cols; ++j) {
      const double v = h.value(i, j);
      Verdict vd = h.verdict(i, j);
      if (!std::isfinite(v) && vd != Verdict::unchecked) vd = Verdict::non_finite;
      const std::string fill = vd == Verdict::non_finite || vd == Verdict::unchecked ? verdict_colour(vd)
                                                                                      : ramp_colour(vd, fraction(v));
      std::string tip = (h.row_title.empty() ? "row" : h.row_title) + " " + row_label(i) + ", " +
                        (h.col_title.empty() ? "col" : h.col_title) + " " + col_label(j) + ": " +
                        (vd == Verdict::unchecked ? std::string("not checked") : format_number(v, 6));
      if (vd != Verdict::none && vd != Verdict::unchecked) tip += std::string(" (") + to_string(vd) + ")";
      svg.out() << "<rect class=\"cell\" data-verdict=\"" << to_string(vd) << "\" x=\"" << coord(left + j * cell)
                << "\" y=\"" << coord(top + i * cell) << "\" width=\"" << coord(cell) << "\" height=\"" << coord(cell)
                << "\" fill=\"" << fill << '"';
      // Outlines make single bad entries visible in a sea of good ones when cells are big enough.
      if (cell >= 6 && (vd == Verdict::disagree || vd == Verdict::non_finite || vd == Verdict::inconclusive_kink))
        svg.out() << " stroke=\"#111\" stroke-width=\"0.8\"";
      else if (cell >= 6)
        svg.out() << " stroke=\"#fff\" stroke-width=\"0.5\"";
      svg.out() << "><title>" << xml_escape(tip) << "</title></rect>";
    }
    if (i % row_step == 0)
      svg.text(left - 6, top + (i + 0.5) * cell + 3.5, truncate_label(row_label(i), 16), "end", " class=\"row-label\"");
  }
  for (std::size_t j = 0; j < cols; j += col_step) {
    const double x = left + (j + 0.5) * cell, y = top + grid_h + 12;
    const std::string text = truncate_label(col_label(j), 16);
    if (rotate_cols) {
      svg.out() << "<text x=\"" << coord(x + 3) << "\" y=\"" << coord(y) << "\" text-anchor=\"end\" transform=\"rotate(-55 "
                << coord(x + 3) << ' ' << coord(y) << ")\" class=\"col-label\">" << xml_escape(text) << "</text>";
    } else {
      svg.text(x, y, text, "middle", " class=\"col-label\"");
    }
  }
  svg.rect(left, top, grid_w, grid_h, "none", nullptr, "", " stroke=\"#333\" stroke-width=\"1\"");
  if (!h.row_title.empty()) {
    const double mid = top + grid_h / 2;
    svg.out() << "<text x=\"14\" y=\"" << coord(mid) << "\" text-anchor=\"middle\" transform=\"rotate(-90 14 " << coord(mid)
              << ")\" class=\"axis-title\">" << xml_escape(h.row_title) << "</text>";
  }
  if (!h.col_title.empty())
    svg.text(left + grid_w / 2, top + grid_h + col_label_h + 10, h.col_title, "middle", " class=\"axis-title\"");

  // Legend: one lightness ramp per verdict that occurs, on the shared colour scale.
  double y = legend_top;
  const double lx = left;
  std::string legend_title = h.value_label + (h.log_scale ? " (log scale)" : "");
  const bool has_threshold = h.threshold && std::isfinite(*h.threshold) && !(h.log_scale && *h.threshold <= 0);
  if (has_threshold) legend_title += "; black line: tolerance " + value_text(*h.threshold);
  svg.text(lx, y, legend_title, "start", " font-weight=\"bold\"");
  y += 8;
  s.p0 = lx, s.p1 = lx + ramp_w;
  std::vector<Verdict> shown(ramps.begin(), ramps.end());
  if (shown.empty()) shown.push_back(Verdict::none);
  const double ramps_top = y;
  for (Verdict v : shown) {
    for (int k = 0; k < ramp_steps; ++k) {
      const double t = (k + 0.5) / ramp_steps;
      svg.rect(lx + ramp_w * k / ramp_steps, y, ramp_w / ramp_steps + 0.3, ramp_h, ramp_colour(v, t), "ramp");
    }
    if (v != Verdict::none) svg.text(lx + ramp_w + 8, y + 9, to_string(v));
    y += ramp_gap;
  }
  const double ramps_bottom = y - ramp_gap + ramp_h;
  for (double t : s.ticks) {
    const double x = s.px(t);
    svg.line(x, ramps_bottom, x, ramps_bottom + 4, "#333");
    svg.text(x, ramps_bottom + 15, s.label(t), "middle", " class=\"tick\"");
  }
  if (has_threshold) {
    const double x = s.px(*h.threshold);
    svg.line(x, ramps_top - 3, x, ramps_bottom + 3, "#111", " stroke-width=\"2\" class=\"threshold\"");
  }
  y = ramps_bottom + 22;
  double sx = lx;
  if (any_nonfinite) {
    svg.rect(sx, y + 2, 10, 10, verdict_colour(Verdict::non_finite), "legend-swatch");
    svg.text(sx + 14, y + 11, "non-finite (NaN or inf)");
    sx += 14 + 23 * char_width + 16;
  }
  if (any_unchecked) {
    svg.rect(sx, y + 2, 10, 10, verdict_colour(Verdict::unchecked), "legend-swatch", "", " stroke=\"#999\" stroke-width=\"0.5\"");
    svg.text(sx + 14, y + 11, "not checked");
  }
  return svg.finish();
}

std::string svg_line_chart(const LineChart& c) {
  static constexpr std::array<const char*, 8> palette = {"#0072b2", "#e69f00", "#009e73", "#cc79a7",
                                                         "#56b4e9", "#d55e00", "#6b6b00", "#000000"};
  static constexpr std::array<const char*, 4> dashes = {"", "6 3", "2 3", "8 3 2 3"};
  Range xr, yr;
  for (const Series& s : c.series) {
    const std::size_t n = std::min(s.x.size(), s.y.size());
    for (std::size_t i = 0; i < n; ++i) {
      xr.add(s.x[i], false);
      if (std::isfinite(s.x[i])) yr.add(s.y[i], c.log_y);
    }
  }
  if (c.threshold) yr.add(*c.threshold, c.log_y);

  const double width = 760, left = 72, right = 180, top = 14, plot_h = 260, bottom = 46;
  const double height = top + plot_h + bottom;
  Scale xs = scale_for(xr, false, false);
  xs.p0 = left, xs.p1 = width - right;
  Scale ys = scale_for(yr, c.log_y, false);
  ys.p0 = top + plot_h, ys.p1 = top;

  Svg svg("line-chart", width, height, c.title);
  y_axis(svg, ys, left, width - right, c.y_label, 16);
  for (double t : xs.ticks) {
    const double x = xs.px(t);
    svg.line(x, top + plot_h, x, top + plot_h + 4, "#333");
    svg.text(x, top + plot_h + 16, xs.label(t), "middle", " class=\"tick\"");
  }
  svg.line(left, top + plot_h, width - right, top + plot_h, "#333");
  if (!c.x_label.empty()) svg.text((left + width - right) / 2, height - 8, c.x_label, "middle", " class=\"axis-title\"");
  if (c.threshold) threshold_line(svg, ys, *c.threshold, left, width - right);

  double legend_y = top + 8;
  if (c.threshold && std::isfinite(*c.threshold)) {
    const double lx = width - right + 14;
    svg.line(lx, legend_y - 4, lx + 22, legend_y - 4, "#222", " stroke-width=\"1.2\" stroke-dasharray=\"6 4\"");
    svg.text(lx + 28, legend_y, truncate_label(threshold_text(c.threshold_label, *c.threshold), 22), "start",
             " class=\"threshold-label\"");
    legend_y += 16;
  }
  for (std::size_t k = 0; k < c.series.size(); ++k) {
    const Series& s = c.series[k];
    const char* colour = palette[k % palette.size()];
    const char* dash = dashes[(k / palette.size() + k) % dashes.size()];
    const std::size_t n = std::min(s.x.size(), s.y.size());
    std::ostringstream d;
    bool pen_down = false;
    std::size_t valid = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double x = s.x[i], y = s.y[i];
      if (!std::isfinite(x) || !std::isfinite(y) || (c.log_y && y <= 0)) {
        pen_down = false;  // a gap in the line where the value cannot be drawn
        continue;
      }
      d << (pen_down ? " L" : (valid ? " M" : "M")) << coord(xs.px(x)) << ' ' << coord(ys.px(y));
      pen_down = true;
      ++valid;
    }
    svg.out() << "<path class=\"series\" data-series=\"" << xml_escape(s.name) << "\" d=\"" << d.str()
              << "\" fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"1.8\"";
    if (*dash) svg.out() << " stroke-dasharray=\"" << dash << '"';
    svg.out() << "><title>" << xml_escape(s.name) << "</title></path>";
    for (std::size_t i = 0; i < n; ++i) {
      const double x = s.x[i], y = s.y[i];
      if (!std::isfinite(x)) continue;
      if (!std::isfinite(y)) {
        // Non-finite values are marked on the top edge: where training blew up matters.
        const double px = xs.px(x), py = top + 4;
        svg.out() << "<path class=\"nonfinite-marker\" d=\"M" << coord(px - 4) << ' ' << coord(py - 4) << " L"
                  << coord(px + 4) << ' ' << coord(py + 4) << " M" << coord(px - 4) << ' ' << coord(py + 4) << " L"
                  << coord(px + 4) << ' ' << coord(py - 4) << "\" stroke=\"" << verdict_colour(Verdict::non_finite)
                  << "\" stroke-width=\"2\"><title>" << xml_escape(s.name + " at " + format_number(x, 6) + ": " + nonfinite_word(y))
                  << "</title></path>";
      } else if (n <= 60 && !(c.log_y && y <= 0)) {
        svg.out() << "<circle class=\"point\" cx=\"" << coord(xs.px(x)) << "\" cy=\"" << coord(ys.px(y)) << "\" r=\"2.5\" fill=\""
                  << colour << "\"><title>" << xml_escape(s.name + " at " + format_number(x, 6) + ": " + format_number(y, 6))
                  << "</title></circle>";
      }
    }
    // Legend entry.
    const double lx = width - right + 14;
    svg.out() << "<line x1=\"" << coord(lx) << "\" y1=\"" << coord(legend_y - 4) << "\" x2=\"" << coord(lx + 22)
              << "\" y2=\"" << coord(legend_y - 4) << "\" stroke=\"" << colour << "\" stroke-width=\"2.2\"";
    if (*dash) svg.out() << " stroke-dasharray=\"" << dash << '"';
    svg.out() << "/>";
    svg.text(lx + 28, legend_y, truncate_label(s.name, 22), "start", " class=\"legend-label\"");
    legend_y += 16;
  }
  return svg.finish();
}

}  // namespace gradcheck::reports::detail
