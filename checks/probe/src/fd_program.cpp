// The fd protocol over JSON lines (docs/fd.md#the-protocol): describe,
// gradient, loss. A reply that is not what was asked for — no reply, not
// JSON, an error object, shapes that disagree with the description — is an
// FdProgramError naming the request; the numbers are fd_check's business.
#include <gradcheck/probe/fd.hpp>

#include "fd_internal.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <limits>
#include <set>

namespace gradcheck {
namespace detail {
namespace {

using json = nlohmann::json;

// Not the case writer's number format (case_format.cpp), on purpose: that one
// adds ".0" to integral values so that -0 keeps its sign in a case; here a
// direction is mostly zeros and every byte of a request counts (docs/fd.md).
void append_number(std::string& out, double x) {
  if (std::isnan(x)) {
    out += "NaN";
    return;
  }
  if (std::isinf(x)) {
    out += x > 0 ? "Infinity" : "-Infinity";
    return;
  }
  char buf[32];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, x).ptr);
}

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Bare NaN, Infinity, -Infinity, nan, inf (what Python's json and printf
// write) outside strings become the strings "NaN", "Infinity", "-Infinity".
std::string quote_non_finite(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  bool in_string = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < s.size()) out += s[++i];
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    if ((c == 'N' || c == 'n' || c == 'I' || c == 'i') && (i == 0 || !word_char(s[i - 1]))) {
      std::size_t j = i;
      while (j < s.size() && word_char(s[j])) ++j;
      std::string w = s.substr(i, j - i);
      for (char& ch : w) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (w == "nan" || w == "inf" || w == "infinity") {
        const bool minus = !out.empty() && out.back() == '-';
        if (minus) out.pop_back();
        out += w == "nan" ? "\"NaN\"" : minus ? "\"-Infinity\"" : "\"Infinity\"";
        i = j - 1;
        continue;
      }
    }
    out += c;
  }
  return out;
}

json parse_line(const std::string& line, const std::string& source) {
  json j;
  try {
    j = json::parse(quote_non_finite(line));
  } catch (const json::parse_error& e) {
    throw FdProgramError(source + ": not JSON (" + std::string(e.what()) + "): " + line.substr(0, 200));
  }
  if (!j.is_object()) throw FdProgramError(source + ": not a JSON object: " + line.substr(0, 200));
  if (j.contains("error")) throw FdProgramError(source + ": the program answered with an error: " + j["error"].dump());
  return j;
}

double number(const json& v, const std::string& where) {
  if (v.is_number()) return v.get<double>();
  if (v.is_null() || v == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (v == "Infinity") return std::numeric_limits<double>::infinity();
  if (v == "-Infinity") return -std::numeric_limits<double>::infinity();
  throw FdProgramError(where + ": not a number: " + v.dump().substr(0, 80));
}

// Values flat (size entries) or nested as the shape says, row-major.
void flatten(const json& v, const std::vector<std::size_t>& shape, std::size_t depth, std::vector<double>& out,
             const std::string& where) {
  if (depth == shape.size()) {
    out.push_back(number(v, where));
    return;
  }
  if (!v.is_array() || v.size() != shape[depth])
    throw FdProgramError(where + ": expected " + std::to_string(shape[depth]) + " entries at depth " +
                         std::to_string(depth) + ", got " + (v.is_array() ? std::to_string(v.size()) : v.type_name()));
  for (const json& x : v) flatten(x, shape, depth + 1, out, where);
}

std::vector<double> values_of(const json& v, const std::vector<std::size_t>& shape, std::size_t size,
                              const std::string& where) {
  std::vector<double> out;  // reserved from what was sent, never from a shape that may be absurd
  if (v.is_array()) out.reserve(v.size());
  if (v.is_array() && v.size() == size &&
      std::all_of(v.begin(), v.end(), [](const json& x) { return !x.is_array(); })) {
    for (const json& x : v) out.push_back(number(x, where));
    return out;
  }
  if (shape.empty() && !v.is_array()) return {number(v, where)};
  flatten(v, shape, 0, out, where);
  return out;
}

// The number of entries, or an error for a shape past what any reply line can hold.
std::size_t size_of(const std::vector<std::size_t>& shape, const std::string& where) {
  constexpr std::size_t limit = std::size_t{1} << 40;
  std::size_t n = 1;
  for (std::size_t d : shape) {
    if (d > limit / n) throw FdProgramError(where + ": more than 2^40 entries");
    n *= d;
  }
  return n;
}

}  // namespace

