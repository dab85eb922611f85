// The checks on convolutional networks: conv2d and pooling cases agree by every
// method in full and fast mode, a max-pool tie is an inconclusive kink naming its
// window and entries (a near tie is re-checked one-sided, as a relu kink is), a
// wrong conv gradient disagrees on exactly its tensor, and the engine agrees with
// the 50-digit reference on random conv networks.
#include <gradcheck/gradient/network_check.hpp>
#include <gradcheck/gradient/reference.hpp>
#include <gradcheck/engine/case_format.hpp>

#include "../../../engine/tests/conv_cases.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <vector>

namespace gradcheck {
namespace {

using testing::matrix;
using testing::non_agreeing;
using testing::vector;

const std::string kSourceDir = GRADCHECK_SOURCE_DIR;

const Method kMethods[] = {Method::multiprecision, Method::central, Method::ridders, Method::complex_step};

CheckOptions options(Method m, Mode mode, bool inputs = true) {
  CheckOptions o;
  o.method = m;
  o.mode = mode;
  o.input_gradients = inputs;
  return o;
}

std::string label(Method m, Mode mode) { return std::string(to_string(m)) + ", " + to_string(mode); }

// Strided, padded, two-channel: 2 × 6 × 7 images, avg pool 2 stride 1 (2 × 5 × 6),
// conv2d 3 × 2 stride 2 padding 1 sigmoid (3 × 3 × 4), max pool 2 stride 1
// (3 × 2 × 3), conv2d 1 × 1 tanh (2 × 2 × 3), dense 12 -> 3, quadratic.
Case strided_case() {
  Case c;
  c.network.input_shape = {2, 6, 7};
  c.network.loss = Loss::quadratic;
  c.network.reduction = Reduction::sum;
  c.network.layers.push_back(pool_layer(LayerKind::avg_pool, 2, 1));
  c.network.layers.push_back(conv2d_layer(
      ConvGeometry{2, 0, 0, 0, 3, 2, 2, 1}, Activation::sigmoid,
      matrix({{0.3, -0.5, 0.8, 0.1, -0.2, 0.4, 0.7, -0.6, 0.2, 0.05, -0.9, 0.35},
              {-0.4, 0.6, 0.15, -0.25, 0.5, -0.1, 0.3, 0.45, -0.7, 0.2, 0.1, -0.3},
              {0.25, 0.1, -0.35, 0.6, -0.45, 0.2, -0.15, 0.55, 0.4, -0.5, 0.3, 0.05}}),
      vector({0.1, -0.2, 0.05})));
  c.network.layers.push_back(pool_layer(LayerKind::max_pool, 2, 1));
  c.network.layers.push_back(
      conv2d_layer(ConvGeometry{3, 0, 0, 0, 1, 1}, Activation::tanh, matrix({{0.9, -0.7, 0.4}, {-0.3, 0.8, 0.6}}),
                   vector({0.02, -0.04})));
  Layer<double> out;
  out.activation = Activation::identity;
  out.weights = Matrix<double>(3, 12);
  for (Index k = 0; k < out.weights.size(); ++k) out.weights.data()[k] = 0.1 * double((k * 7) % 11) - 0.5;
  out.biases = vector({0.1, 0.0, -0.1});
  c.network.layers.push_back(out);
  connect_shapes(c.network);
  c.inputs = Matrix<double>(84, 2);
  for (Index k = 0; k < c.inputs.size(); ++k) c.inputs.data()[k] = 0.01 * double((k * 37) % 101) - 0.5;
  c.targets = matrix({{0.5, -0.25}, {0.0, 1.0}, {-0.5, 0.75}});
  return c;
}

void expect_every_method_agrees(const Case& c, const std::string& what) {
  for (Method m : kMethods)
    for (Mode mode : {Mode::full, Mode::fast}) {
      const CheckResult r = check_network(c, options(m, mode));
      EXPECT_TRUE(r.summary.passed) << what << ", " << label(m, mode) << "\n" << non_agreeing(r);
      EXPECT_EQ(r.summary.counts.agree, r.entries.size()) << what << ", " << label(m, mode) << "\n" << non_agreeing(r);
      for (const DirectionCheck& d : r.directions)
        EXPECT_EQ(d.verdict, Verdict::agree) << what << ", " << label(m, mode) << "\n" << non_agreeing(r);
    }
}

TEST(ConvCheck, TheExampleCaseAgreesByEveryMethodInFullAndFastMode) {
  const Case c = read_case(kSourceDir + "/examples/cases/conv-small.json");
  expect_every_method_agrees(c, "examples/cases/conv-small.json");
  const CheckResult r = check_network(c, options(Method::multiprecision, Mode::full));
  EXPECT_EQ(r.entries.size(), 18u + 2u + 54u + 3u + 72u) << "conv weights, biases, dense, inputs; none for the pool";
}

TEST(ConvCheck, AStridedPaddedNetworkWithPoolingFirstAgreesByEveryMethod) {
  expect_every_method_agrees(strided_case(), "strided case");
}

// One 3 × 3 image, conv2d 2 × 2 taking the top-left pixel (identity), a 2 × 2 max
// pool over the 2 × 2 map, a dense unit. The map's first row is x(0,0), x(0,1):
// equal inputs tie the window, and the top-right tap (which reads x(0,1) and
// x(0,2) there) moves the two tied entries apart.
Case tie_case(double second) {
  Case c;
  c.network.input_shape = {1, 3, 3};
  c.network.loss = Loss::quadratic;
  c.network.layers.push_back(conv2d_layer(ConvGeometry{1, 0, 0, 0, 2, 2}, Activation::identity,
                                          matrix({{1.0, 0.0, 0.0, 0.0}}), vector({0.0})));
  c.network.layers.push_back(pool_layer(LayerKind::max_pool, 2, 2));
  Layer<double> out;
  out.activation = Activation::identity;
  out.weights = matrix({{2.0}});
  out.biases = vector({0.0});
  c.network.layers.push_back(out);
  connect_shapes(c.network);
  c.inputs = matrix({{0.5}, {second}, {0.1}, {0.2}, {0.3}, {0.4}, {0.0}, {0.0}, {0.0}});
  c.targets = matrix({{0.0}});
  return c;
}

TEST(ConvCheck, AMaxPoolTieIsAnInconclusiveKinkNamingTheWindowAndItsTwoEntries) {
  const Case c = tie_case(0.5);
  for (Method m : kMethods) {
    const CheckResult r = check_network(c, options(m, Mode::full));
    EXPECT_TRUE(r.summary.passed) << to_string(m) << "\n" << non_agreeing(r);
    EXPECT_EQ(r.summary.counts.disagree, 0u) << to_string(m);
    const Entry* tap = nullptr;  // dL/dW(0, 1): the top-right tap
    for (const Entry& e : r.entries)
      if (e.layer == 0 && e.tensor == TensorKind::weights && e.col == 1) tap = &e;
    ASSERT_NE(tap, nullptr);
    EXPECT_EQ(tap->verdict, Verdict::inconclusive_kink) << to_string(m) << ": " << tap->note;
    ASSERT_TRUE(tap->kink.has_value()) << to_string(m);
    EXPECT_EQ(tap->kink->kind, KinkKind::max_pool);
    EXPECT_TRUE(tap->kink->exact);
    EXPECT_EQ(tap->kink->layer, 1);
    EXPECT_EQ(tap->kink->first, 0) << "the first largest entry, (0, 0, 0), takes the gradient";
    EXPECT_EQ(tap->kink->second, 1);
    EXPECT_NE(tap->note.find("max-pool layer 1 window (channel 0, y 0, x 0) of sample 0: largest entry (0, 0, 0) = "
                             "0.5, next (0, 0, 1) = 0.5"),
              std::string::npos)
        << to_string(m) << ": " << tap->note;
  }
}

TEST(ConvCheck, AMaxPoolTieWithinTheStepIsRecheckedOneSidedAsAReluKinkIs) {
  // A gap of 1e-9 < the central step ≈ 6e-6 · 0.5: the stencil changes the window's largest entry.
  const Case c = tie_case(0.5 - 1e-9);
  const CheckResult r = check_network(c, options(Method::central, Mode::full));
  EXPECT_TRUE(r.summary.passed) << non_agreeing(r);
  bool rechecked = false;
  for (const Entry& e : r.entries)
    if (e.kink && e.kink->kind == KinkKind::max_pool) {
      rechecked = true;
      EXPECT_NE(e.stencil, Stencil::central) << e.note;
      EXPECT_EQ(e.verdict, Verdict::agree) << e.note;
      EXPECT_NE(e.note.find("the stencil crosses the kink of max-pool layer 1 window (channel 0, y 0, x 0)"),
                std::string::npos)
          << e.note;
      EXPECT_NE(e.note.find("gap 1e-09"), std::string::npos) << e.note;
    }
  EXPECT_TRUE(rechecked) << non_agreeing(r);
}

TEST(ConvCheck, TheReferenceCarriesAnExactTieAsAKinkWithTheOtherEntrysGradient) {
  const Reference ref = reference_gradients(tie_case(0.5));
  ASSERT_EQ(ref.kinks.size(), 1u);
  const Kink& k = ref.kinks[0];
  EXPECT_EQ(k.kind, KinkKind::max_pool);
  EXPECT_TRUE(k.exact);
  EXPECT_EQ(k.z, 0.0);
  const ReferenceTensor* w = ref.find(0, TensorKind::weights);
  ASSERT_NE(w, nullptr);
  // out = 2 · max = 1, dL/dout = 1, dL/dmax = 2; the gradient of W(0, 1) reads x(0,1) = 0.5 when the
  // first entry wins, x(0,2) = 0.1 when the runner-up does.
  EXPECT_EQ(w->value(0, 1), 2.0 * 0.5);
  EXPECT_DOUBLE_EQ(w->other_side(0, 1), 2.0 * 0.1);
  EXPECT_EQ(w->kink(0, 0), -1) << "the top-left tap moves both tied entries alike: no kink";
}

// A relu network's common tie: a window of units that are off, all 0. Which of
// them takes the window's share changes no gradient, so it is no kink (a LeNet-5
// case has hundreds of them: each one cost a 50-digit backward pass, 721 s).
TEST(ConvCheck, TiesAmongReluUnitsThatAreOffAreNoKinks) {
  Case c = tie_case(0.5);
  c.network.layers[0].activation = Activation::relu;
  c.inputs = -c.inputs.cwiseAbs() - Matrix<double>::Constant(9, 1, 0.25);  // every unit off: the window is 0, 0, 0, 0
  const Reference ref = reference_gradients(c);
  EXPECT_TRUE(ref.kinks.empty()) << ref.kinks.size() << " kinks";
  for (Method m : kMethods) {
    const CheckResult r = check_network(c, options(m, Mode::full));
    EXPECT_EQ(r.summary.counts.agree, r.entries.size()) << to_string(m) << "\n" << non_agreeing(r);
  }
}

// A hand-made wrong dW of the first conv layer: one entry, by 1 %.
TEST(ConvCheck, AWrongConvWeightGradientDisagreesOnExactlyThatTensor) {
  const Case c = read_case(kSourceDir + "/examples/cases/conv-small.json");
  auto g = as_layer_gradients(gradients(c.network, c.inputs, c.targets));
  g[0].weights(1, 4) *= 1.01;
  for (Method m : kMethods)
    for (Mode mode : {Mode::full, Mode::fast}) {
      const CheckResult r = check_gradients(c, g, options(m, mode, false));
      EXPECT_FALSE(r.summary.passed) << label(m, mode);
      std::size_t disagree = 0;
      for (const Entry& e : r.entries) {
        if (e.verdict != Verdict::disagree) continue;
        ++disagree;
        EXPECT_EQ(e.layer, 0) << label(m, mode);
        EXPECT_EQ(e.tensor, TensorKind::weights) << label(m, mode);
        EXPECT_EQ(e.row, 1) << label(m, mode);
        EXPECT_EQ(e.col, 4) << label(m, mode);
      }
      EXPECT_EQ(disagree, 1u) << label(m, mode) << "\n" << non_agreeing(r);
    }
}

TEST(ConvCheck, AKernelWrittenWithItsAxesSwappedIsAShapeMismatch) {
  Case c = strided_case();  // layer 1: 3 × 2 × 3 × 2 kernels
  const Reference ref = reference_gradients(c);
  auto g = as_layer_gradients(gradients(c.network, c.inputs, c.targets));
  g[1].weights_shape = {3, 2, 2, 3};  // as a reply that wrote [out][in][kw][kh]
  const CheckResult r = compare_gradients(c, g, ref);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].kind, FindingKind::shape_mismatch);
  EXPECT_EQ(r.findings[0].message, "claimed weights of layer 1 are 3×2×2×3, the case's are 3×2×3×2");
  g[1].weights_shape = {3, 2, 3, 2};
  EXPECT_TRUE(compare_gradients(c, g, ref).summary.passed);
}

