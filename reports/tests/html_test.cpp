#include "sample_document.hpp"
#include "xml_check.hpp"

#include <gradcheck/reports/render.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <functional>

namespace gradcheck::reports {
namespace {

using test::count_of;
using test::XmlNode;

std::vector<const XmlNode*> with_class(const XmlNode& root, const std::string& element, const std::string& cls) {
  std::vector<const XmlNode*> out;
  for (const XmlNode* n : root.all(element))
    if (n->attr("class") == cls) out.push_back(n);
  return out;
}

// The page's SVG charts, parsed as XML (which they must be), keyed by kind.
std::vector<XmlNode> charts_of(const std::string& html, const std::string& kind) {
  std::vector<XmlNode> out;
  for (const std::string& s : test::svg_fragments(html)) {
    XmlNode n = test::parse_xml(s);
    if (n.attr("class") == "chart " + kind) out.push_back(n);
  }
  return out;
}

TEST(HtmlReport, EveryChartIsWellFormedSvg) {
  const std::string html = render_html(test::sample_document());
  const auto svgs = test::svg_fragments(html);
  ASSERT_EQ(svgs.size(), 3u);
  for (const auto& s : svgs) EXPECT_NO_THROW(test::parse_xml(s)) << s.substr(0, 200);
}

TEST(HtmlReport, BarChartHasOneBarPerValueColouredByVerdict) {
  const auto charts = charts_of(render_html(test::sample_document()), "bar-chart");
  ASSERT_EQ(charts.size(), 1u);
  const auto bars = with_class(charts[0], "rect", "bar");
  ASSERT_EQ(bars.size(), 5u);
  EXPECT_EQ(bars[0]->attr("data-verdict"), "agree");
  EXPECT_EQ(bars[2]->attr("data-verdict"), "inconclusive-kink");
  EXPECT_EQ(bars[3]->attr("data-verdict"), "non-finite");
  EXPECT_EQ(bars[4]->attr("data-verdict"), "disagree");
  EXPECT_NE(bars[0]->attr("fill"), bars[4]->attr("fill"));
  // The exact value is in each bar's tooltip.
  ASSERT_EQ(bars[4]->children.size(), 1u);
  EXPECT_EQ(bars[4]->children[0].text, "layers[2].weights: 0.001 (disagree)");
  EXPECT_EQ(bars[2]->children[0].text, test::nasty + ": 1e-06 (inconclusive-kink)");
}

TEST(HtmlReport, LogScaleBarsGrowByEqualStepsPerDecadeAndTheThresholdSitsBetween) {
  const auto charts = charts_of(render_html(test::sample_document()), "bar-chart");
  ASSERT_EQ(charts.size(), 1u);
  const auto bars = with_class(charts[0], "rect", "bar");
  ASSERT_EQ(bars.size(), 5u);
  auto top = [&](int i) { return std::stod(bars[i]->attr("y")); };
  auto bottom = [&](int i) { return top(i) + std::stod(bars[i]->attr("height")); };
  // 1e-12, 1e-9, 1e-6 and 1e-3 are three decades apart: equal steps on a log axis.
  const double step = top(0) - top(1);
  EXPECT_GT(step, 10);
  EXPECT_NEAR(top(1) - top(2), step, 0.05);
  EXPECT_NEAR(top(2) - top(4), step, 0.05);
  EXPECT_NEAR(bottom(0), bottom(4), 1e-9);  // one baseline
  // The NaN bar spans the whole plot.
  EXPECT_LT(top(3), top(4));
  const auto thresholds = with_class(charts[0], "line", "threshold");
  ASSERT_EQ(thresholds.size(), 1u);
  const double ty = std::stod(thresholds[0]->attr("y1"));  // 1e-7: a third of a decade-step above 1e-6... below it
  EXPECT_GT(ty, top(2));
  EXPECT_LT(ty, top(1));
  EXPECT_NEAR(top(2) + step / 3.0, ty, 0.05);  // log10: -7 is one third of the way from -6 to -9
  // Ticks: powers of ten, evenly spaced, covering every bar.
  const auto ticks = with_class(charts[0], "text", "tick");
  ASSERT_GE(ticks.size(), 4u);
  std::vector<double> tick_y;
  for (const XmlNode* t : ticks) {
    const double v = std::stod(t->text);
    EXPECT_NEAR(std::log10(v), std::round(std::log10(v)), 1e-12) << t->text;
    tick_y.push_back(std::stod(t->attr("y")));
  }
  for (std::size_t i = 2; i < tick_y.size(); ++i) EXPECT_NEAR(tick_y[i - 1] - tick_y[i], tick_y[0] - tick_y[1], 0.02);
  EXPECT_GE(tick_y.front() - 3.5, bottom(0) - 0.01);  // the lowest tick at or below the baseline
  EXPECT_LE(tick_y.back() - 3.5, top(4));
}

TEST(HtmlReport, HeatmapHasOneCellPerEntryWithVerdicts) {
  const auto maps = charts_of(render_html(test::sample_document()), "heatmap");
  ASSERT_EQ(maps.size(), 1u);
  const auto cells = with_class(maps[0], "rect", "cell");
  ASSERT_EQ(cells.size(), 24u);
  std::size_t disagree = 0, non_finite = 0, agree = 0;
  for (const XmlNode* c : cells) {
    disagree += c->attr("data-verdict") == "disagree";
    non_finite += c->attr("data-verdict") == "non-finite";
    agree += c->attr("data-verdict") == "agree";
  }
  EXPECT_EQ(disagree, 2u);
  EXPECT_EQ(non_finite, 1u);
  EXPECT_EQ(agree, 21u);
  // Row-major: cell (1, 2) is the 7th.
  EXPECT_EQ(cells[6]->attr("data-verdict"), "disagree");
  EXPECT_EQ(cells[6]->children[0].text, "unit 1, input 2: 0.5 (disagree)");
  // Lightness follows the value: among agreeing cells, a larger error is darker.
  auto luminance = [](const std::string& hex) {
    const auto v = std::stoul(hex.substr(1), nullptr, 16);
    return 0.2126 * ((v >> 16) & 255) + 0.7152 * ((v >> 8) & 255) + 0.0722 * (v & 255);
  };
  EXPECT_GT(luminance(cells[0]->attr("fill")), luminance(cells[1]->attr("fill")));  // 1e-12 vs 1e-11
  EXPECT_GT(luminance(cells[1]->attr("fill")), luminance(cells[3 * 4 + 3]->attr("fill")));
  EXPECT_EQ(with_class(maps[0], "line", "threshold").size(), 1u);
}

TEST(HtmlReport, LineChartHasOnePathPerSeriesAndMarksTheNaN) {
  const auto charts = charts_of(render_html(test::sample_document()), "line-chart");
  ASSERT_EQ(charts.size(), 1u);
  const auto series = with_class(charts[0], "path", "series");
  ASSERT_EQ(series.size(), 2u);
  EXPECT_EQ(series[0]->attr("data-series"), "train");
  EXPECT_EQ(series[1]->attr("data-series"), "test " + test::nasty);
  // The NaN at step 3 breaks the first line into two pieces: two moves.
  const std::string d0 = series[0]->attr("d"), d1 = series[1]->attr("d");
  EXPECT_EQ(std::count(d0.begin(), d0.end(), 'M'), 2) << d0;
  EXPECT_EQ(std::count(d0.begin(), d0.end(), 'L'), 2) << d0;
  EXPECT_EQ(std::count(d1.begin(), d1.end(), 'M'), 1) << d1;
  EXPECT_EQ(std::count(d1.begin(), d1.end(), 'L'), 4) << d1;
  const auto markers = with_class(charts[0], "path", "nonfinite-marker");
  ASSERT_EQ(markers.size(), 1u);
  EXPECT_EQ(markers[0]->children[0].text, "train at 3: NaN");
}

TEST(HtmlReport, EscapesNamesEverywhere) {
  const std::string html = render_html(test::sample_document());
  EXPECT_NE(html.find("<title>gradcheck check &lt;net&gt; &amp; &quot;friends&quot; \u2014 FAIL</title>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"), std::string::npos);
  EXPECT_EQ(html.find("<script>alert"), std::string::npos);
  EXPECT_EQ(count_of(html, "<script"), 1u);  // only the sorting script
  EXPECT_NE(html.find("<td>w&lt;1&gt;&amp;&quot;q&quot; &#39;x&#39;|y</td>"), std::string::npos);
  EXPECT_EQ(html.find(test::nasty), std::string::npos);
}

TEST(HtmlReport, IsSelfContained) {
  const std::string html = render_html(test::sample_document());
  for (const char* forbidden : {"http://", "https://", " src=", "<link", "@import", "url(", "@font-face"})
    EXPECT_EQ(html.find(forbidden), std::string::npos) << forbidden;
  EXPECT_NE(html.find("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';"), std::string::npos);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_TRUE(test::is_valid_utf8(html));
}

TEST(HtmlReport, TablesCarryVerdictClassesAndNumericSortKeys) {
  const std::string html = render_html(test::sample_document());
  EXPECT_EQ(count_of(html, "<td class=\"v-disagree\">disagree</td>"), 3u);
  EXPECT_EQ(count_of(html, "<td class=\"v-agree\">agree</td>"), 22u);
  EXPECT_NE(html.find("<td class=\"num\" data-sort=\"23\">23</td>"), std::string::npos);
  EXPECT_NE(html.find("\u2026 and 7 more rows"), std::string::npos);
  EXPECT_EQ(count_of(html, "<table class=\"data sortable\">"), 1u);
}

TEST(HtmlReport, WorksWithoutJavaScript) {
  HtmlOptions o;
  o.sortable_tables = false;
  const std::string html = render_html(test::sample_document(), o);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(test::svg_fragments(html).size(), 3u);
  EXPECT_EQ(count_of(html, "<table class=\"data\">"), 2u);  // the entries and the testcases
}

TEST(HtmlReport, SummaryLinksToEverySectionAndShowsTheInterruption) {
  Document doc = test::sample_document();
  doc.sections.push_back(doc.sections[0]);  // a second "Forward pass" gets its own anchor
  doc.interrupted_by = "SIGTERM";
  const std::string html = render_html(doc);
  EXPECT_NE(html.find("<a href=\"#s-forward-pass\">Forward pass</a>"), std::string::npos);
  EXPECT_NE(html.find("<a href=\"#s-forward-pass-2\">Forward pass</a>"), std::string::npos);
  EXPECT_NE(html.find("<section id=\"s-gradients\" class=\"fail\">"), std::string::npos);
  EXPECT_NE(html.find("<p class=\"banner interrupted\" role=\"alert\">interrupted: the report holds what was gathered "
                      "before SIGTERM</p>"),
            std::string::npos);
}

TEST(HtmlReport, ChartsOfEmptyOrDegenerateDataStillRender) {
  Document doc;
  Section s;
  s.add(BarChart{});                              // no bars
  BarChart zeros;
  zeros.values = {0, 0};
  zeros.log_scale = true;                         // nothing positive on a log axis
  s.add(zeros);
  BarChart flat;
  flat.values = {2, 2, 2};                        // a zero-height range
  s.add(flat);
  s.add(Heatmap(0, 0));
  Heatmap nan(1, 1);
  nan.values[0] = std::nan("");
  s.add(nan);
  LineChart empty;
  empty.series.push_back({"nothing", {}, {}});
  s.add(empty);
  doc.sections.push_back(s);
  const std::string html = render_html(doc);
  const auto svgs = test::svg_fragments(html);
  ASSERT_EQ(svgs.size(), 6u);
  // Every coordinate is a finite number, whatever the data.
  std::function<void(const XmlNode&)> check = [&](const XmlNode& n) {
    for (const char* a : {"x", "y", "width", "height", "x1", "y1", "x2", "y2", "cx", "cy"}) {
      if (!n.attrs.count(a)) continue;
      std::size_t used = 0;
      const double v = std::stod(n.attr(a), &used);
      EXPECT_EQ(used, n.attr(a).size()) << n.name << ' ' << a << "=" << n.attr(a);
      EXPECT_TRUE(std::isfinite(v)) << n.name << ' ' << a << "=" << n.attr(a);
    }
    for (const auto& c : n.children) check(c);
  };
  for (const auto& svg : svgs) check(test::parse_xml(svg));
  EXPECT_EQ(count_of(svgs[1], "class=\"bar\""), 2u);
  EXPECT_EQ(count_of(svgs[4], "data-verdict=\"non-finite\""), 1u);
}

}  // namespace
}  // namespace gradcheck::reports