std::string fd_loss_request(const FdDescription& d, std::vector<FdPoint>::const_iterator first,
                            std::vector<FdPoint>::const_iterator last) {
  std::vector<std::string> quoted;  // each name once, JSON-escaped
  for (const FdParameter& p : d.parameters) quoted.push_back(json(p.name).dump());
  std::string s = "{\"request\":\"loss\",\"points\":[";
  for (auto it = first; it != last; ++it) {
    const FdPoint& p = *it;
    s += it != first ? ",{" : "{";
    if (!p.shifts.empty()) {
      s += "\"shifts\":[";
      for (std::size_t i = 0; i < p.shifts.size(); ++i) {
        const FdShift& sh = p.shifts[i];
        s += i ? ",{\"param\":" : "{\"param\":";
        s += quoted.at(sh.param);
        s += ",\"index\":";
        s += std::to_string(sh.index);
        s += ",\"delta\":";
        append_number(s, sh.delta);
        s += '}';
      }
      s += ']';
    }
    if (!p.direction.empty()) {
      s += p.shifts.empty() ? "\"direction\":{" : ",\"direction\":{";
      bool first = true;
      for (std::size_t q = 0; q < p.direction.size(); ++q) {
        if (p.direction[q].empty()) continue;  // a parameter the direction leaves alone
        s += first ? "" : ",";
        first = false;
        s += quoted.at(q);
        s += ":[";
        for (std::size_t i = 0; i < p.direction[q].size(); ++i) {
          if (i) s += ',';
          append_number(s, p.direction[q][i]);
        }
        s += ']';
      }
      s += "},\"step\":";
      append_number(s, p.step);
    }
    s += '}';
  }
  return s + "]}";
}

FdDescription fd_parse_describe(const std::string& line, const std::string& source) {
  const json j = parse_line(line, source);
  FdDescription d;
  if (!j.contains("parameters") || !j["parameters"].is_array() || j["parameters"].empty())
    throw FdProgramError(source + ": parameters: missing, or not a non-empty array");
  std::set<std::string> names;
  for (std::size_t i = 0; i < j["parameters"].size(); ++i) {
    const json& p = j["parameters"][i];
    const std::string where = source + ": parameters[" + std::to_string(i) + "]";
    if (!p.is_object() || !p.contains("name") || !p["name"].is_string() || p["name"].get<std::string>().empty())
      throw FdProgramError(where + ".name: missing, or not a non-empty string");
    FdParameter par;
    par.name = p["name"].get<std::string>();
    if (!names.insert(par.name).second) throw FdProgramError(where + ".name: '" + par.name + "' described twice");
    if (!p.contains("shape") || !p["shape"].is_array()) throw FdProgramError(where + ".shape: missing, or not an array");
    for (const json& n : p["shape"]) {
      if (!n.is_number_unsigned() || n.get<std::size_t>() == 0)
        throw FdProgramError(where + ".shape: every dimension must be a positive integer");
      par.shape.push_back(n.get<std::size_t>());
    }
    if (!p.contains("values")) throw FdProgramError(where + ".values: missing");
    par.values = values_of(p["values"], par.shape, size_of(par.shape, where + ".shape"), where + ".values");
    for (double v : par.values)
      if (!std::isfinite(v)) throw FdProgramError(where + ".values: a value is not finite");
    d.parameters.push_back(std::move(par));
  }
  if (j.contains("precision")) {
    const json& p = j["precision"];
    d.precision = p.is_string() ? parse_precision(p.get<std::string>()) : std::nullopt;
    if (!d.precision) throw FdProgramError(source + ": precision: " + p.dump() + " is not float64, float32, float16 or bfloat16");
  }
  return d;
}

