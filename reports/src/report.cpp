#include <gradcheck/reports/render.hpp>
#include <gradcheck/reports/report.hpp>

#include "detail/text.hpp"

#include <gradcheck/engine/version.hpp>

#include <algorithm>
#include <string>
#include <vector>

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

namespace {

using json = nlohmann::json;

// Keys people look for first, then the other scalars, then containers from the
// smallest to the largest (so that "entries" comes last, not in the middle).
std::vector<std::string> key_order(const json& object) {
  static const std::vector<std::string> first = {"schema", "type", "name", "generator", "title", "status",
                                                 "interrupted", "interrupted_by", "facts", "summary"};
  std::vector<std::string> keys;
  for (const auto& k : first)
    if (object.contains(k)) keys.push_back(k);
  std::vector<std::string> scalars, containers;
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (std::find(first.begin(), first.end(), it.key()) != first.end()) continue;
    (it->is_structured() ? containers : scalars).push_back(it.key());
  }
  std::stable_sort(containers.begin(), containers.end(),
                   [&](const std::string& a, const std::string& b) { return object[a].size() < object[b].size(); });
  keys.insert(keys.end(), scalars.begin(), scalars.end());
  keys.insert(keys.end(), containers.begin(), containers.end());
  return keys;
}

std::string scalar(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// Indented down to `depth` 3 (the arrays inside a result), one line per element below
// that: a 20,000-entry check stays readable and diffable, one entry per line.
void write(const json& j, std::string& out, int depth) {
  if (!j.is_structured() || j.empty()) {
    out += scalar(j);
    return;
  }
  const bool compact = depth >= 4;
  const std::string pad = compact ? "" : std::string(static_cast<std::size_t>(depth + 1) * 2, ' ');
  const char* sep = compact ? "," : ",\n";
  out += j.is_object() ? '{' : '[';
  if (!compact) out += '\n';
  bool first = true;
  auto item = [&](const json& v) {
    if (!first) out += sep;
    first = false;
    out += pad;
    write(v, out, depth + 1);
  };
  if (j.is_object()) {
    for (const auto& k : key_order(j)) {
      if (!first) out += sep;
      first = false;
      out += pad + scalar(json(k)) + (compact ? ":" : ": ");
      write(j[k], out, depth + 1);
    }
  } else {
    for (const auto& v : j) item(v);
  }
  if (!compact) out += '\n' + std::string(static_cast<std::size_t>(depth) * 2, ' ');
  out += j.is_object() ? '}' : ']';
}

}  // namespace

std::string render_json(const Report& report) {
  // Invalid UTF-8 in a string (a probed program may send any bytes) is replaced, never thrown.
  std::string out;
  write(to_json(report), out, 0);
  return out + "\n";
}

}  // namespace gradcheck::reports
