// Atomic replacement of report files: temporary file in the same directory (rename is
// atomic only within one file system), fsync, rename, fsync of the directory (so that
// the rename itself survives a power cut).
#include <gradcheck/reports/write.hpp>

#include <gradcheck/engine/errors.hpp>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>
#include <system_error>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gradcheck::reports {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const fs::path& path, const std::string& what, int err) {
  throw InputError(path.string(), "", what + ": " + std::strerror(err));
}

// ".report.html.tmp-<pid>-": the prefix of our temporary files for `name`. Hidden (a
// leading dot) and never ending in a report's extension, so no tool takes one for a report.
std::string temp_prefix(const std::string& name) { return "." + name + ".tmp-" + std::to_string(::getpid()) + "-"; }

// Temporary files of writers that were killed: the pid in their name is no longer alive.
void remove_stale_temps(const fs::path& dir, const std::string& name) {
  const std::string prefix = "." + name + ".tmp-";
  DIR* d = ::opendir(dir.empty() ? "." : dir.c_str());
  if (!d) return;
  std::vector<std::string> stale;
  while (const dirent* e = ::readdir(d)) {
    const std::string entry = e->d_name;
    if (entry.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string rest = entry.substr(prefix.size());
    char* end = nullptr;
    const long pid = std::strtol(rest.c_str(), &end, 10);
    if (pid <= 0 || end == rest.c_str() || *end != '-') continue;
    if (::kill(static_cast<pid_t>(pid), 0) == -1 && errno == ESRCH) stale.push_back(entry);
  }
  ::closedir(d);
  for (const auto& s : stale) ::unlink((dir / s).c_str());
}

void write_all(int fd, std::string_view content, const fs::path& target) {
  const char* p = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(target, "cannot write", errno);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

void fsync_directory(const fs::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // the rename is done; durability of the entry is best effort here
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

void write_file_atomically(const fs::path& target, std::string_view content) {
  const fs::path dir = target.parent_path();
  const std::string name = target.filename().string();
  if (name.empty() || name == "." || name == "..") throw InputError(target.string(), "", "not a file name");
  remove_stale_temps(dir, name);

  std::string temp = (dir / (temp_prefix(name) + "XXXXXX")).string();
  const int fd = ::mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) fail(target, "cannot write", errno);
  try {
    write_all(fd, content, target);
    // mkostemp creates 0600; a report is for reading by others too. (Reading the umask
    // would mean setting it, which races with other threads creating files.)
    if (::fchmod(fd, 0644) != 0) fail(target, "cannot write", errno);
    if (::fsync(fd) != 0) fail(target, "cannot write", errno);
  } catch (...) {
    ::close(fd);
    ::unlink(temp.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    fail(target, "cannot write", err);
  }
  if (::rename(temp.c_str(), target.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    fail(target, "cannot replace", err);
  }
  fsync_directory(dir);
}

void prepare_report_dir(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    throw InputError(dir.string(), "", "not a directory (--report names a directory)");
  fs::create_directories(dir, ec);
  if (ec) throw InputError(dir.string(), "", "cannot create the report directory: " + ec.message());
  if (!fs::is_directory(dir, ec)) throw InputError(dir.string(), "", "not a directory");
  if (::access(dir.c_str(), W_OK) != 0)
    throw InputError(dir.string(), "", std::string("cannot write into the report directory: ") + std::strerror(errno));
}

WrittenReport write_report(const fs::path& dir, const Report& report, const WriteOptions& options) {
  prepare_report_dir(dir);

  WrittenReport out{dir / "report.json", dir / "report.md", dir / "report.html", dir / "junit.xml"};
  // Render everything first: a renderer failing must not leave a half-replaced set.
  const std::string json = render_json(report);
  const std::string md = render_markdown(report.document, options.markdown);
  const std::string html = render_html(report.document, options.html);
  const std::string junit = render_junit(report.document);
  // The data first: if the run is killed between files, report.json is the newest.
  write_file_atomically(out.json, json);
  write_file_atomically(out.markdown, md);
  write_file_atomically(out.html, html);
  write_file_atomically(out.junit, junit);
  return out;
}

}  // namespace gradcheck::reports
