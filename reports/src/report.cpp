#include <gradcheck/reports/render.hpp>
#include <gradcheck/reports/report.hpp>

#include "detail/text.hpp"

#include <gradcheck/engine/version.hpp>

namespace gradcheck::reports {

Section& Report::add_section(Section section) {
  document.status = worst(document.status, section.status);
  document.sections.push_back(std::move(section));
  return document.sections.back();
}

void Report::add_result(nlohmann::json result) { results.push_back(std::move(result)); }

void Report::mark_interrupted(std::string by) { document.interrupted_by = std::move(by); }

namespace detail {
std::string generator_name(const Document& doc) {
  return doc.generator.empty() ? std::string("gradcheck ") + gradcheck::version() : doc.generator;
}
}  // namespace detail

nlohmann::json to_json(const Report& report) {
  const Document& d = report.document;
  nlohmann::json facts = nlohmann::json::object();
  for (const auto& [k, v] : d.facts.rows) facts[k] = v;
  return {
      {"schema", schema_version},
      {"generator", detail::generator_name(d)},
      {"title", d.title},
      {"status", to_string(d.status)},
      {"interrupted", d.interrupted_by.has_value()},
      {"interrupted_by", d.interrupted_by ? nlohmann::json(*d.interrupted_by) : nlohmann::json(nullptr)},
      {"facts", facts},
      {"results", report.results},
  };
}

std::string render_json(const Report& report) {
  // Invalid UTF-8 in a string (a probed program may send any bytes) is replaced, never thrown.
  return to_json(report).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}


}  // namespace gradcheck::reports
