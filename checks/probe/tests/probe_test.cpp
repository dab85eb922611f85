// The probe against examples/python/mlp.py: the correct implementation passes,
// each deliberate bug is caught as the finding it is, a divergence shrinks to
// a minimal counterexample that verify replays, the same seed gives the same
// cases, and no child process is left behind (every test ends by asserting
// this process has no children at all).
#include "no_children.hpp"
#include "../../../tests/documented_fields.hpp"

#include <gradcheck/probe/probe.hpp>

#include <gradcheck/engine/case_format.hpp>
#include <gradcheck/engine/network.hpp>

#include <gtest/gtest.h>

#include "../src/simpler_cases.hpp"

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

namespace gradcheck {
namespace {

using namespace std::chrono_literals;

const std::string example = std::string(GRADCHECK_SOURCE_DIR) + "/examples/python/mlp.py";

std::vector<std::string> python(std::vector<std::string> args = {}) {
  std::vector<std::string> argv{"python3", example};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// Every test ends by asserting that no child process is left (TearDown).
class Probe : public testing::NoChildrenLeft {};

ProbeOptions options(int cases, std::uint64_t seed = 1) {
  ProbeOptions o;
  o.cases = cases;
  o.seed = seed;
  return o;
}

// The named bugs of a verification (error severity, not the generic output
// error term or backward step), sorted.
std::vector<BugKind> bug_kinds(const VerifyResult& v) {
  std::vector<BugKind> k;
  for (const Signature& s : v.signatures)
    if (s.severity == Severity::error && s.kind != BugKind::output_error_term && s.kind != BugKind::backward_step)
      k.push_back(s.kind);
  std::sort(k.begin(), k.end());
  return k;
}

bool has_signature(const VerifyResult& v, BugKind kind) {
  return std::any_of(v.signatures.begin(), v.signatures.end(),
                     [&](const Signature& s) { return s.kind == kind && s.severity == Severity::error; });
}

// The failure carries the very case that was sent: the generator's case at its index.
void expect_reported_case(const Failure& f, const ProbeOptions& o, std::uint64_t seed) {
  EXPECT_EQ(case_to_json(f.input, -1), case_to_json(probe_case(o.space, seed, f.case_index).value(), -1));
}

int line_count(const std::filesystem::path& p) {
  std::ifstream in(p);
  int n = 0;
  for (std::string l; std::getline(in, l);) ++n;
  return n;
}

const Failure* first_failure(const ProbeResult& r, FailureKind kind) {
  for (const auto& f : r.failures)
    if (f.kind == kind) return &f;
  return nullptr;
}

TEST_F(Probe, TheCorrectPythonExamplePassesEveryCase) {
  const ProbeResult r = probe(python(), options(60));
  EXPECT_TRUE(r.passed(/*strict=*/true)) << (r.counterexample ? r.counterexample->minimal_reply : "");
  EXPECT_EQ(r.cases_sent, 60);
  EXPECT_EQ(r.agreed, 60);
  EXPECT_EQ(r.repeats, 60);  // every case sent twice, all bitwise identical
  EXPECT_EQ(r.restarts, 0);
  EXPECT_TRUE(r.failures.empty());
  ASSERT_TRUE(r.final_exit.has_value());
  EXPECT_EQ(r.final_exit->code, 0);
  EXPECT_FALSE(r.final_exit->signaled);
}

TEST_F(Probe, TheCorrectExampleAgreesAtHugeMagnitudes) {
  ProbeOptions o = options(40, 7);
  o.space.magnitudes = {Magnitude::huge};
  const ProbeResult r = probe(python(), o);
  EXPECT_TRUE(r.passed()) << (r.counterexample ? r.counterexample->minimal_reply : "");
  EXPECT_EQ(r.agreed + r.noted, 40);
}

TEST_F(Probe, ShrinksASignFlipToOneLayerOneUnitOneSample) {
  const ProbeResult r = probe(python({"--bug", "sign"}), options(30));
  ASSERT_TRUE(r.counterexample.has_value());
  EXPECT_FALSE(r.passed());
  EXPECT_EQ(r.diverged, 1);
  const Counterexample& cx = *r.counterexample;
  EXPECT_EQ(cx.minimal.network.layers.size(), 1u);
  EXPECT_EQ(cx.minimal.network.input_size(), 1);
  EXPECT_EQ(cx.minimal.network.output_size(), 1);
  EXPECT_EQ(cx.minimal.batch_size(), 1);
  EXPECT_GT(cx.shrinks, 0);
  EXPECT_FALSE(cx.shrink_capped);
  EXPECT_LE(cx.minimal.network.parameter_count(), cx.original.network.parameter_count());
  EXPECT_TRUE(has_signature(cx.minimal_result, BugKind::sign_flip));
  // Replay: the written reply, verified again, diverges the same way.
  const VerifyResult again = verify_reply(cx.minimal, parse_reply(cx.minimal_reply, "replay"));
  EXPECT_EQ(again.status, VerifyStatus::diverge);
  EXPECT_TRUE(has_signature(again, BugKind::sign_flip));
  // The original case also diverged, and is the generator's case at its index.
  EXPECT_EQ(cx.original_result.status, VerifyStatus::diverge);
  EXPECT_EQ(case_to_json(cx.original, -1), case_to_json(probe_case(CaseSpace{}, 1, cx.case_index).value(), -1));
}

// Shrinking keeps the bug: near zero weights a softmax pair at a = ½ makes the
// softmax Jacobian on a − y exactly ×½ (a constant scale), and a NaN from
// exp's overflow can turn into an infinite loss from log(0). Candidates like
// those are skipped and counted; the minimal case shows the original signature.
TEST_F(Probe, TheMinimalCounterexampleShowsTheSameBugAsTheOriginal) {
  ProbeOptions o = options(20);
  o.space.activations = {Activation::tanh, Activation::softmax};
  o.space.losses = {Loss::cross_entropy};
  const ProbeResult r = probe(python({"--bug", "softmax-on-fused"}), o);
  ASSERT_TRUE(r.counterexample.has_value());
  const Counterexample& cx = *r.counterexample;
  EXPECT_TRUE(has_signature(cx.original_result, BugKind::softmax_derivative_on_fused));
  EXPECT_TRUE(has_signature(cx.minimal_result, BugKind::softmax_derivative_on_fused));
  EXPECT_FALSE(has_signature(cx.minimal_result, BugKind::constant_scale));
  EXPECT_GT(cx.shrink_slipped, 0);  // some smaller candidates did read as another bug
  EXPECT_GT(cx.shrinks, 0);
  EXPECT_LT(cx.minimal.network.parameter_count(), cx.original.network.parameter_count());

  o.space.magnitudes = {Magnitude::huge};
  const ProbeResult n = probe(python({"--bug", "nan"}), o);
  ASSERT_TRUE(n.counterexample.has_value());
  const VerifyResult& m = n.counterexample->minimal_result;
  EXPECT_TRUE(has_signature(m, BugKind::non_finite));
  EXPECT_GT(m.gradients.summary.counts.non_finite, 0u);  // NaN gradients, not only an infinite loss
  const auto fp = forward(n.counterexample->minimal.network, n.counterexample->minimal.inputs);
  EXPECT_GT(fp.z.back().cwiseAbs().maxCoeff(), 709.78);  // logits past exp's overflow
}

// The minimal counterexample of every bug variant of the example is small and
// round (docs/probe.md, "The minimal counterexample"): at most 2 layers of at
// most 2 units (the softmax Jacobian on the fused delta needs 3 classes: with
// 2, one sample's Jacobian is a constant scale), and no value with more than 2
// significant digits.
struct ShrinkBound {
  const char* bug;
  std::size_t max_layers;
  Index max_units;
};

int most_significant_digits(const Case& c) {
  int most = 0;
  const auto scan = [&](const auto& m) {
    for (Index i = 0; i < m.size(); ++i) most = std::max(most, detail::significant_digits(m.data()[i]));
  };
  for (const auto& l : c.network.layers) scan(l.weights), scan(l.biases);
  scan(c.inputs);
  scan(c.targets);
  return most;
}

// The cause of the bug's minimal counterexample is docs/verify.md's row for it
// ("The diagnosis suite"): the kind named, the confidence, the experiments run
// and the extra cases they sent (at most 50).
void expect_documented_cause(const std::string& bug, const Cause& cause) {
  const auto rows = testing::documented_rows("docs/verify.md", "### The diagnosis suite");
  const auto row = std::find_if(rows.begin(), rows.end(), [&](const auto& r) { return r.at(0) == bug; });
  ASSERT_NE(row, rows.end()) << bug << " has no row in docs/verify.md's diagnosis suite";
  ASSERT_GE(row->size(), 5u);
  EXPECT_EQ(cause.kind ? to_string(*cause.kind) : "", (*row)[1]) << bug << ": " << cause.statement;
  EXPECT_EQ(to_string(cause.confidence), (*row)[2]) << bug << ": " << cause.statement;
  std::string names;
  int sent = 0;
  for (const Experiment& e : cause.experiments) {
    names += (names.empty() ? "" : ", ") + e.name;
    sent += e.cases_sent;
  }
  EXPECT_EQ(names.empty() ? "—" : names, (*row)[3]) << bug;
  EXPECT_EQ(std::to_string(sent), (*row)[4]) << bug;
  EXPECT_LE(sent, 50) << bug;
}

class EveryBugVariant : public testing::NoChildrenLeft, public ::testing::WithParamInterface<ShrinkBound> {};

TEST_P(EveryBugVariant, ShrinksToAtMostTwoLayersOfTwoUnitsWithRoundValues) {
  const ShrinkBound b = GetParam();
  const ProbeResult r = probe(python({"--bug", b.bug}), options(200, 7));
  ASSERT_TRUE(r.counterexample.has_value()) << b.bug;
  const Case& m = r.counterexample->minimal;
  EXPECT_LE(m.network.layers.size(), b.max_layers) << case_to_json(m, -1);
  EXPECT_LE(m.network.input_size(), 2) << case_to_json(m, -1);
  for (const auto& l : m.network.layers) EXPECT_LE(l.units(), b.max_units) << case_to_json(m, -1);
  EXPECT_LE(most_significant_digits(m), 2) << case_to_json(m, -1);
  EXPECT_FALSE(r.counterexample->shrink_capped);
  EXPECT_EQ(bug_kinds(r.counterexample->minimal_result), bug_kinds(r.counterexample->original_result)) << b.bug;
  expect_documented_cause(b.bug, *r.counterexample->minimal_result.cause);
}

INSTANTIATE_TEST_SUITE_P(
    Examples, EveryBugVariant,
    ::testing::Values(ShrinkBound{"sign", 2, 2}, ShrinkBound{"bias", 2, 2}, ShrinkBound{"sum", 2, 2},
                      ShrinkBound{"double", 2, 2}, ShrinkBound{"half", 2, 2}, ShrinkBound{"deriv-at-a", 2, 2},
                      ShrinkBound{"no-output-derivative", 2, 2}, ShrinkBound{"z-for-a", 2, 2},
                      ShrinkBound{"softmax-on-fused", 2, 3}, ShrinkBound{"leaky-zero", 2, 2},
                      ShrinkBound{"transpose", 2, 2}, ShrinkBound{"nan", 2, 2}, ShrinkBound{"shape", 2, 2},
                      ShrinkBound{"last-sample", 2, 2}, ShrinkBound{"skip-first", 2, 2},
                      ShrinkBound{"average-twice", 2, 2}, ShrinkBound{"bias-sum", 2, 2},
                      ShrinkBound{"no-hidden-derivative", 2, 2}, ShrinkBound{"formula-at-z", 2, 2},
                      ShrinkBound{"softmax-diagonal", 2, 3}, ShrinkBound{"targets-shifted", 2, 2},
                      ShrinkBound{"weight-decay", 2, 2}, ShrinkBound{"mean-over-outputs", 2, 2}),
    [](const auto& info) {
      std::string name = info.param.bug;
      for (char& ch : name)
        if (ch == '-') ch = '_';
      return name;
    });

TEST_F(Probe, StopsShrinkingAtTheCapOnShrinkSteps) {
  ProbeOptions o = options(30);
  o.max_shrink_steps = 3;
  const ProbeResult r = probe(python({"--bug", "sign"}), o);
  ASSERT_TRUE(r.counterexample.has_value());
  EXPECT_EQ(r.counterexample->shrink_queries, 3);
  EXPECT_TRUE(r.counterexample->shrink_capped);
}

TEST_F(Probe, CatchesZeroBiasGradients) {
  const ProbeResult r = probe(python({"--bug", "bias"}), options(30));
  ASSERT_TRUE(r.counterexample.has_value());
  EXPECT_TRUE(has_signature(r.counterexample->minimal_result, BugKind::bias_zero));
  EXPECT_EQ(r.counterexample->minimal.network.layers.size(), 1u);
}

TEST_F(Probe, ReportsAWrongShapeAsAShapeMismatch) {
  const ProbeResult r = probe(python({"--bug", "shape"}), options(10));
  ASSERT_TRUE(r.counterexample.has_value());
  EXPECT_TRUE(has_signature(r.counterexample->minimal_result, BugKind::shape_mismatch));
}

TEST_F(Probe, FindsTheNaNOfANaiveSoftmaxPastExpsOverflow) {
  ProbeOptions o = options(30, 3);
  o.space.activations = {Activation::softmax, Activation::identity};
  o.space.losses = {Loss::cross_entropy};
  o.space.magnitudes = {Magnitude::huge};
  const ProbeResult r = probe(python({"--bug", "nan"}), o);
  ASSERT_TRUE(r.counterexample.has_value());
  const Counterexample& cx = *r.counterexample;
  EXPECT_TRUE(has_signature(cx.minimal_result, BugKind::non_finite));
  EXPECT_EQ(cx.minimal.network.layers.size(), 1u);
  EXPECT_EQ(cx.minimal.network.output_size(), 2);  // softmax needs two units
  EXPECT_EQ(cx.minimal.batch_size(), 1);
}

TEST_F(Probe, Float32RepliesAreNotesThatFailOnlyWhenStrict) {
  const ProbeResult r = probe(python({"--bug", "float32"}), options(20));
  EXPECT_FALSE(r.counterexample.has_value());
  EXPECT_GT(r.noted, 0);
  EXPECT_EQ(r.agreed + r.noted, 20);
  EXPECT_TRUE(r.passed(/*strict=*/false));
  EXPECT_FALSE(r.passed(/*strict=*/true));
  ASSERT_FALSE(r.notes.empty());
  EXPECT_EQ(r.notes.front().notes.front().kind, BugKind::precision);
}

TEST_F(Probe, DeclinedCasesAreCountedNotFailed) {
  const ProbeResult r = probe(python({"--decline", "softmax"}), options(40));
  EXPECT_TRUE(r.passed());
  EXPECT_GT(r.declined, 0);
  EXPECT_GT(r.agreed, 0);
  EXPECT_EQ(r.agreed + r.declined, 40);
  ASSERT_EQ(r.declined_messages.size(), 1u);
  EXPECT_EQ(r.declined_messages[0], "not implemented: softmax");
}

TEST_F(Probe, DetectsBitwiseDifferentRepliesToTheSameCase) {
  const ProbeResult r = probe(python({"--bug", "noise"}), options(10));
  const Failure* f = first_failure(r, FailureKind::nondeterministic);
  ASSERT_NE(f, nullptr);
  EXPECT_NE(f->reply_excerpt, f->second_reply_excerpt);
  // The experiment: a fresh process sent the same cases replies differently again.
  EXPECT_NE(f->experiment.find("its replies differ from the first run's: the program is nondeterministic"),
            std::string::npos) << f->experiment;
  EXPECT_EQ(first_failure(r, FailureKind::stateful), nullptr);
  EXPECT_FALSE(r.counterexample.has_value());  // the numbers themselves agree
  expect_reported_case(*f, options(10), 1);
}

TEST_F(Probe, RepliesThatDependOnTheCasesBeforeAreStatefulAndAccumulationIsNamed) {
  // --bug no-zero-grad: the second reply to a shape is the sum of both calls.
  const ProbeResult r = probe(python({"--bug", "no-zero-grad"}), options(6));
  const Failure* f = first_failure(r, FailureKind::stateful);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->message, "the reply to a case depends on the cases sent before it");
  EXPECT_NE(f->experiment.find("the same replies, bitwise, as the first run"), std::string::npos) << f->experiment;
  EXPECT_NE(f->experiment.find("are 2 × the first's: gradients accumulated across calls"), std::string::npos)
      << f->experiment;
  EXPECT_EQ(first_failure(r, FailureKind::nondeterministic), nullptr);
  EXPECT_FALSE(r.counterexample.has_value());  // every first reply is right
  EXPECT_FALSE(r.passed());
}

TEST_F(Probe, ExperimentsOnTheCounterexampleTellAnOverwrittenAccumulatorFromALoopThatStartsAtOne) {
  // Both shrink to a batch of 2 whose reply keeps only sample 1; the samples
  // alone and a third sample tell them apart.
  const ProbeResult last = probe(python({"--bug", "last-sample"}), options(50, 3));
  ASSERT_TRUE(last.counterexample.has_value());
  const auto& e = last.counterexample->minimal_result.cause->experiments;
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].cases_sent, 2);
  EXPECT_NE(e[0].finding.find("each sample alone gets a correct reply"), std::string::npos) << e[0].finding;
  EXPECT_EQ(e[1].cases_sent, 1);
  EXPECT_NE(e[1].finding.find("only the last sample's gradient is in the reply: each sample's gradient is assigned"),
            std::string::npos) << e[1].finding;

