// Initialisers: each scheme's moments match its definition, the draw order is
// the documented one, and a seed names exactly one network.
#include "test_helpers.hpp"

#include <gradcheck/engine/init.hpp>

#include <gtest/gtest.h>

#include <cmath>

namespace gradcheck {
namespace {

using testing::input_error_of;

struct Moments {
  double mean = 0, variance = 0, max_abs = 0;
};

template <class Derived>
Moments moments(const Eigen::MatrixBase<Derived>& m) {
  Moments r;
  const double n = static_cast<double>(m.size());
  r.mean = m.sum() / n;
  r.variance = (m.array() - r.mean).square().sum() / n;
  r.max_abs = m.cwiseAbs().maxCoeff();
  return r;
}

TEST(Init, NamesRoundTripAndUnknownNamesAreRejected) {
  for (Init i : all_inits) EXPECT_EQ(parse_init(to_string(i)), i);
  EXPECT_FALSE(parse_init("glorot").has_value());
  EXPECT_STREQ(to_string(Init::he), "he");
}

TEST(Init, GaussianDrawsWeightsAndBiasesFromTheStandardNormal) {
  // 300 × 400 = 120,000 weights: standard errors 0.003 (mean) and 0.004 (variance).
  const auto net = make_network({400, 300, 2000}, Activation::sigmoid, Activation::sigmoid, Loss::quadratic,
                                Init::gaussian, 1);
  const auto w = moments(net.layers[0].weights);
  EXPECT_NEAR(w.mean, 0.0, 0.015);
  EXPECT_NEAR(w.variance, 1.0, 0.02);
  EXPECT_GT(w.max_abs, 3.5) << "120,000 normals reach past 3.5 σ";
  // 2,000 output biases: the biases are N(0, 1) too, not zero.
  const auto b = moments(net.layers[1].biases);
  EXPECT_NEAR(b.mean, 0.0, 0.12);
  EXPECT_NEAR(b.variance, 1.0, 0.16);
}

TEST(Init, XavierIsUniformOnPlusMinusSqrtSixOverFanInPlusFanOut) {
  const auto net = make_network({400, 300, 10}, Activation::tanh, Activation::sigmoid, Loss::quadratic,
                                Init::xavier, 2);
  const double r = std::sqrt(6.0 / (400 + 300));
  const auto w = moments(net.layers[0].weights);
  EXPECT_NEAR(w.mean, 0.0, 0.01 * r);
  EXPECT_NEAR(w.variance, 2.0 / (400 + 300), 0.02 * 2.0 / 700) << "Var U(−r, r) = r²/3";
  EXPECT_LE(w.max_abs, r);
  EXPECT_GT(w.max_abs, 0.999 * r) << "the whole interval is used";
  EXPECT_TRUE(net.layers[0].biases.isZero(0.0));
  EXPECT_TRUE(net.layers[1].biases.isZero(0.0));
  // fan_in + fan_out of the second layer: 300 + 10.
  EXPECT_LE(net.layers[1].weights.cwiseAbs().maxCoeff(), std::sqrt(6.0 / 310));
}

TEST(Init, HeIsNormalWithVarianceTwoOverFanIn) {
  const auto net = make_network({400, 300, 10}, Activation::relu, Activation::softmax, Loss::cross_entropy,
                                Init::he, 3);
  const auto w = moments(net.layers[0].weights);
  EXPECT_NEAR(w.mean, 0.0, 0.015 * std::sqrt(2.0 / 400));
  EXPECT_NEAR(w.variance, 2.0 / 400, 0.02 * 2.0 / 400);
  EXPECT_TRUE(net.layers[0].biases.isZero(0.0));
  const auto w1 = moments(net.layers[1].weights);
  EXPECT_NEAR(w1.variance, 2.0 / 300, 0.15 * 2.0 / 300) << "3,000 weights, fan_in 300";
}

TEST(Init, DrawsWeightsRowByRowThenBiasesLayerByLayer) {
  const auto net = make_network({2, 2, 1}, Activation::sigmoid, Activation::sigmoid, Loss::quadratic,
                                Init::gaussian, 42);
  Rng r(42);
  EXPECT_EQ(net.layers[0].weights(0, 0), r.normal());
  EXPECT_EQ(net.layers[0].weights(0, 1), r.normal());
  EXPECT_EQ(net.layers[0].weights(1, 0), r.normal());
  EXPECT_EQ(net.layers[0].weights(1, 1), r.normal());
  EXPECT_EQ(net.layers[0].biases(0), r.normal());
  EXPECT_EQ(net.layers[0].biases(1), r.normal());
  EXPECT_EQ(net.layers[1].weights(0, 0), r.normal());
  EXPECT_EQ(net.layers[1].weights(0, 1), r.normal());
  EXPECT_EQ(net.layers[1].biases(0), r.normal());
  // The first weight is seed 42's first golden normal (random_test.cpp).
  EXPECT_DOUBLE_EQ(net.layers[0].weights(0, 0), -0.7262191382447857);
}

TEST(Init, SameSeedGivesTheSameNetworkAndAnotherSeedAnother) {
  for (Init scheme : all_inits) {
    const auto a = make_network({5, 4, 3}, Activation::tanh, Activation::softmax, Loss::cross_entropy, scheme, 9);
    const auto b = make_network({5, 4, 3}, Activation::tanh, Activation::softmax, Loss::cross_entropy, scheme, 9);
    const auto c = make_network({5, 4, 3}, Activation::tanh, Activation::softmax, Loss::cross_entropy, scheme, 10);
    for (std::size_t l = 0; l < a.layers.size(); ++l) {
      EXPECT_EQ(a.layers[l].weights, b.layers[l].weights) << to_string(scheme) << " layer " << l;
      EXPECT_EQ(a.layers[l].biases, b.layers[l].biases) << to_string(scheme) << " layer " << l;
      EXPECT_TRUE((a.layers[l].weights.array() != c.layers[l].weights.array()).all())
          << to_string(scheme) << " layer " << l << ": every weight changes with the seed";
    }
  }
}

TEST(Init, BuildsTheRequestedShapesActivationsAndLoss) {
  const auto net = make_network({784, 30, 10}, Activation::sigmoid, Activation::softmax, Loss::cross_entropy,
                                Init::xavier, 1, Reduction::sum);
  ASSERT_EQ(net.layers.size(), 2u);
  EXPECT_EQ(net.layers[0].weights.rows(), 30);
  EXPECT_EQ(net.layers[0].weights.cols(), 784);
  EXPECT_EQ(net.layers[1].biases.size(), 10);
  EXPECT_EQ(net.layers[0].activation, Activation::sigmoid);
  EXPECT_EQ(net.layers[1].activation, Activation::softmax);
  EXPECT_EQ(net.loss, Loss::cross_entropy);
  EXPECT_EQ(net.reduction, Reduction::sum);
  EXPECT_EQ(net.parameter_count(), 784 * 30 + 30 + 30 * 10 + 10);
}

TEST(Init, FiftyDigitNetworkFromTheSameSeedHoldsTheSameValues) {
  const auto d = make_network<double>({3, 4, 2}, Activation::tanh, Activation::sigmoid, Loss::quadratic,
                                      Init::gaussian, 5);
  const auto big = make_network<cpp_bin_float_50>({3, 4, 2}, Activation::tanh, Activation::sigmoid,
                                                  Loss::quadratic, Init::gaussian, 5);
  for (std::size_t l = 0; l < d.layers.size(); ++l)
    for (Index k = 0; k < d.layers[l].weights.size(); ++k)
      EXPECT_EQ(static_cast<double>(big.layers[l].weights.data()[k]), d.layers[l].weights.data()[k]);
}

TEST(Init, InitialiseRedrawsAnExistingNetworkInPlace) {
  auto net = make_network({3, 2}, Activation::sigmoid, Activation::sigmoid, Loss::quadratic, Init::gaussian, 1);
  const auto before = net.layers[0].weights;
  Rng r(1);
  initialise(net, Init::gaussian, r);
  EXPECT_EQ(net.layers[0].weights, before) << "the same generator state draws the same values";
  initialise(net, Init::he, r);
  EXPECT_NE(net.layers[0].weights, before);
  EXPECT_TRUE(net.layers[0].biases.isZero(0.0));
}

TEST(Init, MakeNetworkRejectsBadSizesAndUnsupportedOutputs) {
  EXPECT_EQ(input_error_of([] { make_network({3}, Activation::sigmoid, Activation::sigmoid, Loss::quadratic, Init::he, 1); }),
            "sizes: needs at least two entries (inputs and outputs), got 1");
  EXPECT_EQ(input_error_of([] { make_network({3, 0, 1}, Activation::sigmoid, Activation::sigmoid, Loss::quadratic, Init::he, 1); }),
            "sizes[1]: is 0, expected 1..1048576");
  EXPECT_EQ(input_error_of([] { make_network({3, 2}, Activation::sigmoid, Activation::relu, Loss::cross_entropy, Init::he, 1); }),
            "loss: cross_entropy needs a sigmoid or softmax output layer, got relu");
}

}  // namespace
}  // namespace gradcheck
