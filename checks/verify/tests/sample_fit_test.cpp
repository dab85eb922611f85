// Per-sample and per-tensor fits (docs/verify.md#signatures): a reply that is
// the gradient of some samples only, of samples weighted unequally, or whose
// tensors are scaled apart from each other is named by what it is; a correct
// reply never is, and the known signatures fire at every batch size.
#include "verify_test_support.hpp"

#include <gradcheck/verify/mutations.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <set>
#include <string>

namespace gradcheck {
namespace {

using testing::change;
using testing::describe;
using testing::divergence_kinds;
using testing::evidence;
using testing::engine_reply;
using testing::find_signature;
using testing::make_case;

// The gradient of Σ_s weight(s) · (sample s's loss alone), as a program whose
// batch loop weighs sample s by weight(s) would send it.
Reply weighted_reply(const Case& c, const std::function<double(Index)>& weight) {
  Reply r = engine_reply(c);
  for (auto& l : r.layers) l.weights.setZero(), l.biases.setZero();
  for (Index s = 0; s < c.batch_size(); ++s) {
    Case one = c;
    one.network.reduction = Reduction::sum;
    one.inputs = c.inputs.col(s);
    one.targets = c.targets.col(s);
    const Reply g = engine_reply(one);
    for (std::size_t l = 0; l < r.layers.size(); ++l) {
      r.layers[l].weights += weight(s) * g.layers[l].weights;
      r.layers[l].biases += weight(s) * g.layers[l].biases;
    }
  }
  return r;
}

Case tanh_case(int batch, Reduction reduction = Reduction::mean) {
  return make_case({3, 4, 2}, {Activation::tanh, Activation::sigmoid}, Loss::quadratic, reduction, batch, 11);
}

std::string weight_label(int s) { return "weight of sample " + std::to_string(s) + " (1 = the reduction's)"; }

TEST(SampleFit, OnlyTheLastSamplesGradientIsNamedAsAnOverwrittenAccumulator) {
  const Case c = tanh_case(4);
  const VerifyResult v = verify_reply(c, weighted_reply(c, [](Index s) { return s == 3 ? 0.25 : 0.0; }));
  SCOPED_TRACE(describe(v));
  EXPECT_EQ(v.status, VerifyStatus::diverge);
  EXPECT_EQ(divergence_kinds(v), std::set<BugKind>{BugKind::samples_dropped});
  const Signature* s = find_signature(v, BugKind::samples_dropped);
  ASSERT_NE(s, nullptr);
  EXPECT_NE(s->message.find("only the last sample's gradient"), std::string::npos);
  EXPECT_NE(s->message.find("(+=)"), std::string::npos);
  EXPECT_NEAR(evidence(*s, weight_label(3)), 1.0, 1e-9);
  EXPECT_NEAR(evidence(*s, weight_label(0)), 0.0, 1e-9);
  EXPECT_EQ(evidence(*s, "samples kept"), 1.0);
}

TEST(SampleFit, MoreSamplesThanParametersStillNameTheLoopsSubset) {
  // 13 parameters, 16 samples: the per-sample gradients are dependent and one
  // weight per sample is not determined; the batch loops' own subsets are.
  const Case c = make_case({2, 3, 1}, {Activation::tanh, Activation::identity}, Loss::quadratic, Reduction::mean, 16, 12);
  const VerifyResult v = verify_reply(c, weighted_reply(c, [](Index s) { return s == 15 ? 1.0 / 16 : 0.0; }));
  SCOPED_TRACE(describe(v));
  EXPECT_EQ(divergence_kinds(v), std::set<BugKind>{BugKind::samples_dropped});
  const Signature* s = find_signature(v, BugKind::samples_dropped);
  ASSERT_NE(s, nullptr);
  EXPECT_NE(s->message.find("only the last sample's gradient"), std::string::npos);
  EXPECT_NEAR(evidence(*s, weight_label(15)), 1.0, 1e-9);
  // A weighting that no loop's subset gives is not named from a fit that is not determined.
  const VerifyResult w = verify_reply(c, weighted_reply(c, [](Index s) { return (s + 1) / 16.0; }));
  EXPECT_EQ(find_signature(w, BugKind::samples_dropped), nullptr) << describe(w);
  EXPECT_EQ(find_signature(w, BugKind::sample_weights), nullptr) << describe(w);
}

TEST(SampleFit, ABatchLoopThatStartsAtOneIsNamedAndSoIsItsScale) {
  const Case c = tanh_case(4, Reduction::sum);
  // Samples 1..3 summed, and then divided by the 3 that were seen.
  const VerifyResult v = verify_reply(c, weighted_reply(c, [](Index s) { return s == 0 ? 0.0 : 1.0 / 3; }));
  SCOPED_TRACE(describe(v));
  EXPECT_EQ(divergence_kinds(v), std::set<BugKind>{BugKind::samples_dropped});
  const Signature* s = find_signature(v, BugKind::samples_dropped);
  ASSERT_NE(s, nullptr);
  EXPECT_NE(s->message.find("sample 0 is left out"), std::string::npos);
  EXPECT_NE(s->message.find("each 0.33333333 × their share"), std::string::npos);
}

TEST(SampleFit, UnequalWeightsAreNamedWithTheWeightOfEachSample) {
  const Case c = tanh_case(4);
  const VerifyResult v = verify_reply(c, weighted_reply(c, [](Index s) { return (s + 1) / 4.0; }));
  SCOPED_TRACE(describe(v));
  EXPECT_EQ(divergence_kinds(v), std::set<BugKind>{BugKind::sample_weights});
  const Signature* s = find_signature(v, BugKind::sample_weights);
  ASSERT_NE(s, nullptr);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(evidence(*s, weight_label(i)), i + 1.0, 1e-9);
}

TEST(SampleFit, AveragedTwiceIsAConstantScaleThatSaysSo) {
  // Mean reduction: Σ g_s / N² where Σ g_s / N belongs.
  const Case mean = tanh_case(4);
  const VerifyResult v = verify_reply(mean, weighted_reply(mean, [](Index) { return 1.0 / 16; }));
  SCOPED_TRACE(describe(v));
  EXPECT_EQ(divergence_kinds(v), std::set<BugKind>{BugKind::constant_scale});
  const Signature* s = find_signature(v, BugKind::constant_scale);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(evidence(*s, "recognised factor"), 0.25);
  EXPECT_NE(s->message.find("averaged twice"), std::string::npos);
  // Sum reduction: Σ g_s / N² where Σ g_s belongs.
  const Case sum = tanh_case(4, Reduction::sum);
  const VerifyResult w = verify_reply(sum, weighted_reply(sum, [](Index) { return 1.0 / 16; }));
  const Signature* t = find_signature(w, BugKind::constant_scale);
  ASSERT_NE(t, nullptr) << describe(w);
  EXPECT_EQ(evidence(*t, "recognised factor"), 1.0 / 16);
  EXPECT_NE(t->message.find("averaged twice where the loss is summed"), std::string::npos);
}

TEST(SampleFit, OneTensorSummedWhereTheOthersAreAveragedIsNamed) {
  const Case c = tanh_case(4);
  Reply r = engine_reply(c);
  r.layers[1].biases *= 4;
  const VerifyResult v = verify_reply(c, r);
  SCOPED_TRACE(describe(v));
  EXPECT_EQ(divergence_kinds(v), std::set<BugKind>{BugKind::tensor_scale});
  const Signature* s = find_signature(v, BugKind::tensor_scale);
  ASSERT_NE(s, nullptr);
  EXPECT_NE(s->message.find("layers[1].biases is 4 × the reference (×N, N = 4"), std::string::npos);
  EXPECT_NE(s->message.find("the other 3 tensors agree"), std::string::npos);
  EXPECT_NEAR(evidence(*s, "layers[1].biases ratio to the reference"), 4.0, 1e-9);
}

TEST(SampleFit, ACorrectReplyAtAnyBatchSizeAgrees) {
  for (int batch = 1; batch <= 6; ++batch)
    for (Reduction red : {Reduction::mean, Reduction::sum}) {
      const Case c = tanh_case(batch, red);
      const VerifyResult v = verify_reply(c, weighted_reply(c, [&](Index) { return red == Reduction::mean ? 1.0 / batch : 1.0; }));
      EXPECT_EQ(v.status, VerifyStatus::agree) << "batch " << batch << "\n" << describe(v);
    }
}

// Issue 12: a signature found on a batch of 5 must still fire once probe has
// shrunk the counterexample to a batch of 2 (or 1).
TEST(SampleFit, EveryKnownMutationIsNamedAtEveryBatchSize) {
  using A = Activation;
  int tested = 0;
  for (int batch = 1; batch <= 4; ++batch) {
    const std::vector<Case> cases = {
        make_case({3, 4, 2}, {A::tanh, A::sigmoid}, Loss::quadratic, Reduction::mean, batch, 21),
        make_case({4, 5, 3}, {A::tanh, A::softmax}, Loss::cross_entropy, Reduction::mean, batch, 22),
        make_case({3, 4, 2}, {A::sigmoid, A::sigmoid}, Loss::binary_cross_entropy, Reduction::sum, batch, 23),
        make_case({2, 6, 5, 3}, {A::leaky_relu, A::tanh, A::softmax}, Loss::cross_entropy, Reduction::sum, batch, 24),
    };
    for (const Case& c : cases)
      for (Mutation m : all_mutations) {
        if (!applies(m, c.network)) continue;
        Reply bad = engine_reply(c);
        const Gradients<double> g = mutated_gradients(c, m);
        for (std::size_t l = 0; l < bad.layers.size(); ++l) bad.layers[l] = {g.weights[l], g.biases[l]};
        if (change(bad, engine_reply(c)) < 1e-2) continue;
        ++tested;
        const VerifyResult v = verify_reply(c, bad);
        EXPECT_EQ(divergence_kinds(v), std::set<BugKind>{m.kind})
            << to_string(m) << " at batch " << batch << " on a " << to_string(c.network.loss) << " network\n"
            << describe(v);
      }
  }
  EXPECT_GE(tested, 60);
}

}  // namespace
}  // namespace gradcheck
