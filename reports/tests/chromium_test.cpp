// The HTML report in a real browser: headless Chromium (Debian package `chromium`) loads
// it from a file, runs its script, and we read the DOM it ends with and every console
// message it logged. Skips only where /usr/bin/chromium is absent.
#include "check_results.hpp"
#include "probe_results.hpp"
#include "sample_document.hpp"
#include "temp_dir.hpp"
#include "xml_check.hpp"

#include <gradcheck/watch/watch.hpp>
#include <gradcheck/engine/init.hpp>
#include <gradcheck/reports/check_section.hpp>
#include <gradcheck/reports/probe_section.hpp>
#include <gradcheck/reports/train_section.hpp>
#include <gradcheck/reports/verify_section.hpp>
#include <gradcheck/reports/write.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace gradcheck::reports {
namespace {

namespace fs = std::filesystem;
using test::count_of;
using test::slurp;
using test::TempDir;

constexpr const char* chromium = "/usr/bin/chromium";

struct BrowserRun {
  int exit_code = -1;
  bool timed_out = false;
  std::string out;                   // --dump-dom: the DOM after the page's scripts ran
  std::vector<std::string> console;  // console messages and uncaught errors, one per line
};

// Runs Chromium on `page` in its own process group with a fresh profile; kills the group
// on timeout or when done (the browser's helper processes included).
BrowserRun run_chromium(const fs::path& page, const std::vector<std::string>& mode_args) {
  TempDir profile("gradcheck-chromium");
  const fs::path out_file = profile.path() / "stdout", err_file = profile.path() / "stderr";
  std::vector<std::string> args = {chromium,
                                   "--headless",
                                   "--no-sandbox",
                                   "--disable-gpu",
                                   "--disable-quic",
                                   "--no-first-run",
                                   "--disable-background-networking",
                                   "--disable-component-update",
                                   "--disable-sync",
                                   "--user-data-dir=" + (profile.path() / "profile").string(),
                                   "--enable-logging=stderr",
                                   "--v=0"};
  args.insert(args.end(), mode_args.begin(), mode_args.end());
  args.push_back("file://" + fs::absolute(page).string());

  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::setpgid(0, 0);
    const int out = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int null = ::open("/dev/null", O_RDONLY);
    if (out < 0 || err < 0 || null < 0) ::_exit(126);
    ::dup2(null, 0), ::dup2(out, 1), ::dup2(err, 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(chromium, argv.data());
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also from here, so that the group exists before we may kill it
  BrowserRun run;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      run.timed_out = true;
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(-pid, SIGKILL);  // helper processes still in the group, if any
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.out = slurp(out_file);
  std::istringstream err(slurp(err_file));
  for (std::string line; std::getline(err, line);)
    if (line.find("CONSOLE") != std::string::npos || line.find("Uncaught") != std::string::npos)
      run.console.push_back(line);
  return run;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

// Every test: skipped where /usr/bin/chromium is absent; `dir` is its fresh directory.
class HtmlInChromium : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access(chromium, X_OK) != 0)
      GTEST_SKIP() << chromium << " not found: install the Debian package chromium to run this test";
  }

  // Writes `report` to `dir`, loads its page with --dump-dom and returns the DOM in `dom`.
  // Fatal unless Chromium exits 0 in time; a console message, or a script that did not
  // run to its last line (data-ready="1"), fails the test without stopping it.
  // Call as ASSERT_NO_FATAL_FAILURE(load(report, dom)).
  void load(const Report& report, std::string& dom) {
    const WrittenReport w = write_report(dir.path(), report);
    const BrowserRun run = run_chromium(w.html, {"--dump-dom"});
    ASSERT_FALSE(run.timed_out);
    ASSERT_EQ(run.exit_code, 0);
    EXPECT_TRUE(run.console.empty()) << joined(run.console);
    dom = run.out;
    EXPECT_NE(dom.find("data-ready=\"1\""), std::string::npos) << dom.substr(0, 300);
  }

  TempDir dir{"gradcheck-chromium"};
};

TEST_F(HtmlInChromium, LoadsWithoutConsoleMessagesAndShowsEveryChart) {
  std::string dom;  // load() also checks that the script ran to its last line: it throws nowhere before it
  ASSERT_NO_FATAL_FAILURE(load(test::sample_report(), dom));
  // The sorting script made every header of the sortable table focusable.
  EXPECT_EQ(count_of(dom, "aria-sort=\"none\""), 5u);
  // The charts, as the browser parsed them.
  EXPECT_EQ(count_of(dom, "<svg class=\"chart bar-chart\""), 1u);
  EXPECT_EQ(count_of(dom, "<svg class=\"chart heatmap\""), 1u);
  EXPECT_EQ(count_of(dom, "<svg class=\"chart line-chart\""), 1u);
  EXPECT_EQ(count_of(dom, "class=\"bar\""), 5u);
  EXPECT_EQ(count_of(dom, "class=\"cell\""), 24u);
  EXPECT_EQ(count_of(dom, "class=\"series\""), 2u);
  EXPECT_NE(dom.find("Worst relative error per tensor"), std::string::npos);
}

