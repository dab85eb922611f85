// `gradcheck verify` and `gradcheck check` as a user runs them: exit codes and
// the lines they print.
#include "run_gradcheck.hpp"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <cctype>
#include <ostream>
#include <string>

namespace gradcheck::testing {
namespace {

const std::string fixtures = std::string(GRADCHECK_SOURCE_DIR) + "/fixtures/321/";
const std::string case_321 = fixtures + "case.json";

TEST(VerifyCli, TheAskersGradientsFailWithTheFindingsOfTheFixture) {
  const auto r = run_gradcheck({"verify", case_321, fixtures + "asker-reply.json"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  ASSERT_FALSE(r.lines().empty());
  // The verdict first, then forward, origin, chain, signatures, worst entries, update.
  EXPECT_EQ(r.lines()[0].rfind("DIVERGES:", 0), 0u) << r.out;
  EXPECT_NE(r.lines()[0].find("output error term"), std::string::npos) << r.out;
  for (const char* line : {"forward: output agrees: 0.78900331", "chain consistency: CONSISTENT"})
    EXPECT_TRUE(r.has_line_starting(line)) << line << "\n" << r.out;
  for (const char* text : {
           "origin layer: layers[1] (the output layer)",
           "layers[1].biases[0] = 0.11470326 where the reference is -0.0351261147 (opposite sign, "
           "3.27× the magnitude)",
           "the backward steps are right, the fault is in the output error term",
           "output-error-term: ",
           "target 0.1",
           "with your gradients:   output 0.78900331 → 0.74862305, loss 0.0222598 → 0.0315952 "
           "(the loss RISES)",
           "with the correct ones: output 0.78900331 → 0.80043469",
       })
    EXPECT_TRUE(r.contains(text)) << text << "\n" << r.out;
  const auto pos = [&](const std::string& s) { return r.out.find(s); };
  EXPECT_LT(pos("forward:"), pos("origin layer:"));
  EXPECT_LT(pos("origin layer:"), pos("chain consistency:"));
  EXPECT_LT(pos("chain consistency:"), pos("signatures:"));
  EXPECT_LT(pos("signatures:"), pos("worst entries:"));
  EXPECT_LT(pos("worst entries:"), pos("update effect"));
}

TEST(VerifyCli, ACorrectReplyAgreesWithExitCodeZero) {
  const auto r = run_gradcheck({"verify", case_321, fixtures + "correct-reply.json"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(r.has_line_starting("AGREE: ")) << r.out;
  EXPECT_TRUE(r.has_line_starting("forward: loss agrees")) << r.out;
}

TEST(VerifyCli, ADeclinedReplyIsDeclinedNotAFailure) {
  const auto dir = temp_dir("declined");
  write_text(dir / "reply.json", R"({"error": "sigmoid outputs are not supported"})");
  const auto r = run_gradcheck({"verify", case_321, (dir / "reply.json").string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(r.has_line_starting("DECLINED: ")) << r.out;
  EXPECT_TRUE(r.contains("sigmoid outputs are not supported")) << r.out;
}

TEST(VerifyCli, AMalformedReplyIsAFailingImplementationExitCodeOne) {
  const auto dir = temp_dir("malformed");
  write_text(dir / "reply.json", R"({"layers": [{"weights": [[0.1, 0.2)");
  const auto r = run_gradcheck({"verify", case_321, (dir / "reply.json").string()});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(r.has_line_starting("DIVERGES: the reply is malformed: ")) << r.out;
}

TEST(VerifyCli, BareNaNTokensAreReportedAsNonFinite) {
  const auto dir = temp_dir("nan");
  write_text(dir / "reply.json", R"({"layers": [
    {"weights": [[0.0, NaN, -0.004101587823812827], [0.0, -0.0018771637035869947, -0.0037543274071739894]],
     "biases": [-0.004101587823812827, -0.0037543274071739894]},
    {"weights": [[-0.022070306505962322, -0.025850902329430134]], "biases": [-0.03512611471278415]}]})");
  const auto r = run_gradcheck({"verify", case_321, (dir / "reply.json").string()});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(r.contains("non-finite: 1 gradient entry is NaN or infinite (layers[0].weights[0][1] = NaN)")) << r.out;
  EXPECT_TRUE(r.contains("non-finite value (bare NaN/Infinity or null")) << r.out;
}

// The correct gradients rounded to float32 (printed with 9 digits).
const char* float32_reply = R"({"layers": [
    {"weights": [[0.0, -0.00205079396, -0.00410158793], [0.0, -0.00187716365, -0.00375432731]],
     "biases": [-0.00410158793, -0.00375432731]},
    {"weights": [[-0.0220703073, -0.0258509032]], "biases": [-0.0351261161]}],
    "outputs": [[0.789003313]]})";

TEST(VerifyCli, Float32LevelDifferencesAreANoteThatFailsOnlyWhenStrict) {
  const auto dir = temp_dir("float32");
  write_text(dir / "reply.json", float32_reply);
  const auto r = run_gradcheck({"verify", case_321, (dir / "reply.json").string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(r.has_line_starting("AGREE WITH NOTES: ")) << r.out;
  EXPECT_TRUE(r.contains("precision (note): ")) << r.out;
  EXPECT_TRUE(r.contains("within float32 rounding (float32, inferred: float64 does not explain the differences, "
                         "float32 does)"))
      << r.out;
  const auto strict = run_gradcheck({"verify", "--strict", case_321, (dir / "reply.json").string()});
  EXPECT_EQ(strict.exit_code, 1) << strict.out;
}

TEST(VerifyCli, ABadCaseIsAnInputErrorOnOneLineWithExitCodeTwo) {
  const auto dir = temp_dir("badcase");
  write_text(dir / "case.json", R"({"network": {"layers": [
      {"activation": "sigmoid", "weights": [[0.1, 0.15, 0.2], [0.3, 0.35, 0.4]], "biases": [0.25, 0.45]},
      {"activation": "sigmoid", "weights": [[0.5, 0.55, 0.1]], "biases": [0.6]}],
    "loss": "quadratic"}, "inputs": [[0.0, 0.5, 1.0]], "targets": [[1.0]]})");
  write_text(dir / "reply.json", R"({"error": "never read"})");
  const auto r = run_gradcheck({"verify", "case.json", "reply.json"}, dir);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_EQ(r.err, "gradcheck: case.json: network.layers[1].weights: row 0 has 3 entries, expected 2\n");
  EXPECT_EQ(r.out, "");
}

TEST(VerifyCli, AMissingReplyFileIsAUsageErrorWithExitCodeTwo) {
  const auto r = run_gradcheck({"verify", case_321, "/nonexistent/reply.json"});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_EQ(r.err.rfind("gradcheck: /nonexistent/reply.json: cannot open", 0), 0u) << r.err;
}

TEST(VerifyCli, MissingArgumentsAreAUsageError) {
  const auto r = run_gradcheck({"verify", case_321});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("REPLY"), std::string::npos) << r.err;
}

TEST(VerifyCli, HelpDocumentsEveryOption) {
  const auto r = run_gradcheck({"verify", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* option : {"CASE", "REPLY", "--report", "--format", "--strict", "--learning-rate",
                             "--match-tolerance", "--precision", "Exit code"})
    EXPECT_NE(r.out.find(option), std::string::npos) << option << "\n" << r.out;
}

TEST(VerifyCli, JsonFormatPrintsTheReportDocument) {
  const auto r = run_gradcheck({"verify", "--format", "json", case_321, fixtures + "asker-reply.json"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc.at("status"), "fail");
  const auto& v = doc.at("results").at(0);
  EXPECT_EQ(v.at("type"), "verify");
  EXPECT_EQ(v.at("status"), "diverge");
  EXPECT_EQ(v.at("fault"), "output-error-term");
  EXPECT_EQ(v.at("origin_layer"), 1);
  EXPECT_EQ(v.at("chain").at("status"), "consistent");
  EXPECT_NEAR(v.at("update").at("loss_after_claimed").get<double>(), 0.0315952, 5e-8);
}

TEST(VerifyCli, ReportDirectoryGetsAllFourFiles) {
  const auto dir = temp_dir("report");
  const auto r = run_gradcheck({"verify", "--report", (dir / "out").string(), case_321, fixtures + "asker-reply.json"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  for (const char* f : {"report.json", "report.md", "report.html", "junit.xml"})
    EXPECT_TRUE(std::filesystem::exists(dir / "out" / f)) << f;
  const std::string md = read_text(dir / "out" / "report.md");
  EXPECT_NE(md.find("output error term"), std::string::npos) << md;
  EXPECT_NE(md.find("0.11470326"), std::string::npos) << md;
  const auto doc = nlohmann::json::parse(read_text(dir / "out" / "report.json"));
  EXPECT_EQ(doc.at("results").at(0).at("type"), "verify");
  std::filesystem::remove_all(dir);
}

// examples/replies/: every reply of its README gives the verdict, signature and
// exit codes the README and docs/verify.md say.
struct ExampleReply {
  const char* case_file;  // in examples/replies/, or "" for fixtures/321/case.json
  const char* reply;
  const char* first_line;
  const char* signature;  // "" for none
  int exit_code, strict_exit_code;
};

void PrintTo(const ExampleReply& e, std::ostream* os) { *os << e.reply; }

class VerifyCliExampleReply : public ::testing::TestWithParam<ExampleReply> {};

TEST_P(VerifyCliExampleReply, GivesItsDocumentedVerdictAndExitCodes) {
  const ExampleReply& e = GetParam();
  const std::string replies = std::string(GRADCHECK_SOURCE_DIR) + "/examples/replies/";
  const std::string c = *e.case_file ? replies + e.case_file : case_321;
  const auto r = run_gradcheck({"verify", c, replies + e.reply});
  EXPECT_EQ(r.exit_code, e.exit_code) << r.out << r.err;
  ASSERT_FALSE(r.lines().empty()) << r.err;
  EXPECT_EQ(r.lines()[0].rfind(e.first_line, 0), 0u) << r.out;
  if (*e.signature) {
    EXPECT_TRUE(r.contains(std::string("  - ") + e.signature)) << r.out;
  } else {
    EXPECT_FALSE(r.contains("signatures:")) << r.out;
  }
  const auto strict = run_gradcheck({"verify", "--strict", c, replies + e.reply});
  EXPECT_EQ(strict.exit_code, e.strict_exit_code) << strict.out << strict.err;
}

INSTANTIATE_TEST_SUITE_P(
    TheExampleReplies, VerifyCliExampleReply,
    ::testing::Values(
        ExampleReply{"", "321-float32.json", "AGREE WITH NOTES: ", "precision (note): ", 0, 1},
        ExampleReply{"", "321-nan.json", "DIVERGES: ", "non-finite: ", 1, 1},
        ExampleReply{"", "321-transposed.json", "DIVERGES: ", "shape-mismatch: ", 1, 1},
        ExampleReply{"", "321-no-biases.json", "DIVERGES: ", "bias-missing: ", 1, 1},
        ExampleReply{"", "321-declined.json", "DECLINED: ", "", 0, 0},
        ExampleReply{"kink-case.json", "kink-relu0-is-1.json", "AGREE WITH NOTES: ", "kink-convention (note): ", 0, 1},
        ExampleReply{"kink-case.json", "kink-correct.json", "AGREE: ", "", 0, 0},
        ExampleReply{"pool-tie-case.json", "pool-tie-last-maximum.json", "AGREE WITH NOTES: ",
                     "kink-convention (note): 2 max-pool windows hold tied maxima", 0, 1},
        ExampleReply{"softmax-bce-case.json", "softmax-bce-float32.json", "AGREE WITH NOTES: ", "precision (note): ", 0,
                     1},
        ExampleReply{"saturated-tanh-case.json", "saturated-tanh-float32.json", "AGREE WITH NOTES: ",
                     "precision (warning): ", 0, 1},
        ExampleReply{"../cases/conv-small.json", "conv-small-correct.json", "AGREE: ", "", 0, 0},
        ExampleReply{"../cases/conv-small.json", "conv-small-max-pool-to-all.json", "DIVERGES: ",
                     "max-pool-routing: a max-pool window's gradient is sent to every entry", 1, 1},
        ExampleReply{"float16-sign-case.json", "float16-sign.json", "DIVERGES: ",
                     "sign-flip: every tensor is −1 × the reference", 1, 1}),
    [](const ::testing::TestParamInfo<ExampleReply>& i) {
      std::string n = i.param.reply;
      n = n.substr(0, n.find('.'));
      for (char& ch : n)
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return "reply_" + n;
    });

// docs/verify.md#precision quotes these two runs.
TEST(VerifyCli, AFloat32NoteNamesTheOperationThatLostTheDigits) {
  const std::string replies = std::string(GRADCHECK_SOURCE_DIR) + "/examples/replies/";
  const auto r = run_gradcheck({"verify", replies + "softmax-bce-case.json", replies + "softmax-bce-float32.json"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(r.contains("  - precision (note): ln(1 − a) with a = 0.9999833 in float32 (layer 0 unit 1 sample 0) "
                         "keeps 1 significant digit: 1 value differs by up to 0.00073 relative (float32, as the "
                         "reply states) — precision, not logic\n"))
      << r.out;
  EXPECT_TRUE(r.contains("      fix: compute ln(1 − a) from z: log-sum-exp of the other classes")) << r.out;
  EXPECT_FALSE(r.contains("float64")) << r.out;
}

TEST(VerifyCli, APrecisionWarningComesFirstWithItsFix) {
  const std::string replies = std::string(GRADCHECK_SOURCE_DIR) + "/examples/replies/";
  const auto r =
      run_gradcheck({"verify", replies + "saturated-tanh-case.json", replies + "saturated-tanh-float32.json"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  const std::string first = "signatures:\n  - precision (warning): precision destroys 6 gradient values (relative "
                            "error up to 1): tanh'(z) as 1 − a² with a = 0.99999999 in float32 (layer 0 unit 0 "
                            "sample 0) keeps no significant digits";
  EXPECT_TRUE(r.contains(first)) << r.out;
  EXPECT_TRUE(r.contains("      fix: compute tanh'(z) from z: 4e^{−2|z|} / (1 + e^{−2|z|})²\n")) << r.out;
  const auto json = run_gradcheck({"verify", "--format", "json", replies + "saturated-tanh-case.json",
                                   replies + "saturated-tanh-float32.json"});
  EXPECT_EQ(json.exit_code, 0) << json.out;
  EXPECT_TRUE(json.contains("\"warning\"")) << json.out;
}

TEST(VerifyCli, TheKinkNoteCarriesItsEvidence) {
  const std::string replies = std::string(GRADCHECK_SOURCE_DIR) + "/examples/replies/";
  const auto r = run_gradcheck({"verify", replies + "kink-case.json", replies + "kink-relu0-is-1.json"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(r.contains("exactly 0 (first: layer 0 unit 1 sample 0)")) << r.out;
  EXPECT_TRUE(r.contains("      pre-activations exactly at 0: 1\n")) << r.out;
  EXPECT_TRUE(r.contains("      derivative at 0 the reply matches: 1\n")) << r.out;
}

// docs/verify.md#precision: a float16 program with its sign flipped. Its loss
// differs from the 50-digit one by float16's rounding of the targets: the
// forward pass agrees (text, report.json, the JUnit forward testcase), and the
// sign flip is named although the weight gradient underflowed to 0.
TEST(VerifyCli, AFloat16SignFlipIsNamedWithItsLossWithinFloat16sRounding) {
  const std::string replies = std::string(GRADCHECK_SOURCE_DIR) + "/examples/replies/";
  const auto dir = temp_dir("float16-sign");
  const auto r = run_gradcheck(
      {"verify", "--report", dir.string(), replies + "float16-sign-case.json", replies + "float16-sign.json"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(r.contains("forward: loss agrees within float16's rounding: 0.256348 (reference 0.25625, relative "
                         "error 0.00038)\n"))
      << r.out;
  EXPECT_TRUE(r.contains("cause: every tensor is −1 × the reference")) << r.out;
  EXPECT_TRUE(r.contains("within float16's rounding): the sign is flipped")) << r.out;
  const std::string report = read_text(dir / "report.json");
  EXPECT_NE(report.find("\"within_precision\": \"float16\""), std::string::npos) << report.substr(0, 2000);
  const std::string junit = read_text(dir / "junit.xml");
  const auto forward = junit.find("name=\"forward\"");
  ASSERT_NE(forward, std::string::npos) << junit;
  EXPECT_EQ(junit.substr(forward, junit.find("</testcase>", forward) - forward).find("<failure"), std::string::npos)
      << junit;
  std::filesystem::remove_all(dir);
}

TEST(VerifyCli, ReportFilesHaveOneJunitTestcasePerParameterTensorAndTheChartsInTheHtml) {
  const auto dir = temp_dir("report-files");
  const auto r = run_gradcheck({"verify", "--report", dir.string(), case_321, fixtures + "asker-reply.json"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const std::string junit = read_text(dir / "junit.xml");
  for (const char* t : {"layers[0].weights", "layers[0].biases", "layers[1].weights", "layers[1].biases"})
    EXPECT_NE(junit.find(std::string("name=\"") + t + "\""), std::string::npos) << t << "\n" << junit;
  std::size_t testcases = 0;
  for (auto p = junit.find("<testcase "); p != std::string::npos; p = junit.find("<testcase ", p + 1)) ++testcases;
  EXPECT_EQ(testcases, 5u) << junit;  // the forward pass, then the four parameter tensors
  std::size_t failures = 0;
  for (auto p = junit.find("<failure "); p != std::string::npos; p = junit.find("<failure ", p + 1)) ++failures;
  EXPECT_EQ(failures, 4u) << junit;  // the output agrees; every tensor disagrees
  const std::string html = read_text(dir / "report.html");
  EXPECT_NE(html.find("<svg class=\"chart bar-chart\""), std::string::npos);
  std::size_t heatmaps = 0;
  for (auto p = html.find("<svg class=\"chart heatmap\""); p != std::string::npos;
       p = html.find("<svg class=\"chart heatmap\"", p + 1))
    ++heatmaps;
  EXPECT_EQ(heatmaps, 2u);  // one per weight matrix
  EXPECT_EQ(html.find("http://"), std::string::npos);  // self-contained
  EXPECT_EQ(html.find("https://"), std::string::npos);
  const std::string md = read_text(dir / "report.md");
  EXPECT_LT(md.size(), 65536u);  // a pull-request comment
  std::filesystem::remove_all(dir);
}

TEST(VerifyCli, StrictNotesWriteAFailingReport) {
  const auto dir = temp_dir("strict-report");
  const std::string replies = std::string(GRADCHECK_SOURCE_DIR) + "/examples/replies/";
  auto r = run_gradcheck({"verify", "--report", dir.string(), case_321, replies + "321-float32.json"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(nlohmann::json::parse(read_text(dir / "report.json")).at("status"), "notes");
  r = run_gradcheck({"verify", "--strict", "--report", dir.string(), case_321, replies + "321-float32.json"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_EQ(nlohmann::json::parse(read_text(dir / "report.json")).at("status"), "fail");
  std::filesystem::remove_all(dir);
}

TEST(CheckCli, ZeroTolerancesMakeCentralDifferencesDisagreeWithExitCodeOne) {
  // Central differences carry truncation and round-off error: with atol = rtol = 0
  // the engine's exact gradients cannot all agree with them.
  const auto r = run_gradcheck({"check", "--method", "central", "--atol", "0", "--rtol", "0", case_321});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(r.has_line_starting("DIVERGES: ")) << r.out;
}

TEST(CheckCli, ReportHasOneJunitTestcasePerParameterTensor) {
  const auto dir = temp_dir("check-report");
  const auto r = run_gradcheck({"check", "--report", dir.string(), case_321});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string junit = read_text(dir / "junit.xml");
  std::size_t testcases = 0;
  for (auto p = junit.find("<testcase "); p != std::string::npos; p = junit.find("<testcase ", p + 1)) ++testcases;
  EXPECT_EQ(testcases, 4u) << junit;
  EXPECT_EQ(junit.find("<failure"), std::string::npos) << junit;
  EXPECT_EQ(nlohmann::json::parse(read_text(dir / "report.json")).at("results").at(0).at("type"), "check");
  std::filesystem::remove_all(dir);
}

TEST(CheckCli, InconclusiveEntriesAtAnExactKinkPassUnlessStrict) {
  const std::string kink = std::string(GRADCHECK_SOURCE_DIR) + "/examples/replies/kink-case.json";
  const auto r = run_gradcheck({"check", kink});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(r.contains("13 entries: 10 agree, 0 disagree, 3 inconclusive at a kink, 0 non-finite")) << r.out;
  EXPECT_TRUE(r.has_line_starting("note: layers[0].weights[1][0]: z = 0 exactly at the kink of layer 0 unit 1")) << r.out;
  const auto strict = run_gradcheck({"check", "--strict", kink});
  EXPECT_EQ(strict.exit_code, 1) << strict.out;
}

TEST(CheckCli, TheEnginesOwnGradientsOfThe321CaseAgree) {
  const auto r = run_gradcheck({"check", case_321});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(r.has_line_starting("AGREE: ")) << r.out;
  EXPECT_TRUE(r.contains("11 entries: 11 agree, 0 disagree")) << r.out;
}

TEST(CheckCli, FastModeAndAnotherMethodRunToo) {
  const auto r = run_gradcheck({"check", "--mode", "fast", "--method", "ridders", "--seed", "7", case_321});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(r.contains("method: ridders, mode fast")) << r.out;
}

TEST(CheckCli, AnUnknownMethodIsAUsageError) {
  const auto r = run_gradcheck({"check", "--method", "guess", case_321});
  EXPECT_EQ(r.exit_code, 2);
}

// A --report that names a file, or a directory that cannot be created, is one
// line and exit 2 before any work: nothing of the check is printed.
TEST(CheckCli, ABadReportPathIsRefusedBeforeTheCheckRuns) {
  const auto dir = temp_dir("report-file");
  write_text(dir / "taken", "a file, not a directory\n");
  auto r = run_gradcheck({"check", case_321, "--report", (dir / "taken").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "gradcheck: " + (dir / "taken").string() + ": not a directory (--report names a directory)\n");
  r = run_gradcheck({"check", case_321, "--report", (dir / "taken" / "below").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("cannot create the report directory"), std::string::npos) << r.err;
  r = run_gradcheck({"verify", case_321, fixtures + "asker-reply.json", "--report", (dir / "taken").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  std::filesystem::remove_all(dir);
}

// A mistyped command names itself and the known ones (CLI11 alone would say
// "A subcommand is required").
TEST(Cli, AnUnknownCommandIsNamedWithTheKnownOnes) {
  const auto r = run_gradcheck({"fdd", "--", "python3", "x.py"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "gradcheck: unknown command 'fdd' (known: fixtures, probe, fd, check, verify, train)\n");
}

TEST(CheckCli, HelpDocumentsEveryOption) {
  const auto r = run_gradcheck({"check", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* option : {"CASE", "--method", "--mode", "--relative-step", "--seed", "--threads",
                             "--input-gradients", "--atol", "--rtol", "--report", "--format", "--strict"})
    EXPECT_NE(r.out.find(option), std::string::npos) << option << "\n" << r.out;
}

}  // namespace
}  // namespace gradcheck::testing
