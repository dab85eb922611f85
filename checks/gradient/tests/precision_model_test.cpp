// The precision model's bounds where first-order error propagation is not
// enough (docs/comparison-rule.md#the-precision-model): a relu unit whose z may
// land on either side of 0 in the format, and a product of two values that are
// near 0 exactly and far from it in the format.
#include <gradcheck/engine/case_format.hpp>
#include <gradcheck/gradient/precision_model.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace gradcheck {
namespace {

// One relu unit z = x₀ − x₁ under an identity output 2a, quadratic loss,
// target 0: dL/dW₀ = 4 z x on the positive side, 0 on the other.
Case relu_difference(double x0, double x1) {
  const std::string text = R"({"network": {"layers": [
      {"activation": "relu", "weights": [[1, -1]], "biases": [0]},
      {"activation": "identity", "weights": [[2]], "biases": [0]}], "loss": "quadratic"},
    "inputs": [[)" + std::to_string(x0) + ", " + std::to_string(x1) + R"(]], "targets": [[0]]})";
  return parse_case(text, "relu_difference");
}

std::size_t kink_side_causes(const PrecisionModel& m) {
  return static_cast<std::size_t>(std::count_if(m.causes.begin(), m.causes.end(), [](const PrecisionCause& c) {
    return c.operation == PrecisionOperation::kink_side;
  }));
}

TEST(PrecisionModel, AReluWhoseZIsWithinTheFormatsErrorOfZeroMayTakeEitherSlope) {
  // z = 0.5 from 1000 − 999.5: bfloat16 holds 999.5 as 1000 and z as 0, where
  // relu' is 0 and dL/dW₀ = 0 instead of 4 · 0.5 · 1000 = 2000.
  const PrecisionModel m = precision_model(relu_difference(1000, 999.5), Precision::bfloat16);
  EXPECT_GE(m.kappa * m.weight(0, 0, 0).bound, 2000.0);
  EXPECT_EQ(kink_side_causes(m), 2U);  // one in each way, stable and textbook
  for (const PrecisionCause& c : m.causes) {
    if (c.operation != PrecisionOperation::kink_side) continue;
    EXPECT_EQ(c.layer, 0U);
    EXPECT_EQ(c.unit, 0);
    EXPECT_EQ(c.argument, 0.5);
  }
}

TEST(PrecisionModel, AReluFarFromItsKinkOrExactlyAtItHasNoSideToChoose) {
  // z = 500: bfloat16's error of z is a few tens, far from reaching 0, and
  // the bound stays well below the 2,000,000 that the other side would take away.
  const PrecisionModel far = precision_model(relu_difference(1000, 500), Precision::bfloat16);
  EXPECT_EQ(kink_side_causes(far), 0U);
  EXPECT_LT(far.kappa * far.weight(0, 0, 0).bound, 0.5 * 4 * 500 * 1000);
  // z exactly 0 is the kink itself: its derivative is a convention (verify's
  // kink note), not a side that rounding picks.
  EXPECT_EQ(kink_side_causes(precision_model(relu_difference(1000, 1000), Precision::bfloat16)), 0U);
  // In float64 z = 0.5 is far from 0 too.
  EXPECT_EQ(kink_side_causes(precision_model(relu_difference(1000, 999.5), Precision::float64)), 0U);
}

TEST(PrecisionModel, AProductOfTwoValuesNearZeroCarriesTheProductOfTheirErrors) {
  // An identity unit z = x₀ − x₁ = 0 exactly, target 0: δ = a − y and a are
  // both 0 exactly, and dL/dW of the output layer, δ·a, is 0 to first order
  // whatever their errors. Its bound must still cover e_δ · e_a ≥ e_z².
  Case c = relu_difference(1000, 1000);
  c.network.layers[0].activation = Activation::identity;
  const PrecisionModel m = precision_model(c, Precision::bfloat16);
  const double e_z = m.z_error[0](0, 0);
  ASSERT_GT(e_z, 1.0);  // the sum's (n − 1)·u·Σ|terms| at 1000 in bfloat16
  EXPECT_GE(m.weight(1, 0, 0).bound, e_z * e_z);
}

}  // namespace
}  // namespace gradcheck
