#pragma once
// Builders and printers shared by the checks' tests (the engine tests' builders included).
#include <gradcheck/gradient/result.hpp>
#include <gradcheck/engine/case.hpp>
#include <gradcheck/engine/network.hpp>

#include "../../../engine/tests/test_helpers.hpp"  // matrix(), vector(), the 3-2-1 network

#include <initializer_list>
#include <ostream>
#include <sstream>
#include <string>

namespace gradcheck::testing {

// The 3-2-1 sigmoid network of the question, input [0, 0.5, 1], target 1.
inline Case case_321() {
  Case c;
  c.network = net_321();
  c.inputs = input_321();
  c.targets = target_321();
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
  for (const CheckFinding& f : r.findings) os << to_string(f.kind) << ": " << f.message << "\n";
  return os.str();
}

}  // namespace gradcheck::testing
