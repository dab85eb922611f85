// The table of docs/bad-inputs.md through the built `gradcheck` binary: every
// row's files are written (tests/bad_inputs.hpp), the row's command is run as
// the page writes it, and the test holds the binary to the page.
// - An input error (exit code 2: cases, IDX files, --net): exactly one line on
//   stderr, `gradcheck: ` and the row's message; nothing on stdout; no file
//   written or changed. With `--report DIR`, an old report in DIR is left byte
//   for byte as it was (an input error never replaces a report with nothing).
// - A reply file that cannot be read (exit code 1, `verify`): the
//   implementation's failure, `DIVERGES: the reply is malformed: ` and the
//   row's message on stdout, nothing on stderr; with `--report DIR` the old
//   report is replaced whole by one that records the reason.
// engine/tests/bad_inputs_test.cpp checks the same rows against the library readers.
#include "../../tests/bad_inputs.hpp"
#include "run_gradcheck.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using gradcheck::bad_inputs::Row;
using namespace gradcheck::testing;  // run_gradcheck.hpp

std::vector<Row> page_rows() {
  try {
    return gradcheck::bad_inputs::rows_of_the_page();
  } catch (const std::exception& e) {
    return {Row{"page-unreadable", {}, e.what(), -1}};  // fails in its test rather than at load time
  }
}

// Every regular file under `dir` with its size and, below 64 KiB, its bytes:
// what an input error must leave untouched.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const std::string name = fs::relative(e.path(), dir).string();
    if (e.is_directory()) {
      files[name + "/"] = "";
      continue;
    }
    const auto size = e.file_size();
    files[name] = std::to_string(size) + ":" + (size < 65536 ? read_text(e.path()) : std::string("(large)"));
  }
  return files;
}

// The page's reply rows: `gradcheck verify CASE REPLY` with a reply that cannot be read.
bool is_malformed_reply(const Row& row) {
  return !row.args.empty() && row.args.front() == "verify";
}

class BadInputCli : public ::testing::TestWithParam<Row> {};

TEST_P(BadInputCli, GradcheckRefusesItWithTheMessageOnThePageAndWritesNothing) {
  const Row& row = GetParam();
  ASSERT_NE(row.id, "page-unreadable") << row.message;
  ScopedTempDir dir("bad-" + row.id);
  gradcheck::bad_inputs::write_inputs(row.id, dir.path);
  const auto before = snapshot(dir.path);
  ASSERT_FALSE(before.empty());

  const auto r = run_gradcheck(row.args, dir.path);
  EXPECT_EQ(r.exit_code, row.exit_code) << r.err << r.out;
  if (is_malformed_reply(row)) {
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(r.out, "DIVERGES: the reply is malformed: " + row.message + "\n");
  } else {
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.err, "gradcheck: " + row.message + "\n");
    EXPECT_EQ(r.out, "");
  }
  EXPECT_EQ(snapshot(dir.path), before) << "the command wrote or changed a file";
}

TEST_P(BadInputCli, AnOldReportInTheReportDirectoryIsLeftAsItWas) {
  const Row& row = GetParam();
  ASSERT_NE(row.id, "page-unreadable") << row.message;
  ScopedTempDir dir("bad-" + row.id);
  gradcheck::bad_inputs::write_inputs(row.id, dir.path);
  const fs::path report = dir.path / "report";
  fs::create_directories(report);
  write_text(report / "report.json", "{\"old\": \"report of an earlier run\"}\n");
  write_text(report / "report.md", "# the old report\n");
  write_text(report / "junit.xml", "<testsuites/>\n");
  const auto before = snapshot(dir.path);

  std::vector<std::string> args = row.args;
  args.insert(args.end(), {"--report", "report"});
  const auto r = run_gradcheck(args, dir.path);
  EXPECT_EQ(r.exit_code, row.exit_code) << r.err << r.out;
  if (is_malformed_reply(row)) {
    // A result: the new report replaces the old one whole, and says why.
    const auto j = nlohmann::json::parse(read_text(report / "report.json"));
    EXPECT_EQ(j.at("status"), "fail");
    EXPECT_EQ(j.at("results").at(0).at("malformed"), row.message);
    EXPECT_NE(read_text(report / "report.md").find("malformed"), std::string::npos);
    for (const auto& e : fs::directory_iterator(report))  // no temporary file left beside them
      EXPECT_TRUE(e.path().filename() == "report.json" || e.path().filename() == "report.md" ||
                  e.path().filename() == "report.html" || e.path().filename() == "junit.xml")
          << e.path();
    return;
  }
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "gradcheck: " + row.message + "\n");
  EXPECT_EQ(read_text(report / "report.json"), "{\"old\": \"report of an earlier run\"}\n");
  EXPECT_EQ(snapshot(dir.path), before) << "a report file was written, replaced or left half-written";
}

