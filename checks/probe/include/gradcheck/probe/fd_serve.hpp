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
#include <functional>
#include <iostream>
#include <limits>
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

// The described values moved to one point of a loss request. `v` holds the
// described values on entry and on return: only the entries a point moves are
// touched and put back, so a point costs its shifts, not the parameter count.
template <class Evaluate>
double at_point(const nlohmann::json& point, const std::vector<Parameter>& ps, Values& v, Evaluate&& evaluate) {
  const bool whole = point.contains("direction");
  if (whole) {
    const double step = point.at("step").get<double>();
    for (auto it = point["direction"].begin(); it != point["direction"].end(); ++it) {
      std::vector<double>& x = v.at(index_of(ps, it.key()));
      for (std::size_t k = 0; k < x.size() && k < it->size(); ++k) x[k] += step * (*it)[k].get<double>();
    }
  }
  std::vector<std::pair<std::size_t, std::size_t>> moved;
  if (point.contains("shifts"))
    for (const auto& s : point["shifts"]) {
      const std::size_t p = index_of(ps, s.at("param")), i = s.at("index").get<std::size_t>();
      v.at(p).at(i) += s.at("delta").get<double>();
      moved.emplace_back(p, i);
    }
  const double loss = evaluate(static_cast<const Values&>(v));
  if (whole) {
    for (std::size_t i = 0; i < ps.size(); ++i) v[i] = ps[i].values;
  } else {
    for (const auto& [p, i] : moved) v[p][i] = ps[p].values[i];
  }
  return loss;
}

inline nlohmann::json answer(const nlohmann::json& request, const std::vector<Parameter>& ps,
                             const std::function<double(const Values&)>& loss,
                             const std::function<double(const Values&, Values&)>& gradient) {
  using json = nlohmann::json;
  const std::string kind = request.value("request", "");
  Values v(ps.size());
  for (std::size_t i = 0; i < ps.size(); ++i) v[i] = ps[i].values;
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
    json losses = json::array();
    for (const json& point : request.at("points")) losses.push_back(number(at_point(point, ps, v, loss)));
    return {{"losses", std::move(losses)}};
  }
  return {{"error", "unknown request '" + kind + "'"}};
}

}  // namespace detail

// Answers requests from `in` until it closes; returns 0 (a main's exit code).
// A request it cannot answer gets {"error": "..."} and the loop goes on.
inline int fd_serve(const std::vector<Parameter>& parameters, const std::function<double(const Values&)>& loss,
                    const std::function<double(const Values&, Values&)>& gradient, std::istream& in = std::cin,
                    std::ostream& out = std::cout) {
  for (std::string line; std::getline(in, line);) {
    nlohmann::json reply;
    try {
      reply = detail::answer(nlohmann::json::parse(line), parameters, loss, gradient);
    } catch (const std::exception& e) {
      reply = {{"error", e.what()}};
    }
    out << reply.dump() << std::endl;  // flushed: gradcheck waits for the line
  }
  return 0;
}

}  // namespace gradcheck::serve
