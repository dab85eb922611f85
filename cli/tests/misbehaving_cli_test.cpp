// `gradcheck probe` through the built binary against implementations that
// misbehave on purpose: each misbehaviour is reported as a failure of
// the implementation with the case that caused it (the very case it was sent,
// saved as failure-N.case.json), the probe restarts it and goes on with the
// remaining cases, exits with 1, and leaves no process behind. The test process
// makes itself the child subreaper, so a child gradcheck did not reap, or a
// program it did not kill, would be re-parented to the test and found here.
// Also: SIGTERM during a probe (the SIGINT twin is in probe_cli_test.cpp).
#include <gradcheck/engine/case_format.hpp>

#include "run_gradcheck.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace gradcheck::testing;  // run_gradcheck.hpp
using namespace std::chrono_literals;

const std::string python = "/usr/bin/python3";
const std::string example = std::string(GRADCHECK_SOURCE_DIR) + "/examples/python/mlp.py";

// A fresh directory per test, removed afterwards.
struct TempDir : ScopedTempDir {
  explicit TempDir(const std::string& name) : ScopedTempDir("misbehaving-" + name) {}
};

struct Proc {
  pid_t pid;
  char state;
};

// The processes whose parent is `parent`, with their state (R, S, Z, ...), from /proc.
std::vector<Proc> children_of(pid_t parent) {
  std::vector<Proc> v;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat;
    if (!std::getline(in, stat)) continue;
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    char state = 0;
    long ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent) v.push_back({static_cast<pid_t>(std::stol(name)), state});
  }
  return v;
}

// Orphans come to this process instead of init while a test runs.
class Subreaper {
 public:
  Subreaper() { EXPECT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0); }
  ~Subreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 0); }
};

