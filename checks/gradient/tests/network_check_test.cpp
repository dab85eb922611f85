// check_network, check_gradients and compare_gradients on fixed cases.
#include <gradcheck/gradient/network_check.hpp>
#include <gradcheck/engine/case_format.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>

namespace gradcheck {
namespace {

using testing::case_321;
using testing::non_agreeing;

class EveryMethod : public ::testing::TestWithParam<std::pair<Method, Mode>> {};

TEST_P(EveryMethod, PassesTheEngineOnThe321Case) {
  CheckOptions o;
  o.method = GetParam().first;
  o.mode = GetParam().second;
  const CheckResult r = check_network(case_321(), o);
  EXPECT_TRUE(r.summary.passed) << non_agreeing(r);
  EXPECT_EQ(r.summary.parameters, 11);  // 6 + 2 hidden, 2 + 1 output
  if (o.mode == Mode::full) {
    EXPECT_EQ(r.entries.size(), 11u);
    EXPECT_EQ(r.summary.counts.agree, 11u);
  } else {
    EXPECT_EQ(r.directions.size(), 4u * 4u + 1u);
    EXPECT_TRUE(r.entries.empty());  // no fallback needed
    EXPECT_EQ(r.summary.escape_probability, 0.0) << r.summary.escape_statement;
  }
  EXPECT_EQ(r.summary.method, o.method);
}

TEST_P(EveryMethod, FindsTheQuestionersOutputBiasGradient) {
  // The asker's reply: output-layer db = 0.11470326 where the truth is −0.0351261147.
  Case c = case_321();
  auto g = as_layer_gradients(gradients(c.network, c.inputs, c.targets));
  g[1].biases(0) = 0.11470326;
  CheckOptions o;
  o.method = GetParam().first;
  o.mode = GetParam().second;
  const CheckResult r = check_gradients(c, g, o);
  EXPECT_FALSE(r.summary.passed);
  ASSERT_EQ(r.summary.counts.disagree, 1u) << non_agreeing(r);
  for (const Entry& e : r.entries)
    if (e.verdict == Verdict::disagree) {
      EXPECT_EQ(e.layer, 1);
      EXPECT_EQ(e.tensor, TensorKind::biases);
      EXPECT_NEAR(e.numeric, -0.0351261147127841, 1e-9);
      EXPECT_NEAR(e.relative_error, (0.11470326 + 0.0351261147127841) / 0.0351261147127841, 1e-6);
    }
  if (o.mode == Mode::fast) {
    for (const TensorSummary& t : r.tensors) EXPECT_EQ(t.fell_back_to_entries, t.layer == 1 && t.tensor == TensorKind::biases);
  }
}

// RapidCheck's counterexample to CheckProperty.CentralDifferencesRaiseNoFalseAlarm
// (seed 1034378388091139173, shrunk): z = 394·x with x = −135 and 28, so the
// softmax switches class within the central stencil of weights(2,0). Its
// third difference claimed ±2,740 on 17,399 against the true 28,366.
TEST(CentralMethod, ExtrapolatesWhereItsStepDoesNotResolveASaturatedSoftmax) {
  const Case c = parse_case(R"({"network": {"layers": [
      {"activation": "identity", "weights": [[295]], "biases": [0]},
      {"activation": "softmax", "weights": [[0], [394], [394]], "biases": [0, 0, 1]}],
    "loss": "binary_cross_entropy", "reduction": "sum"},
    "inputs": [[-135], [28]], "targets": [[0.173, 0, 0], [0.078, 0, 0]]})",
                            "counterexample");
  CheckOptions o;
  o.method = Method::central;
  const CheckResult r = check_network(c, o);
  EXPECT_EQ(r.summary.counts.disagree, 0u) << non_agreeing(r);
  CheckOptions truth;
  const CheckResult t = check_network(c, truth);
  ASSERT_EQ(t.entries.size(), r.entries.size());
  for (std::size_t k = 0; k < r.entries.size(); ++k) {
    if (r.entries[k].verdict != Verdict::agree) continue;
    EXPECT_LE(std::abs(r.entries[k].numeric - t.entries[k].numeric), r.entries[k].tolerance) << k;
  }
}

INSTANTIATE_TEST_SUITE_P(Methods, EveryMethod,
                         ::testing::Values(std::pair{Method::multiprecision, Mode::full}, std::pair{Method::central, Mode::full},
                                           std::pair{Method::ridders, Mode::full}, std::pair{Method::complex_step, Mode::full},
                                           std::pair{Method::central, Mode::fast}, std::pair{Method::ridders, Mode::fast},
                                           std::pair{Method::complex_step, Mode::fast}));

}  // namespace
}  // namespace gradcheck
