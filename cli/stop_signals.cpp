// SIGINT/SIGTERM for the long-running commands (stop_signals.hpp).
#include "stop_signals.hpp"

namespace gradcheck::cli {

std::atomic<bool> stop_flag{false};
std::atomic<int> stop_signal{0};
static_assert(std::atomic<bool>::is_always_lock_free && std::atomic<int>::is_always_lock_free,
              "set from a signal handler");

namespace {
extern "C" void on_stop_signal(int sig) {
  stop_signal.store(sig);
  stop_flag.store(true);
}
}  // namespace

StopSignals::StopSignals() {
  stop_flag.store(false);
  stop_signal.store(0);
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int_);
  sigaction(SIGTERM, &sa, &old_term_);
}

StopSignals::~StopSignals() {
  sigaction(SIGINT, &old_int_, nullptr);
  sigaction(SIGTERM, &old_term_, nullptr);
}

}  // namespace gradcheck::cli