  const ProbeResult skip = probe(python({"--bug", "skip-first"}), options(50, 3));
  ASSERT_TRUE(skip.counterexample.has_value());
  const auto& f = skip.counterexample->minimal_result.cause->experiments;
  ASSERT_EQ(f.size(), 2u);
  EXPECT_NE(f[0].finding.find("each sample alone diverges too"), std::string::npos) << f[0].finding;
  EXPECT_NE(f[1].finding.find("sample 0 is left out: a batch loop that starts at 1"), std::string::npos) << f[1].finding;
}

TEST_F(Probe, TheDerivativeExperimentMeasuresTheSlopeTheProgramUsedOnEachSide) {
  const ProbeResult r = probe(python({"--bug", "leaky-zero"}), options(200, 7));
  ASSERT_TRUE(r.counterexample.has_value());
  const Cause& c = *r.counterexample->minimal_result.cause;
  ASSERT_EQ(c.experiments.size(), 1u);
  const Experiment& e = c.experiments[0];
  EXPECT_EQ(e.name, "derivative");
  EXPECT_EQ(e.cases_sent, 6);
  EXPECT_NE(e.finding.find("the derivative the program used there is 0, 0, 0, 1, 1, 1: slope 0 for z ≤ 0"),
            std::string::npos) << e.finding;
  EXPECT_TRUE(e.confirms_cause);
  EXPECT_EQ(c.confidence, CauseConfidence::confirmed);
  EXPECT_EQ(c.statement.rfind("layers[0] (leaky_relu)'s derivative is slope 0 for z ≤ 0", 0), 0u) << c.statement;
}