// Nothing is left of what gradcheck started: no child of this process remains,
// running or zombie. Kills and reaps whatever is found, so one failing test
// does not spill into the next.
void expect_nothing_left_behind() {
  const auto left = children_of(::getpid());
  for (const Proc& p : left) {
    ADD_FAILURE() << "process " << p.pid << " (state " << p.state << ", "
                  << read_text("/proc/" + std::to_string(p.pid) + "/cmdline") << ") was left behind";
    ::kill(p.pid, SIGKILL);
  }
  int status = 0;
  while (::waitpid(-1, &status, 0) > 0) {
  }
  errno = 0;
  EXPECT_EQ(::waitpid(-1, &status, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

// The probe's fixed options: 4 cases of seed 7, each sent once. The timeout
// leaves a loaded machine time to start Python; the hang uses a shorter one.
std::vector<std::string> probe_args(const std::vector<std::string>& extra, const std::vector<std::string>& command,
                                    const std::string& timeout = "10") {
  std::vector<std::string> a{"probe", "--cases", "4", "--seed", "7", "--no-determinism", "--timeout", timeout,
                             "--max-reply-bytes", "1048576", "--max-failures", "10", "--save", "saved"};
  a.insert(a.end(), extra.begin(), extra.end());
  a.push_back("--");
  a.insert(a.end(), command.begin(), command.end());
  return a;
}

// The 4 cases those options send, as the implementation receives them: the
// correct example behind a tee.
const std::vector<std::string>& cases_sent() {
  static const std::vector<std::string> lines = [] {
    TempDir t("reference");
    const RunResult r = run_gradcheck_in(
        probe_args({}, {"/bin/sh", "-c", "tee sent.jsonl | '" + python + "' '" + example + "'"}), t.path);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return lines_of(read_text(t.path / "sent.jsonl"));
  }();
  return lines;
}

std::string normalised(const gradcheck::Case& c) { return gradcheck::case_to_json(c, -1); }

struct Misbehaviour {
  std::string name;                     // the example's --bug
  std::vector<std::string> bug_args;    // more arguments of the example
  std::map<int, std::string> failures;  // case index -> "kind: message" as printed
  int agreed;
};

void PrintTo(const Misbehaviour& m, std::ostream* os) { *os << m.name; }

// The example misbehaves on its 2nd line. A restarted process counts lines
// afresh, so a misbehaviour that ends the process (everything but garbage)
// strikes again on case 3: cases 0 and 2 are the restarted ones that agree.
const std::string partial_reply = "{\"layers\": [{\"weights\": [[0.1";
const std::vector<Misbehaviour> misbehaviours = {
    {"crash", {}, {{1, "crash: no reply: it was killed by signal 6 (Aborted)"}, {3, "crash: no reply: it was killed by signal 6 (Aborted)"}}, 2},
    {"hang",
     {},
     {{1, "timeout: no reply within 2000 ms; killed (0 bytes of a reply had arrived)"},
      {3, "timeout: no reply within 2000 ms; killed (0 bytes of a reply had arrived)"}},
     2},
    {"garbage", {}, {{1, "malformed-reply: reply to case 1: "}}, 3},
    {"huge",
     {"--huge-bytes", "3000000"},
     {{1, "reply-too-long: reply longer than the limit of 1048576 bytes; killed"},
      {3, "reply-too-long: reply longer than the limit of 1048576 bytes; killed"}},
     2},
    {"stderr", {}, {{1, "crash: no reply: it exited with status 1"}, {3, "crash: no reply: it exited with status 1"}}, 2},
    {"close",
     {},
     {{1, "closed-stdout: it closed its stdout without replying and kept running; killed"},
      {3, "closed-stdout: it closed its stdout without replying and kept running; killed"}},
     2},
    {"partial",
     {},
     {{1, "partial-line: its stdout ended in the middle of a reply after " + std::to_string(partial_reply.size()) +
              " bytes; it exited with status 0"},
      {3, "partial-line: its stdout ended in the middle of a reply after " + std::to_string(partial_reply.size()) +
              " bytes; it exited with status 0"}},
     2},
};

class Misbehaving : public ::testing::TestWithParam<Misbehaviour> {};

TEST_P(Misbehaving, IsReportedWithTheCaseItWasSentAndTheProbeGoesOn) {
  const Misbehaviour& m = GetParam();
  const auto& sent = cases_sent();
  ASSERT_EQ(sent.size(), 4u);
  TempDir t(m.name);
  Subreaper subreaper;
  std::vector<std::string> command{python, example, "--bug", m.name, "--bug-at", "2"};
  command.insert(command.end(), m.bug_args.begin(), m.bug_args.end());
  const auto t0 = std::chrono::steady_clock::now();
  const RunResult r =
      run_gradcheck_in(probe_args({"--report", "report"}, command, m.name == "hang" ? "2" : "10"), t.path);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 30s);

  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("cases: 4 of 4 sent; " + std::to_string(m.agreed) + " agree, 0 with notes, 0 declined, 0 diverge"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("IMPLEMENTATION FAILURES (" + std::to_string(m.failures.size()) + "):"), std::string::npos)
      << r.out;
  int n = 0;
  for (const auto& [index, what] : m.failures) {
    ++n;
    const std::string line = "  case " + std::to_string(index) + ": " + what;
    EXPECT_NE(r.out.find(line), std::string::npos) << "no line \"" << line << "\" in\n" << r.out;
    // The saved case is the one the implementation was sent.
    const fs::path saved = t.path / "saved" / ("failure-" + std::to_string(n) + ".case.json");
    ASSERT_TRUE(fs::exists(saved)) << saved;
    EXPECT_EQ(normalised(gradcheck::read_case(saved.string())), normalised(gradcheck::parse_case(sent[index], "sent")));
  }
  EXPECT_FALSE(fs::exists(t.path / "saved" / ("failure-" + std::to_string(n + 1) + ".case.json")));
  const auto j = nlohmann::json::parse(read_text(t.path / "report" / "report.json"));
  EXPECT_EQ(j.at("interrupted"), false);
  EXPECT_EQ(j.at("status"), "fail");
  expect_nothing_left_behind();
}

INSTANTIATE_TEST_SUITE_P(Example, Misbehaving, ::testing::ValuesIn(misbehaviours),
                         [](const auto& info) { return info.param.name; });

TEST(Misbehaving, GarbageAndStderrShowWhatTheProgramSent) {
  TempDir t("shown");
  Subreaper subreaper;
  RunResult r = run_gradcheck_in(probe_args({}, {python, example, "--bug", "garbage", "--bug-at", "2"}), t.path);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("    reply: this is not json\n"), std::string::npos) << r.out;
  r = run_gradcheck_in(probe_args({}, {python, example, "--bug", "stderr", "--bug-at", "2"}), t.path);
  EXPECT_EQ(r.exit_code, 1);
  // 4 floods of 1,000,001 bytes (2 processes, 2 lines each) went through without blocking.
  EXPECT_NE(r.out.find("stderr: "), std::string::npos) << r.out;
  const auto at = r.out.find("stderr: ");
  EXPECT_GE(std::stoul(r.out.substr(at + 8)), 4000004u) << r.out;
  EXPECT_NE(r.out.find("RuntimeError: bug 'stderr': giving up after the flood"), std::string::npos) << r.out;
  expect_nothing_left_behind();
}

TEST(Misbehaving, AProgramThatExitsAtOnceFailsEveryCaseAndIsRestartedForEach) {
  TempDir t("exit");
  Subreaper subreaper;
  const RunResult r = run_gradcheck_in(probe_args({}, {python, example, "--bug", "exit"}), t.path);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("cases: 4 of 4 sent; 0 agree"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("IMPLEMENTATION FAILURES (4):"), std::string::npos) << r.out;
  for (int i = 0; i < 4; ++i) {
    const std::string a = "  case " + std::to_string(i) + ": crash: no reply: it exited with status 0\n";
    const std::string b = "  case " + std::to_string(i) + ": stopped-reading: it stopped reading its stdin and sent no reply; it exited with status 0\n";
    EXPECT_TRUE(r.out.find(a) != std::string::npos || r.out.find(b) != std::string::npos) << i << "\n" << r.out;
  }
  EXPECT_EQ(normalised(gradcheck::read_case((t.path / "saved" / "failure-3.case.json").string())),
            normalised(gradcheck::parse_case(cases_sent().at(2), "sent")));
  expect_nothing_left_behind();
}

// While a probe runs, every crashed process has been reaped before the next
// one starts: after 5 crashes and restarts, with the 6th process hanging, the
// probe has exactly one child, that process, and no zombie.
TEST(Misbehaving, RestartsAfterEveryCrashWithoutLeavingAZombie) {
  TempDir t("zombies");
  Subreaper subreaper;
  const std::string script = "echo $$ >> pids; read l; if [ $(wc -l < pids) -le 5 ]; then kill -SEGV $$; fi; exec sleep 60";
  const pid_t gc = start_gradcheck({"probe", "--cases", "10", "--seed", "7", "--no-determinism", "--timeout", "60",
                                    "--max-failures", "100", "--report", "report", "--", "/bin/sh", "-c", script},
                                   t.path);
  std::vector<Proc> kids;
  const auto deadline = std::chrono::steady_clock::now() + 120s;  // a failure bound only
  for (;;) {
    kids = children_of(gc);
    const auto pids = lines_of(read_text(t.path / "pids"));
    if (pids.size() == 6 && kids.size() == 1 &&
        read_text("/proc/" + std::to_string(kids[0].pid) + "/comm") == "sleep\n")
      break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << pids.size() << " starts, " << kids.size() << " children";
    std::this_thread::sleep_for(20ms);
  }
  const auto pids = lines_of(read_text(t.path / "pids"));
  ASSERT_EQ(kids.size(), 1u);
  EXPECT_EQ(std::to_string(kids[0].pid), pids.back());
  EXPECT_NE(kids[0].state, 'Z');
  for (std::size_t i = 0; i + 1 < pids.size(); ++i)
    EXPECT_FALSE(fs::exists("/proc/" + pids[i])) << "crashed process " << pids[i] << " is still there (a zombie?)";

  ASSERT_EQ(::kill(gc, SIGINT), 0);
  const int code = wait_exit(gc);
  const std::string out = read_text(t.path / "stdout.txt");
  EXPECT_EQ(code, 1) << out << read_text(t.path / "stderr.txt");  // something failed before the interrupt
  EXPECT_NE(out.find("IMPLEMENTATION FAILURES (5):"), std::string::npos) << out;
  for (int i = 0; i < 5; ++i)
    EXPECT_NE(out.find("  case " + std::to_string(i) + ": crash: no reply: it was killed by signal 11 (Segmentation fault)\n"),
              std::string::npos)
        << out;
  // The 6th case was cut short: 5 were sent and answered (by crashing).
  EXPECT_NE(out.find("cases: 5 of 10 sent; 0 agree"), std::string::npos) << out;
  EXPECT_NE(out.find("INTERRUPTED: the results above are partial (5 cases)\nFAIL (partial)\n"), std::string::npos) << out;
  const auto j = nlohmann::json::parse(read_text(t.path / "report" / "report.json"));
  EXPECT_EQ(j.at("interrupted_by"), "SIGINT");
  EXPECT_FALSE(fs::exists("/proc/" + pids.back())) << "the hanging process survived the interrupt";
  expect_nothing_left_behind();
}

// A program that hangs with a child of its own: at the timeout gradcheck kills
// its whole process group, so the child does not outlive the probe either.
// It hangs before its first reply, so the start-up allowance is the timeout too.
// The shell must start and record its child's pid before the kill: that is
// the test's only race with the clock, and 3 s leaves it room under load (with
// 1 s it failed once under ctest -j2 beside a sanitizer build's tests).
TEST(Misbehaving, AHangingProgramIsKilledWithItsOwnChildren) {
  TempDir t("group");
  Subreaper subreaper;  // the orphaned child comes here, where its state can be seen
  const RunResult r =
      run_gradcheck_in(probe_args({"--startup-timeout", "3"},
                                  {"/bin/sh", "-c", "sleep 60 & echo $! >> children; read l; wait"}, "1"),
                       t.path);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("IMPLEMENTATION FAILURES (4):"), std::string::npos) << r.out;
  for (int i = 0; i < 4; ++i)
    EXPECT_NE(r.out.find("  case " + std::to_string(i) + ": timeout: no reply within 3000 ms; killed"), std::string::npos)
        << r.out;
  const auto children = lines_of(read_text(t.path / "children"));
  EXPECT_EQ(children.size(), 4u);  // one per start: the program was restarted for every case
  // Killed: gone, or a zombie handed to this process (its parent, the shell, was
  // killed with it, so reaping it is not gradcheck's to do) -- never running.
  for (const Proc& p : children_of(::getpid())) {
    EXPECT_EQ(p.state, 'Z') << "process " << p.pid << " still runs";
    if (p.state != 'Z') ::kill(p.pid, SIGKILL);
  }
  int status = 0;
  while (::waitpid(-1, &status, 0) > 0) {
  }
  for (const auto& child : children)
    EXPECT_FALSE(fs::exists("/proc/" + child)) << "the hanging program's child " << child << " survived";
  expect_nothing_left_behind();
}