INSTANTIATE_TEST_SUITE_P(Page, BadInputCli, ::testing::ValuesIn(page_rows()), [](const auto& info) {
  std::string name = info.param.id;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
});

// The three tables (cases, replies, IDX) are all here: a page that lost its
// rows, or a parser that stopped finding them, would test nothing.
TEST(BadInputCliPage, RunsEveryRowOfEveryTable) {
  const auto rows = page_rows();
  std::map<std::string, int> commands;
  for (const Row& r : rows) ++commands[r.args.empty() ? "" : r.args.front()];
  EXPECT_EQ(rows.size(), 28u);
  EXPECT_EQ(commands["check"], 17);
  EXPECT_EQ(commands["verify"], 3);
  EXPECT_EQ(commands["train"], 8);
  for (const Row& r : rows) EXPECT_EQ(r.exit_code, is_malformed_reply(r) ? 1 : 2) << r.id;
}

// The page's table of misbehaving implementations names its tests; each must
// exist (TEST or TEST_P of that suite and name in checks/probe/tests or cli/tests),
// so the table cannot point at a test that was renamed or never written.
TEST(BadInputCliPage, EveryTestTheMisbehavingTableNamesExists) {
  std::string sources;
  for (const char* dir : {"checks/probe/tests", "cli/tests"})
    for (const auto& e : fs::directory_iterator(fs::path(GRADCHECK_SOURCE_DIR) / dir))
      if (e.path().extension() == ".cpp") sources += read_text(e.path());
  const std::string page = read_text(gradcheck::bad_inputs::page());
  const auto begin = page.find("## The implementation under test misbehaving");
  ASSERT_NE(begin, std::string::npos);
  const std::string section = page.substr(begin, page.find("\n## ", begin + 1) - begin);
  int named = 0;
  for (std::size_t at = 0; (at = section.find('`', at)) != std::string::npos;) {
    const auto end = section.find('`', at + 1);
    ASSERT_NE(end, std::string::npos);
    std::string code = section.substr(at + 1, end - at - 1);
    at = end + 1;
    code = code.substr(0, code.find('/'));  // Misbehaving.Name/crash: the parameter is not in the TEST_P line
    const auto dot = code.find('.');
    if (dot == std::string::npos || code.find_first_of(" (:-") != std::string::npos || code.find(".cpp") != std::string::npos ||
        code.find(".hpp") != std::string::npos || code.find(".json") != std::string::npos)
      continue;
    const std::string suite = code.substr(0, dot), name = code.substr(dot + 1);
    if (suite.empty() || name.empty() || !std::isupper(static_cast<unsigned char>(suite[0]))) continue;
    ++named;
    bool found = false;
    for (const char* macro : {"TEST(", "TEST_P(", "TEST_F("})
      found = found || sources.find(macro + suite + ", " + name + ")") != std::string::npos;
    EXPECT_TRUE(found) << "docs/bad-inputs.md names " << code << ", which no test defines";
  }
  EXPECT_GE(named, 20);
}

}  // namespace
