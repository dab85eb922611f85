// check_network, check_gradients and compare_gradients on fixed cases.
#include <gradcheck/gradient/network_check.hpp>

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

INSTANTIATE_TEST_SUITE_P(Methods, EveryMethod,
                         ::testing::Values(std::pair{Method::multiprecision, Mode::full}, std::pair{Method::central, Mode::full},
                                           std::pair{Method::ridders, Mode::full}, std::pair{Method::complex_step, Mode::full},
                                           std::pair{Method::central, Mode::fast}, std::pair{Method::ridders, Mode::fast},
                                           std::pair{Method::complex_step, Mode::fast}));

}  // namespace
}  // namespace gradcheck
