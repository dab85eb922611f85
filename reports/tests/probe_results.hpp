#pragma once
// Probe results for the report tests, built around real verifications of the
// 3-2-1 fixture (fixtures/321/): the asker's reply as the minimal
// counterexample, and a crash.
#include <gradcheck/probe/probe.hpp>
#include <gradcheck/verify/verify.hpp>
#include <gradcheck/engine/case_format.hpp>

#include <fstream>
#include <sstream>
#include <string>

namespace gradcheck::reports::test {

inline std::string fixture_321(const std::string& file) {
  std::ifstream in(std::string(GRADCHECK_SOURCE_DIR) + "/fixtures/321/" + file, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline const Case& case_321() {
  static const Case c = parse_case(fixture_321("case.json"), "case.json");
  return c;
}

// Case 3 of seed 7 diverged: the asker's gradients on the 3-2-1 case, already minimal.
inline ProbeResult probe_with_counterexample() {
  ProbeResult r;
  r.command = {"python3", "asker.py"};
  r.seed = 7;
  r.cases_requested = 20;
  r.cases_sent = 4;
  r.agreed = 3;
  r.diverged = 1;
  r.repeats = 3;
  Counterexample cx;
  cx.case_index = 3;
  cx.original = cx.minimal = case_321();
  cx.original_reply = cx.minimal_reply = fixture_321("asker-reply.json");
  cx.original_result = cx.minimal_result = verify_reply(case_321(), parse_reply(cx.minimal_reply, "reply"));
  cx.shrink_queries = 5;
  cx.shrink_slipped = 2;
  r.counterexample = std::move(cx);
  return r;
}

// The implementation aborted on case 2.
inline ProbeResult probe_with_failure() {
  ProbeResult r;
  r.command = {"python3", "crashy.py"};
  r.seed = 3;
  r.cases_requested = 5;
  r.cases_sent = 5;
  r.agreed = 4;
  r.repeats = 4;
  r.restarts = 1;
  Failure f;
  f.kind = FailureKind::crash;
  f.case_index = 2;
  f.input = case_321();
  f.message = "no reply: killed by signal 6 (Aborted)";
  f.exit = ExitStatus{true, 0, 6, false};
  f.stderr_tail = "Traceback (most recent call last):\n  ...\n";
  r.failures.push_back(std::move(f));
  r.final_exit = ExitStatus{false, 0, 0, false};
  return r;
}

}  // namespace gradcheck::reports::test
