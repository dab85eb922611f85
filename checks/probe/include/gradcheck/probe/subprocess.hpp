#pragma once
// A child process spoken to in lines: write one line to its stdin, read one
// line back from its stdout, within a deadline. Built for `gradcheck probe`,
// whose other side is a program gradcheck did not write and must survive:
// whatever the child does — crash, hang, flood stderr, print garbage or a line
// of a gigabyte, close stdout, exit at once — `exchange` returns an outcome
// (data), never blocks past its deadline and never throws for it.
//
// How to use:
//   LineProcess p({"python3", "examples/python/mlp.py"});   // throws SpawnError if it cannot start
//   Exchange x = p.exchange(R"({"network": ...})", std::chrono::seconds(10));
//   if (x.outcome == Exchange::Outcome::line) use(x.line);
//   else report(describe(x), p.stderr_tail());                // then p.restart() to go on
//
// The child runs in its own process group (so a terminal's Ctrl-C reaches
// gradcheck only, and a hang is ended with kill(-pgid, SIGKILL), taking its
// own children too), with SIGPIPE and the signal mask reset to defaults. Its
// stderr is drained whenever gradcheck waits on it, so a child writing
// megabytes to stderr never blocks; the last `stderr_tail_bytes` are kept.
// Every child is reaped: destruction, `stop` and `restart` never leave a zombie.
// Writes never raise SIGPIPE in gradcheck (it is blocked around each write and
// a pending one consumed), so no process-wide signal disposition is changed.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace gradcheck {

struct LineProcessOptions {
  std::size_t max_line_bytes = std::size_t{64} << 20;  // a reply longer than 64 MiB is refused (too_long)
  std::size_t stderr_tail_bytes = 8 << 10;             // keep the last 8 KiB of the child's stderr
  // How long a child that closed its stdout (or was asked to stop) may take to
  // exit by itself before it is killed.
  std::chrono::milliseconds exit_grace{500};
  // Polled while waiting; when it becomes true, `exchange` returns `interrupted`
  // within about 100 ms. Set it from a SIGINT handler (it is lock-free).
  const std::atomic<bool>* interrupt = nullptr;
};

// How a child ended, as waitpid reported it.
struct ExitStatus {
  bool signaled = false;
  int code = 0;    // exit code when !signaled
  int signal = 0;  // terminating signal when signaled
  bool killed_by_us = false;  // gradcheck sent the SIGKILL (timeout, too long a line, stop)

  // "exited with status 3", "killed by signal 11 (Segmentation fault)", ...
  std::string describe() const;
};

struct Exchange {
  enum class Outcome {
    line,          // a complete line arrived (without its '\n'); the child is still running
    timeout,       // no complete line within the deadline; the child was killed
    eof,           // stdout closed with nothing pending (exited, crashed, or closed it early)
    partial_line,  // stdout closed in the middle of a line; `line` holds what came
    too_long,      // the line exceeded max_line_bytes; the child was killed
    write_failed,  // the child stopped reading its stdin (EPIPE) and sent no reply
    interrupted,   // the interrupt flag was raised; the child was killed
  };
  Outcome outcome = Outcome::line;
  std::string line;                 // the reply (outcome line), or the partial data (partial_line, first 4 KiB)
  std::size_t bytes_received = 0;   // bytes of the reply seen, even when not kept
  std::optional<ExitStatus> exit;   // set when the child is gone (every outcome except line)
  std::string unsolicited;          // stdout data that was already waiting before the line was sent (first 4 KiB)
  std::size_t replies = 0;          // exchange_stream: the replies handed over
  std::chrono::duration<double> elapsed{0};
};

const char* to_string(Exchange::Outcome o);

// The child could not be started at all (no such program, not executable).
class SpawnError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class LineProcess {
 public:
  // Starts argv[0] (searched in PATH) with argv. Throws SpawnError.
  explicit LineProcess(std::vector<std::string> argv, LineProcessOptions options = {});
  ~LineProcess();
  LineProcess(const LineProcess&) = delete;
  LineProcess& operator=(const LineProcess&) = delete;

  // Writes `line` plus '\n' and waits at most `timeout` for one reply line.
  // Requires running(); after any outcome other than `line` the child is gone.
  Exchange exchange(const std::string& line, std::chrono::milliseconds timeout);
  // `count` request lines, pipelined: line k is made by `line(k)` once line
  // k − 1 is written, without waiting for its reply, and each reply is handed
  // to `reply(k, text)` as it arrives, so that both processes work at once.
  // Outcome `line` once every reply came. `timeout` runs from the start and
  // again from each reply. An exception from a callback leaves the child mid-
  // request: stop() or restart() it.
  Exchange exchange_stream(std::size_t count, const std::function<std::string(std::size_t)>& line,
                           const std::function<void(std::size_t, std::string&)>& reply, std::chrono::milliseconds timeout);

  // Closes the child's stdin, gives it exit_grace to exit, then kills its
  // process group; reaps it. Returns how it ended (nullopt if already stopped).
  std::optional<ExitStatus> stop();
  // stop() and start the same command again (stderr tail is cleared).
  void restart();

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  int starts() const { return starts_; }  // 1 + number of restarts
  const std::vector<std::string>& argv() const { return argv_; }
  // The last stderr_tail_bytes the child wrote to stderr (this run only).
  std::string stderr_tail() const;
  std::size_t stderr_bytes() const { return stderr_total_; }

 private:
  void spawn();
  void drain_stderr();
  ExitStatus kill_and_reap();
  std::optional<ExitStatus> reap_within(std::chrono::milliseconds grace);
  void close_fds();

  std::vector<std::string> argv_;
  LineProcessOptions options_;
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1, err_ = -1;  // our ends: child's stdin, stdout, stderr
  std::string out_buffer_;             // stdout bytes past the last line returned
  std::string err_tail_;
  std::size_t stderr_total_ = 0;
  int starts_ = 0;
};

}  // namespace gradcheck