TEST_F(Probe, TheScaleExperimentTellsSummedFromDoubledByTheBatchSize) {
  // In a batch of 2, ×N and ×2 are one number; one more sample makes it 3.
  const ProbeResult r = probe(python({"--bug", "sum"}), options(200, 7));
  ASSERT_TRUE(r.counterexample.has_value());
  const Cause& c = *r.counterexample->minimal_result.cause;
  const auto scale = std::find_if(c.experiments.begin(), c.experiments.end(),
                                  [](const Experiment& e) { return e.name == "scale"; });
  ASSERT_NE(scale, c.experiments.end());
  EXPECT_NE(scale->finding.find("the ratio to the reference is 2 with 2 samples, 3 with one more"), std::string::npos)
      << scale->finding;
  EXPECT_EQ(c.confidence, CauseConfidence::confirmed);
  EXPECT_NE(c.statement.find("it grows with the batch size (×N): per-sample gradients summed where the loss is averaged"),
            std::string::npos) << c.statement;
  EXPECT_EQ(c.statement.find("×2 (e.g."), std::string::npos) << c.statement;
}

TEST_F(Probe, ReportsACrashWithItsSignalRestartsAndGoesOn) {
  ProbeOptions o = options(12);
  o.max_failures = 10;  // each restarted process crashes on its third line again
  const ProbeResult r = probe(python({"--bug", "crash", "--bug-at", "3"}), o);
  ASSERT_FALSE(r.failures.empty());
  const Failure& f = r.failures.front();
  EXPECT_EQ(f.kind, FailureKind::crash);
  ASSERT_TRUE(f.exit.has_value());
  EXPECT_TRUE(f.exit->signaled);
  EXPECT_EQ(f.exit->signal, SIGABRT);
  // Line 3 is the repeat of case 0 (order: case 0, case 1, case 0 again, ...).
  EXPECT_EQ(f.case_index, 0u);
  expect_reported_case(f, o, 1);
  EXPECT_GE(r.restarts, 1);
  EXPECT_EQ(r.cases_sent, 12);  // it went on after each crash
  EXPECT_FALSE(r.passed());
}