TEST_F(HtmlInChromium, CheckReportShowsTheTensorChartAndOneHeatmapPerWeightMatrix) {
  Report report;
  report.document.title = "gradcheck check";
  add(report, test::compare_tensors(test::asker_321()));
  add(report, test::large_check(30, 784, 5, [](Index, Index) { return true; }), {"Gradients of [784, 30]"});
  std::string dom;
  ASSERT_NO_FATAL_FAILURE(load(report, dom));
  EXPECT_EQ(count_of(dom, "<svg class=\"chart bar-chart\""), 2u);
  EXPECT_EQ(count_of(dom, "<svg class=\"chart heatmap\""), 3u);  // 2 × 3, 1 × 2, 30 × 784 pooled to 30 × 64
  EXPECT_EQ(count_of(dom, "class=\"bar\""), 4u + 2u);
  EXPECT_EQ(count_of(dom, "class=\"bar-threshold\""), 4u + 2u);
  EXPECT_EQ(count_of(dom, "class=\"cell\""), 6u + 2u + 30u * 64u);
  EXPECT_EQ(count_of(dom, "class=\"cell\" data-verdict=\"disagree\""), 4u + 2u + 5u);
}

// A conv2d layer's weights: one heatmap of its 2 × 2 kernels, lines between the kernels.
TEST_F(HtmlInChromium, CheckReportShowsAConvLayersKernelsAsBlocksOfOneHeatmap) {
  Report report;
  report.document.title = "gradcheck check conv.json";
  add(report, test::conv_check());
  std::string dom;
  ASSERT_NO_FATAL_FAILURE(load(report, dom));
  EXPECT_EQ(count_of(dom, "<svg class=\"chart heatmap\""), 1u);
  EXPECT_EQ(count_of(dom, "class=\"cell\""), 36u);
  EXPECT_EQ(count_of(dom, "class=\"cell\" data-verdict=\"disagree\""), 1u);
  EXPECT_EQ(count_of(dom, "class=\"block-line\""), 2u);  // one between the rows of kernels, one between the columns
  EXPECT_NE(dom.find("layers[0].weights[1][1][2][2]"), std::string::npos);
}

// `gradcheck verify --report`'s page for the asker's reply to the 3-2-1 case:
// the per-tensor chart, a heatmap per weight matrix, verdict colours.
TEST_F(HtmlInChromium, VerifyReportShowsTheTensorChartAndOneHeatmapPerWeightMatrix) {
  Report report;
  report.document.title = "gradcheck verify case.json asker-reply.json";
  const VerifyResult v = verify_reply(test::case_321(), parse_reply(test::fixture_321("asker-reply.json"), "reply"));
  add(report, v, {"case.json", "asker-reply.json"});
  std::string dom;
  ASSERT_NO_FATAL_FAILURE(load(report, dom));
  EXPECT_EQ(count_of(dom, "<svg class=\"chart bar-chart\""), 1u);
  EXPECT_EQ(count_of(dom, "<svg class=\"chart heatmap\""), 2u);  // layers[0] 2 × 3, layers[1] 1 × 2
  EXPECT_EQ(count_of(dom, "class=\"bar\""), 4u);
  EXPECT_EQ(count_of(dom, "class=\"cell\""), 6u + 2u);
  // Every tensor disagrees; the zero-input column of layers[0] agrees (0 against 0).
  EXPECT_EQ(count_of(dom, "class=\"cell\" data-verdict=\"disagree\""), 4u + 2u);
  EXPECT_EQ(count_of(dom, "class=\"cell\" data-verdict=\"agree\""), 2u);
  EXPECT_NE(dom.find("output-error-term"), std::string::npos);
}

// `gradcheck probe --report`'s page: the minimal counterexample and the charts
// of its verification, and a failure's table.
TEST_F(HtmlInChromium, ProbeReportShowsTheCounterexampleAndItsCharts) {
  Report report;
  report.document.title = "gradcheck probe python3 asker.py";
  add(report, test::probe_with_counterexample());
  add(report, test::probe_with_failure());
  std::string dom;
  ASSERT_NO_FATAL_FAILURE(load(report, dom));
  EXPECT_EQ(count_of(dom, "<svg class=\"chart bar-chart\""), 1u);
  EXPECT_EQ(count_of(dom, "<svg class=\"chart heatmap\""), 2u);
  EXPECT_EQ(count_of(dom, "class=\"cell\""), 6u + 2u);
  EXPECT_NE(dom.find("Minimal counterexample (counterexample.case.json)"), std::string::npos);
  EXPECT_NE(dom.find("(minimal counterexample)"), std::string::npos);
  EXPECT_NE(dom.find("replay with --seed 7"), std::string::npos);
  EXPECT_NE(dom.find("killed by signal 6 (Aborted)"), std::string::npos);
}

