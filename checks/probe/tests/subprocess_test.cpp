// LineProcess against small shell programs that misbehave on purpose: every
// outcome is data, nothing blocks past its deadline, and no child is left
// behind (each test ends by asserting this process has no children at all).
#include "no_children.hpp"

#include <gradcheck/probe/subprocess.hpp>

#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace gradcheck {
namespace {

using namespace std::chrono_literals;
using Outcome = Exchange::Outcome;
using testing::expect_no_children;

std::vector<std::string> sh(const std::string& script) { return {"/bin/sh", "-c", script}; }

// Processes of group `pgid` that are not zombies, from /proc/<pid>/stat.
int live_members(pid_t pgid) {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat;
    if (!std::getline(in, stat)) continue;
    const auto close = stat.rfind(')');  // the command name may contain spaces
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    char state = 0;
    long ppid = 0, group = 0;
    rest >> state >> ppid >> group;
    if (group == pgid && state != 'Z' && state != 'X') ++n;
  }
  return n;
}

TEST(LineProcess, ExchangesOneLinePerCase) {
  {
    LineProcess p({"cat"});
    EXPECT_EQ(p.exchange("first", 5s).line, "first");
    const Exchange x = p.exchange("second", 5s);
    EXPECT_EQ(x.outcome, Outcome::line);
    EXPECT_EQ(x.line, "second");
    EXPECT_FALSE(x.exit.has_value());
    const auto s = p.stop();
    ASSERT_TRUE(s.has_value());
    EXPECT_FALSE(s->signaled);
    EXPECT_EQ(s->code, 0);
  }
  expect_no_children();
}

TEST(LineProcess, StreamsManyLinesAheadOfTheirRepliesAndHandsTheRepliesOverInOrder) {
  {
    // 40 lines of 200 KB echoed back: 8 MB each way, far more than both pipes
    // hold, so the lines must go out while the replies come in.
    LineProcess p({"cat"});
    const auto line = [](std::size_t k) { return std::to_string(k) + std::string(200000, 'a' + static_cast<char>(k % 26)); };
    std::vector<std::string> replies;
    std::size_t made = 0;
    const Exchange x = p.exchange_stream(
        40, [&](std::size_t k) { return made = k + 1, line(k); },
        [&](std::size_t k, std::string& r) {
          EXPECT_EQ(k, replies.size());
          replies.push_back(std::move(r));
        },
        30s);
    ASSERT_EQ(x.outcome, Outcome::line) << to_string(x.outcome);
    EXPECT_EQ(x.replies, 40u);
    EXPECT_EQ(made, 40u);
    ASSERT_EQ(replies.size(), 40u);
    for (std::size_t k = 0; k < 40; ++k) EXPECT_EQ(replies[k], line(k)) << "reply " << k;
    EXPECT_EQ(p.exchange("after", 5s).line, "after");  // the stream is in step for the next exchange
  }
  expect_no_children();
}

TEST(LineProcess, ReportsAChildThatDiesHalfWayThroughAStreamWithTheRepliesSoFar) {
  {
    LineProcess p(sh("read a; echo $a; read b; echo $b; exit 3"));
    std::size_t taken = 0;
    const Exchange x = p.exchange_stream(
        5, [](std::size_t k) { return "line " + std::to_string(k); }, [&](std::size_t, std::string&) { ++taken; }, 10s);
    // eof, or write_failed if it was gone before a later line could be written.
    EXPECT_TRUE(x.outcome == Outcome::eof || x.outcome == Outcome::write_failed) << to_string(x.outcome);
    EXPECT_EQ(x.replies, 2u);
    EXPECT_EQ(taken, 2u);
    ASSERT_TRUE(x.exit.has_value());
    EXPECT_EQ(x.exit->code, 3);
  }
  expect_no_children();
}

