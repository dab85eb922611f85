#include "sample_document.hpp"
#include "temp_dir.hpp"

#include <gradcheck/engine/errors.hpp>
#include <gradcheck/reports/write.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace gradcheck::reports {
namespace {

namespace fs = std::filesystem;

using test::slurp;
using test::TempDir;

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(WriteReport, WritesTheFourFilesEachWithItsRenderersOutput) {
  TempDir tmp;
  const Report r = test::sample_report();
  const WrittenReport w = write_report(tmp.path() / "out", r);
  EXPECT_EQ(names_in(tmp.path() / "out"), (std::vector<std::string>{"junit.xml", "report.html", "report.json", "report.md"}));
  EXPECT_EQ(slurp(w.json), render_json(r));
  EXPECT_EQ(slurp(w.markdown), render_markdown(r.document));
  EXPECT_EQ(slurp(w.html), render_html(r.document));
  EXPECT_EQ(slurp(w.junit), render_junit(r.document));
  EXPECT_EQ(fs::status(w.html).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
}

TEST(WriteReport, ReplacesAnEarlierReportInPlace) {
  TempDir tmp;
  Report r = test::sample_report();
  write_report(tmp.path(), r);
  r.document.title = "second run";
  r.mark_interrupted("SIGINT");
  write_report(tmp.path(), r);
  EXPECT_EQ(names_in(tmp.path()), (std::vector<std::string>{"junit.xml", "report.html", "report.json", "report.md"}));
  EXPECT_NE(slurp(tmp.path() / "report.md").find("# second run\n"), std::string::npos);
  EXPECT_NE(slurp(tmp.path() / "report.json").find("\"interrupted_by\": \"SIGINT\""), std::string::npos);
}

TEST(WriteReport, NamesTheDirectoryWhenItCannotBeCreated) {
  TempDir tmp;
  std::ofstream(tmp.path() / "file") << "x";
  const fs::path dir = tmp.path() / "file" / "sub";
  try {
    write_report(dir, test::sample_report());
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), dir.string() + ": cannot create the report directory: Not a directory");
  }
}

TEST(WriteReport, NamesTheFileWhenItCannotBeReplacedAndLeavesNoTemporaryFile) {
  TempDir tmp;
  fs::create_directory(tmp.path() / "report.json");  // a directory where the file should go
  try {
    write_report(tmp.path(), test::sample_report());
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), (tmp.path() / "report.json").string() + ": cannot replace: Is a directory");
  }
  EXPECT_EQ(names_in(tmp.path()), (std::vector<std::string>{"report.json"}));
}

TEST(WriteReport, NamesTheFileInAReadOnlyDirectory) {
  if (::geteuid() == 0) GTEST_SKIP() << "running as root: permissions do not stop root from writing";
  TempDir tmp;
  fs::permissions(tmp.path(), fs::perms::owner_read | fs::perms::owner_exec);
  try {
    write_report(tmp.path(), test::sample_report());
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), (tmp.path() / "report.json").string() + ": cannot write: Permission denied");
  }
  fs::permissions(tmp.path(), fs::perms::owner_all);
}

pid_t dead_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  return pid;
}

TEST(WriteFileAtomically, RemovesTemporaryFilesOfDeadWritersOnly) {
  TempDir tmp;
  const std::string dead = ".report.md.tmp-" + std::to_string(dead_pid()) + "-AbC123";
  const std::string alive = ".report.md.tmp-" + std::to_string(::getpid()) + "-XyZ789";  // a writer still running
  const std::string other = ".report.html.tmp-" + std::to_string(dead_pid()) + "-QqQ111";  // another file's
  for (const auto& n : {dead, alive, other}) std::ofstream(tmp.path() / n) << "partial";
  write_file_atomically(tmp.path() / "report.md", "new");
  EXPECT_EQ(names_in(tmp.path()), (std::vector<std::string>{other, alive, "report.md"}));
  EXPECT_EQ(slurp(tmp.path() / "report.md"), "new");
}

// ---- Killing a writer in the middle of a write -------------------------------------------

// Version k of a large file: a header naming k and the size, filler that depends on k,
// a footer. A torn file (cut short, or mixing two versions) is not equal to any version.
std::string version(int k, std::size_t bytes) {
  std::string s = "BEGIN " + std::to_string(k) + " " + std::to_string(bytes) + "\n";
  const std::string footer = "END " + std::to_string(k) + "\n";
  std::mt19937 gen(static_cast<unsigned>(k));
  while (s.size() + footer.size() < bytes) s += static_cast<char>('a' + gen() % 26);
  return s + footer;
}

