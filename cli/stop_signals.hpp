#pragma once
// SIGINT/SIGTERM during a long run (probe, fd): the handler raises stop_flag,
// which the library polls (LineProcessOptions::interrupt), and remembers the
// signal for the exit code (130 or 143) and the report's "interrupted by".
//
//   StopSignals signals;              // installed for this scope
//   options.interrupt = &stop_flag;
//   ... run ...
//   if (r.interrupted) return exit_interrupted_by(stop_signal.load() == SIGTERM ? SIGTERM : SIGINT);

#include <signal.h>

#include <atomic>

namespace gradcheck::cli {

extern std::atomic<bool> stop_flag;
extern std::atomic<int> stop_signal;

// SIGINT/SIGTERM raise stop_flag for the object's lifetime; the previous
// handlers come back afterwards.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  struct sigaction old_int_ {}, old_term_ {};
};

}  // namespace gradcheck::cli