double fd_parse_gradient(const std::string& line, const FdDescription& d, std::vector<std::vector<double>>& gradient,
                         const std::string& source) {
  const json j = parse_line(line, source);
  if (!j.contains("loss")) throw FdProgramError(source + ": loss: missing");
  const double loss = number(j["loss"], source + ": loss");
  if (!j.contains("gradient") || !j["gradient"].is_object())
    throw FdProgramError(source + ": gradient: missing, or not an object of parameter names");
  const json& g = j["gradient"];
  gradient.clear();
  for (const FdParameter& p : d.parameters) {
    if (!g.contains(p.name)) throw FdProgramError(source + ": gradient." + p.name + ": missing (it was described)");
    gradient.push_back(values_of(g[p.name], p.shape, p.values.size(), source + ": gradient." + p.name));
    if (gradient.back().size() != p.values.size())
      throw FdProgramError(source + ": gradient." + p.name + ": " + std::to_string(gradient.back().size()) +
                           " values, described with " + std::to_string(p.values.size()));
  }
  for (auto it = g.begin(); it != g.end(); ++it)
    if (std::none_of(d.parameters.begin(), d.parameters.end(), [&](const FdParameter& p) { return p.name == it.key(); }))
      throw FdProgramError(source + ": gradient." + it.key() + ": not a described parameter");
  return loss;
}

std::vector<double> fd_parse_losses(const std::string& line, std::size_t expected, const std::string& source) {
  const json j = parse_line(line, source);
  if (!j.contains("losses") || !j["losses"].is_array()) throw FdProgramError(source + ": losses: missing, or not an array");
  if (j["losses"].size() != expected)
    throw FdProgramError(source + ": losses: " + std::to_string(j["losses"].size()) + " values, expected " +
                         std::to_string(expected) + " (one per point)");
  std::vector<double> out;
  out.reserve(expected);
  for (const json& v : j["losses"]) out.push_back(number(v, source + ": losses"));
  return out;
}

}  // namespace detail

namespace {

// One line out, one line back; anything else is an FdProgramError naming the request.
class Conversation {
 public:
  Conversation(const std::vector<std::string>& command, const FdProgramOptions& o)
      : options_(o), process_(command, line_options(o)) {}

  // nullopt: interrupted.
  std::optional<std::string> ask(const std::string& request, const std::string& what) {
    std::optional<std::string> answer;
    const bool done = ask_lines(
        1, [&](std::size_t) { return request; }, [&](std::size_t, std::string& r) { answer = std::move(r); },
        [&](std::size_t) { return what; });
    return done ? answer : std::nullopt;
  }
  // `count` requests, pipelined (LineProcess::exchange_stream): `make(k)`
  // writes request k, `take(k, reply)` reads its reply; false when
  // interrupted. `what(k)` names request k in errors.
  template <class Make, class Take, class What>
  bool ask_lines(std::size_t count, const Make& make, const Take& take, const What& what) {
    const int first = requests_ + 1;
    requests_ += static_cast<int>(count);
    const auto limit = first == 1 ? std::max(options_.timeout, options_.startup_timeout) : options_.timeout;
    const Exchange x = process_.exchange_stream(count, make, take, limit);
    if (x.outcome == Exchange::Outcome::interrupted) return false;
    const std::size_t failed = std::min(x.replies, count - 1);
    const std::string name = "request " + std::to_string(first + static_cast<int>(failed)) + " (" + what(failed) + ")";
    if (x.outcome != Exchange::Outcome::line) throw FdProgramError("fd: " + name + ": " + failure(x, limit));
    if (!x.unsolicited.empty())
      throw FdProgramError("fd: request " + std::to_string(first) + " (" + what(0) +
                           "): the program wrote before it was asked: " + x.unsolicited.substr(0, 200));
    return true;
  }
  // Names the reply to request `first + k` of the current batch of `count`.
  std::string source(std::size_t k = 0, std::size_t count = 1) const {
    return "fd: reply to request " + std::to_string(requests_ - static_cast<int>(count - 1 - k));
  }
  void stop() { process_.stop(); }