TEST(LineProcess, SendsALineLargerThanThePipeWhileTheChildFloodsStderr) {
  {
    // The child writes 1 MB to stderr before it reads anything: a blocking
    // write of the 3 MB case would deadlock against it.
    LineProcess p(sh("head -c 1000000 /dev/zero >&2; head -c 3000001 | wc -c"));
    const Exchange x = p.exchange(std::string(3000000, 'x'), 10s);
    ASSERT_EQ(x.outcome, Outcome::line) << to_string(x.outcome);
    EXPECT_EQ(std::stoul(x.line), 3000001u);
    EXPECT_EQ(p.stderr_bytes(), 1000000u);
  }
  expect_no_children();
}

TEST(LineProcess, KeepsOnlyTheTailOfAStderrFlood) {
  {
    LineProcess p(sh("read l; head -c 10000000 /dev/zero >&2; echo >&2 LAST; echo ok"));
    const Exchange x = p.exchange("case", 20s);
    EXPECT_EQ(x.outcome, Outcome::line);
    EXPECT_EQ(x.line, "ok");
    EXPECT_EQ(p.stderr_bytes(), 10000005u);
    const std::string tail = p.stderr_tail();
    EXPECT_EQ(tail.size(), 8192u);
    EXPECT_EQ(tail.substr(tail.size() - 5), "LAST\n");
  }
  expect_no_children();
}

TEST(LineProcess, ReportsACrashWithItsSignalAndRestarts) {
  {
    LineProcess p(sh("read l; kill -SEGV $$"));
    const Exchange x = p.exchange("case", 5s);
    EXPECT_EQ(x.outcome, Outcome::eof);
    ASSERT_TRUE(x.exit.has_value());
    EXPECT_TRUE(x.exit->signaled);
    EXPECT_EQ(x.exit->signal, SIGSEGV);
    EXPECT_FALSE(x.exit->killed_by_us);
    EXPECT_NE(x.exit->describe().find("signal 11"), std::string::npos) << x.exit->describe();
    EXPECT_FALSE(p.running());
    p.restart();
    EXPECT_TRUE(p.running());
    EXPECT_EQ(p.starts(), 2);
    EXPECT_EQ(p.exchange("again", 5s).exit->signal, SIGSEGV);
  }
  expect_no_children();
}

