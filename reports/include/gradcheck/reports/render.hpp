#pragma once
// Renderers: each takes the same Document (report.json takes the Report's data instead).
//
//   std::string md   = render_markdown(report.document);   // a pull-request comment
//   std::string html = render_html(report.document);       // self-contained page, inline SVG charts
//   std::string xml  = render_junit(report.document);      // one <testsuite> for the report
//   std::string json = render_json(report);                // report.json
//
// Renderers never throw on odd content: any text (quotes, <, &, invalid UTF-8, control
// characters) is escaped for its format, and non-finite numbers are drawn as such.

#include <gradcheck/reports/document.hpp>
#include <gradcheck/reports/report.hpp>

#include <cstddef>
#include <string>

namespace gradcheck::reports {

struct MarkdownOptions {
  // Rows shown per table; the rest are counted ("… and 40 more rows in report.html").
  std::size_t max_table_rows = 10;
  // Preformatted blocks longer than this many lines are left to the HTML report.
  std::size_t max_preformatted_lines = 40;
  // GitHub refuses comments over 65,536 characters; tables shrink until the text fits.
  std::size_t max_chars = 60000;
  // Where the charts and the full tables are ("see report.html").
  std::string html_name = "report.html";
};

struct HtmlOptions {
  // A few lines of inline JavaScript to sort tables by a click on a header. The page
  // works the same without JavaScript; the script only adds sorting.
  bool sortable_tables = true;
};

std::string render_markdown(const Document& doc, const MarkdownOptions& options = {});
std::string render_html(const Document& doc, const HtmlOptions& options = {});
std::string render_junit(const Document& doc);
std::string render_json(const Report& report);

}  // namespace gradcheck::reports