 private:
  static LineProcessOptions line_options(const FdProgramOptions& o) {
    LineProcessOptions l;
    l.max_line_bytes = o.max_reply_bytes;
    l.interrupt = o.interrupt;
    return l;
  }
  std::string failure(const Exchange& x, std::chrono::milliseconds limit) {
    const std::string how = x.exit ? (x.exit->signaled ? "was " : "") + x.exit->describe() : "ended";
    std::string tail = process_.stderr_tail();
    if (const auto nl = tail.find_last_not_of('\n'); nl != std::string::npos) tail = tail.substr(0, nl + 1);
    if (const auto nl = tail.rfind('\n'); nl != std::string::npos) tail = tail.substr(nl + 1);
    const std::string stderr_note = tail.empty() ? "" : " (its stderr ends: " + tail.substr(0, 200) + ")";
    switch (x.outcome) {
      case Exchange::Outcome::timeout: return "no reply within " + std::to_string(limit.count()) + " ms; killed";
      case Exchange::Outcome::partial_line:
        return "its stdout ended in the middle of a reply after " + std::to_string(x.bytes_received) + " bytes; it " + how + stderr_note;
      case Exchange::Outcome::too_long: return "reply longer than " + std::to_string(options_.max_reply_bytes) + " bytes; killed";
      case Exchange::Outcome::write_failed: return "it stopped reading its stdin; it " + how + stderr_note;
      case Exchange::Outcome::eof:
        if (x.exit && x.exit->killed_by_us) return "it closed its stdout without replying; killed";
        return "no reply: it " + how + stderr_note;
      case Exchange::Outcome::line:
      case Exchange::Outcome::interrupted: break;
    }
    return how;
  }

  FdProgramOptions options_;
  LineProcess process_;
  int requests_ = 0;
};

}  // namespace

FdResult fd(const std::vector<std::string>& command, const FdOptions& options, const FdProgramOptions& program) {
  const auto t0 = std::chrono::steady_clock::now();
  Conversation c(command, program);
  FdResult r;
  r.command = command;
  const auto finish = [&](FdResult& result) {
    c.stop();
    result.command = command;
    result.elapsed_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return std::move(result);  // not a copy of every entry
  };
  const std::optional<std::string> d = c.ask(R"({"request":"describe"})", "describe");
  if (!d) return r.interrupted = true, finish(r);
  const FdDescription description = detail::fd_parse_describe(*d, c.source() + " (describe)");
  const std::optional<std::string> g = c.ask(R"({"request":"gradient"})", "gradient");
  if (!g) return r.description = description, r.interrupted = true, finish(r);
  std::vector<std::vector<double>> gradient;
  const double loss = detail::fd_parse_gradient(*g, description, gradient, c.source() + " (gradient)");
  std::size_t entries = 0, evaluated = 0;
  for (const FdParameter& p : description.parameters) entries += p.values.size();
  const FdLossAt loss_at = [&](const std::vector<FdPoint>& points) {
    const std::size_t per = std::max<std::size_t>(1, options.max_points_per_request);
    const std::size_t count = (points.size() + per - 1) / per;
    const auto size = [&](std::size_t k) { return std::min(per, points.size() - k * per); };
    const auto what = [&](std::size_t k) { return "loss, " + std::to_string(size(k)) + " points"; };
    const auto make = [&](std::size_t k) {
      const auto at = points.begin() + static_cast<std::ptrdiff_t>(k * per);
      return detail::fd_loss_request(description, at, at + static_cast<std::ptrdiff_t>(size(k)));
    };
    std::vector<double> losses;
    losses.reserve(points.size());
    const auto take = [&](std::size_t k, std::string& reply) {
      const auto v = detail::fd_parse_losses(reply, size(k), c.source(k, count) + " (" + what(k) + ")");
      losses.insert(losses.end(), v.begin(), v.end());
    };
    if (!c.ask_lines(count, make, take, what)) throw detail::FdInterrupted{};
    evaluated += points.size();
    if (program.progress) program.progress(evaluated, entries);
    return losses;
  };
  r = fd_check(description, loss, gradient, loss_at, options);
  r.requests += 2;
  return finish(r);
}

}  // namespace gradcheck