TEST_F(Probe, StopsAfterMaxFailures) {
  ProbeOptions o = options(50);
  o.max_failures = 2;
  const ProbeResult r = probe(python({"--bug", "crash", "--bug-at", "1"}), o);
  EXPECT_EQ(r.failures.size(), 2u);
  EXPECT_TRUE(r.stopped_at_max_failures);
  EXPECT_EQ(r.cases_sent, 2);
}

// Load-independent: Python's start-up counts against the first reply's
// start-up allowance, not the 500 ms, and the hang begins after that reply.
TEST_F(Probe, KillsAHangAfterTheTimeout) {
  ProbeOptions o = options(5);
  o.timeout = 500ms;
  o.max_failures = 1;
  const ProbeResult r = probe(python({"--bug", "hang", "--bug-at", "2"}), o);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].kind, FailureKind::timeout);
  EXPECT_EQ(r.failures[0].case_index, 1u);
  EXPECT_EQ(r.failures[0].message, "no reply within 500 ms; killed (0 bytes of a reply had arrived)");
  expect_reported_case(r.failures[0], o, 1);
  ASSERT_TRUE(r.failures[0].exit.has_value());
  EXPECT_TRUE(r.failures[0].exit->killed_by_us);
}

// A program that hangs before its first reply is killed at the start-up
// allowance (when it exceeds the timeout), and the message names that limit.
TEST_F(Probe, TheFirstReplyAfterAStartGetsTheStartupAllowance) {
  ProbeOptions o = options(3);
  o.timeout = 100ms;
  o.startup_timeout = 300ms;
  o.max_failures = 1;
  o.check_determinism = false;
  const ProbeResult r = probe({"/bin/sh", "-c", "read l; sleep 30"}, o);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].kind, FailureKind::timeout);
  EXPECT_EQ(r.failures[0].case_index, 0u);
  EXPECT_EQ(r.failures[0].message, "no reply within 300 ms; killed (0 bytes of a reply had arrived)");
}

