#pragma once
// Files for the report tests that write to disk: a fresh temporary directory that
// goes away with everything in it, and a file's bytes read back.
//
//   test::TempDir dir;                        // /tmp/gradcheck-reports-XXXXXX
//   write_report(dir.path() / "out", report);
//   EXPECT_EQ(test::slurp(dir.path() / "out" / "report.md"), render_markdown(report.document));

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>

#include <stdlib.h>

namespace gradcheck::reports::test {

// A fresh directory <system temp>/<prefix>-XXXXXX (mkdtemp), removed on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "gradcheck-reports") {
    std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The whole file at `p`, byte for byte ("" when it cannot be read).
inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

}  // namespace gradcheck::reports::test
