// The engine against the numbers of the 3-2-1 question, and the same network in
// every scalar type the engine supports.
#include "test_helpers.hpp"

#include <gtest/gtest.h>

#include <complex>

namespace gradcheck {
namespace {

using testing::input_321;
using testing::net_321;
using testing::target_321;

constexpr double kTol = 1e-12;

TEST(Network321, ForwardOutputAndLossMatchTheQuestion) {
  const auto net = net_321();
  const auto fp = forward(net, input_321());
  EXPECT_NEAR(fp.output()(0, 0), 0.7890033084910505, kTol);
  EXPECT_NEAR(loss(net, fp, target_321()), 0.0222598019138614, kTol);
}

TEST(Network321, BackwardGivesEveryGradientOfTheQuestion) {
  const auto g = gradients(net_321(), input_321(), target_321());
  EXPECT_NEAR(g.biases[1](0), -0.0351261147127841, kTol) << "output-layer bias";
  EXPECT_NEAR(g.weights[1](0, 0), -0.0220703065059623, kTol) << "output weight 0";
  EXPECT_NEAR(g.weights[1](0, 1), -0.0258509023294301, kTol) << "output weight 1";
  EXPECT_NEAR(g.biases[0](0), -0.0041015878238128, kTol) << "hidden bias 0";
  EXPECT_NEAR(g.biases[0](1), -0.0037543274071740, kTol) << "hidden bias 1";
  const double hidden[2][3] = {{0, -0.0020507939119064, -0.0041015878238128},
                               {0, -0.0018771637035870, -0.0037543274071740}};
  for (int j = 0; j < 2; ++j)
    for (int i = 0; i < 3; ++i) EXPECT_NEAR(g.weights[0](j, i), hidden[j][i], kTol) << "hidden weight " << j << "," << i;
}

TEST(Network321, OneGradientStepAtRateOneMovesOutputToTheQuestionsValue) {
  auto net = net_321();
  const auto g = gradients(net, input_321(), target_321());
  for (std::size_t l = 0; l < net.layers.size(); ++l) {
    net.layers[l].weights -= 1.0 * g.weights[l];
    net.layers[l].biases -= 1.0 * g.biases[l];
  }
  EXPECT_NEAR(forward(net, input_321()).output()(0, 0), 0.8004346889662342, kTol);
}

TEST(Network321, InputGradientIsWTransposeTimesFirstDelta) {
  const auto net = net_321();
  const auto g = gradients(net, input_321(), target_321());
  const Matrix<double> expected = net.layers[0].weights.transpose() * g.deltas[0];
  ASSERT_EQ(g.inputs.rows(), 3);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(g.inputs(i, 0), expected(i, 0), 1e-15);
  // and it is not trivially zero: the input matters to the loss
  EXPECT_GT(std::abs(g.inputs(2, 0)), 1e-4);
}

// Training's SGD skips dL/dW (it applies δ aᵀ straight to W): everything else
// backward gives must be unchanged, bit for bit, and dL/dW left empty rather
// than stale from an earlier call.
TEST(Network321, BackwardWithoutWeightGradientsKeepsDeltasAndBiasesAndLeavesWeightsEmpty) {
  const auto net = net_321();
  const auto fp = forward(net, input_321());
  Gradients<double> full, lean;
  backward(net, fp, target_321(), full);
  lean = full;  // stale values a skipped gradient must not leave behind
  backward(net, fp, target_321(), lean, /*input_gradient=*/false, /*weight_gradients=*/false);
  ASSERT_EQ(lean.weights.size(), 2u);
  for (std::size_t l = 0; l < 2; ++l) {
    EXPECT_EQ(lean.weights[l].size(), 0) << "layer " << l;
    EXPECT_EQ(lean.deltas[l], full.deltas[l]) << "layer " << l;
    EXPECT_EQ(lean.biases[l], full.biases[l]) << "layer " << l;
    // and the deltas still give dL/dW = δ aᵀ
    EXPECT_TRUE(Matrix<double>(lean.deltas[l] * fp.a[l].transpose()).isApprox(full.weights[l], 1e-15));
  }
  EXPECT_EQ(lean.inputs.size(), 0);
}

// The delta hook: called output layer first, with dL/da for hidden layers; a
// hook that changes nothing changes nothing, and what it changes propagates.
TEST(Network321, DeltaHookSeesEachLayerFromTheOutputDownAndItsChangesPropagate) {
  const auto net = net_321();
  const auto fp = forward(net, input_321());
  Gradients<double> plain, watched, zeroed;
  backward(net, fp, target_321(), plain);
  std::vector<std::size_t> order;
  Matrix<double> seen_dl_da;
  backward(net, fp, target_321(), watched, true, true,
           [&](std::size_t l, const Matrix<double>* dl_da, Matrix<double>& delta) {
             order.push_back(l);
             EXPECT_EQ(dl_da == nullptr, l == 1) << "dL/da is given for the hidden layer only";
             if (dl_da) {
               seen_dl_da = *dl_da;
               // δ = dL/da ⊙ σ'(z), σ' = a(1 − a) (well conditioned here)
               const Matrix<double> expected =
                   dl_da->cwiseProduct(Matrix<double>(fp.a[1].array() * (1 - fp.a[1].array())));
               EXPECT_TRUE(delta.isApprox(expected, 1e-14));
             }
           });
  EXPECT_EQ(order, (std::vector<std::size_t>{1, 0}));
  EXPECT_TRUE(seen_dl_da.isApprox(Matrix<double>(net.layers[1].weights.transpose() * plain.deltas[1]), 1e-15));
  for (std::size_t l = 0; l < 2; ++l) {
    EXPECT_EQ(watched.weights[l], plain.weights[l]);
    EXPECT_EQ(watched.biases[l], plain.biases[l]);
  }
  EXPECT_EQ(watched.inputs, plain.inputs);
  // Zeroing the output delta zeroes every gradient below it.
  backward(net, fp, target_321(), zeroed, true, true, [](std::size_t l, const Matrix<double>*, Matrix<double>& d) {
    if (l == 1) d.setZero();
  });
  EXPECT_TRUE(zeroed.weights[0].isZero(0));
  EXPECT_TRUE(zeroed.biases[0].isZero(0));
  EXPECT_TRUE(zeroed.inputs.isZero(0));
  EXPECT_GT(plain.weights[0].cwiseAbs().maxCoeff(), 1e-3);
}

// The same code in double, long double, complex<double> and 50 digits: every
// entry agrees with the 50-digit result to the precision of the narrower type.
template <class S>
Gradients<S> gradients_in(const Network<double>& net, const Matrix<double>& x, const Matrix<double>& y) {
  const auto convert = [](double v) -> S { return S(v); };
  return gradients(net.cast<S>(), Matrix<S>(x.unaryExpr(convert)), Matrix<S>(y.unaryExpr(convert)));
}

TEST(ScalarTypes, DoubleLongDoubleComplexAndFiftyDigitsAgreeOnOneNetwork) {
  // A deeper network exercising every elementwise activation and softmax + CE.
  Network<double> net;
  net.loss = Loss::cross_entropy;
  net.layers.push_back({Activation::tanh, testing::matrix({{0.3, -0.2, 0.5}, {-0.7, 0.4, 0.1}}), testing::vector({0.1, -0.3})});
  net.layers.push_back({Activation::relu, testing::matrix({{0.9, -0.4}, {0.2, 0.8}, {-0.5, 0.6}}), testing::vector({0.05, 0.1, 0.2})});
  net.layers.push_back({Activation::leaky_relu, testing::matrix({{0.7, -0.3, 0.2}, {-0.6, 0.5, 0.4}}), testing::vector({-0.2, 0.3})});
  net.layers.push_back({Activation::softmax, testing::matrix({{1.2, -0.8}, {0.3, 0.9}, {-1.1, 0.4}}), testing::vector({0.0, 0.1, -0.1})});
  const Matrix<double> x = testing::matrix({{0.5, -1.0}, {0.25, 0.75}, {-0.5, 2.0}});
  const Matrix<double> y = testing::matrix({{1, 0}, {0, 0.3}, {0, 0.7}});

  const auto ref = gradients_in<cpp_bin_float_50>(net, x, y);
  const auto d = gradients_in<double>(net, x, y);
  const auto ld = gradients_in<long double>(net, x, y);
  const auto cx = gradients_in<std::complex<double>>(net, x, y);
  for (std::size_t l = 0; l < net.layers.size(); ++l) {
    for (Index k = 0; k < ref.weights[l].size(); ++k) {
      const double r = static_cast<double>(ref.weights[l].data()[k]);
      const long double rl = static_cast<long double>(ref.weights[l].data()[k]);
      EXPECT_NEAR(d.weights[l].data()[k], r, 1e-15) << "double dW layer " << l << " entry " << k;
      EXPECT_NEAR(static_cast<double>(ld.weights[l].data()[k] - rl), 0.0, 1e-18) << "long double dW layer " << l;
      EXPECT_NEAR(cx.weights[l].data()[k].real(), r, 1e-15) << "complex dW layer " << l;
      EXPECT_EQ(cx.weights[l].data()[k].imag(), 0.0) << "complex dW layer " << l << " has no imaginary part";
    }
    for (Index k = 0; k < ref.biases[l].size(); ++k)
      EXPECT_NEAR(d.biases[l](k), static_cast<double>(ref.biases[l](k)), 1e-15) << "double db layer " << l;
  }
  // long double really is wider here: its error is below double's rounding.
  const long double exact = static_cast<long double>(ref.weights[0](0, 0));
  EXPECT_LE(std::abs(static_cast<double>(ld.weights[0](0, 0) - exact)),
            std::abs(static_cast<double>(static_cast<long double>(d.weights[0](0, 0)) - exact)) + 1e-19L);
}

TEST(ComplexStep, ImaginaryPartOfLossIsTheDirectionalDerivative) {
  // L(θ + i h e_k) = L(θ) + i h ∂L/∂θ_k + O(h²): exact to rounding for h = 1e-30.
  const auto net = net_321();
  const auto g = gradients(net, input_321(), target_321());
  auto cnet = net.cast<std::complex<double>>();
  const double h = 1e-30;
  cnet.layers[0].weights(1, 2) += std::complex<double>(0, h);
  const Matrix<std::complex<double>> x = input_321().cast<std::complex<double>>();
  const Matrix<std::complex<double>> y = target_321().cast<std::complex<double>>();
  const auto fp = forward(cnet, x);
  EXPECT_NEAR(loss(cnet, fp, y).imag() / h, g.weights[0](1, 2), 1e-17);
}

TEST(Validate, RejectsSoftmaxBeforeTheLastLayer) {
  auto net = net_321();
  net.layers[0].activation = Activation::softmax;
  EXPECT_EQ(testing::input_error_of([&] { validate(net); }),
            "layers[0].activation: softmax is only supported on the last layer");
}

TEST(Validate, RejectsMismatchedInnerShapes) {
  auto net = net_321();
  net.layers[1].weights = testing::matrix({{0.5, 0.55, 0.1}});
  EXPECT_EQ(testing::input_error_of([&] { validate(net); }),
            "layers[1].weights: rows have 3 entries, expected 2 (the units of layers[0])");
}

TEST(Validate, RejectsCrossEntropyOnAnOutputThatIsNotAProbability) {
  auto net = net_321();
  net.loss = Loss::cross_entropy;
  net.layers[1].activation = Activation::relu;
  EXPECT_THROW(validate(net), InputError);
  net.layers[1].activation = Activation::sigmoid;
  EXPECT_NO_THROW(validate(net));
}

TEST(InputError, WithinPrefixesTheFieldAndNamesTheFile) {
  const InputError inner("", "layers[1].weights", "row 0 has 3 entries, expected 2");
  EXPECT_STREQ(inner.within("case.json", "network").what(),
               "case.json: network.layers[1].weights: row 0 has 3 entries, expected 2");
}

}  // namespace
}  // namespace gradcheck
