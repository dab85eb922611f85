#include <gradcheck/probe/subprocess.hpp>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

extern char** environ;

namespace gradcheck {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kept_bytes = 4096;       // of partial or unsolicited output
constexpr std::size_t read_chunk = 64 * 1024;
constexpr auto poll_slice = std::chrono::milliseconds(100);  // how often the interrupt flag is looked at

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// write() that cannot raise SIGPIPE in this process: the signal is blocked in
// this thread for the call and, if the write raised it, consumed before
// unblocking — no process-wide disposition is changed.
ssize_t write_no_sigpipe(int fd, const char* data, std::size_t n) {
  sigset_t pipe_set, old_set, pending;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigpending(&pending);
  const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
  ssize_t r;
  do r = ::write(fd, data, n);
  while (r < 0 && errno == EINTR);
  const int saved = errno;
  if (r < 0 && saved == EPIPE && !was_pending) {
    const timespec zero{0, 0};
    while (sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
  errno = saved;
  return r;
}

ExitStatus status_from(int wstatus) {
  ExitStatus s;
  if (WIFSIGNALED(wstatus)) {
    s.signaled = true;
    s.signal = WTERMSIG(wstatus);
  } else if (WIFEXITED(wstatus)) {
    s.code = WEXITSTATUS(wstatus);
  }
  return s;
}

bool interrupted(const LineProcessOptions& o) {
  return o.interrupt != nullptr && o.interrupt->load(std::memory_order_relaxed);
}

// Output nobody asked for (a second line for an earlier case, a banner): what
// stdout holds before the case is sent, taken out of `buffer` (its first
// kept_bytes returned).
std::string take_unsolicited(int fd, std::string& buffer) {
  char buf[read_chunk];
  ssize_t n;
  while (fd >= 0 && (n = ::read(fd, buf, sizeof buf)) > 0) buffer.append(buf, static_cast<std::size_t>(n));
  std::string taken;
  if (!buffer.empty()) {
    taken = buffer.substr(0, kept_bytes);
    buffer.clear();
  }
  return taken;
}

// The case being written: its line and '\n', and how much of it has gone.
struct Request {
  std::string text;
  std::size_t written = 0;
  bool failed = false;  // it stopped reading (EPIPE), now or during an earlier case
  bool done() const { return written == text.size() || failed; }
};

// Writes what the child's stdin takes now; a failure other than "full" closes it.
void write_some(int& fd, Request& w) {
  const ssize_t n = write_no_sigpipe(fd, w.text.data() + w.written, w.text.size() - w.written);
  if (n > 0) {
    w.written += static_cast<std::size_t>(n);
  } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
    w.failed = true;  // EPIPE: it no longer reads; whatever it wrote may still come
    close_fd(fd);
  }
}

// Appends what the child's stdout holds to `buffer`, stopping once more than a
// line's limit lies past `scanned`. Returns whether stdout ended.
bool read_stdout(int fd, std::string& buffer, std::size_t scanned, std::size_t max_line) {
  char buf[read_chunk];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      buffer.append(buf, static_cast<std::size_t>(n));
      if (buffer.size() - scanned > max_line + 1) return false;
      continue;
    }
    if (n == 0) return true;
    if (errno == EINTR) continue;
    return false;
  }
}

enum class Scan { taken, waiting, too_long };

// Takes the first line of `buffer` (searched from `scanned` on) as the reply.
// too_long: the line, or the bytes so far without one, exceed max_line
// (bytes_received says how many).
Scan take_reply(std::string& buffer, std::size_t& scanned, std::size_t max_line, std::optional<std::string>& reply,
                std::size_t& bytes_received) {
  const auto nl = buffer.find('\n', scanned);
  if (nl != std::string::npos) {
    if (nl > max_line) {
      bytes_received = nl;
      return Scan::too_long;
    }
    reply = buffer.substr(0, nl);
    buffer.erase(0, nl + 1);
    scanned = 0;
    return Scan::taken;
  }
  scanned = buffer.size();
  if (buffer.size() > max_line) {
    bytes_received = buffer.size();
    return Scan::too_long;
  }
  return Scan::waiting;
}

// Stdout ended without a reply: what came of one, if anything, is a partial line.
bool take_partial_line(std::string& buffer, Exchange& x) {
  x.bytes_received = buffer.size();
  const bool partial = !buffer.empty();
  if (partial) x.line = buffer.substr(0, kept_bytes);
  buffer.clear();
  return partial;
}

// What an end of stdout without a reply was.
Exchange::Outcome ended(bool partial_line, bool write_failed) {
  if (partial_line) return Exchange::Outcome::partial_line;
  return write_failed ? Exchange::Outcome::write_failed : Exchange::Outcome::eof;
}

// How long one poll may wait: until the deadline (rounded up), at most a slice.
std::chrono::milliseconds poll_wait(Clock::time_point deadline, Clock::time_point now) {
  return std::min(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now) + std::chrono::milliseconds(1),
                  std::chrono::milliseconds(poll_slice));
}

