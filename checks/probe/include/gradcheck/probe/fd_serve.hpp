#pragma once
// Serve a C++ program's parameters, loss and gradient to `gradcheck fd`
// (docs/fd.md): header-only, nothing of gradcheck but this file and
// nlohmann/json. The C++ twin of examples/python/fd_serve.py.
//
// How to use:
//   std::vector<gradcheck::serve::Parameter> params = {{"W", {2, 3}, {...6 values...}}, {"b", {2}, {0, 0}}};
//   auto loss = [&](const gradcheck::serve::Values& v) { return my_loss(v[0], v[1]); };
//   auto gradient = [&](const gradcheck::serve::Values& v, gradcheck::serve::Values& g) {
//     return my_loss_and_gradient(v[0], v[1], g[0], g[1]);   // fills g (sized like v), returns the loss
//   };
//   return gradcheck::serve::fd_serve(params, loss, gradient);   // reads stdin until it closes
//
// Values are flat and row-major, one vector per parameter in the order given.
// Every evaluation starts from the described values: the program keeps its
// batch fixed and `loss` must not keep state between calls.

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iostream>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace gradcheck::serve {

using Values = std::vector<std::vector<double>>;

struct Parameter {
  std::string name;
  std::vector<std::size_t> shape;
  std::vector<double> values;  // flat, row-major
};

namespace detail {

// JSON has no NaN: non-finite losses travel as the strings "NaN", "Infinity", "-Infinity".
inline nlohmann::json number(double x) {
  if (std::isnan(x)) return "NaN";
  if (std::isinf(x)) return x > 0 ? "Infinity" : "-Infinity";
  return x;
}

inline std::size_t index_of(const std::vector<Parameter>& ps, const std::string& name) {
  for (std::size_t i = 0; i < ps.size(); ++i)
    if (ps[i].name == name) return i;
  throw std::invalid_argument("unknown parameter '" + name + "'");
}

// One point of a loss request: coordinate shifts, or a whole direction times a step.
struct Shift {
  std::size_t param = 0, index = 0;
  double delta = 0;
};
struct Point {
  std::vector<Shift> shifts;
  std::vector<std::pair<std::size_t, std::vector<double>>> direction;  // (parameter, values)
  double step = 0;
  bool has_step = false;
};

// Reads {"request": "loss", "points": [...]} through nlohmann's SAX interface,
// without building a document: a line of 1,024 points costs its numbers, not a
// tree of maps (docs/fd.md#protocol-overhead). Keys the protocol does not name
// are skipped; a malformed point throws std::invalid_argument.
class LossRequestReader {
 public:
  LossRequestReader(const std::vector<Parameter>& ps, std::string& kind, std::vector<Point>& points)
      : ps_(ps), kind_(kind), points_(points) {}

  bool saw_points = false;

  bool start_object(std::size_t) { return open(true); }
  bool start_array(std::size_t) { return open(false); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(std::string& k) {
    key_ = k;
    return true;
  }
  bool number_float(double x, const std::string&) { return number(x, false); }
  bool number_integer(std::int64_t x) { return number(static_cast<double>(x), x >= 0, static_cast<std::size_t>(x)); }
  bool number_unsigned(std::uint64_t x) { return number(static_cast<double>(x), true, static_cast<std::size_t>(x)); }
  bool string(std::string& x) {
    if (at() == At::top && key_ == "request") kind_ = x;
    if (at() == At::shift && key_ == "param") shift().param = index_of(ps_, x), seen_ |= 1;
    return true;
  }
  bool boolean(bool) { return true; }
  bool null() { return true; }
  bool binary(std::vector<std::uint8_t>&) { return true; }
  template <class Exception>
  bool parse_error(std::size_t, const std::string&, const Exception& e) {
    throw std::invalid_argument(e.what());
  }

 private:
  enum class At { top, points, point, shifts, shift, direction, values, skip };
  At at() const { return stack_.empty() ? At::skip : stack_.back(); }
  Point& point() { return points_.back(); }
  Shift& shift() { return point().shifts.back(); }

  bool open(bool object) {
    At next = At::skip;
    if (stack_.empty()) next = object ? At::top : At::skip;
    else if (at() == At::top && key_ == "points" && !object) next = At::points, saw_points = true;
    else if (at() == At::points && object) next = At::point, points_.emplace_back();
    else if (at() == At::point && key_ == "shifts" && !object) next = At::shifts;
    else if (at() == At::point && key_ == "direction" && object) next = At::direction;
    else if (at() == At::shifts && object) next = At::shift, point().shifts.emplace_back(), seen_ = 0;
    else if (at() == At::direction && !object) next = At::values, point().direction.emplace_back(index_of(ps_, key_), std::vector<double>{});
    stack_.push_back(next);
    return true;
  }
  bool close() {
    if (at() == At::shift && seen_ != 7) throw std::invalid_argument("a shift needs 'param', 'index' and 'delta'");
    if (at() == At::point && !point().direction.empty() && !point().has_step)
      throw std::invalid_argument("a point with a 'direction' needs a 'step'");
    if (!stack_.empty()) stack_.pop_back();
    return true;
  }
  bool number(double x, bool whole, std::size_t n = 0) {
    if (at() == At::values) point().direction.back().second.push_back(x);
    else if (at() == At::point && key_ == "step") point().step = x, point().has_step = true;
    else if (at() == At::shift && key_ == "delta") shift().delta = x, seen_ |= 4;
    else if (at() == At::shift && key_ == "index") {
      if (!whole) throw std::invalid_argument("a shift's 'index' must be a non-negative integer");
      shift().index = n, seen_ |= 2;
    }
    return true;
  }

  const std::vector<Parameter>& ps_;
  std::string& kind_;
  std::vector<Point>& points_;
  std::vector<At> stack_;
  std::string key_;
  unsigned seen_ = 0;  // the shift's fields read so far: 1 param, 2 index, 4 delta
};

// The described values moved to one point of a loss request. `v` holds the
// described values on entry and on return: only the entries a point moves are
// touched and put back, so a point costs its shifts, not the parameter count.
template <class Evaluate>
double at_point(const Point& point, const std::vector<Parameter>& ps, Values& v, Evaluate&& evaluate) {
  for (const Shift& s : point.shifts)  // all checked before any is applied: `v` is never left moved
    if (s.index >= v[s.param].size())
      throw std::out_of_range("index " + std::to_string(s.index) + " of '" + ps[s.param].name + "', which has " +
                              std::to_string(v[s.param].size()) + " values");
  for (const auto& [p, d] : point.direction) {
    std::vector<double>& x = v.at(p);
    for (std::size_t k = 0; k < x.size() && k < d.size(); ++k) x[k] += point.step * d[k];
  }
  for (const Shift& s : point.shifts) v[s.param][s.index] += s.delta;
  const double loss = evaluate(static_cast<const Values&>(v));
  for (const auto& [p, d] : point.direction) v[p] = ps[p].values;
  for (const Shift& s : point.shifts) v[s.param][s.index] = ps[s.param].values[s.index];
  return loss;
}

// The answer to one request line. Loss requests, the many, are read by
// LossRequestReader; describe and gradient, one each per run, as a document.
// `v` holds the described values, on entry and on return.
inline nlohmann::json answer(const std::string& line, const std::vector<Parameter>& ps, Values& v,
                             const std::function<double(const Values&)>& loss,
                             const std::function<double(const Values&, Values&)>& gradient) {
  using json = nlohmann::json;
  std::string kind;
  std::vector<Point> points;
  LossRequestReader reader(ps, kind, points);
  json::sax_parse(line, &reader);
  if (kind == "describe") {
    json out = {{"parameters", json::array()}};
    for (const Parameter& p : ps) out["parameters"].push_back({{"name", p.name}, {"shape", p.shape}, {"values", p.values}});
    return out;
  }
  if (kind == "gradient") {
    Values g(ps.size());
    for (std::size_t i = 0; i < ps.size(); ++i) g[i].assign(ps[i].values.size(), 0.0);
    const double l = gradient(v, g);
    json out = {{"loss", number(l)}, {"gradient", json::object()}};
    for (std::size_t i = 0; i < ps.size(); ++i) {
      json values = json::array();
      for (double x : g[i]) values.push_back(number(x));
      out["gradient"][ps[i].name] = std::move(values);
    }
    return out;
  }
  if (kind == "loss") {
    if (!reader.saw_points) throw std::invalid_argument("a loss request needs 'points'");
    json losses = json::array();
    losses.get_ref<json::array_t&>().reserve(points.size());
    for (const Point& point : points) losses.push_back(number(at_point(point, ps, v, loss)));
    return {{"losses", std::move(losses)}};
  }
  return {{"error", "unknown request '" + kind + "'"}};
}

}  // namespace detail

// Answers requests from `in` until it closes; returns 0 (a main's exit code).
// A request it cannot answer gets {"error": "..."} and the loop goes on.
// Serving std::cin, it turns off the C++ streams' synchronisation with C stdio
// (std::ios::sync_with_stdio(false)), with which every line was read a
// character at a time: don't also printf to stdout, which is the protocol's.
inline int fd_serve(const std::vector<Parameter>& parameters, const std::function<double(const Values&)>& loss,
                    const std::function<double(const Values&, Values&)>& gradient, std::istream& in = std::cin,
                    std::ostream& out = std::cout) {
  if (&in == &std::cin) std::ios::sync_with_stdio(false);
  Values v(parameters.size());  // one copy for the whole run, not one per request
  for (std::size_t i = 0; i < parameters.size(); ++i) v[i] = parameters[i].values;
  for (std::string line; std::getline(in, line);) {
    nlohmann::json reply;
    try {
      reply = detail::answer(line, parameters, v, loss, gradient);
    } catch (const std::exception& e) {
      reply = {{"error", e.what()}};
    }
    out << reply.dump() << std::endl;  // flushed: gradcheck waits for the line
  }
  return 0;
}

}  // namespace gradcheck::serve
