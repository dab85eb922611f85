// `gradcheck fd` end to end on examples/python/fd_dense.py (docs/fd.md): exit
// codes, the verdict line, one line for a program that breaks the protocol,
// report.json's fields and the options against the documentation.
#include "run_gradcheck.hpp"

#include "../../tests/documented_fields.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace gradcheck::testing;

const std::string dense = std::string(GRADCHECK_SOURCE_DIR) + "/examples/python/fd_dense.py";

std::vector<std::string> fd_args(const std::vector<std::string>& options, const std::vector<std::string>& example_args) {
  std::vector<std::string> a{"fd"};
  a.insert(a.end(), options.begin(), options.end());
  a.insert(a.end(), {"--", "python3", dense});
  a.insert(a.end(), example_args.begin(), example_args.end());
  return a;
}

TEST(FdCli, ACorrectProgramAgreesWithExitZero) {
  const RunResult r = run_gradcheck(fd_args({}, {}));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(r.has_line_starting("parameters: 4 tensors, 26 entries; loss 0.522932")) << r.out;
  EXPECT_EQ(r.lines().back(), "AGREE");
  EXPECT_EQ(r.err, "");
}

TEST(FdCli, ASignErrorDivergesWithExitOneAndNamesTheSignature) {
  const RunResult r = run_gradcheck(fd_args({}, {"--bug", "sign"}));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(r.lines().back(), "DIVERGES: 26 entries disagree");
  EXPECT_TRUE(r.contains("  - sign-flip: every tensor's gradient is −1 × the finite differences")) << r.out;
}

TEST(FdCli, OneWrongEntryIsTheWorstEntryWithItsErrorBar) {
  const RunResult r = run_gradcheck(fd_args({}, {"--bug", "one-entry"}));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(r.has_line_starting("  W1[2][1]: disagree: analytic 0.0878647, finite difference 0.0869947 ± ")) << r.out;
  EXPECT_TRUE(r.contains("(relative error 0.01)")) << r.out;
}

TEST(FdCli, AReluTieIsInconclusiveAndFailsOnlyWithStrict) {
  const RunResult r = run_gradcheck(fd_args({}, {"--tie"}));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.lines().back(), "AGREE (4 inconclusive at a kink)");
  const RunResult strict = run_gradcheck(fd_args({"--strict"}, {"--tie"}));
  EXPECT_EQ(strict.exit_code, 1) << strict.out;
}

TEST(FdCli, AProgramThatBreaksTheProtocolIsOneLineNamingTheRequestAndExitTwo) {
  const RunResult r = run_gradcheck(fd_args({}, {"--misbehave", "count"}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "gradcheck: fd: reply to request 3 (loss, 20 points): losses: 1 values, expected 20 (one per point)\n");
  const RunResult gone = run_gradcheck({"fd", "--", "/nonexistent/fd-program"});
  EXPECT_EQ(gone.exit_code, 2);
  EXPECT_EQ(gone.lines().size(), 0u);
}

// The hang comes at the first loss request, after describe and gradient were
// answered within the start-up allowance: the 2 s timeout never races Python's start.
TEST(FdCli, AProgramThatHangsIsKilledAtTheTimeoutWithOneLine) {
  const auto t0 = std::chrono::steady_clock::now();
  const RunResult r = run_gradcheck(fd_args({"--timeout", "2"}, {"--misbehave", "hang"}));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(90));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "gradcheck: fd: request 3 (loss, 20 points): no reply within 2000 ms; killed\n");
}

TEST(FdCli, SigtermDuringARunKillsTheProgramAndWritesTheReportSayingSo) {
  ScopedTempDir t("fd-sigterm");
  const pid_t gc = start_gradcheck({"fd", "--report", "report", "--", "/bin/sh", "-c",
                                    "tee sent.jsonl | python3 '" + dense + "' --misbehave hang"},
                                   t.path);
  ASSERT_TRUE(wait_for_lines(t.path / "sent.jsonl", 3));  // the loss request it hangs on
  ASSERT_EQ(::kill(gc, SIGTERM), 0);
  const auto t0 = std::chrono::steady_clock::now();
  const int code = wait_exit(gc);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(30));  // not the 60 s timeout
  const std::string out = read_text(t.path / "stdout.txt");
  EXPECT_EQ(code, 143) << out << read_text(t.path / "stderr.txt");
  EXPECT_NE(out.find("INTERRUPTED: the run was cut short; no entry is reported as decided\n"), std::string::npos) << out;
  const auto j = nlohmann::json::parse(read_text(t.path / "report" / "report.json"));
  EXPECT_EQ(j.at("interrupted_by"), "SIGTERM");
  EXPECT_EQ(j.at("results").at(0).at("interrupted"), true);
}

TEST(FdCli, TheReportHoldsEveryDocumentedFieldAndNoOther) {
  ScopedTempDir t("fd-report");
  const RunResult r = run_gradcheck(fd_args({"--format", "json", "--report", (t.path / "out").string()}, {"--bug", "zero-b1"}));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.at("results").size(), 1u);
  const auto& fd = j["results"][0];
  std::set<std::string> keys;
  for (auto it = fd.begin(); it != fd.end(); ++it) keys.insert(it.key());
  EXPECT_EQ(keys, (std::set<std::string>{"type", "mode", "command", "parameters", "precision", "gradient_loss", "noise", "tensors",
                                         "worst", "signatures", "evaluations", "requests", "elapsed_seconds",
                                         "interrupted", "passed", "passed_strict"}));
  EXPECT_EQ(keys, documented_fields("docs/fd.md", "## report.json"));
  EXPECT_EQ(fd["signatures"][0]["kind"], "tensor-zero");
  EXPECT_EQ(fd["tensors"][1]["disagree"], 4);
  EXPECT_EQ(j.at("status"), "fail");
  for (const char* f : {"report.json", "report.md", "report.html", "junit.xml"}) EXPECT_TRUE(fs::exists(t.path / "out" / f)) << f;
  EXPECT_NE(read_text(t.path / "out" / "junit.xml").find("name=\"b1\""), std::string::npos);
}

TEST(FdCli, FastModeFindsTheOneWrongEntryByBisection) {
  const RunResult r = run_gradcheck(fd_args({"--mode", "fast"}, {"--bug", "one-entry"}));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(r.has_line_starting("fast mode: 8 random directions per tensor")) << r.out;
  EXPECT_TRUE(r.has_line_starting("  W1[2][1]: disagree: analytic 0.0878647, finite difference 0.0869947 ± ")) << r.out;
  EXPECT_EQ(r.lines().back(), "DIVERGES: 1 entry disagrees");
  EXPECT_EQ(run_gradcheck(fd_args({"--mode", "fast"}, {})).exit_code, 0);
}

TEST(FdCli, HelpListsEveryDocumentedOption) {
  const RunResult r = run_gradcheck({"fd", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const auto& row : documented_rows("docs/fd.md", "## Options")) {
    const std::string option = row.at(0).substr(0, row.at(0).find_first_of(" ,"));
    EXPECT_TRUE(r.contains(option)) << option << " is documented but not in --help";
  }
}

}  // namespace
