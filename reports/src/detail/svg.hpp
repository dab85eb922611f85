#pragma once
// Charts as inline SVG (internal). Each returns one <svg> element, well-formed XML, with
// no external references, whose marks carry classes the tests and the page rely on:
//   bar chart: <svg class="chart bar-chart">, one <rect class="bar" data-verdict=...> per bar
//   heatmap:   <svg class="chart heatmap">,   one <rect class="cell" data-verdict=...> per cell
//   line chart:<svg class="chart line-chart">, one <path class="series"> per series
// Every mark has a <title> child, so hovering shows its exact value.

#include <gradcheck/reports/document.hpp>

#include <string>

namespace gradcheck::reports::detail {

std::string svg_bar_chart(const BarChart& chart);
std::string svg_heatmap(const Heatmap& map);
std::string svg_line_chart(const LineChart& chart);

// The fill of a verdict (colour-blind-aware: the hues differ in lightness too).
const char* verdict_colour(Verdict v) noexcept;

}  // namespace gradcheck::reports::detail
