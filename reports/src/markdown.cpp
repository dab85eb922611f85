// report.md: short enough for a pull-request comment. The summary table of every
// section, then what is not a pass (failures first-hand, tables cut to a few rows),
// and no charts: those are in report.html.
#include <gradcheck/reports/render.hpp>

#include "detail/text.hpp"

#include <algorithm>
#include <sstream>

namespace gradcheck::reports {
namespace {

using detail::md_escape;

std::string status_word(Status s) {
  switch (s) {
    case Status::pass: return "pass";
    case Status::notes: return "notes";
    case Status::fail: return "**FAIL**";
    case Status::error: return "**ERROR**";
  }
  return "";
}

std::string cell_text(const Cell& c) {
  std::string t = md_escape(c.text);
  if (t.empty()) return " ";
  if (c.verdict == Verdict::disagree || c.verdict == Verdict::non_finite) return "**" + t + "**";
  return t;
}

// A fence longer than any run of backticks inside the text, so that the text cannot close it.
std::string fence_for(const std::string& text) {
  std::size_t longest = 0, run = 0;
  for (char c : text) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  return std::string(std::max<std::size_t>(3, longest + 1), '`');
}

struct Limits {
  std::size_t table_rows;
  bool preformatted;
};

void table(std::ostringstream& os, const Table& t, const Limits& limits, const MarkdownOptions& options) {
  std::size_t columns = t.header.size();
  for (const auto& r : t.rows) columns = std::max(columns, r.size());
  if (columns == 0) return;
  if (!t.caption.empty()) os << "**" << md_escape(t.caption) << "**\n\n";
  os << '|';
  for (std::size_t j = 0; j < columns; ++j) os << ' ' << (j < t.header.size() ? md_escape(t.header[j]) : std::string(" ")) << " |";
  os << "\n|";
  for (std::size_t j = 0; j < columns; ++j) os << "---|";
  os << '\n';
  const std::size_t shown = std::min(limits.table_rows, t.rows.size());
  for (std::size_t i = 0; i < shown; ++i) {
    os << '|';
    for (std::size_t j = 0; j < columns; ++j) os << ' ' << (j < t.rows[i].size() ? cell_text(t.rows[i][j]) : std::string(" ")) << " |";
    os << '\n';
  }
  const std::size_t rest = t.rows.size() - shown + t.omitted_rows;
  if (rest > 0)
    os << "\n\u2026 and " << rest << " more row" << (rest == 1 ? "" : "s") << ": see " << md_escape(options.html_name) << ".\n";
  os << '\n';
}

void block(std::ostringstream& os, const Block& b, const Limits& limits, const MarkdownOptions& options) {
  if (const auto* p = std::get_if<Paragraph>(&b)) {
    switch (p->severity) {
      case Severity::error: os << "**Failure:** "; break;
      case Severity::warning: os << "**Warning:** "; break;
      case Severity::note: os << "**Note:** "; break;
      case Severity::info: break;
    }
    os << md_escape(p->text) << "\n\n";
  } else if (const auto* kv = std::get_if<KeyValues>(&b)) {
    if (!kv->caption.empty()) os << "**" << md_escape(kv->caption) << "**\n\n";
    for (const auto& [k, v] : kv->rows) os << "- " << md_escape(k) << ": " << md_escape(v) << '\n';
    os << '\n';
  } else if (const auto* t = std::get_if<Table>(&b)) {
    table(os, *t, limits, options);
  } else if (const auto* pre = std::get_if<Preformatted>(&b)) {
    const std::size_t lines = static_cast<std::size_t>(std::count(pre->text.begin(), pre->text.end(), '\n')) + 1;
    if (!pre->caption.empty()) os << "**" << md_escape(pre->caption) << "**\n\n";
    if (!limits.preformatted || lines > options.max_preformatted_lines) {
      os << "(" << lines << " lines: see " << md_escape(options.html_name) << ")\n\n";
    } else {
      const std::string text = detail::valid_utf8(pre->text);
      const std::string fence = fence_for(text);
      os << fence << detail::slug(pre->language.empty() ? "text" : pre->language) << '\n' << text;
      if (text.empty() || text.back() != '\n') os << '\n';
      os << fence << "\n\n";
    }
  }
  // Charts are left to report.html.
}

std::string render(const Document& doc, const Limits& limits, const MarkdownOptions& options) {
  std::ostringstream os;
  os << "# " << md_escape(doc.title) << "\n\n";
  os << "Status: " << status_word(doc.status) << " \u00b7 " << md_escape(detail::generator_name(doc)) << "\n\n";
  if (doc.interrupted_by) os << "> **" << md_escape(doc.interruption_note()) << "**\n\n";
  for (const auto& [k, v] : doc.facts.rows) os << "- " << md_escape(k) << ": " << md_escape(v) << '\n';
  if (!doc.facts.rows.empty()) os << '\n';

  if (!doc.sections.empty()) {
    os << "| section | status | summary |\n|---|---|---|\n";
    for (const auto& s : doc.sections)
      os << "| " << md_escape(s.heading) << " | " << status_word(s.status) << " | " << md_escape(s.summary) << " |\n";
    os << '\n';
  }
  bool has_charts = false;
  for (const auto& s : doc.sections) {
    for (const auto& b : s.blocks)
      has_charts = has_charts || std::holds_alternative<BarChart>(b) || std::holds_alternative<Heatmap>(b) ||
                   std::holds_alternative<LineChart>(b);
    if (s.status == Status::pass) continue;
    os << "## " << md_escape(s.heading) << " \u2014 " << status_word(s.status) << "\n\n";
    for (const auto& b : s.blocks) block(os, b, limits, options);
  }
  os << "_" << (has_charts ? "Charts, full tables" : "Full tables") << " and every entry: see "
     << md_escape(options.html_name) << " (and report.json for the data)._\n";
  return os.str();
}

}  // namespace

std::string render_markdown(const Document& doc, const MarkdownOptions& options) {
  Limits limits{options.max_table_rows, true};
  std::string md = render(doc, limits, options);
  // Too long for a comment: fewer table rows, then no preformatted blocks, then a cut.
  while (md.size() > options.max_chars && limits.table_rows > 1) {
    limits.table_rows /= 2;
    md = render(doc, limits, options);
  }
  if (md.size() > options.max_chars && limits.preformatted) {
    limits.preformatted = false;
    md = render(doc, limits, options);
  }
  if (md.size() > options.max_chars) {
    const std::string tail = "\n_Truncated to fit a comment: see " + md_escape(options.html_name) + "._\n";
    std::size_t cut = options.max_chars > tail.size() ? options.max_chars - tail.size() : 0;
    cut = md.rfind('\n', cut);
    md = md.substr(0, cut == std::string::npos ? 0 : cut) + "\n" + tail;
  }
  return md;
}

}  // namespace gradcheck::reports