// SIGTERM like SIGINT: the probe stops, kills the program, writes the partial
// report saying so (by SIGTERM), and exits 130 when nothing failed.
TEST(Misbehaving, SigtermDuringAProbeWritesThePartialReport) {
  TempDir t("sigterm");
  // No subreaper here: the shell's pipeline children, killed with their group,
  // are the shell's to reap, not gradcheck's.
  fs::create_directories(t.path / "report");
  std::ofstream(t.path / "report" / "report.json") << "{\"old\": true}\n";
  const pid_t gc = start_gradcheck(
      {"probe", "--cases", "20", "--seed", "7", "--no-determinism", "--timeout", "60", "--report", "report", "--",
       "/bin/sh", "-c", "tee sent.jsonl | '" + python + "' '" + example + "' --bug hang --bug-at 6"},
      t.path);
  // The 6th line was sent only after the 5th reply came: the probe waits on the hang.
  ASSERT_TRUE(wait_for_lines(t.path / "sent.jsonl", 6));
  ASSERT_EQ(::kill(gc, SIGTERM), 0);
  const auto t0 = std::chrono::steady_clock::now();
  const int code = wait_exit(gc);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 30s);  // not the 60 s timeout
  const std::string out = read_text(t.path / "stdout.txt");
  EXPECT_EQ(code, 143) << out << read_text(t.path / "stderr.txt");  // 128 + SIGTERM
  // The 6th case, the hanging one, was cut short: it does not count as sent.
  EXPECT_NE(out.find("cases: 5 of 20 sent; 5 agree"), std::string::npos) << out;
  EXPECT_NE(out.find("INTERRUPTED: the results above are partial (5 cases)\nPASS (partial)\n"), std::string::npos) << out;
  const auto j = nlohmann::json::parse(read_text(t.path / "report" / "report.json"));
  EXPECT_EQ(j.at("interrupted"), true);
  EXPECT_EQ(j.at("interrupted_by"), "SIGTERM");
  EXPECT_EQ(j.at("results").at(0).at("interrupted"), true);
  EXPECT_EQ(j.at("results").at(0).at("agreed"), 5);
  expect_nothing_left_behind();
}

}  // namespace