TEST_F(Probe, ReportsALineThatIsNotJsonAndGoesOnWithTheSameProcess) {
  const ProbeResult r = probe(python({"--bug", "garbage", "--bug-at", "2"}), options(10));
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].kind, FailureKind::malformed_reply);
  EXPECT_EQ(r.failures[0].reply_excerpt, "this is not json");
  EXPECT_EQ(r.failures[0].case_index, 1u);
  EXPECT_EQ(r.restarts, 0);
  EXPECT_EQ(r.agreed, 9);
}

TEST_F(Probe, ReportsAPartialLineAtEof) {
  ProbeOptions o = options(4);
  o.max_failures = 1;
  const ProbeResult r = probe(python({"--bug", "partial", "--bug-at", "2"}), o);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].kind, FailureKind::partial_line);
  EXPECT_EQ(r.failures[0].reply_excerpt, "{\"layers\": [{\"weights\": [[0.1");
  EXPECT_EQ(r.failures[0].case_index, 1u);
}

TEST_F(Probe, RefusesAReplyOverTheSizeCap) {
  ProbeOptions o = options(4);
  o.max_reply_bytes = 1 << 20;
  o.max_failures = 1;
  const ProbeResult r = probe(python({"--bug", "huge", "--bug-at", "2", "--huge-bytes", "3000000"}), o);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].kind, FailureKind::reply_too_long);
  EXPECT_NE(r.failures[0].message.find("1048576"), std::string::npos) << r.failures[0].message;
}

