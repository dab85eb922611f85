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
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
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

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_text(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

// Runs GRADCHECK_BINARY with `args` in directory `cwd` (default: the current one).
inline RunResult run_gradcheck(const std::vector<std::string>& args, const std::filesystem::path& cwd = {}) {
  const auto dir = temp_dir("run");
  const auto out = dir / "stdout", err = dir / "stderr";
  RunResult r;
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
    if (!std::freopen(out.c_str(), "w", stdout) || !std::freopen(err.c_str(), "w", stderr)) ::_exit(126);
    std::string binary = GRADCHECK_BINARY;
    std::vector<std::string> copy = args;
    std::vector<char*> argv{binary.data()};
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_text(out);
  r.err = read_text(err);
  std::filesystem::remove_all(dir);
  return r;
}

}  // namespace gradcheck::testing
