// report.html: one self-contained page. No network: CSS inline, charts inline SVG, no
// fonts or scripts from elsewhere, and a Content-Security-Policy that forbids fetching
// anything, so that a browser enforces it. The page reads the same without JavaScript;
// the inline script only makes tables sortable.
#include <gradcheck/reports/render.hpp>

#include "detail/svg.hpp"
#include "detail/text.hpp"

#include <map>
#include <sstream>

namespace gradcheck::reports {
namespace {

using detail::xml_attr;
using detail::xml_escape;

constexpr const char* style = R"CSS(
:root { --pass:#1a7f37; --notes:#2f5fa7; --fail:#c62828; --error:#6a1b9a; --ink:#1f2328; --muted:#57606a;
  --line:#d0d7de; --bg:#ffffff; --panel:#f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif; }
header, nav, main, footer { max-width: 1040px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 18px; }
h1 { font-size: 22px; margin: 0 0 6px; }
h2 { font-size: 18px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
.status-line { margin: 0 0 10px; color: var(--muted); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 12px;
  font-weight: 700; letter-spacing: .04em; vertical-align: 2px; }
.badge.pass { background: var(--pass); } .badge.notes { background: var(--notes); }
.badge.fail { background: var(--fail); } .badge.error { background: var(--error); }
.banner { padding: 8px 12px; border-radius: 6px; margin: 8px 0; font-weight: 600; }
.banner.interrupted { background: #fff4e5; border: 1px solid #e69500; color: #6b4200; }
section { border-left: 4px solid var(--line); padding-left: 14px; margin: 8px 0 24px; }
section.pass { border-left-color: var(--pass); } section.notes { border-left-color: var(--notes); }
section.fail { border-left-color: var(--fail); } section.error { border-left-color: var(--error); }
section > h2 { border-bottom: none; margin-top: 12px; }
p.summary { color: var(--muted); margin-top: 0; }
p.para { margin: 6px 0; padding: 4px 10px; border-left: 3px solid transparent; }
p.sev-note { border-left-color: var(--notes); background: #f0f5fc; }
p.sev-warning { border-left-color: #e69500; background: #fff8eb; }
p.sev-error { border-left-color: var(--fail); background: #fdf0ef; }
p.para .sev { font-weight: 700; margin-right: 4px; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 13px; }
caption { text-align: left; font-weight: 600; padding: 2px 0 6px; color: var(--ink); }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: var(--panel); }
td.num { text-align: right; font-variant-numeric: tabular-nums; font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px; }
table.kv th { font-weight: 600; white-space: nowrap; }
table.sortable thead th { cursor: pointer; user-select: none; }
table.sortable thead th[aria-sort="ascending"]::after { content: " \25B2"; font-size: 10px; }
table.sortable thead th[aria-sort="descending"]::after { content: " \25BC"; font-size: 10px; }
.table-wrap { overflow-x: auto; }
td.v-agree { background: #e6f4ea; } td.v-note { background: #e8f0fb; }
td.v-inconclusive-kink { background: #fff1cc; } td.v-disagree { background: #fbd3cf; font-weight: 600; }
td.v-non-finite { background: #ead7ee; font-weight: 600; }
td.v-unchecked { color: var(--muted); }
p.omitted { color: var(--muted); font-style: italic; margin-top: -6px; }
figure { margin: 12px 0 18px; }
figcaption { margin-bottom: 4px; }
figcaption .caption { display: block; color: var(--muted); font-size: 12.5px; }
svg.chart { max-width: 100%; height: auto; display: block; background: #fff; }
svg.chart .tick, svg.chart .bar-label, svg.chart .row-label, svg.chart .col-label { fill: #333; }
pre { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px; overflow-x: auto;
  font: 12px/1.45 "DejaVu Sans Mono", Menlo, Consolas, monospace; }
details { margin: 8px 0; } summary { cursor: pointer; color: var(--muted); }
nav table.summary td:nth-child(2) { white-space: nowrap; }
footer { color: var(--muted); font-size: 12px; padding-top: 8px; padding-bottom: 24px; border-top: 1px solid var(--line); }
a { color: #0550ae; }
)CSS";

// Sorting only; no other behaviour depends on it. data-ready marks that it ran to the end.
constexpr const char* script = R"JS(
(function () {
  "use strict";
  function key(cell) {
    var k = cell.getAttribute("data-sort");
    if (k !== null && k !== "") {
      var n = Number(k);
      if (!isNaN(n)) return n;
    }
    return (cell.textContent || "").trim().toLowerCase();
  }
  function compare(a, b) {
    if (typeof a === "number" && typeof b === "number") return a < b ? -1 : a > b ? 1 : 0;
    if (typeof a === "number") return -1;
    if (typeof b === "number") return 1;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  var each = Array.prototype.forEach;
  each.call(document.querySelectorAll("table.sortable"), function (table) {
    var body = table.tBodies[0], head = table.tHead;
    if (!body || !head || !head.rows.length) return;
    var headers = head.rows[0].cells;
    each.call(headers, function (th, col) {
      th.tabIndex = 0;
      th.setAttribute("aria-sort", "none");
      function sort() {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        each.call(headers, function (other) { other.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r1, r2) {
          var c1 = r1.cells[col], c2 = r2.cells[col];
          if (!c1 || !c2) return 0;
          var d = compare(key(c1), key(c2));
          return ascending ? d : -d;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); }
      });
    });
  });
  document.documentElement.setAttribute("data-ready", "1");
})();
)JS";

std::string badge(Status s) {
  return std::string("<span class=\"badge ") + to_string(s) + "\">" + detail::upper(to_string(s)) + "</span>";
}

const char* severity_word(Severity s) {
  switch (s) {
    case Severity::info: return "";
    case Severity::note: return "Note:";
    case Severity::warning: return "Warning:";
    case Severity::error: return "Failure:";
  }
  return "";
}

void key_values(std::ostringstream& os, const KeyValues& kv) {
  if (kv.rows.empty()) return;
  os << "<table class=\"kv\">";
  if (!kv.caption.empty()) os << "<caption>" << xml_escape(kv.caption) << "</caption>";
  for (const auto& [k, v] : kv.rows) os << "<tr><th scope=\"row\">" << xml_escape(k) << "</th><td>" << xml_escape(v) << "</td></tr>";
  os << "</table>\n";
}

void table(std::ostringstream& os, const Table& t, bool sortable) {
  os << "<div class=\"table-wrap\"><table class=\"data" << (sortable ? " sortable" : "") << "\">";
  if (!t.caption.empty()) os << "<caption>" << xml_escape(t.caption) << "</caption>";
  if (!t.header.empty()) {
    os << "<thead><tr>";
    for (const auto& h : t.header) os << "<th scope=\"col\">" << xml_escape(h) << "</th>";
    os << "</tr></thead>";
  }
  os << "<tbody>";
  for (const auto& row : t.rows) {
    os << "<tr>";
    for (const Cell& c : row) {
      os << "<td";
      std::string cls;
      if (c.sort_key) cls = "num";
      if (c.verdict != Verdict::none) cls += std::string(cls.empty() ? "" : " ") + "v-" + to_string(c.verdict);
      if (!cls.empty()) os << " class=\"" << cls << '"';
      if (c.sort_key) os << " data-sort=\"" << detail::js_number(*c.sort_key) << '"';
      os << '>' << xml_escape(c.text) << "</td>";
    }
    os << "</tr>";
  }
  os << "</tbody></table></div>\n";
  if (t.omitted_rows > 0)
    os << "<p class=\"omitted\">\u2026 and " << t.omitted_rows << " more row" << (t.omitted_rows == 1 ? "" : "s")
       << " (all of them are in report.json)</p>\n";
}

template <class Chart>
void figure(std::ostringstream& os, const Chart& c, const std::string& svg) {
  os << "<figure class=\"chart-figure\"><figcaption>";
  if (!c.title.empty()) os << "<strong>" << xml_escape(c.title) << "</strong>";
  if (!c.caption.empty()) os << "<span class=\"caption\">" << xml_escape(c.caption) << "</span>";
  os << "</figcaption>" << svg << "</figure>\n";
}

void block(std::ostringstream& os, const Block& b, const HtmlOptions& options) {
  if (const auto* p = std::get_if<Paragraph>(&b)) {
    os << "<p class=\"para sev-" << to_string(p->severity) << "\">";
    if (*severity_word(p->severity)) os << "<span class=\"sev\">" << severity_word(p->severity) << "</span>";
    os << xml_escape(p->text) << "</p>\n";
  } else if (const auto* kv = std::get_if<KeyValues>(&b)) {
    key_values(os, *kv);
  } else if (const auto* t = std::get_if<Table>(&b)) {
    table(os, *t, options.sortable_tables);
  } else if (const auto* bar = std::get_if<BarChart>(&b)) {
    figure(os, *bar, detail::svg_bar_chart(*bar));
  } else if (const auto* hm = std::get_if<Heatmap>(&b)) {
    figure(os, *hm, detail::svg_heatmap(*hm));
  } else if (const auto* line = std::get_if<LineChart>(&b)) {
    figure(os, *line, detail::svg_line_chart(*line));
  } else if (const auto* pre = std::get_if<Preformatted>(&b)) {
    os << "<figure class=\"pre\">";
    if (!pre->caption.empty()) os << "<figcaption><strong>" << xml_escape(pre->caption) << "</strong></figcaption>";
    os << "<pre><code";
    if (!pre->language.empty()) os << " class=\"language-" << xml_attr(detail::slug(pre->language)) << '"';
    os << '>' << xml_escape(pre->text) << "</code></pre></figure>\n";
  }
}

void testcases(std::ostringstream& os, const std::vector<TestCase>& cases) {
  if (cases.empty()) return;
  std::size_t bad = 0;
  for (const auto& c : cases) bad += c.outcome == Outcome::fail || c.outcome == Outcome::error;
  os << "<details class=\"testcases\"><summary>JUnit testcases: " << cases.size() << ", " << bad << " failing</summary>"
     << "<table class=\"data\"><thead><tr><th>suite</th><th>testcase</th><th>outcome</th><th>message</th></tr></thead><tbody>";
  for (const auto& c : cases) {
    const Verdict v = c.outcome == Outcome::pass   ? Verdict::agree
                      : c.outcome == Outcome::skip ? Verdict::none
                                                   : Verdict::disagree;
    os << "<tr><td>" << xml_escape(c.suite) << "</td><td>" << xml_escape(c.name) << "</td><td"
       << (v == Verdict::none ? std::string() : std::string(" class=\"v-") + to_string(v) + "\"") << '>'
       << to_string(c.outcome) << "</td><td>" << xml_escape(c.message) << "</td></tr>";
  }
  os << "</tbody></table></details>\n";
}

}  // namespace

std::string render_html(const Document& doc, const HtmlOptions& options) {
  std::ostringstream os;
  const std::string generator = detail::generator_name(doc);
  os << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
     << "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "script-src 'unsafe-inline'; img-src data:\">\n"
     << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
     << "<meta name=\"generator\" content=\"" << xml_attr(generator) << "\">\n"
     << "<title>" << xml_escape(doc.title) << " \u2014 " << detail::upper(to_string(doc.status)) << "</title>\n"
     << "<style>" << style << "</style>\n</head>\n<body>\n";

  os << "<header>\n<h1>" << xml_escape(doc.title) << "</h1>\n<p class=\"status-line\">" << badge(doc.status) << ' '
     << xml_escape(generator) << "</p>\n";
  if (doc.interrupted_by)
    os << "<p class=\"banner interrupted\" role=\"alert\">" << xml_escape(doc.interruption_note()) << "</p>\n";
  key_values(os, doc.facts);
  os << "</header>\n";

  // Section anchors: unique slugs of the headings.
  std::vector<std::string> ids;
  std::map<std::string, int> seen;
  for (const auto& s : doc.sections) {
    std::string id = "s-" + detail::slug(s.heading);
    if (const int n = ++seen[id]; n > 1) id += "-" + std::to_string(n);
    ids.push_back(id);
  }

  if (!doc.sections.empty()) {
    os << "<nav>\n<h2>Summary</h2>\n<table class=\"summary\"><thead><tr><th>section</th><th>status</th><th>summary</th></tr></thead><tbody>";
    for (std::size_t i = 0; i < doc.sections.size(); ++i) {
      const auto& s = doc.sections[i];
      os << "<tr><td><a href=\"#" << ids[i] << "\">" << xml_escape(s.heading) << "</a></td><td>" << badge(s.status)
         << "</td><td>" << xml_escape(s.summary) << "</td></tr>";
    }
    os << "</tbody></table>\n</nav>\n";
  }

  os << "<main>\n";
  for (std::size_t i = 0; i < doc.sections.size(); ++i) {
    const auto& s = doc.sections[i];
    os << "<section id=\"" << ids[i] << "\" class=\"" << to_string(s.status) << "\">\n<h2>" << xml_escape(s.heading) << ' '
       << badge(s.status) << "</h2>\n";
    if (!s.summary.empty()) os << "<p class=\"summary\">" << xml_escape(s.summary) << "</p>\n";
    for (const Block& b : s.blocks) block(os, b, options);
    testcases(os, s.testcases);
    os << "</section>\n";
  }
  os << "</main>\n<footer>" << xml_escape(generator)
     << " \u00b7 the data behind this page, every entry included, is in report.json (schema "
     << schema_version << ", docs/report-schema.md)</footer>\n";
  if (options.sortable_tables) os << "<script>" << script << "</script>\n";
  os << "</body>\n</html>\n";
  return os.str();
}

}  // namespace gradcheck::reports
