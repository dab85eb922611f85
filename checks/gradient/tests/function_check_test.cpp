// check_gradient on plain functions, and the GoogleTest helpers.
#include <gradcheck/gradient/gtest.hpp>

#include <gtest/gtest.h>

#include <cmath>

namespace gradcheck {
namespace {

// Rosenbrock, generic in the scalar so every method applies.
struct Rosenbrock {
  template <class S>
  S operator()(const Vector<S>& v) const {
    S total = S(0);
    for (Index i = 0; i + 1 < v.size(); ++i) {
      const S a = S(1) - v(i), b = v(i + 1) - v(i) * v(i);
      total += a * a + S(100) * b * b;
    }
    return total;
  }
};

Vector<double> rosenbrock_gradient(const Vector<double>& v) {
  Vector<double> g = Vector<double>::Zero(v.size());
  for (Index i = 0; i + 1 < v.size(); ++i) {
    const double b = v(i + 1) - v(i) * v(i);
    g(i) += -2 * (1 - v(i)) - 400 * v(i) * b;
    g(i + 1) += 200 * b;
  }
  return g;
}

Vector<double> point() {
  Vector<double> x(4);
  x << -1.2, 1.0, 0.5, 2.0;
  return x;
}

class FunctionMethods : public ::testing::TestWithParam<Method> {};

TEST_P(FunctionMethods, RosenbrockGradientPasses) {
  FunctionCheckOptions o;
  o.method = GetParam();
  const CheckResult r = check_gradient(Rosenbrock{}, rosenbrock_gradient, point(), o);
  EXPECT_TRUE(testing::Passed(r));
  ASSERT_EQ(r.entries.size(), 4u);
  EXPECT_EQ(r.summary.counts.agree, 4u);
  EXPECT_EQ(r.entries[0].tensor, TensorKind::x);
  EXPECT_NEAR(r.entries[0].numeric, rosenbrock_gradient(point())(0), 1e-6 * std::abs(rosenbrock_gradient(point())(0)));
  EXPECT_LT(r.summary.worst->relative_error, 1e-9);
}

TEST_P(FunctionMethods, AGradientWithOneWrongTermFailsOnThatEntryOnly) {
  auto bad = [](const Vector<double>& v) {
    Vector<double> g = rosenbrock_gradient(v);
    g(2) *= 1.001;  // 0.1 % off in one entry
    return g;
  };
  FunctionCheckOptions o;
  o.method = GetParam();
  const CheckResult r = check_gradient(Rosenbrock{}, bad, point(), o);
  EXPECT_FALSE(r.summary.passed);
  ASSERT_EQ(r.summary.counts.disagree, 1u);
  EXPECT_EQ(r.summary.worst->row, 2);
  EXPECT_NEAR(r.summary.worst->relative_error, 1e-3, 1e-6);
  const std::string table = testing::format_table(r);
  EXPECT_NE(table.find("disagree"), std::string::npos) << table;
  EXPECT_NE(table.find("worst entry"), std::string::npos) << table;
}

INSTANTIATE_TEST_SUITE_P(CheckGradient, FunctionMethods,
                         ::testing::Values(Method::central, Method::ridders, Method::complex_step, Method::multiprecision));

TEST(CheckGradient, MacroPassesOnAPlainDoubleFunction) {
  auto f = [](const Vector<double>& v) { return std::sin(v(0)) * std::exp(v(1)); };
  auto grad = [](const Vector<double>& v) {
    Vector<double> g(2);
    g << std::cos(v(0)) * std::exp(v(1)), std::sin(v(0)) * std::exp(v(1));
    return g;
  };
  Vector<double> x(2);
  x << 0.3, -0.7;
  EXPECT_GRADIENT_MATCHES(f, grad, x);
}

TEST(CheckGradient, FailureMessageCarriesTheTable) {
  auto f = [](const Vector<double>& v) { return v(0) * v(0); };
  auto wrong = [](const Vector<double>& v) { return Vector<double>::Constant(1, v(0)); };  // forgot the 2
  Vector<double> x = Vector<double>::Constant(1, 3.0);
  const ::testing::AssertionResult a = testing::GradientMatches(f, wrong, x);
  ASSERT_FALSE(a);
  const std::string message = a.message();
  EXPECT_NE(message.find("analytic"), std::string::npos) << message;
  EXPECT_NE(message.find("disagree"), std::string::npos) << message;
  EXPECT_NE(message.find("0.5"), std::string::npos) << message;  // relative error 0.5
}

TEST(CheckGradient, MethodsNeedingAGenericFunctionSayWhy) {
  auto f = [](const Vector<double>& v) { return v(0); };
  auto grad = [](const Vector<double>&) { return Vector<double>::Ones(1); };
  FunctionCheckOptions o;
  o.method = Method::complex_step;
  EXPECT_THROW(check_gradient(f, grad, Vector<double>::Zero(1), o), std::invalid_argument);
}

TEST(CheckGradient, WrongGradientLengthIsAFindingNotACrash) {
  auto f = [](const Vector<double>& v) { return v.sum(); };
  auto grad = [](const Vector<double>&) { return Vector<double>::Ones(2); };
  const CheckResult r = check_gradient(f, grad, Vector<double>::Zero(3));
  EXPECT_FALSE(r.summary.passed);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].kind, FindingKind::shape_mismatch);
}

TEST(CheckGradient, NaNGradientIsNonFinite) {
  auto f = [](const Vector<double>& v) { return v(0) * v(1); };
  auto grad = [](const Vector<double>& v) {
    Vector<double> g(2);
    g << v(1), std::nan("");
    return g;
  };
  Vector<double> x(2);
  x << 1, 2;
  const CheckResult r = check_gradient(f, grad, x);
  EXPECT_EQ(r.summary.counts.non_finite, 1u);
  EXPECT_EQ(r.summary.counts.agree, 1u);
  EXPECT_EQ(r.summary.worst->row, 1);
}

}  // namespace
}  // namespace gradcheck
