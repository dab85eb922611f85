#pragma once
// Runs the built `gradcheck` binary (GRADCHECK_BINARY, set by cli/CMakeLists.txt)
// and captures its exit code, standard output and standard error. Shared by
// every test of the cli_tests suite.
//
//   const auto r = gradcheck::testing::run_gradcheck({"verify", "case.json", "reply.json"}, dir);
//   EXPECT_EQ(r.exit_code, 1);
//   EXPECT_TRUE(r.has_line_starting("DIVERGES:")) << r.out;

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace gradcheck::testing {

struct RunResult {
  int exit_code = -1;
  std::string out, err;

  std::vector<std::string> lines() const {
    std::vector<std::string> v;
    std::istringstream in(out);
    for (std::string l; std::getline(in, l);) v.push_back(l);
    return v;
  }
  bool has_line_starting(const std::string& prefix) const {
    for (const auto& l : lines())
      if (l.rfind(prefix, 0) == 0) return true;
    return false;
  }
  bool contains(const std::string& text) const { return out.find(text) != std::string::npos; }
};

// A fresh, empty directory under the system's temporary directory.
inline std::filesystem::path temp_dir(const std::string& name) {
  const auto d = std::filesystem::temp_directory_path() /
                 ("gradcheck-cli-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

// temp_dir(name) for as long as the object lives, then removed with all it holds.
// Each test its own name: run_gradcheck works in temp_dir("run").
struct ScopedTempDir {
  const std::filesystem::path path;
  explicit ScopedTempDir(const std::string& name) : path(temp_dir(name)) {}
  ~ScopedTempDir() { std::filesystem::remove_all(path); }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;
};

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> v;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) v.push_back(l);
  return v;
}

// Waits until the file at `p` has at least `n` lines (a program's `tee` of what
// it was sent): a test waits for what happened, never for a guessed delay.
// False after `limit` (a failure bound only, far above any loaded machine).
inline bool wait_for_lines(const std::filesystem::path& p, std::size_t n,
                           std::chrono::seconds limit = std::chrono::seconds(120)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (lines_of(read_text(p)).size() < n) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

inline void write_text(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

// Starts GRADCHECK_BINARY with `args` in the background, in directory `cwd`
// (empty: the current one), its stdout and stderr written to the files `out`
// and `err`. Returns its pid, for signals and wait_exit.
inline pid_t spawn_gradcheck(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                             const std::filesystem::path& out, const std::filesystem::path& err) {
  const std::string out_path = std::filesystem::absolute(out).string(),
                    err_path = std::filesystem::absolute(err).string();
  std::vector<std::string> all{GRADCHECK_BINARY};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
    if (!std::freopen(out_path.c_str(), "w", stdout) || !std::freopen(err_path.c_str(), "w", stderr)) ::_exit(126);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

// The same in directory `dir`, with stdout and stderr in dir/stdout.txt and
// dir/stderr.txt.
inline pid_t start_gradcheck(const std::vector<std::string>& args, const std::filesystem::path& dir) {
  return spawn_gradcheck(args, dir, dir / "stdout.txt", dir / "stderr.txt");
}

// Waits for pid: its exit status, or 128 + the signal that killed it.
inline int wait_exit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Runs GRADCHECK_BINARY with `args` in directory `dir`, leaving its output in
// dir/stdout.txt and dir/stderr.txt as well as in the result.
inline RunResult run_gradcheck_in(const std::vector<std::string>& args, const std::filesystem::path& dir) {
  RunResult r;
  r.exit_code = wait_exit(start_gradcheck(args, dir));
  r.out = read_text(dir / "stdout.txt");
  r.err = read_text(dir / "stderr.txt");
  return r;
}

// Runs GRADCHECK_BINARY with `args` in directory `cwd` (default: the current one).
inline RunResult run_gradcheck(const std::vector<std::string>& args, const std::filesystem::path& cwd = {}) {
  const auto dir = temp_dir("run");
  const auto out = dir / "stdout", err = dir / "stderr";
  RunResult r;
  r.exit_code = wait_exit(spawn_gradcheck(args, cwd, out, err));
  r.out = read_text(out);
  r.err = read_text(err);
  std::filesystem::remove_all(dir);
  return r;
}

}  // namespace gradcheck::testing