TEST_F(Probe, SurvivesAStderrFloodAndKeepsItsTail) {
  ProbeOptions o = options(6);
  o.max_failures = 1;
  const ProbeResult r = probe(python({"--bug", "stderr", "--bug-at", "4"}), o);
  ASSERT_EQ(r.failures.size(), 1u);
  const Failure& f = r.failures[0];
  EXPECT_EQ(f.kind, FailureKind::crash);
  ASSERT_TRUE(f.exit.has_value());
  EXPECT_EQ(f.exit->code, 1);  // Python's exit status after an uncaught exception
  EXPECT_NE(f.stderr_tail.find("RuntimeError: bug 'stderr'"), std::string::npos);
  EXPECT_LE(f.stderr_tail.size(), 8192u);
  EXPECT_GE(r.stderr_bytes, 4000000u);  // four floods of 1 MB went through without blocking
}

TEST_F(Probe, ReportsAProgramThatClosesStdoutAndKeepsRunning) {
  ProbeOptions o = options(4);
  o.max_failures = 1;
  o.timeout = 60s;
  const ProbeResult r = probe(python({"--bug", "close", "--bug-at", "2"}), o);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].kind, FailureKind::closed_stdout);
  EXPECT_LT(r.elapsed.count(), 30.0);  // found at the close, not at the 60 s timeout
}

