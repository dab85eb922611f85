// junit.xml: one <testsuite> per report, the sections' testcases in order. The layout
// CI systems read (Jenkins, GitLab, GitHub test reporters): <testsuites> with totals,
// <testcase classname name time> holding <failure>, <error> or <skipped>.
#include <gradcheck/reports/render.hpp>

#include "detail/text.hpp"

#include <gradcheck/reports/format.hpp>

#include <sstream>

namespace gradcheck::reports {
namespace {

using detail::xml_attr;
using detail::xml_escape;

std::vector<TestCase> collect(const Document& doc) {
  std::vector<TestCase> cases;
  for (const auto& s : doc.sections) {
    if (!s.testcases.empty()) {
      cases.insert(cases.end(), s.testcases.begin(), s.testcases.end());
      continue;
    }
    // A section without testcases still shows up in CI, as one testcase.
    TestCase t;
    t.suite = "report";
    t.name = s.heading;
    t.outcome = s.status == Status::fail ? Outcome::fail : s.status == Status::error ? Outcome::error : Outcome::pass;
    t.message = s.summary;
    cases.push_back(std::move(t));
  }
  if (doc.interrupted_by) {
    // An interrupted run must not look green in CI, whatever it gathered so far.
    TestCase t;
    t.suite = "gradcheck";
    t.name = "run completed";
    t.outcome = Outcome::error;
    t.message = doc.interruption_note();
    cases.push_back(std::move(t));
  }
  return cases;
}

}  // namespace

std::string render_junit(const Document& doc) {
  const std::vector<TestCase> cases = collect(doc);
  std::size_t failures = 0, errors = 0, skipped = 0;
  double seconds = 0;
  for (const auto& c : cases) {
    failures += c.outcome == Outcome::fail;
    errors += c.outcome == Outcome::error;
    skipped += c.outcome == Outcome::skip;
    seconds += c.seconds;
  }
  const std::string totals = "tests=\"" + std::to_string(cases.size()) + "\" failures=\"" + std::to_string(failures) +
                             "\" errors=\"" + std::to_string(errors) + "\" skipped=\"" + std::to_string(skipped) +
                             "\" time=\"" + format_number(seconds, 6) + "\"";
  std::ostringstream os;
  os << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  os << "<testsuites name=\"gradcheck\" " << totals << ">\n";
  os << "  <testsuite name=\"" << xml_attr(doc.title) << "\" " << totals << ">\n";
  os << "    <properties>\n";
  os << "      <property name=\"status\" value=\"" << to_string(doc.status) << "\"/>\n";
  os << "      <property name=\"generator\" value=\"" << xml_attr(detail::generator_name(doc)) << "\"/>\n";
  if (doc.interrupted_by)
    os << "      <property name=\"interrupted_by\" value=\"" << xml_attr(*doc.interrupted_by) << "\"/>\n";
  for (const auto& [k, v] : doc.facts.rows)
    os << "      <property name=\"" << xml_attr(k) << "\" value=\"" << xml_attr(v) << "\"/>\n";
  os << "    </properties>\n";
  for (const auto& c : cases) {
    os << "    <testcase classname=\"" << xml_attr(c.suite) << "\" name=\"" << xml_attr(c.name) << "\" time=\""
       << format_number(c.seconds, 6) << '"';
    switch (c.outcome) {
      case Outcome::pass:
        if (c.details.empty() && c.message.empty()) {
          os << "/>\n";
        } else {
          // Notes on a passing testcase stay visible to whoever opens it.
          os << ">\n      <system-out>" << xml_escape(c.message.empty()   ? c.details
                                                  : c.details.empty() ? c.message
                                                                      : c.message + "\n" + c.details)
             << "</system-out>\n    </testcase>\n";
        }
        break;
      case Outcome::fail:
        os << ">\n      <failure message=\"" << xml_attr(c.message) << "\" type=\"divergence\">" << xml_escape(c.details)
           << "</failure>\n    </testcase>\n";
        break;
      case Outcome::error:
        os << ">\n      <error message=\"" << xml_attr(c.message) << "\" type=\"error\">" << xml_escape(c.details)
           << "</error>\n    </testcase>\n";
        break;
      case Outcome::skip:
        os << ">\n      <skipped message=\"" << xml_attr(c.message) << "\"/>\n    </testcase>\n";
        break;
    }
  }
  os << "  </testsuite>\n</testsuites>\n";
  return os.str();
}

}  // namespace gradcheck::reports