TEST(LineProcess, KillsAHangAndItsChildrenAfterTheTimeout) {
  pid_t group = -1;
  {
    LineProcess p(sh("read l; sleep 30 & sleep 30"));
    group = p.pid();
    const Exchange x = p.exchange("case", 300ms);
    EXPECT_EQ(x.outcome, Outcome::timeout);
    EXPECT_GE(x.elapsed.count(), 0.3);
    EXPECT_LT(x.elapsed.count(), 15.0);  // killed at the timeout, not after the 30 s sleep
    ASSERT_TRUE(x.exit.has_value());
    EXPECT_TRUE(x.exit->killed_by_us);
    EXPECT_EQ(x.exit->signal, SIGKILL);
  }
  // The background sleep was in the same group: nothing of it runs any more
  // (it may linger as a zombie of init, which is not ours to reap).
  for (int i = 0; i < 6000 && live_members(group) > 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(live_members(group), 0);
  expect_no_children();
}

TEST(LineProcess, ReturnsThePartialLineLeftAtEof) {
  {
    LineProcess p(sh("read l; printf '{\"layers\": [1,'"));
    const Exchange x = p.exchange("case", 5s);
    EXPECT_EQ(x.outcome, Outcome::partial_line);
    EXPECT_EQ(x.line, "{\"layers\": [1,");
    EXPECT_EQ(x.bytes_received, 14u);
    ASSERT_TRUE(x.exit.has_value());
    EXPECT_EQ(x.exit->code, 0);
  }
  expect_no_children();
}

TEST(LineProcess, RefusesALineLongerThanTheCap) {
  {
    LineProcessOptions o;
    o.max_line_bytes = 1 << 20;
    LineProcess p(sh("read l; head -c 50000000 /dev/zero; echo"), o);
    const Exchange x = p.exchange("case", 10s);
    EXPECT_EQ(x.outcome, Outcome::too_long);
    EXPECT_GT(x.bytes_received, std::size_t{1} << 20);
    EXPECT_LT(x.bytes_received, std::size_t{4} << 20);  // stopped reading soon after the cap
    EXPECT_TRUE(x.line.empty());
    EXPECT_TRUE(x.exit->killed_by_us);
  }
  expect_no_children();
}

TEST(LineProcess, AcceptsALineJustUnderTheCap) {
  {
    LineProcessOptions o;
    o.max_line_bytes = 100000;
    LineProcess p(sh("read l; head -c 100000 /dev/zero | tr '\\0' a; echo"), o);
    const Exchange x = p.exchange("case", 10s);
    EXPECT_EQ(x.outcome, Outcome::line);
    EXPECT_EQ(x.line, std::string(100000, 'a'));
  }
  expect_no_children();
}

TEST(LineProcess, KillsAChildThatClosedStdoutButKeepsRunning) {
  {
    LineProcessOptions o;
    o.exit_grace = 200ms;
    LineProcess p(sh("exec 1>&-; read l; sleep 30"), o);
    const Exchange x = p.exchange("case", 60s);
    EXPECT_EQ(x.outcome, Outcome::eof);
    EXPECT_LT(x.elapsed.count(), 15.0);  // the grace after the close, not the 60 s timeout
    ASSERT_TRUE(x.exit.has_value());
    EXPECT_TRUE(x.exit->killed_by_us);
  }
  expect_no_children();
}

TEST(LineProcess, ReportsAChildThatExitsAtOnce) {
  {
    LineProcess p(sh("exit 3"));
    std::this_thread::sleep_for(100ms);  // let it be gone before the case is written
    const Exchange x = p.exchange(std::string(200000, 'x'), 5s);
    EXPECT_TRUE(x.outcome == Outcome::eof || x.outcome == Outcome::write_failed) << to_string(x.outcome);
    ASSERT_TRUE(x.exit.has_value());
    EXPECT_FALSE(x.exit->signaled);
    EXPECT_EQ(x.exit->code, 3);
  }
  expect_no_children();
}

// The program marks a file once its banner is in the pipe; the test waits for
// that mark, not for a guessed delay.
TEST(LineProcess, FlagsOutputSentBeforeTheCase) {
  const auto mark = std::filesystem::temp_directory_path() / ("gradcheck-banner-" + std::to_string(::getpid()));
  std::filesystem::remove(mark);
  {
    LineProcess p(sh("echo banner; : > '" + mark.string() + "'; read l; echo reply; read l"));
    for (int i = 0; i < 6000 && !std::filesystem::exists(mark); ++i) std::this_thread::sleep_for(20ms);
    ASSERT_TRUE(std::filesystem::exists(mark));
    const Exchange x = p.exchange("case", 60s);
    EXPECT_EQ(x.outcome, Outcome::line);
    EXPECT_EQ(x.unsolicited, "banner\n");
    EXPECT_EQ(x.line, "reply");
  }
  std::filesystem::remove(mark);
  expect_no_children();
}

TEST(LineProcess, StopsWaitingWhenInterrupted) {
  {
    std::atomic<bool> flag{false};
    LineProcessOptions o;
    o.interrupt = &flag;
    LineProcess p(sh("read l; sleep 30"), o);
    std::thread raiser([&] {
      std::this_thread::sleep_for(200ms);
      flag = true;
    });
    const Exchange x = p.exchange("case", 20s);
    raiser.join();
    EXPECT_EQ(x.outcome, Outcome::interrupted);
    EXPECT_LT(x.elapsed.count(), 10.0);  // the interrupt, not the 20 s timeout
    EXPECT_FALSE(p.running());
  }
  expect_no_children();
}

TEST(LineProcess, ThrowsWhenTheProgramCannotBeStarted) {
  EXPECT_THROW(LineProcess({"/nonexistent/gradcheck-no-such-program"}), SpawnError);
  EXPECT_THROW(LineProcess(std::vector<std::string>{}), SpawnError);
  expect_no_children();
}

TEST(LineProcess, DestructionKillsAndReapsARunningChild) {
  { LineProcess p(sh("sleep 30")); }
  expect_no_children();
}

}  // namespace
}  // namespace gradcheck
