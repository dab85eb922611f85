// conv2d and pooling as layers of Network<S> (network.hpp): the forward pass is
// the kernels chained, every gradient matches 50-digit central differences and
// complex step, the shapes connect and validate with one line per problem, the
// trainer steps and learns through them, and the commands that do not handle
// image layers yet refuse them.
#include "test_helpers.hpp"

#include <gradcheck/engine/network.hpp>
#include <gradcheck/engine/trainer.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <cstdint>
#include <random>
#include <string>

namespace gradcheck {
namespace {

using Big = cpp_bin_float_50;
using Cx = std::complex<double>;
using testing::input_error_of;

Matrix<double> uniform(Index rows, Index cols, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  Matrix<double> m(rows, cols);
  for (Index k = 0; k < m.size(); ++k) m.data()[k] = u(rng);
  return m;
}

// 2 × 7 × 6 images: conv2d 3 × 2 kernel, stride 2, padding 1, tanh -> 3 × 4 × 4;
// max pool 2 (stride 1) -> 3 × 3 × 3; conv2d 1 × 1, leaky_relu -> 2 × 3 × 3;
// avg pool 2 (stride 1) -> 2 × 2 × 2; dense 8 -> 3 softmax, cross-entropy.
Network<double> small_cnn() {
  Network<double> net;
  net.input_shape = {2, 7, 6};
  net.loss = Loss::cross_entropy;
  net.layers.push_back(conv2d_layer(ConvGeometry{2, 0, 0, 0, 3, 2, 2, 1}, Activation::tanh, uniform(3, 12, 1),
                                    Vector<double>(uniform(3, 1, 2))));
  net.layers.push_back(pool_layer(LayerKind::max_pool, 2, 1));
  net.layers.push_back(conv2d_layer(ConvGeometry{3, 0, 0, 0, 1, 1}, Activation::leaky_relu, uniform(2, 3, 3),
                                    Vector<double>(uniform(2, 1, 4))));
  net.layers.push_back(pool_layer(LayerKind::avg_pool, 2, 1));
  Layer<double> out;
  out.activation = Activation::softmax;
  out.weights = uniform(3, 8, 5);
  out.biases = uniform(3, 1, 6);
  net.layers.push_back(out);
  connect_shapes(net);
  return net;
}

Matrix<double> small_cnn_targets() { return testing::matrix({{1, 0, 0.25}, {0, 1, 0.25}, {0, 0, 0.5}}); }

template <class T>
Matrix<T> as(const Matrix<double>& m) {
  return m.unaryExpr([](double v) { return T(v); });
}

TEST(ConvNetwork, ShapesConnectFromTheInputShapeThroughEveryLayer) {
  const Network<double> net = small_cnn();
  EXPECT_EQ(net.input_size(), 2 * 7 * 6);
  EXPECT_EQ(net.layers[0].output_shape(), (ImageShape{3, 4, 4})) << "(7 + 2 − 3) / 2 + 1 = 4, (6 + 2 − 2) / 2 + 1 = 4";
  EXPECT_EQ(net.layers[1].output_shape(), (ImageShape{3, 3, 3}));
  EXPECT_EQ(net.layers[2].conv.height, 3);
  EXPECT_EQ(net.layers[3].pool.channels, 2);
  EXPECT_EQ(net.layers[4].input_size(), 8) << "the dense layer reads the last map flattened";
  EXPECT_EQ(net.output_size(), 3);
  EXPECT_EQ(net.parameter_count(), 3 * 12 + 3 + 2 * 3 + 2 + 3 * 8 + 3);
}

TEST(ConvNetwork, ForwardIsTheKernelsChainedWithTheActivationsBetween) {
  const Network<double> net = small_cnn();
  const Matrix<double> x = uniform(84, 3, 7);
  const ForwardPass<double> fp = forward(net, x);
  Matrix<double> z0, p1, z2, p3;
  conv2d_forward(net.layers[0].conv, net.layers[0].weights, net.layers[0].biases, x, z0);
  max_pool_forward(net.layers[1].pool, Matrix<double>(z0.unaryExpr([](double v) { return std::tanh(v); })), p1);
  conv2d_forward(net.layers[2].conv, net.layers[2].weights, net.layers[2].biases, p1, z2);
  const Matrix<double> a2 = z2.unaryExpr([](double v) { return v > 0 ? v : 0.01 * v; });
  avg_pool_forward(net.layers[3].pool, a2, p3);
  EXPECT_TRUE(fp.z[0] == z0);
  EXPECT_TRUE(fp.a[2] == p1) << "a pooling layer's a is its z: no activation";
  EXPECT_TRUE(fp.z[1] == fp.a[2]);
  EXPECT_TRUE(fp.a[4] == p3);
  const Matrix<double> logits = net.layers[4].weights * p3 + net.layers[4].biases.replicate(1, 3);
  EXPECT_LT((fp.z[4] - logits).cwiseAbs().maxCoeff(), 1e-15);
}

// Every gradient of small_cnn (weights, biases, inputs) against 50-digit central
// differences, in double and by complex step.
TEST(ConvNetwork, EveryGradientMatchesFiftyDigitDifferencesAndComplexStep) {
  const Network<double> net = small_cnn();
  const Matrix<double> x = uniform(84, 3, 8), y = small_cnn_targets();
  Gradients<double> g;
  backward(net, forward(net, x), y, g);
  const Network<Big> big = net.cast<Big>();
  const Matrix<Big> xb = as<Big>(x), yb = as<Big>(y);
  const Big h("1e-20");
  const auto loss_at = [&](const Network<Big>& n, const Matrix<Big>& in) { return loss(n, forward(n, in), yb); };
  const auto expect_entry = [&](double got, const Big& plus, const Big& minus, const std::string& what) {
    const double want = static_cast<double>((plus - minus) / (2 * h));
    EXPECT_NEAR(got, want, 1e-12 * (1 + std::abs(want))) << what;
  };
  for (std::size_t l = 0; l < net.layers.size(); ++l) {
    ASSERT_EQ(g.weights[l].rows(), net.layers[l].weights.rows()) << "layer " << l;
    ASSERT_EQ(g.weights[l].cols(), net.layers[l].weights.cols()) << "layer " << l;
    for (Index k = 0; k < net.layers[l].weights.size(); ++k) {
      Network<Big> p = big, m = big;
      p.layers[l].weights.data()[k] += h;
      m.layers[l].weights.data()[k] -= h;
      expect_entry(g.weights[l].data()[k], loss_at(p, xb), loss_at(m, xb), "dW layer " + std::to_string(l));
    }
    for (Index k = 0; k < net.layers[l].biases.size(); ++k) {
      Network<Big> p = big, m = big;
      p.layers[l].biases(k) += h;
      m.layers[l].biases(k) -= h;
      expect_entry(g.biases[l](k), loss_at(p, xb), loss_at(m, xb), "db layer " + std::to_string(l));
    }
  }
  for (Index k = 0; k < x.size(); k += 5) {
    Matrix<Big> p = xb, m = xb;
    p.data()[k] += h;
    m.data()[k] -= h;
    expect_entry(g.inputs.data()[k], loss_at(big, p), loss_at(big, m), "dX entry " + std::to_string(k));
  }
  // Complex step on the first conv layer's weights: Im L(W + i·1e-30) / 1e-30.
  const Network<Cx> cnet = net.cast<Cx>();
  for (Index k = 0; k < net.layers[0].weights.size(); ++k) {
    Network<Cx> p = cnet;
    p.layers[0].weights.data()[k] += Cx(0, 1e-30);
    const Cx L = loss(p, forward(p, as<Cx>(x)), as<Cx>(y));
    EXPECT_NEAR(L.imag() / 1e-30, g.weights[0].data()[k], 1e-13) << "complex step, conv weight " << k;
  }
}

TEST(ConvNetwork, PoolingLayersHaveEmptyGradientsAndAConvLayerAlwaysGetsItsWeights) {
  const Network<double> net = small_cnn();
  const Matrix<double> x = uniform(84, 2, 9);
  Gradients<double> lean;
  backward(net, forward(net, x), Matrix<double>(small_cnn_targets().leftCols(2)), lean, /*input_gradient=*/false,
           /*weight_gradients=*/false);
  EXPECT_EQ(lean.weights[1].size(), 0);
  EXPECT_EQ(lean.biases[3].size(), 0);
  EXPECT_EQ(lean.weights[0].rows(), 3) << "conv2d computes dW with db in one pass";
  EXPECT_EQ(lean.weights[4].size(), 0) << "a dense layer's dW is skipped as before";
  EXPECT_EQ(lean.inputs.size(), 0);
}

// A max-pool layer's δ is dL/d(its output), the hook's dl_da holds the same values
// (no activation), and δ below it is routed to each window's first largest entry.
TEST(ConvNetwork, DeltaHookSeesAPoolingLayersDeltaEqualToItsOutputGradient) {
  Network<double> net;
  net.input_shape = {1, 2, 2};
  net.layers.push_back(pool_layer(LayerKind::max_pool, 2, 2));
  Layer<double> out;
  out.activation = Activation::identity;
  out.weights = testing::matrix({{3.0}});
  out.biases = testing::vector({0.0});
  net.layers.push_back(out);
  connect_shapes(net);
  const Matrix<double> x = testing::matrix({{0.5}, {0.5}, {0.25}, {-1.0}}), y = testing::matrix({{1.0}});
  Gradients<double> g;
  int calls = 0;
  backward(net, forward(net, x), y, g, true, true, [&](std::size_t l, const Matrix<double>* dl_da, Matrix<double>& d) {
    if (l != 0) return;
    ++calls;
    ASSERT_NE(dl_da, nullptr);
    EXPECT_TRUE(*dl_da == d) << "identity: δ = dL/da";
    EXPECT_EQ(d(0, 0), 3.0 * (1.5 - 1.0)) << "w · (a − y) of the output";
  });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(g.inputs(0, 0), 1.5) << "the tie at 0.5 sends the window's gradient to its first entry";
  EXPECT_EQ(g.inputs(1, 0), 0.0);
}

TEST(ConvNetwork, CastKeepsTheKindTheGeometryAndTheInputShape) {
  const Network<double> net = small_cnn();
  const Network<long double> wide = net.cast<long double>();
  EXPECT_EQ(wide.input_shape, net.input_shape);
  EXPECT_EQ(wide.layers[1].kind, LayerKind::max_pool);
  EXPECT_EQ(wide.layers[0].conv.stride, 2);
  EXPECT_EQ(wide.layers[0].conv.padding, 1);
  EXPECT_EQ(wide.layers[3].pool.kind, PoolGeometry::Kind::avg);
  EXPECT_NO_THROW(validate(wide));
}

// ---------------------------------------------------------------------------
// Validation: one line naming the field (the case format's table has the JSON side).

Network<double> broken(void (*edit)(Network<double>&)) {
  Network<double> net = small_cnn();
  edit(net);
  return net;
}

TEST(ConvNetworkValidate, EveryBadStructureGetsOneLineNamingItsField) {
  const struct {
    const char* what;
    void (*edit)(Network<double>&);
    std::string message;
  } rows[] = {
      {"no input shape", [](Network<double>& n) { n.input_shape = {}; },
       "layers[0].type: conv2d needs the image shape of a sample: the network states no input_shape"},
      {"channel mismatch", [](Network<double>& n) { n.layers[2].conv.in_channels = 2; },
       "layers[2].in_channels: is 2, expected 3 (the channels of layers[1]'s output)"},
      {"stride 0", [](Network<double>& n) { n.layers[1].pool.stride = 0; }, "layers[1].stride: must be at least 1, got 0"},
      {"negative padding", [](Network<double>& n) { n.layers[0].conv.padding = -1; },
       "layers[0].padding: must not be negative, got -1"},
      {"kernel too large", [](Network<double>& n) { n.layers[0].conv.kernel_h = 10; },
       "layers[0].kernel_h: 10 is larger than the padded input height 9 (height 7 + 2 × padding 1)"},
      {"dense width", [](Network<double>& n) { n.layers[4].weights = Matrix<double>::Zero(3, 9); },
       "layers[4].weights: rows have 9 entries, expected 8 (the flattened output of layers[3]: 2 × 2 × 2)"},
      {"activation on pooling", [](Network<double>& n) { n.layers[1].activation = Activation::relu; },
       "layers[1].activation: a max_pool layer has no activation (identity), got relu"},
      {"overflowing input", [](Network<double>& n) { n.input_shape = {1 << 20, 1 << 20, 1 << 20}; },
       "input_shape: 1048576 × 1048576 × 1048576 exceeds the limit of 1048576 features per sample "
       "(max_layer_width, docs/limits.md)"},
      {"wrong kernel matrix", [](Network<double>& n) { n.layers[2].weights = Matrix<double>::Zero(2, 4); },
       "layers[2].weights: is 2 × 4, expected out_channels × in_channels·kh·kw = 2 × 3"},
  };
  for (const auto& row : rows)
    EXPECT_EQ(input_error_of([&] { validate(broken(row.edit)); }), row.message) << row.what;
}

TEST(ConvNetworkValidate, AnImageLayerAfterADenseLayerIsRefused) {
  Network<double> net;
  net.input_shape = {1, 2, 2};
  Layer<double> dense;
  dense.activation = Activation::identity;
  dense.weights = Matrix<double>::Identity(4, 4);
  dense.biases = Vector<double>::Zero(4);
  net.layers.push_back(dense);
  net.layers.push_back(pool_layer(LayerKind::max_pool, 2, 2));
  EXPECT_EQ(input_error_of([&] { validate(net); }),
            "layers[1].type: max_pool cannot follow the dense layers[0]: image layers come before the first dense "
            "layer");
}

TEST(ConvNetwork, CommandsWithoutImageLayersYetRefuseThemInOneLine) {
  Network<double> net = small_cnn();
  EXPECT_EQ(input_error_of([&] { require_dense_layers(net, "case.json", "verify", "docs/verify.md"); }),
            "case.json: network.layers[0].type: conv2d is not supported by verify yet (docs/verify.md)");
  EXPECT_EQ(input_error_of([] {
              Network<double> dense = testing::net_321();
              require_dense_layers(dense, "case.json", "verify", "docs/verify.md");
            }),
            "(no InputError)");
}

// Each parameter's slope by central differences of the double loss (step 1e-6):
// an estimate independent of the backward pass, good to about 1e-9 here.
std::vector<Matrix<double>> finite_difference_slopes(Network<double> net, const Matrix<double>& x,
                                                     const Matrix<double>& y, bool biases) {
  std::vector<Matrix<double>> out;
  for (auto& layer : net.layers) {
    Matrix<double> p = biases ? Matrix<double>(layer.biases) : layer.weights;
    Matrix<double> slope(p.rows(), p.cols());
    for (Index k = 0; k < p.size(); ++k) {
      double& theta = biases ? layer.biases.data()[k] : layer.weights.data()[k];
      const double keep = theta, h = 1e-6;
      theta = keep + h;
      const double up = loss(net, forward(net, x), y);
      theta = keep - h;
      const double down = loss(net, forward(net, x), y);
      theta = keep;
      slope.data()[k] = (up - down) / (2 * h);
    }
    out.push_back(slope);
  }
  return out;
}

TEST(ConvTrainer, OneSgdStepMovesEveryParameterByMinusTheRateTimesItsFiniteDifferenceSlope) {
  const Network<double> before = small_cnn();
  Dataset<double> d;
  d.inputs = uniform(before.input_size(), 3, 9);
  d.targets = small_cnn_targets();
  const auto dw = finite_difference_slopes(before, d.inputs, d.targets, false);
  const auto db = finite_difference_slopes(before, d.inputs, d.targets, true);
  for (const Optimizer o : {Optimizer::sgd, Optimizer::momentum}) {
    Network<double> net = before;
    TrainOptions t;
    t.optimizer = o;
    t.momentum = 0.9;  // a first momentum step is the SGD step
    t.learning_rate = 0.5;
    Trainer<double> trainer(net, t);
    trainer.step(d, {0, 1, 2});
    for (std::size_t l = 0; l < net.layers.size(); ++l) {
      for (Index k = 0; k < net.layers[l].weights.size(); ++k)
        EXPECT_NEAR(net.layers[l].weights.data()[k], before.layers[l].weights.data()[k] - 0.5 * dw[l].data()[k], 1e-8)
            << to_string(o) << ": layers[" << l << "] weight " << k;
      for (Index k = 0; k < net.layers[l].biases.size(); ++k)
        EXPECT_NEAR(net.layers[l].biases(k), before.layers[l].biases(k) - 0.5 * db[l].data()[k], 1e-8)
            << to_string(o) << ": layers[" << l << "] bias " << k;
    }
  }
}

// 6 × 6 images of one bar, vertical (label 0) or horizontal (label 1), at a
// random row or column, on noise of amplitude 0.1.
Dataset<double> bars(Index n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> noise(-0.1, 0.1);
  Dataset<double> d;
  d.inputs.resize(36, n);
  for (Index c = 0; c < n; ++c) {
    const int label = static_cast<int>(c % 2);
    const Index at = static_cast<Index>(rng() % 6);
    for (Index y = 0; y < 6; ++y)
      for (Index x = 0; x < 6; ++x) d.inputs(y * 6 + x, c) = noise(rng) + ((label ? y : x) == at ? 1.0 : 0.0);
    d.labels.push_back(label);
  }
  d.targets = one_hot(d.labels, 2);
  return d;
}

// conv2d 1 → 4, 3 × 3, relu -> 4 × 4 × 4; max pool 2 -> 4 × 2 × 2; dense 16 -> 2 softmax.
Network<double> bar_cnn() {
  Network<double> net;
  net.input_shape = {1, 6, 6};
  net.loss = Loss::cross_entropy;
  net.layers.push_back(conv2d_layer(ConvGeometry{1, 0, 0, 0, 3, 3}, Activation::relu, uniform(4, 9, 11, -0.5, 0.5),
                                    Vector<double>::Constant(4, 0.1)));
  net.layers.push_back(pool_layer(LayerKind::max_pool, 2, 2));
  Layer<double> out;
  out.activation = Activation::softmax;
  out.weights = uniform(2, 16, 12, -0.5, 0.5);
  out.biases = Vector<double>::Zero(2);
  net.layers.push_back(out);
  connect_shapes(net);
  return net;
}

TEST(ConvTrainer, LearnsToTellVerticalFromHorizontalBarsWithEveryOptimiser) {
  const Dataset<double> train_set = bars(200, 21), test_set = bars(100, 22);
  for (const Optimizer o : {Optimizer::sgd, Optimizer::momentum, Optimizer::adam}) {
    Network<double> net = bar_cnn();
    const double before = evaluate(net, test_set).accuracy;
    TrainOptions t;
    t.optimizer = o;
    t.learning_rate = o == Optimizer::sgd ? 0.1 : o == Optimizer::momentum ? 0.01 : 0.003;  // μ = 0.9: 0.1 in effect
    t.batch_size = 10;
    t.epochs = 40;
    const History h = train(net, train_set, t, &test_set);
    EXPECT_LT(before, 0.8) << to_string(o);
    EXPECT_EQ(h.epochs.back().test->accuracy, 1.0) << to_string(o);
    EXPECT_LT(h.epochs.back().train_loss, 0.5 * h.epochs.front().train_loss) << to_string(o);
  }
}

}  // namespace
}  // namespace gradcheck