// The descriptors one wait polls (those that are open): the child's stdin
// while there is something to write, its stdout and stderr. A slot of -1 is
// not polled.
struct PollSet {
  pollfd fds[3];
  nfds_t n = 0;
  int in = -1, out = -1, err = -1;

  PollSet(int in_fd, bool writing, int out_fd, int err_fd) {
    if (in_fd >= 0 && writing) in = add(in_fd, POLLOUT);
    if (out_fd >= 0) out = add(out_fd, POLLIN);
    if (err_fd >= 0) err = add(err_fd, POLLIN);
  }
  int add(int fd, short events) {
    fds[n] = {fd, events, 0};
    return static_cast<int>(n++);
  }
  int wait(std::chrono::milliseconds limit) { return ::poll(fds, n, static_cast<int>(limit.count())); }
  bool ready(int slot) const { return slot >= 0 && fds[slot].revents != 0; }
};

}  // namespace

std::string ExitStatus::describe() const {
  std::string s;
  if (signaled) {
    const char* name = ::strsignal(signal);
    s = "killed by signal " + std::to_string(signal) + (name ? std::string(" (") + name + ")" : "");
    if (killed_by_us) s += ", sent by gradcheck";
  } else {
    s = "exited with status " + std::to_string(code);
  }
  return s;
}

const char* to_string(Exchange::Outcome o) {
  switch (o) {
    case Exchange::Outcome::line: return "line";
    case Exchange::Outcome::timeout: return "timeout";
    case Exchange::Outcome::eof: return "eof";
    case Exchange::Outcome::partial_line: return "partial_line";
    case Exchange::Outcome::too_long: return "too_long";
    case Exchange::Outcome::write_failed: return "write_failed";
    case Exchange::Outcome::interrupted: return "interrupted";
  }
  return "?";
}

LineProcess::LineProcess(std::vector<std::string> argv, LineProcessOptions options)
    : argv_(std::move(argv)), options_(options) {
  if (argv_.empty()) throw SpawnError("no command given");
  spawn();
}

LineProcess::~LineProcess() {
  if (running()) kill_and_reap();
}

void LineProcess::spawn() {
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  auto cleanup = [&] {
    for (int* p : {in, out, err}) {
      close_fd(p[0]);
      close_fd(p[1]);
    }
  };
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    const int e = errno;
    cleanup();
    throw SpawnError("cannot start '" + argv_[0] + "': pipe: " + ::strerror(e));
  }
  // Room for a whole request or reply (fd's loss lines are about 70 KB): one
  // write and one wake-up each instead of several. Best effort: the kernel
  // may refuse (pipe-max-size); the 64 KiB default then works as before.
  for (int fd : {in[1], out[1]}) (void)::fcntl(fd, F_SETPIPE_SZ, 1 << 20);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);

  // Own process group; default dispositions for the signals a parent (or a
  // test runner) may have ignored or handled; nothing blocked.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t defaults, empty;
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGCHLD, SIGALRM, SIGUSR1, SIGUSR2})
    sigaddset(&defaults, sig);
  sigemptyset(&empty);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::vector<char*> args;
  for (auto& a : argv_) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close_fd(in[0]);
  close_fd(out[1]);
  close_fd(err[1]);
  if (rc != 0) {
    cleanup();
    throw SpawnError("cannot start '" + argv_[0] + "': " + ::strerror(rc));
  }
  pid_ = pid;
  in_ = in[1];
  out_ = out[0];
  err_ = err[0];
  for (int fd : {in_, out_, err_}) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  out_buffer_.clear();
  err_tail_.clear();
  stderr_total_ = 0;
  ++starts_;
}

void LineProcess::drain_stderr() {
  char buf[read_chunk];
  while (err_ >= 0) {
    const ssize_t n = ::read(err_, buf, sizeof buf);
    if (n > 0) {
      stderr_total_ += static_cast<std::size_t>(n);
      err_tail_.append(buf, static_cast<std::size_t>(n));
      if (err_tail_.size() > options_.stderr_tail_bytes)
        err_tail_.erase(0, err_tail_.size() - options_.stderr_tail_bytes);
    } else if (n == 0) {
      close_fd(err_);
    } else if (errno == EINTR) {
      continue;
    } else {
      if (errno != EAGAIN && errno != EWOULDBLOCK) close_fd(err_);
      return;
    }
  }
}

std::string LineProcess::stderr_tail() const { return err_tail_; }

void LineProcess::close_fds() {
  close_fd(in_);
  close_fd(out_);
  close_fd(err_);
}

