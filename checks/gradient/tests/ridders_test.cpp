// Ridders' error estimate against the truth (the 50-digit reference), and the
// estimators of finite_difference.hpp on functions with known derivatives.
#include <gradcheck/gradient/detail/line.hpp>
#include <gradcheck/gradient/detail/roundoff.hpp>
#include <gradcheck/gradient/finite_difference.hpp>
#include <gradcheck/probe/generators.hpp>
#include <gradcheck/gradient/reference.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

namespace gradcheck {
namespace {

TEST(FiniteDifference, CentralDifferenceErrorEstimateCoversItsError) {
  auto f = [](double t) { return std::exp(0.3 + t); };
  const Derivative d = central_difference(f, 1e-3, 1e-16 * std::exp(0.3));
  const double truth = std::exp(0.3);
  EXPECT_TRUE(d.ok);
  EXPECT_LE(std::abs(d.value - truth), d.error);
  EXPECT_LT(d.error, 1e-6);  // h²/6 · f''' ≈ 2.3e-7
}

TEST(FiniteDifference, TheCentralDifferenceCostsFourEvaluationsWhereTheStepResolvesTheFunction) {
  int calls = 0;
  auto f = [&](double t) {
    ++calls;
    return std::exp(0.3 + t);
  };
  const Derivative d = central_difference_3(f, 6e-6, std::exp(0.3), 1e-16 * std::exp(0.3));
  EXPECT_EQ(calls, 4);
  EXPECT_TRUE(d.ok);
  EXPECT_TRUE(d.resolved);
  EXPECT_LE(std::abs(d.value - std::exp(0.3)), d.error);
}

// A saturated unit that switches within the stencil: f = δ·softplus((t + t₀)/δ)
// bends from slope 0 to slope 1 over a third of a step, half a step left of 0.
// There f(2h) − 3 f(h) + 3 f(0) − f(−h) vanishes (to 1e-16) while D(h) is off
// by 0.12: one third difference alone claimed 2.5e-13. The estimate says the
// step does not resolve f, and Ridders from a quarter of the step gets it.
TEST(FiniteDifference, TheCentralDifferenceSaysWhenTheStepDoesNotResolveTheFunction) {
  const double h = 1e-3, delta = 0.3e-3, t0 = -0.5e-3;
  auto f = [&](double t) { return delta * std::log1p(std::exp((t + t0) / delta)); };
  const double truth = 1 / (1 + std::exp(-t0 / delta));
  const Derivative d = central_difference_3(f, h, f(0), 1e-16);
  EXPECT_TRUE(d.ok);
  EXPECT_GT(std::abs(d.value - truth), 0.1);
  EXPECT_FALSE(d.resolved) << "value " << d.value << " ± " << d.error << ", truth " << truth;
  const Derivative r = ridders(f, h / 4, 1e-16);
  EXPECT_LE(std::abs(r.value - truth), r.error);
  EXPECT_LT(r.error, 1e-6);
}

TEST(FiniteDifference, RiddersReachesNearMachinePrecisionOnSmoothFunctions) {
  auto f = [](double t) { return std::sin(1.1 + t) * std::exp(0.5 * t); };
  const double truth = std::cos(1.1) + 0.5 * std::sin(1.1);
  const Derivative d = ridders(f, 0.1);
  EXPECT_TRUE(d.ok);
  EXPECT_LT(std::abs(d.value - truth), 1e-12);
  EXPECT_LE(std::abs(d.value - truth), 4 * d.error);
}

TEST(FiniteDifference, OneSidedRiddersGivesTheSlopeOfItsSide) {
  auto f = [](double t) { return t > 0 ? 3 * t + t * t : -0.5 * t; };  // a kink at 0
  EXPECT_NEAR(ridders(f, 0.1, 0, Side::forward, 0.0).value, 3.0, 1e-10);
  EXPECT_NEAR(ridders(f, 0.1, 0, Side::backward, 0.0).value, -0.5, 1e-10);
}

TEST(FiniteDifference, UnusablePointsMakeRiddersShrinkPastThem) {
  // Points beyond |t| > 0.01 are "across a kink": the tableau starts below them.
  auto f = [](double t) -> std::optional<double> {
    if (std::abs(t) > 0.01) return std::nullopt;
    return std::exp(t);
  };
  const Derivative d = ridders(f, 1.0);
  EXPECT_TRUE(d.ok);
  EXPECT_NEAR(d.value, 1.0, 1e-10);
  EXPECT_LE(d.step, 0.01);
}

TEST(FiniteDifference, ComplexStepIsExactToRounding) {
  auto f = [](std::complex<double> t) { return std::exp(t) / std::sqrt(std::sin(t) * std::sin(t) + 1.0); };
  // d/dt at 0 of e^t / sqrt(sin² t + 1) = 1.
  const Derivative d = complex_step(f, 1e-20);
  EXPECT_DOUBLE_EQ(d.value, 1.0);
}

// Over random smooth networks: Ridders' estimate as the checks use it (NR's
// tableau estimate plus the loss's round-off ε_f / h, which the tableau alone
// misses: without it the estimate bounded the true error in only 48 % of
// entries, the true error being round-off of ~1e-13 at the chosen step)
// against the true error, entry by entry. Measured (60 cases, 2,919 entries):
// the estimate bounds the true error in every entry, the worst true/estimate
// ratio being 0.29 — the estimate is conservative by 3× at least.
TEST(FiniteDifference, RiddersErrorEstimateBoundsTrueError) {
  CaseSpace space;
  space.activations = {Activation::identity, Activation::sigmoid, Activation::tanh, Activation::softmax};
  space.magnitudes = {Magnitude::unit};
  space.max_layers = 3;
  int entries = 0, bounded = 0, within4 = 0;
  double worst_ratio = 0;
  for (int k = 0; k < 60; ++k) {
    const Case c = gen::any_case(space)(rc::Random(rc::detail::avalanche(1000 + k)), rc::kNominalSize).value();
    ReferenceOptions ro;
    ro.cross_check_all_up_to = 0;
    ro.cross_check_per_tensor = 0;
    const Reference ref = reference_gradients(c, ro);
    detail::LineLoss<double> line(c.network, c.inputs, c.targets);
    Gradients<double> g;
    backward(c.network, line.base(), c.targets, g, false);
    const Vector<double> noise = detail::loss_noise(c, line.base(), g);
    const double unreduce = c.network.reduction == Reduction::mean ? static_cast<double>(c.inputs.cols()) : 1.0;
    for (const ReferenceTensor& t : ref.tensors)
      for (Index i = 0; i < t.value.size(); ++i) {
        detail::ParamRef p{t.layer, t.tensor, i % t.value.rows(), i / t.value.rows()};
        const auto cols = line.touched(p);
        if (cols.empty()) continue;
        auto f = [&](double s) { return line.eval(p, s, cols, nullptr); };
        double eps_f = 0;
        for (Index n : cols) eps_f += 4 * noise(n);
        const auto& layer = c.network.layers[static_cast<std::size_t>(p.layer)];
        const double theta = p.tensor == TensorKind::weights ? layer.weights(p.row, p.col) : layer.biases(p.row);
        const Derivative d = ridders(f, 1e-3 * std::max(1.0, std::abs(theta)), eps_f);
        if (!d.ok) continue;
        const double true_error = std::abs(d.value / unreduce - t.value(i));
        const double estimate = d.error / unreduce + std::abs(t.value(i)) * 0x1p-53;  // + the reference's rounding
        ++entries;
        bounded += true_error <= estimate;
        within4 += true_error <= 4 * estimate;
        if (estimate > 0) worst_ratio = std::max(worst_ratio, true_error / estimate);
      }
  }
  ASSERT_GT(entries, 1000);
  const double fraction = static_cast<double>(bounded) / entries, fraction4 = static_cast<double>(within4) / entries;
  std::printf("Ridders: %d entries; estimate >= true error in %.4f, 4x estimate in %.5f; worst true/estimate %.3g\n",
              entries, fraction, fraction4, worst_ratio);
  EXPECT_GE(fraction, 0.99);
  EXPECT_EQ(fraction4, 1.0);
  EXPECT_LT(worst_ratio, 1.0);
}

}  // namespace
}  // namespace gradcheck
