// exp_ in 50 digits (engine/src/scalar.cpp) against Boost.Multiprecision's exp
// in 100 digits: e^x to about 1e-49, over every range the engine meets. A wrong
// reduction constant, a missing series term or squaring would be off by far
// more. (Boost's own 50-digit exp is off by n·1e-50 at x = n ln 2: it reduces
// with one rounded ln 2; exp_ splits ln 2 in two.)
#include <gradcheck/engine/scalar.hpp>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cmath>
#include <limits>

namespace gradcheck {
namespace {

using Big = cpp_bin_float_50;
using Wide = boost::multiprecision::number<boost::multiprecision::cpp_bin_float<100>>;
using detail::exp_;

double relative_difference(const Big& got, const Big& want) {
  return static_cast<double>(abs(got - want) / want);
}

RC_GTEST_PROP(Exp50, IsBoostsExpToFiftyDigitsAtEveryScale, ()) {
  const double scale = *rc::gen::element(1e-30, 1e-3, 0.7, 30.0, 700.0, 1e5, 1e6);
  const int k = *rc::gen::inRange(-1000000, 1000001);
  const Big x = Big(scale) * k / 1000000 / 3;  // thirds: all 50 digits in use
  const Big got = exp_(x), want = static_cast<Big>(exp(Wide(x)));
  RC_ASSERT(relative_difference(got, want) < 1e-48);
}

TEST(Exp50, KeepsTheSpecialValues) {
  EXPECT_EQ(exp_(Big(0)), 1);
  EXPECT_EQ(exp_(Big(-std::numeric_limits<double>::infinity())), 0);
  EXPECT_TRUE(isinf(exp_(Big(std::numeric_limits<double>::infinity()))));
  EXPECT_TRUE(isnan(exp_(Big(std::numeric_limits<double>::quiet_NaN()))));
  EXPECT_EQ(exp_(Big(2e6)), boost::multiprecision::exp(Big(2e6)));  // beyond 1e6: Boost's own
  // e^{−x} directly, not 1 / e^x: one ulp-scale agreement with 1 / e^x.
  EXPECT_LT(relative_difference(exp_(Big(-5)) * exp_(Big(5)), Big(1)), 1e-48);
}

}  // namespace
}  // namespace gradcheck