// The entries that fail a check (disagree, non-finite) and its findings, one line each.
std::string failing(const CheckResult& r) {
  CheckResult only = r;
  only.entries.clear();
  for (const Entry& e : r.entries)
    if (e.verdict == Verdict::disagree || e.verdict == Verdict::non_finite) only.entries.push_back(e);
  return non_agreeing(only);
}

CheckOptions sampled_reference() {
  CheckOptions o;
  o.threads = 1;
  o.reference.cross_check_all_up_to = 0;  // a sample: 50-digit differences of a conv network cost ~1 ms each
  o.reference.cross_check_per_tensor = 1;
  return o;
}

RC_GTEST_PROP(ConvCheckProperty, EngineAgreesWithTheFiftyDigitReferenceOnRandomConvNetworks, ()) {
  const Case c = *gen::conv_case();
  const CheckResult r = check_network(c, sampled_reference());
  RC_CLASSIFY(r.summary.counts.inconclusive_kink > 0, "kink");
  if (!r.summary.passed) RC_FAIL(case_to_json(c, -1) + "\n" + non_agreeing(r));
}

RC_GTEST_PROP(ConvCheckProperty, CentralDifferencesRaiseNoFalseAlarmOnRandomConvNetworks, ()) {
  const Case c = *gen::conv_case();
  CheckOptions o = sampled_reference();
  o.method = Method::central;
  const CheckResult r = check_network(c, o);
  RC_CLASSIFY(r.summary.counts.inconclusive_kink > 0, "kink");
  if (r.summary.counts.disagree + r.summary.counts.non_finite > 0) RC_FAIL(case_to_json(c, -1) + "\n" + failing(r));
}

RC_GTEST_PROP(ConvCheckProperty, EveryMethodInFullAndFastModeRaisesNoFalseAlarmOnRandomConvNetworks, ()) {
  const Case c = *gen::conv_case();
  CheckOptions o = sampled_reference();
  o.method = *rc::gen::element(Method::central, Method::ridders, Method::complex_step, Method::multiprecision);
  o.mode = *rc::gen::element(Mode::full, Mode::fast);
  o.input_gradients = *rc::gen::arbitrary<bool>();
  const CheckResult r = check_network(c, o);
  RC_CLASSIFY(r.summary.counts.inconclusive_kink > 0, "kink");
  if (r.summary.counts.disagree + r.summary.counts.non_finite > 0 || !r.findings.empty())
    RC_FAIL(label(o.method, o.mode) + (o.input_gradients ? ", with inputs\n" : "\n") + case_to_json(c, -1) + "\n" +
            failing(r));
}

}  // namespace
}  // namespace gradcheck