// Kills the whole process group (the child and anything it started), then reaps
// the child. The group is killed before the reap, while the unreaped child still
// holds its pid, so the group id cannot have been reused by an unrelated process.
ExitStatus LineProcess::kill_and_reap() {
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  int wstatus = 0;
  while (::waitpid(pid_, &wstatus, 0) < 0 && errno == EINTR) {
  }
  drain_stderr();
  ExitStatus s = status_from(wstatus);
  s.killed_by_us = s.signaled && s.signal == SIGKILL;
  close_fds();
  pid_ = -1;
  return s;
}

// Waits up to `grace` for the child to exit by itself (draining its stderr
// meanwhile); if it does, clears its process group and reaps it.
std::optional<ExitStatus> LineProcess::reap_within(std::chrono::milliseconds grace) {
  const auto deadline = Clock::now() + grace;
  for (;;) {
    siginfo_t info{};
    const int rc = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
    if (rc == 0 && info.si_pid == pid_) {
      ::kill(-pid_, SIGKILL);  // stragglers it left in its group
      int wstatus = 0;
      while (::waitpid(pid_, &wstatus, 0) < 0 && errno == EINTR) {
      }
      drain_stderr();
      close_fds();
      pid_ = -1;
      return status_from(wstatus);
    }
    if (Clock::now() >= deadline) return std::nullopt;
    if (err_ >= 0) {
      pollfd p{err_, POLLIN, 0};
      ::poll(&p, 1, 5);
      drain_stderr();
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
}

std::optional<ExitStatus> LineProcess::stop() {
  if (!running()) return std::nullopt;
  close_fd(in_);
  if (auto s = reap_within(options_.exit_grace)) return s;
  return kill_and_reap();
}

void LineProcess::restart() {
  stop();
  spawn();
}

Exchange LineProcess::exchange(const std::string& line, std::chrono::milliseconds timeout) {
  std::string answer;
  Exchange x = exchange_stream(
      1, [&](std::size_t) { return line; }, [&](std::size_t, std::string& r) { answer = std::move(r); }, timeout);
  if (x.outcome == Exchange::Outcome::line) x.line = std::move(answer);
  return x;
}

Exchange LineProcess::exchange_stream(std::size_t count, const std::function<std::string(std::size_t)>& line,
                                      const std::function<void(std::size_t, std::string&)>& reply,
                                      std::chrono::milliseconds timeout) {
  const auto start = Clock::now();
  auto deadline = start + timeout;
  Exchange x;
  auto finish = [&](Exchange::Outcome o) {
    x.outcome = o;
    x.elapsed = Clock::now() - start;
    return x;
  };
  auto kill_and_finish = [&](Exchange::Outcome o) {
    x.exit = kill_and_reap();
    return finish(o);
  };
  if (!running()) {
    x.exit = ExitStatus{};
    return finish(Exchange::Outcome::eof);
  }
  // The stream is out of step: say so instead of taking that output as the reply.
  x.unsolicited = take_unsolicited(out_, out_buffer_);

  Request request{"", 0, in_ < 0};
  std::size_t made = 0;     // lines made so far
  std::size_t scanned = 0;  // bytes of out_buffer_ already searched for '\n'
  for (;;) {
    if (interrupted(options_)) return kill_and_finish(Exchange::Outcome::interrupted);
    if (request.done() && made < count) {
      if (request.failed) made = count;  // its stdin is closed: nothing more can go
      else request = {line(made++) + "\n", 0, false};
    }
    // The replies count only once every line has been written: stopping
    // half-way would glue the rest of a request to the next one.
    if (x.replies == count && request.done() && made == count) return finish(Exchange::Outcome::line);
    const auto now = Clock::now();
    if (now >= deadline) {
      x.bytes_received = out_buffer_.size();
      return kill_and_finish(Exchange::Outcome::timeout);
    }
    PollSet p(in_, !request.done(), out_, err_);
    if (p.wait(poll_wait(deadline, now)) < 0) {
      if (errno == EINTR) continue;
      return kill_and_finish(Exchange::Outcome::eof);
    }
    if (p.ready(p.err)) drain_stderr();
    if (p.ready(p.in)) write_some(in_, request);
    if (!p.ready(p.out)) continue;
    const bool eof = read_stdout(out_, out_buffer_, scanned, options_.max_line_bytes);
    while (x.replies < count) {
      std::optional<std::string> r;
      const Scan s = take_reply(out_buffer_, scanned, options_.max_line_bytes, r, x.bytes_received);
      if (s == Scan::too_long) return kill_and_finish(Exchange::Outcome::too_long);
      if (s != Scan::taken) break;
      reply(x.replies++, *r);
      deadline = Clock::now() + timeout;  // the child is making progress
    }
    if (!eof) continue;
    close_fd(out_);
    if (x.replies == count) continue;
    const bool partial = take_partial_line(out_buffer_, x);
    const auto s = reap_within(options_.exit_grace);
    x.exit = s ? *s : kill_and_reap();
    return finish(ended(partial, request.failed));
  }
}

}  // namespace gradcheck
