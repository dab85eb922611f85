#pragma once
// Builders and printers shared by the checks' tests.
#include <gradcheck/checks/result.hpp>
#include <gradcheck/engine/case.hpp>
#include <gradcheck/engine/network.hpp>

#include <initializer_list>
#include <ostream>
#include <sstream>
#include <string>

namespace gradcheck::testing {

inline Matrix<double> matrix(std::initializer_list<std::initializer_list<double>> rows) {
  Matrix<double> m(static_cast<Index>(rows.size()), static_cast<Index>(rows.begin()->size()));
  Index r = 0;
  for (const auto& row : rows) {
    Index c = 0;
    for (double v : row) m(r, c++) = v;
    ++r;
  }
  return m;
}

inline Vector<double> vector(std::initializer_list<double> values) {
  Vector<double> v(static_cast<Index>(values.size()));
  Index i = 0;
  for (double x : values) v(i++) = x;
  return v;
}

// The 3-2-1 sigmoid network of the question, input [0, 0.5, 1], target 1.
inline Case case_321() {
  Case c;
  c.network.loss = Loss::quadratic;
  c.network.layers.push_back({Activation::sigmoid, matrix({{0.1, 0.15, 0.2}, {0.3, 0.35, 0.4}}), vector({0.25, 0.45})});
  c.network.layers.push_back({Activation::sigmoid, matrix({{0.5, 0.55}}), vector({0.6})});
  c.inputs = matrix({{0.0}, {0.5}, {1.0}});
  c.targets = matrix({{1.0}});
  return c;
}

// The entries that are not `agree`, one line each, for failure messages.
inline std::string non_agreeing(const CheckResult& r, std::size_t limit = 12) {
  std::ostringstream os;
  std::size_t shown = 0;
  for (const Entry& e : r.entries) {
    if (e.verdict == Verdict::agree) continue;
    if (shown++ == limit) {
      os << "...\n";
      break;
    }
    os << "layer " << e.layer << " " << to_string(e.tensor) << "(" << e.row << "," << e.col << ") analytic "
       << e.analytic << " numeric " << e.numeric << " est " << e.error_estimate << " roundoff " << e.roundoff
       << " tol " << e.tolerance << " rel " << e.relative_error << " " << to_string(e.verdict) << " " << e.note
       << "\n";
  }
  for (const DirectionCheck& d : r.directions)
    if (d.verdict != Verdict::agree)
      os << "direction " << (d.whole_network ? "whole" : to_string(d.tensor)) << " layer " << d.layer << " #" << d.index
         << " analytic " << d.analytic << " numeric " << d.numeric << " est " << d.error_estimate << " tol "
         << d.tolerance << " " << to_string(d.verdict) << " " << d.note << "\n";
  for (const Finding& f : r.findings) os << to_string(f.kind) << ": " << f.message << "\n";
  return os.str();
}

}  // namespace gradcheck::testing