// The control: the same run reports a script error, a bad SVG attribute and a fetch that
// the page's Content-Security-Policy blocks, so a clean run above means something.
TEST_F(HtmlInChromium, TheConsoleCheckCatchesErrorsAndBlockedFetches) {
  std::string html = render_html(test::sample_document());
  const std::string bad = "<img src=\"https://example.invalid/x.png\" alt=\"\"><svg><rect width=\"10/\"/></svg>"
                          "<script>null.property;</script>";
  html.insert(html.find("</body>"), bad);
  const fs::path page = dir.path() / "broken.html";
  std::ofstream(page) << html;
  const BrowserRun run = run_chromium(page, {"--dump-dom"});
  ASSERT_EQ(run.exit_code, 0);
  const std::string console = joined(run.console);
  EXPECT_NE(console.find("Uncaught TypeError"), std::string::npos) << console;
  EXPECT_NE(console.find("Content Security Policy"), std::string::npos) << console;
  EXPECT_NE(console.find("attribute width"), std::string::npos) << console;
  // Our own script, which comes before the injected markup, still ran to its end.
  EXPECT_NE(run.out.find("data-ready=\"1\""), std::string::npos);
}

// A training report (gradcheck train): a real watched run on pixel bytes read as
// signed char, tested on the right reading, so that every part is there — the
// findings, the loss, accuracy and per-layer norm curves, and the byte histogram.
TEST_F(HtmlInChromium, TrainingReportShowsItsCurvesAndTheByteHistogram) {
  Rng rng(5);
  const Index features = 16, n = 400;
  Dataset<double> misread, right;
  misread.inputs.resize(features, n);
  right.inputs.resize(features, n);
  for (Index c = 0; c < n; ++c) {
    const int label = static_cast<int>(rng.below(3));
    misread.labels.push_back(label);
    for (Index f = 0; f < features; ++f) {
      const int b = rng.uniform() < 0.4 ? 0 : std::min(255, 60 * label + static_cast<int>(rng.below(120)));
      right.inputs(f, c) = b / 255.0;
      misread.inputs(f, c) = (b > 127 ? b - 256 : b) / 255.0;
    }
  }
  right.labels = misread.labels;
  misread.targets = right.targets = one_hot(misread.labels, 3);
  auto net = make_network({features, 8, 3}, Activation::sigmoid, Activation::sigmoid, Loss::quadratic, Init::gaussian, 1);
  TrainOptions opt;
  opt.learning_rate = 3.0;
  opt.batch_size = 10;
  opt.epochs = 3;
  const auto run = watch::train_watched(net, misread, opt, &right);
  ASSERT_TRUE(run.watch.inputs && run.watch.inputs->signed_bytes);
  Report report;
  report.document.title = "gradcheck train";
  add(report, run.watch);
  std::size_t line_charts = 0;
  for (const Block& b : report.document.sections.at(0).blocks) line_charts += std::holds_alternative<LineChart>(b) ? 1 : 0;
  std::string dom;
  ASSERT_NO_FATAL_FAILURE(load(report, dom));
  // loss, accuracy, four per-layer norm charts, the byte histogram
  EXPECT_EQ(line_charts, 7u);
  EXPECT_EQ(count_of(dom, "<svg class=\"chart line-chart\""), line_charts);
  for (const char* title : {"Training loss", "Test accuracy", "Weight norm per layer", "Gradient norm per layer",
                            "Activation norm per layer", "Update/weight ratio per layer", "Values as bytes"})
    EXPECT_NE(dom.find(title), std::string::npos) << title;
  EXPECT_NE(dom.find("pixel bytes were read as signed char"), std::string::npos);
  EXPECT_GE(count_of(dom, "class=\"series\""), 3u + 1u + 4u * 2u + 1u) << "3 loss series, 1 accuracy, 2 layers × 4, 1";
}

TEST_F(HtmlInChromium, RendersAScreenshotOfTheRequestedSize) {
  const WrittenReport w = write_report(dir.path(), test::sample_report());
  const fs::path png = dir.path() / "report.png";
  const BrowserRun run = run_chromium(w.html, {"--hide-scrollbars", "--window-size=1000,1400", "--screenshot=" + png.string()});
  ASSERT_EQ(run.exit_code, 0);
  EXPECT_TRUE(run.console.empty()) << joined(run.console);
  const std::string data = slurp(png);
  ASSERT_GT(data.size(), 24u);
  EXPECT_EQ(data.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  auto be32 = [&](std::size_t at) {
    return (static_cast<unsigned char>(data[at]) << 24) | (static_cast<unsigned char>(data[at + 1]) << 16) |
           (static_cast<unsigned char>(data[at + 2]) << 8) | static_cast<unsigned char>(data[at + 3]);
  };
  EXPECT_EQ(be32(16), 1000u);  // IHDR width
  EXPECT_EQ(be32(20), 1400u);  // IHDR height
  EXPECT_GT(data.size(), 20000u) << "a blank page compresses to almost nothing";
}

}  // namespace
}  // namespace gradcheck::reports
