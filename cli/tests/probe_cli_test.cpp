// `gradcheck probe` end to end: the real executable against
// examples/python/mlp.py — exit codes, the counterexample files and their
// replay by `gradcheck verify`, the report, --seed replay, SIGINT, no zombies.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string example = std::string(GRADCHECK_SOURCE_DIR) + "/examples/python/mlp.py";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A fresh directory per test, removed afterwards.
struct TempDir {
  fs::path path;
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path = fs::temp_directory_path() / ("gradcheck-probe-cli-" + std::string(info->name()) + "-" +
                                        std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

struct Started {
  pid_t pid = -1;
};

// Starts gradcheck with args, stdout and stderr into files in dir.
Started start(const std::vector<std::string>& args, const fs::path& dir) {
  std::vector<std::string> argv{GRADCHECK_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> c;
  for (auto& a : argv) c.push_back(a.data());
  c.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  const std::string out = (dir / "stdout.txt").string(), err = (dir / "stderr.txt").string();
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  Started s;
  EXPECT_EQ(::posix_spawn(&s.pid, c[0], &fa, nullptr, c.data(), environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  return s;
}

int wait_exit(const Started& s) {
  int status = 0;
  while (::waitpid(s.pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct Ran {
  int code = -1;
  std::string out, err;
};

Ran run(const std::vector<std::string>& args, const fs::path& dir) {
  Ran r;
  r.code = wait_exit(start(args, dir));
  r.out = slurp(dir / "stdout.txt");
  r.err = slurp(dir / "stderr.txt");
  return r;
}

void expect_no_children() {
  int status = 0;
  errno = 0;
  EXPECT_EQ(::waitpid(-1, &status, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(ProbeCli, TheCorrectExamplePassesWithExitZero) {
  TempDir t;
  const Ran r = run({"probe", "--cases", "20", "--seed", "1", "--", "python3", example}, t.path);
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("20 agree"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("seed 1"), std::string::npos);
  EXPECT_FALSE(fs::exists(t.path / "counterexample.case.json"));
}

TEST(ProbeCli, ASignBugExitsOneAndItsCounterexampleReplaysInVerify) {
  TempDir t;
  const fs::path save = t.path / "save";
  const Ran r = run({"probe", "--cases", "20", "--seed", "1", "--save", save.string(), "--", "python3", example,
                     "--bug", "sign"},
                    t.path);
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("DIVERGENCE"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sign-flip"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--seed 1"), std::string::npos);
  ASSERT_TRUE(fs::exists(save / "counterexample.case.json"));
  ASSERT_TRUE(fs::exists(save / "counterexample.reply.json"));
  const auto c = nlohmann::json::parse(slurp(save / "counterexample.case.json"));
  EXPECT_EQ(c["network"]["layers"].size(), 1u);
  EXPECT_EQ(c["inputs"].size(), 1u);  // one sample
  const Ran v = run({"verify", (save / "counterexample.case.json").string(), (save / "counterexample.reply.json").string()},
                    t.path);
  EXPECT_EQ(v.code, 1) << v.out << v.err;
  EXPECT_NE(v.out.find("sign"), std::string::npos) << v.out;
}

TEST(ProbeCli, TheReportHoldsTheProbeResult) {
  TempDir t;
  const fs::path report = t.path / "report";
  const Ran r = run({"probe", "--cases", "10", "--seed", "2", "--report", report.string(), "--", "python3", example,
                     "--bug", "bias"},
                    t.path);
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  for (const char* f : {"report.json", "report.md", "report.html", "junit.xml"}) EXPECT_TRUE(fs::exists(report / f)) << f;
  const auto j = nlohmann::json::parse(slurp(report / "report.json"));
  EXPECT_EQ(j["status"], "fail");
  EXPECT_EQ(j["interrupted"], false);
  ASSERT_FALSE(j["results"].empty());
  const auto& p = j["results"][0];
  EXPECT_EQ(p["type"], "probe");
  EXPECT_EQ(p["seed"], 2);
  EXPECT_EQ(p["counterexample"]["minimal_case"]["network"]["layers"].size(), 1u);
  // Without --save, the counterexample goes next to the report.
  EXPECT_TRUE(fs::exists(report / "counterexample.case.json"));
}

TEST(ProbeCli, TheSameSeedSendsTheSameCases) {
  TempDir t;
  std::string logs[2];
  for (int i = 0; i < 2; ++i) {
    const fs::path log = t.path / ("sent-" + std::to_string(i) + ".jsonl");
    const Ran r = run({"probe", "--cases", "8", "--seed", "5", "--", "/bin/sh", "-c",
                       "tee -a '" + log.string() + "' | python3 '" + example + "'"},
                      t.path);
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    logs[i] = slurp(log);
  }
  EXPECT_EQ(std::count(logs[0].begin(), logs[0].end(), '\n'), 16);  // 8 cases, each sent twice
  EXPECT_EQ(logs[0], logs[1]);
  const fs::path other = t.path / "other.jsonl";
  run({"probe", "--cases", "8", "--seed", "6", "--", "/bin/sh", "-c", "tee -a '" + other.string() + "' | python3 '" + example + "'"},
      t.path);
  EXPECT_NE(slurp(other), logs[0]);
}

TEST(ProbeCli, AnImplementationFailureExitsOneWithItsCase) {
  TempDir t;
  const Ran r = run({"probe", "--cases", "6", "--seed", "1", "--max-failures", "1", "--save", t.path.string(), "--",
                     "python3", example, "--bug", "crash", "--bug-at", "2"},
                    t.path);
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("crash"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("signal 6"), std::string::npos) << r.out;
  ASSERT_TRUE(fs::exists(t.path / "failure-1.case.json"));
  EXPECT_NO_THROW(nlohmann::json::parse(slurp(t.path / "failure-1.case.json")));
  expect_no_children();
}

TEST(ProbeCli, SigintWritesThePartialReportAndExits130) {
  TempDir t;
  const fs::path report = t.path / "report";
  const Started s = start({"probe", "--cases", "20", "--seed", "1", "--timeout", "60", "--report", report.string(),
                           "--", "python3", example, "--bug", "hang", "--bug-at", "6"},
                          t.path);
  std::this_thread::sleep_for(2s);  // cases 0..3 answered, then it hangs on line 6
  ASSERT_EQ(::kill(s.pid, SIGINT), 0);
  const auto t0 = std::chrono::steady_clock::now();
  const int code = wait_exit(s);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ(code, 130) << slurp(t.path / "stdout.txt") << slurp(t.path / "stderr.txt");
  EXPECT_NE(slurp(t.path / "stdout.txt").find("INTERRUPTED"), std::string::npos);
  const auto j = nlohmann::json::parse(slurp(report / "report.json"));
  EXPECT_EQ(j["interrupted"], true);
  EXPECT_EQ(j["results"][0]["interrupted"], true);
  EXPECT_GE(j["results"][0]["agreed"].get<int>(), 3);
  expect_no_children();
}

TEST(ProbeCli, BadOptionsAndCommandsExitTwo) {
  TempDir t;
  Ran r = run({"probe", "--activations", "sigmoid,swish", "--", "python3", example}, t.path);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--activations: unknown value 'swish'"), std::string::npos) << r.err;
  r = run({"probe", "--cases", "0", "--", "python3", example}, t.path);
  EXPECT_EQ(r.code, 2) << r.err;
  r = run({"probe", "--", "/nonexistent/gradcheck-no-such-program"}, t.path);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("cannot start"), std::string::npos) << r.err;
  r = run({"probe", "--activations", "softmax", "--max-width", "1", "--", "python3", example}, t.path);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("restrictions"), std::string::npos) << r.err;
}

}  // namespace
