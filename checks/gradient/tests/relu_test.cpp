// Zero false alarms on correct ReLU networks, kinks included; what the checker
// says at a kink; and the engine divergence the properties found.
#include <gradcheck/probe/generators.hpp>
#include <gradcheck/verify/mutations.hpp>
#include <gradcheck/gradient/network_check.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <sstream>

namespace gradcheck {
namespace {

using testing::matrix;
using testing::non_agreeing;
using testing::vector;

// A random ReLU network (relu / leaky_relu hidden layers); half of them are
// pushed onto exact kinks: a hidden unit's weights and bias zeroed (z = 0 for
// every sample), or a sample zeroed with zero biases in the first layer.
// (Generated at RapidCheck's nominal size: inRange scales with the size.)
rc::Gen<Case> relu_case() {
  return rc::gen::exec([]() {
    CaseSpace space;
    space.activations = {Activation::relu, Activation::leaky_relu, Activation::identity, Activation::sigmoid,
                         Activation::softmax};
    space.min_layers = 2;
    space.magnitudes = {Magnitude::unit, Magnitude::tiny, Magnitude::large};
    Case c = *gen::any_case(space);
    for (std::size_t l = 0; l + 1 < c.network.layers.size(); ++l)
      c.network.layers[l].activation = *rc::gen::elementOf(std::vector<Activation>{Activation::relu, Activation::leaky_relu});
    switch (*rc::gen::inRange(0, 3)) {
      case 0: {
        auto& layer = c.network.layers[static_cast<std::size_t>(*rc::gen::inRange<int>(0, static_cast<int>(c.network.layers.size()) - 1))];
        const Index j = *rc::gen::inRange<Index>(0, layer.units());
        layer.weights.row(j).setZero();
        layer.biases(j) = 0;
        break;
      }
      case 1:
        c.inputs.col(*rc::gen::inRange<Index>(0, c.inputs.cols())).setZero();
        c.network.layers[0].biases.setZero();
        break;
      default: break;
    }
    return c;
  });
}

std::string show(const Case& c) {
  std::ostringstream os;
  showValue(c, os);
  return os.str();
}

// 1,000 correct ReLU networks, a third of them on exact kinks: no `disagree`,
// no `non-finite`, with central differences (where torch's gradcheck raises
// false alarms at kinks) and, on every fourth, Ridders and the 50-digit reference.
TEST(ReluNetworks, ThousandCorrectNetworksRaiseNoFalseAlarm) {
  int with_kinks = 0, exact = 0, seed = 77;
  for (int k = 0; k < 1000; ++k) {
    Case c;
    c = relu_case()(rc::Random(rc::detail::avalanche(seed++)), rc::kNominalSize).value();
    std::vector<Method> methods{Method::central};
    if (k % 4 == 0) methods.insert(methods.end(), {Method::ridders, Method::multiprecision});
    for (Method m : methods) {
      CheckOptions o;
      o.method = m;
      o.threads = 1;
      o.reference.cross_check_all_up_to = 0;
      o.reference.cross_check_per_tensor = 1;
      const CheckResult r = check_network(c, o);
      ASSERT_TRUE(r.summary.passed) << "case " << k << " method " << to_string(m) << "\n" << show(c) << "\n"
                                    << non_agreeing(r);
      if (m == Method::central && r.summary.counts.inconclusive_kink > 0) {
        ++with_kinks;
        for (const Entry& e : r.entries)
          if (e.kink && e.kink->exact) {
            ++exact;
            break;
          }
      }
    }
  }
  std::printf("1000 ReLU networks: %d with kink-inconclusive entries (%d at exact kinks), 0 false alarms\n", with_kinks,
              exact);
  EXPECT_GT(exact, 100);  // the exact-kink constructions did reach the kink logic
}

// relu(w·x + b) at w = 1, x = 1, b = −1: z = 0 exactly; one output unit, identity, quadratic.
Case exact_kink_case() {
  Case c;
  c.network.loss = Loss::quadratic;
  c.network.reduction = Reduction::sum;
  c.network.layers.push_back({Activation::relu, matrix({{1.0}}), vector({-1.0})});
  c.network.layers.push_back({Activation::identity, matrix({{2.0}}), vector({0.5})});
  c.inputs = matrix({{1.0}});
  c.targets = matrix({{0.0}});
  return c;
}

TEST(ReluNetworks, AtAnExactKinkTheNoteGivesTheConventionAndBothSlopes) {
  // L = ½ (2·relu(w + b) + 0.5)²: dL/db from the right = 2·(0.5)·1 = 1, from the left 0.
  for (Method m : {Method::central, Method::ridders, Method::complex_step, Method::multiprecision}) {
    CheckOptions o;
    o.method = m;
    const CheckResult r = check_network(exact_kink_case(), o);
    EXPECT_TRUE(r.summary.passed) << to_string(m) << "\n" << non_agreeing(r);
    const Entry* bias = nullptr;
    for (const Entry& e : r.entries)
      if (e.layer == 0 && e.tensor == TensorKind::biases) bias = &e;
    ASSERT_NE(bias, nullptr);
    EXPECT_EQ(bias->verdict, Verdict::inconclusive_kink) << to_string(m);
    ASSERT_TRUE(bias->kink.has_value());
    EXPECT_TRUE(bias->kink->exact);
    EXPECT_EQ(bias->kink->layer, 0);
    EXPECT_EQ(bias->kink->unit, 0);
    EXPECT_NEAR(bias->kink->forward_slope, 1.0, 1e-8) << to_string(m);
    EXPECT_NEAR(bias->kink->backward_slope, 0.0, 1e-8) << to_string(m);
    EXPECT_NE(bias->note.find("layer 0 unit 0"), std::string::npos) << bias->note;
    EXPECT_NE(bias->note.find("relu'(0) = 0"), std::string::npos) << bias->note;
  }
}

TEST(ReluNetworks, AtAnExactKinkAValueMatchingNeitherSideDisagrees) {
  const Case c = exact_kink_case();
  auto g = as_layer_gradients(gradients(c.network, c.inputs, c.targets));
  g[0].biases(0) = -1.0;  // neither 0 nor 1
  for (Method m : {Method::central, Method::multiprecision}) {
    CheckOptions o;
    o.method = m;
    const CheckResult r = check_gradients(c, g, o);
    EXPECT_FALSE(r.summary.passed) << to_string(m);
    EXPECT_EQ(r.summary.counts.disagree, 1u) << to_string(m) << "\n" << non_agreeing(r);
  }
}

TEST(ReluNetworks, AStencilCrossingANearbyKinkIsRecheckedOneSided) {
  // z = 1e-7 > 0: central differences with h ≈ 6e-6 cross the kink; the forward side does not.
  Case c = exact_kink_case();
  c.network.layers[0].biases(0) = -1.0 + 1e-7;
  CheckOptions o;
  o.method = Method::central;
  const CheckResult r = check_network(c, o);
  EXPECT_TRUE(r.summary.passed) << non_agreeing(r);
  bool rechecked = false;
  for (const Entry& e : r.entries)
    if (e.stencil == Stencil::forward) {
      rechecked = true;
      EXPECT_EQ(e.verdict, Verdict::agree);
      EXPECT_NE(e.note.find("re-checked one-sided (forward)"), std::string::npos) << e.note;
      EXPECT_FALSE(e.kink->exact);
    }
  EXPECT_TRUE(rechecked);
}

// Found by CheckProperty, since fixed in the engine (network.hpp computes the
// softmax + binary cross-entropy delta's share in log space): the fused delta
// lost the term a_k e_j / rest_k when e_j and rest_k both underflowed (a logit
// gap past ≈ 745), so dL/dz of the small class was off by up to 1.
TEST(CheckNetwork, SoftmaxBceDeltaSurvivesALogitGapPastUnderflow) {
  Case c;
  c.network.loss = Loss::binary_cross_entropy;
  c.network.reduction = Reduction::sum;
  c.network.layers.push_back({Activation::softmax, matrix({{1.0}, {0.0}}), vector({0.0, 0.0})});
  c.inputs = matrix({{800.0}});
  c.targets = matrix({{0.0}, {0.0}});
  // The truth: L = −ln a_1 − ln a_0 = 2 lse(z) − z_0 − z_1, dL/db_1 = 2 a_1 − 1 ≈ −1.
  const Gradients<double> engine = gradients(c.network, c.inputs, c.targets);
  EXPECT_NEAR(engine.biases[0](1), -1.0, 1e-12);
  EXPECT_NEAR(engine.biases[0](0), 1.0, 1e-12);
  const CheckResult r = check_network(c);
  EXPECT_TRUE(r.summary.passed) << non_agreeing(r);
  int seen = 0;
  for (const Entry& e : r.entries)
    if (e.tensor == TensorKind::biases && e.row == 1) {
      ++seen;
      EXPECT_NEAR(e.numeric, -1.0, 1e-12);
      EXPECT_EQ(e.verdict, Verdict::agree);
    }
  EXPECT_EQ(seen, 1);
}

}  // namespace
}  // namespace gradcheck
