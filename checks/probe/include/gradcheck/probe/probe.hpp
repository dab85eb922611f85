#pragma once
// The probe: property-based testing of ANOTHER implementation's gradients
// (docs/probe.md). gradcheck starts the implementation once, writes one case
// per line to its stdin (compact JSON, docs/case-format.md) and reads one reply
// per line from its stdout; every reply is verified against the 50-digit
// reference (verify.hpp).
//
//   - Cases come from RapidCheck's generator gen::any_case(space); case i of a
//     run depends only on (seed, i), so `--seed S` replays the same cases.
//   - On the first divergence the case is SHRUNK, RapidCheck-style: walk the
//     generator's shrink tree, re-query the implementation with each smaller
//     candidate, descend into the first candidate that still diverges, until
//     none does or max_shrink_steps queries were spent. The result is the
//     minimal counterexample with the implementation's own reply to it. A
//     candidate counts only if it diverges with the same signatures (kinds
//     of divergence, non-finite gradients or not) as the original: the
//     minimal case shows the same bug.
//   - Every case is sent twice: case i is sent again right after case i + 1
//     (so state left over from a different case shows too), and the two
//     replies must be bitwise identical, else a nondeterminism failure.
//   - {"error": ...} replies are `declined`: counted, never a failure.
//   - A misbehaving implementation (crash, hang, a line that is not JSON, a
//     partial line at EOF, a reply over the size cap, closing stdout, exiting
//     at once, output nobody asked for) is a Failure with the case that caused
//     it; the implementation is restarted and the probe goes on, up to
//     max_failures.
//
// How to use:
//   ProbeOptions o;  o.cases = 200;  o.seed = 1;  o.space.max_layers = 3;
//   const ProbeResult r = probe({"python3", "examples/python/mlp.py"}, o);
//   if (!r.passed()) ...     // r.counterexample, r.failures, r.seed for replay

#include <gradcheck/probe/generators.hpp>
#include <gradcheck/probe/subprocess.hpp>
#include <gradcheck/verify/verify.hpp>
#include <gradcheck/engine/case.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gradcheck {

// Hard limits on the options (a probe asking for more is refused as bad input).
inline constexpr int probe_max_cases = 100000;
inline constexpr int probe_max_shrink_steps = 100000;

struct ProbeOptions {
  int cases = 100;                               // random cases to send (at most probe_max_cases)
  std::optional<std::uint64_t> seed;             // unset: a fresh random seed, reported in the result
  std::chrono::milliseconds timeout{10000};      // per reply; a slower implementation is killed
  // The first reply after each start also pays for the program's start-up (an
  // interpreter, its imports, a loaded machine): it gets max(timeout, this).
  std::chrono::milliseconds startup_timeout{60000};
  std::size_t max_reply_bytes = std::size_t{64} << 20;  // 64 MiB: a longer reply line is refused
  int max_shrink_steps = 1000;                   // replies requested while shrinking (at most probe_max_shrink_steps)
  int max_failures = 5;                          // stop after this many implementation failures
  bool check_determinism = true;                 // send every case twice, compare bitwise
  CaseSpace space;                               // what the implementation handles
  VerifyOptions verify;
  // Raised (e.g. by a SIGINT handler) to stop: the result so far is returned
  // with `interrupted` set, the implementation killed.
  const std::atomic<bool>* interrupt = nullptr;
};

// What went wrong with the implementation itself (not its numbers).
enum class FailureKind {
  crash,              // exited or was killed by a signal before replying
  timeout,            // no reply within the timeout: killed
  closed_stdout,      // closed its stdout but kept running: killed
  stopped_reading,    // closed its stdin (EPIPE) and sent nothing
  partial_line,       // stdout ended in the middle of a reply
  reply_too_long,     // the reply line exceeded max_reply_bytes: killed
  malformed_reply,    // the line is not a reply (not JSON, wrong types, ragged rows)
  unsolicited_output, // it wrote output before the case was sent (more than one line per case?)
  nondeterministic,   // the same case twice, bitwise-different replies, and again in a fresh process
  stateful,           // the same case twice, bitwise-different replies; a fresh process repeats them exactly
};
const char* to_string(FailureKind k);

struct Failure {
  FailureKind kind = FailureKind::crash;
  std::size_t case_index = 0;      // which generated case (0-based)
  Case input;                      // the case that caused it
  std::string message;             // one line, e.g. "exited with status 1 before replying"
  std::optional<ExitStatus> exit;  // how the process ended, when it did
  std::string reply_excerpt;       // the first bytes of what it sent (partial, malformed, first of two replies)
  std::string second_reply_excerpt;  // nondeterministic, stateful: the repeat's reply
  // nondeterministic, stateful: the cases probe sent to tell the two apart, and what they showed.
  std::string experiment;
  std::string stderr_tail;         // the last KiB of its stderr
};

// The first divergence and its shrunk form.
struct Counterexample {
  std::size_t case_index = 0;
  Case original;
  std::string original_reply;      // the reply line as sent
  VerifyResult original_result;
  Case minimal;
  std::string minimal_reply;
  VerifyResult minimal_result;
  int shrinks = 0;                 // accepted shrink steps (tree depth walked)
  int shrink_queries = 0;          // replies requested while shrinking
  bool shrink_capped = false;      // stopped by max_shrink_steps before a local minimum
  int shrink_misbehaved = 0;       // candidates the implementation failed on (skipped)
  int shrink_slipped = 0;          // candidates that diverged with other signatures (skipped: not the same bug)
};

// A case that passed with notes (precision, kink convention), kept as evidence.
struct NotedCase {
  std::size_t case_index = 0;
  std::vector<Signature> notes;
};

struct ProbeResult {
  std::vector<std::string> command;
  std::uint64_t seed = 0;
  int cases_requested = 0;
  int cases_sent = 0;     // distinct cases that got a reply or a failure
  int agreed = 0;
  int noted = 0;          // passed with notes only
  int declined = 0;       // {"error": ...}
  int diverged = 0;       // 0 or 1: the probe stops at the first divergence
  int repeats = 0;        // determinism re-sends compared
  int restarts = 0;       // the program started again: after a failure, and twice per determinism experiment
  std::optional<Counterexample> counterexample;
  std::vector<Failure> failures;
  std::vector<NotedCase> notes;   // the first few cases with notes
  std::vector<std::string> declined_messages;  // distinct, the first few
  bool interrupted = false;
  bool stopped_at_max_failures = false;
  std::optional<ExitStatus> final_exit;  // how it ended when its stdin was closed at the end
  std::size_t stderr_bytes = 0;          // total written to stderr over all runs
  std::string stderr_tail;               // of the last run
  std::chrono::duration<double> elapsed{0};

  // No divergence, no failure; notes fail only when strict. An interrupted run passes only what it saw.
  bool passed(bool strict = false) const {
    return !counterexample && failures.empty() && (!strict || noted == 0);
  }
};

// Case i of a run with this seed, as the generator's shrink tree. Throws
// InputError when the space admits no case (e.g. only softmax with width 1).
rc::Shrinkable<Case> probe_case(const CaseSpace& space, std::uint64_t seed, std::size_t index);

// Throws SpawnError when the command cannot be started, InputError for options
// out of range. Everything the implementation does is in the result.
ProbeResult probe(const std::vector<std::string>& command, const ProbeOptions& options);

}  // namespace gradcheck
