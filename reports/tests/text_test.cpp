// The plain text that `gradcheck probe` and `gradcheck train` print, rendered
// from results (text.hpp): what a person reads first, so its lines are exact.
#include <gradcheck/reports/text.hpp>

#include <gtest/gtest.h>

#include <string>

#include "../src/detail/text.hpp"
#include "probe_results.hpp"

namespace gradcheck::reports {
namespace {

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(ProbeText, ACounterexampleComesWithTheCommandsThatReplayIt) {
  const std::string t = render_probe_text(test::probe_with_counterexample(), {"out", false});
  EXPECT_EQ(t.rfind("gradcheck probe: python3 asker.py\nseed 7 (replay with --seed 7)\n", 0), 0u) << t;
  EXPECT_TRUE(has(t, "cases: 4 of 20 sent; 3 agree, 0 with notes, 0 declined, 1 diverge;")) << t;
  EXPECT_TRUE(has(t, "\nDIVERGENCE on case 3: " + detail::describe_case(test::case_321()) + "\n")) << t;
  EXPECT_TRUE(has(t, "(5 queries, 2 candidates showed a different bug)")) << t;
  EXPECT_TRUE(has(t, "  replay: gradcheck verify out/counterexample.case.json out/counterexample.reply.json\n")) << t;
  EXPECT_TRUE(has(t, "gradcheck probe --seed 7 --cases 4 ... -- python3 asker.py\n")) << t;
  EXPECT_EQ(t.substr(t.size() - 5), "FAIL\n");
}

TEST(ProbeText, AFailureShowsItsCaseHowItEndedAndTheLastLinesOfStderr) {
  const std::string t = render_probe_text(test::probe_with_failure(), {"saved", false});
  EXPECT_TRUE(has(t, "IMPLEMENTATION FAILURES (1):\n  case 2: crash: no reply: killed by signal 6 (Aborted)\n")) << t;
  EXPECT_TRUE(has(t, " -> saved/failure-1.case.json\n")) << t;
  EXPECT_TRUE(has(t, "    stderr (last lines):\n      Traceback (most recent call last):\n        ...\n")) << t;
  EXPECT_FALSE(has(t, "DIVERGENCE"));
}

TEST(ShellCommand, QuotesOnlyTheWordsAShellWouldReadDifferently) {
  EXPECT_EQ(shell_command({"python3", "examples/python/mlp.py", "--bug=sign"}), "python3 examples/python/mlp.py --bug=sign");
  EXPECT_EQ(shell_command({"my prog", "it's", ""}), "'my prog' 'it'\\''s' ''");
}

TEST(WatchText, EachFindingIsOneLineWithItsSeverityKindLayerAndFix) {
  watch::Result r;
  EXPECT_EQ(render_watch_text(r), "watch: no findings\n");
  watch::Finding f;
  f.severity = Severity::error;
  f.kind = watch::Kind::non_finite;
  f.layer = 1;
  f.message = "the first NaN at step 221";
  f.fix = "lower the learning rate";
  r.findings.push_back(f);
  f.severity = Severity::info;
  f.kind = watch::Kind::plateau;
  f.layer = -1;
  f.message = "the loss levelled off";
  f.fix = "nothing";
  r.findings.push_back(f);
  EXPECT_EQ(render_watch_text(r),
            "watch: 2 findings\n"
            "  error   non-finite (layer 1): the first NaN at step 221\n"
            "          fix: lower the learning rate\n"
            "  info    plateau: the loss levelled off\n"
            "          fix: nothing\n");
}

}  // namespace
}  // namespace gradcheck::reports
