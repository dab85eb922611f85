// The reference's first dense layer from exact sums of double products
// (detail/exact_sum.hpp): each sum is compared with the same sum in 1,600 bits,
// where every sum of these products is exact. An accumulator that dropped a
// carry, a digit's sign or the rounding error of a product would be off by far
// more than the one 50-digit rounding allowed.
#include <gradcheck/gradient/detail/exact_sum.hpp>
#include <gradcheck/gradient/detail/internal.hpp>
#include <gradcheck/gradient/reference.hpp>
#include <gradcheck/probe/generators.hpp>
#include <gradcheck/engine/case_format.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cmath>
#include <vector>

namespace gradcheck {
namespace {

using Big = cpp_bin_float_50;
using Wide = boost::multiprecision::number<
    boost::multiprecision::cpp_bin_float<1600, boost::multiprecision::digit_base_2>>;

// Within one 50-digit rounding (2^-166 relative) of the exact value, and 0 exactly when it is 0.
bool within_one_rounding(const Big& got, const Wide& exact) {
  if (exact == 0) return got == 0;
  const Big rounded = static_cast<Big>(exact);
  return abs(got - rounded) <= ldexp(abs(rounded), -165);
}

// A double of random sign, 53 random bits and an exponent in [−e, e].
rc::Gen<double> spread_double(int e) {
  return rc::gen::map(rc::gen::tuple(rc::gen::inRange<std::int64_t>(-(std::int64_t(1) << 53) + 1, std::int64_t(1) << 53),
                                     rc::gen::inRange(-e, e + 1)),
                      [](const std::tuple<std::int64_t, int>& t) {
                        return std::ldexp(static_cast<double>(std::get<0>(t)), std::get<1>(t) - 53);
                      });
}

RC_GTEST_PROP(ExactSum, ASumOfProductsIsTheExactSumRoundedOnce, ()) {
  const auto a = *rc::gen::container<std::vector<double>>(spread_double(300));
  const auto b = *rc::gen::container<std::vector<double>>(a.size(), spread_double(300));
  const double c = *spread_double(600);
  detail::ExactSum sum;
  Wide exact = c;
  sum.add(c);
  for (std::size_t k = 0; k < a.size(); ++k) {
    RC_ASSERT(sum.add_product(a[k], b[k]));
    exact += Wide(a[k]) * Wide(b[k]);
  }
  const Big got = sum.take();
  RC_ASSERT(within_one_rounding(got, exact));
  RC_ASSERT(sum.take() == 0);  // take() empties it
}

TEST(ExactSum, KeepsWhatFiftyDigitsLoseToCancellation) {
  detail::ExactSum sum;
  for (double v : {1e300, 1.0, -1e300}) sum.add(v);
  EXPECT_EQ(sum.take(), Big(1));  // 1e300 + 1 − 1e300 in 50 digits is 0
  // Subnormals and signs: 3·2^-1074 − 2^-1074 + 0.
  for (double v : {3 * 0x1p-1074, -0x1p-1074, 0.0}) sum.add(v);
  EXPECT_EQ(sum.take(), ldexp(Big(1), -1073));
  // A negative sum whose digits borrow across the whole range.
  for (double v : {-0x1p1000, 0x1p-1000}) sum.add(v);
  EXPECT_EQ(sum.take(), Big(-ldexp(Big(1), 1000) + ldexp(Big(1), -1000)));
}

TEST(ExactSum, DeclinesProductsOutsideDoublesRange) {
  detail::ExactSum sum;
  EXPECT_FALSE(sum.add_product(1e200, 1e200));    // overflows
  EXPECT_FALSE(sum.add_product(1e-160, 1e-160));  // its rounding error would underflow
  EXPECT_TRUE(sum.add_product(0.0, 1e300));
  EXPECT_EQ(sum.take(), 0);
}

TEST(ExactSum, SplitsAFiftyDigitValueIntoDoublesThatSumToItExactly) {
  std::array<double, 4> parts{};
  const Big third = Big(1) / 3;
  ASSERT_TRUE(detail::split_exactly(third, parts));
  EXPECT_EQ(Big(parts[0]) + Big(parts[1]) + Big(parts[2]) + Big(parts[3]), third);
  EXPECT_NE(parts[2], 0.0);  // a third needs all of 50 digits
  EXPECT_FALSE(detail::split_exactly(ldexp(third, -2000), parts));  // below double's range
  EXPECT_FALSE(detail::split_exactly(ldexp(third, 2000), parts));   // above it
}

TEST(ExactProduct, AnEntryWhoseProductsLeaveDoublesRangeIsComputedInFiftyDigits) {
  Matrix<double> A(2, 2);
  A << 1e-170, 3, 0.5, -2;
  Matrix<double> B(2, 1);
  B << 1e-170, 0.25;
  const Vector<double> bias = Vector<double>::Constant(2, 1.0);
  const Matrix<Big> got = detail::exact_product(A, &B, nullptr, &bias, 1);
  const Big expected0 = Big(1e-170) * Big(1e-170) + Big(3) * Big(0.25) + 1;  // underflows double: 50 digits
  EXPECT_EQ(got(0, 0), expected0);
  EXPECT_EQ(got(1, 0), Big(0.5) * Big(1e-170) - Big(0.5) + 1);
}

RC_GTEST_PROP(ExactProduct, DoubleTimesFiftyDigitsIsExactOnEveryWorkerCount, ()) {
  const int rows = *rc::gen::inRange(1, 5), inner = *rc::gen::inRange(1, 6), cols = *rc::gen::inRange(1, 5);
  Matrix<double> A(rows, inner);
  Matrix<Big> B(inner, cols);
  for (Index i = 0; i < A.size(); ++i) A.data()[i] = *spread_double(200);
  // Every entry of B uses all 50 digits: three doubles 55 bits apart, exact in 168 bits.
  Matrix<Wide> exact_B(inner, cols);
  for (Index i = 0; i < B.size(); ++i) {
    const double d0 = *spread_double(200), d1 = *spread_double(0), d2 = *spread_double(0);
    const int e = d0 == 0 ? 0 : std::ilogb(d0);
    B.data()[i] = Big(d0) + ldexp(Big(d1), e - 55) + ldexp(Big(d2), e - 110);
    exact_B.data()[i] = Wide(d0) + ldexp(Wide(d1), e - 55) + ldexp(Wide(d2), e - 110);
  }
  const Matrix<Big> got = detail::exact_product(A, nullptr, &B, nullptr, *rc::gen::inRange(1u, 3u));
  for (Index r = 0; r < rows; ++r)
    for (Index c = 0; c < cols; ++c) {
      Wide exact = 0;
      for (Index k = 0; k < inner; ++k) exact += Wide(A(r, k)) * exact_B(k, c);
      RC_ASSERT(within_one_rounding(got(r, c), exact));
    }
}

// The reference against the 50-digit engine run as it is (every product in 50
// digits): the same gradients to within one rounding to double.
RC_GTEST_PROP(ExactFirstLayer, TheReferenceGivesTheFiftyDigitEnginesGradients, ()) {
  CaseSpace space;
  space.magnitudes = {Magnitude::unit, Magnitude::tiny, Magnitude::large};
  const Case c = *gen::any_case(space);
  ReferenceOptions o;
  o.input_gradients = true;
  o.cross_check_per_tensor = 0;
  o.cross_check_all_up_to = 0;
  const Reference ref = reference_gradients(c, o);
  const detail::Evaluated<Big> e = detail::evaluate_as<Big>(c, true);
  const auto ids = detail::tensors_of(c.network, c.inputs.cols(), true);
  RC_ASSERT(ids.size() == ref.tensors.size());
  for (std::size_t k = 0; k < ids.size(); ++k) {
    const Matrix<Big> g = detail::gradient_of(e.g, ids[k]);
    const double scale = std::max(1.0, ref.tensors[k].max_abs);
    for (Index i = 0; i < g.size(); ++i) {
      const double want = static_cast<double>(g.data()[i]), got = ref.tensors[k].value.data()[i];
      // The two round 50-digit values about 1e-49 apart to double; a gradient
      // that cancels to about 0 is that round-off of its terms, on either side.
      RC_ASSERT(std::abs(got - want) <= 1e-14 * std::abs(want) + 1e-40 * scale);
    }
  }
}

// W = [1e60, 1, −1e60], x = [1, 1, 1], b = −1: z is exactly 0, a relu's kink;
// with every product and sum in 50 digits 1e60 + 1 is 1e60 and z is −1.
TEST(ExactFirstLayer, FindsAKinkThatFiftyDigitSumsWouldMiss) {
  Case c;
  c.network.loss = Loss::quadratic;
  c.network.layers.push_back({Activation::relu, testing::matrix({{1e60, 1, -1e60}}), testing::vector({-1})});
  c.network.layers.push_back({Activation::identity, testing::matrix({{2}}), testing::vector({0})});
  c.inputs = Matrix<double>::Ones(3, 1);
  c.targets = Matrix<double>::Ones(1, 1);
  const Reference ref = reference_gradients(c);
  ASSERT_EQ(ref.kinks.size(), 1u);
  EXPECT_TRUE(ref.kinks[0].exact);
  EXPECT_EQ(ref.kinks[0].z, 0.0);
  EXPECT_EQ(detail::evaluate_as<Big>(c, false).fp.z[0](0, 0), -1);  // what the engine in 50 digits says
}

}  // namespace
}  // namespace gradcheck