TEST_F(Probe, ReportsAProgramThatExitsAtOnce) {
  ProbeOptions o = options(4);
  o.max_failures = 2;
  const ProbeResult r = probe(python({"--bug", "exit"}), o);
  ASSERT_EQ(r.failures.size(), 2u);
  for (const auto& f : r.failures) {
    EXPECT_TRUE(f.kind == FailureKind::crash || f.kind == FailureKind::stopped_reading) << to_string(f.kind);
    ASSERT_TRUE(f.exit.has_value());
    EXPECT_EQ(f.exit->code, 0);
  }
  EXPECT_EQ(r.failures[0].case_index, 0u);
}

// The flag is raised once the hanging 4th line was sent (the program's tee
// shows it), so the result holds what came before, on any machine load.
TEST_F(Probe, ReturnsThePartialResultWhenInterrupted) {
  const auto sent = std::filesystem::temp_directory_path() / ("gradcheck-probe-sent-" + std::to_string(::getpid()));
  std::filesystem::remove(sent);
  {
    std::atomic<bool> flag{false};
    ProbeOptions o = options(10);
    o.timeout = 60s;
    o.interrupt = &flag;
    std::thread raiser([&] {
      for (int i = 0; i < 6000 && line_count(sent) < 4; ++i) std::this_thread::sleep_for(20ms);
      flag = true;
    });
    const ProbeResult r =
        probe({"/bin/sh", "-c", "tee '" + sent.string() + "' | python3 '" + example + "' --bug hang --bug-at 4"}, o);
    raiser.join();
    EXPECT_EQ(line_count(sent), 4);
    EXPECT_TRUE(r.interrupted);
    EXPECT_TRUE(r.failures.empty());
    EXPECT_EQ(r.agreed, 2);  // lines: case 0, case 1, case 0 again, case 2 (the hang)
    EXPECT_LT(r.elapsed.count(), 30.0);  // not the 60 s timeout
  }
  std::filesystem::remove(sent);
}

TEST_F(Probe, TheSameSeedGivesTheSameCases) {
  const CaseSpace space;
  for (std::size_t i = 0; i < 20; ++i)
    EXPECT_EQ(case_to_json(probe_case(space, 42, i).value(), -1), case_to_json(probe_case(space, 42, i).value(), -1));
  int different = 0;
  for (std::size_t i = 0; i < 20; ++i)
    different += case_to_json(probe_case(space, 42, i).value(), -1) != case_to_json(probe_case(space, 43, i).value(), -1);
  EXPECT_EQ(different, 20);
}

TEST_F(Probe, TheRestrictionsBindEveryCase) {
  CaseSpace space;
  space.activations = {Activation::tanh, Activation::sigmoid};
  space.losses = {Loss::binary_cross_entropy};
  space.reductions = {Reduction::sum};
  space.max_layers = 2;
  space.max_width = 3;
  space.max_batch = 2;
  for (std::size_t i = 0; i < 100; ++i) {
    const Case c = probe_case(space, 5, i).value();
    EXPECT_LE(c.network.layers.size(), 2u);
    EXPECT_LE(c.batch_size(), 2);
    EXPECT_EQ(c.network.loss, Loss::binary_cross_entropy);
    EXPECT_EQ(c.network.reduction, Reduction::sum);
    EXPECT_EQ(c.network.layers.back().activation, Activation::sigmoid);
    for (const auto& l : c.network.layers) {
      EXPECT_LE(l.units(), 3);
      EXPECT_LE(l.inputs(), 3);
    }
  }
}

TEST_F(Probe, RefusesOptionsOutOfRange) {
  ProbeOptions o = options(0);
  EXPECT_THROW(probe(python(), o), InputError);
  o = options(probe_max_cases + 1);
  EXPECT_THROW(probe(python(), o), InputError);
  o = options(5);
  o.space.activations = {Activation::softmax};
  o.space.max_width = 1;  // softmax needs two units
  try {
    probe(python(), o);
    ADD_FAILURE() << "an empty case space was accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(e.field(), "restrictions");
  }
}

TEST_F(Probe, ThrowsSpawnErrorForACommandThatCannotStart) {
  EXPECT_THROW(probe({"/nonexistent/gradcheck-no-such-program"}, options(3)), SpawnError);
}

}  // namespace
}  // namespace gradcheck