// Which complete version the file holds, or -1 when it is torn.
int complete_version(const std::string& content, std::size_t bytes) {
  int k = -1;
  if (std::sscanf(content.c_str(), "BEGIN %d", &k) != 1) return -1;
  return content == version(k, bytes) ? k : -1;
}

using Writer = void (*)(const fs::path&, std::string_view);

void naive_write(const fs::path& p, std::string_view content) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
}

struct Trials {
  int torn = 0;            // files that were not one complete version
  int interrupted = 0;     // kills that left a temporary file behind: the kill hit a write
  int old_versions = 0;    // complete files still holding the version from before the child
  std::vector<std::string> visible_extras;  // names other than the target not starting with '.'
};

// Starts a child that rewrites `target` in a loop with `write`, kills it with `signal`
// after a random delay and inspects the file. The versions are precomputed, so the child
// spends its time writing.
Trials kill_writers(Writer write, int signal, int trials, std::size_t bytes) {
  TempDir tmp;
  const fs::path target = tmp.path() / "report.html";
  std::vector<std::string> versions;
  for (int k = 0; k < 4; ++k) versions.push_back(version(k, bytes));
  // One write's duration sets the range of delays, so that kills land all over a write.
  const auto t0 = std::chrono::steady_clock::now();
  write(target, versions[0]);
  const auto one_write = std::chrono::steady_clock::now() - t0;
  const auto max_delay_us = std::max<long long>(
      200, 3 * std::chrono::duration_cast<std::chrono::microseconds>(one_write).count());
  std::mt19937 rng(12345);
  Trials out;
  for (int t = 0; t < trials; ++t) {
    write(target, versions[0]);  // the "old" report
    int ready[2];
    if (::pipe(ready) != 0) throw std::runtime_error("pipe");
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(ready[0]);
      ::alarm(30);  // never outlive a broken test
      if (::write(ready[1], "x", 1) != 1) ::_exit(3);
      for (int k = 1;; k = k % 3 + 1) write(target, versions[static_cast<std::size_t>(k)]);
    }
    ::close(ready[1]);
    char c;
    if (::read(ready[0], &c, 1) != 1) throw std::runtime_error("child did not start");
    ::close(ready[0]);
    std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<long long>(0, max_delay_us)(rng)));
    ::kill(pid, signal);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != signal) throw std::runtime_error("child not killed by the signal");

    const int v = complete_version(slurp(target), bytes);
    out.torn += v < 0;
    out.old_versions += v == 0;
    bool temp = false;
    for (const auto& name : names_in(tmp.path())) {
      if (name == "report.html") continue;
      if (name.rfind(".report.html.tmp-", 0) == 0)
        temp = true;
      else
        out.visible_extras.push_back(name);
    }
    out.interrupted += temp;
  }
  // The next write clears what the killed writers left.
  write(target, versions[1]);
  for (const auto& name : names_in(tmp.path()))
    if (name != "report.html") out.visible_extras.push_back("after the last write: " + name);
  return out;
}

constexpr std::size_t big = 4u << 20;  // 4 MiB: a large HTML report

TEST(WriteFileAtomically, SigkillDuringAWriteLeavesTheOldOrTheNewFileNeverATornOne) {
  const Trials t = kill_writers(&write_file_atomically, SIGKILL, 16, big);
  std::printf("16 kills: %d left a temporary file (killed inside a write), %d found the old version\n", t.interrupted,
              t.old_versions);
  EXPECT_EQ(t.torn, 0);
  EXPECT_GE(t.interrupted, 1) << "no kill landed inside a write: the test did not exercise anything";
  EXPECT_TRUE(t.visible_extras.empty()) << t.visible_extras.front();
}

TEST(WriteFileAtomically, SigtermAndSigintDuringAWriteLeaveNoTornFileEither) {
  for (int sig : {SIGTERM, SIGINT}) {
    const Trials t = kill_writers(&write_file_atomically, sig, 6, big);
    EXPECT_EQ(t.torn, 0) << strsignal(sig);
    EXPECT_TRUE(t.visible_extras.empty()) << strsignal(sig);
  }
}

// The control: the same harness catches a writer that truncates and writes in place.
TEST(WriteFileAtomically, TheKillHarnessCatchesANaiveWriterTearingTheFile) {
  const Trials t = kill_writers(&naive_write, SIGKILL, 10, big);
  std::printf("naive writer, 10 kills: %d torn files\n", t.torn);
  EXPECT_GE(t.torn, 1);
}

}  // namespace
}  // namespace gradcheck::reports
