// The training watch on convolutional networks: a conv2d layer's dead units are
// its feature maps, the first non-finite value of a conv2d or pooling layer is
// named with its operation and its place in the map or the kernel, and a healthy
// conv run has per-layer norms for every layer (0 for pooling: no parameters).
// Expected values come from hand analysis of the tiny networks built here.
#include "../../../engine/tests/test_helpers.hpp"  // matrix(), vector(), sgd()

#include <gradcheck/watch/watch.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace gradcheck {
namespace {

namespace w = gradcheck::watch;
using testing::matrix;
using testing::sgd;
using testing::vector;

// One conv2d layer (1 → maps channels, kernel k × k, identity or relu) on
// 1 × h × w images, then a dense softmax of `classes` outputs.
Network<double> conv_then_dense(Index h, Index wd, Index k, Activation act, Matrix<double> kernels,
                                Vector<double> biases, Matrix<double> dense, Loss loss = Loss::cross_entropy,
                                Activation out = Activation::softmax) {
  Network<double> net;
  net.input_shape = {1, h, wd};
  net.loss = loss;
  net.layers.push_back(conv2d_layer(ConvGeometry{1, 0, 0, 0, k, k}, act, std::move(kernels), std::move(biases)));
  Layer<double> last;
  last.activation = out;
  last.biases = Vector<double>::Zero(dense.rows());
  last.weights = std::move(dense);
  net.layers.push_back(std::move(last));
  connect_shapes(net);
  return net;
}

TEST(WatchConv, CountsAConvLayersDeadFeatureMapsNotItsPositions) {
  // 4 relu maps of 3 × 3 kernels on 6 × 6 inputs in [0, 1): maps 0 and 2 have
  // bias −1000 and never fire; maps 1 and 3 have bias +1 and weights ≤ 0.01, so
  // they fire at every position. Half the maps are dead, whatever the positions.
  Rng rng(5);
  Matrix<double> K(4, 9), D(2, 4 * 16);
  for (Index i = 0; i < K.size(); ++i) K.data()[i] = rng.uniform(-0.01, 0.01);
  for (Index i = 0; i < D.size(); ++i) D.data()[i] = rng.uniform(-0.1, 0.1);
  auto net = conv_then_dense(6, 6, 3, Activation::relu, K, vector({-1000.0, 1.0, -1000.0, 1.0}), D);
  Dataset<double> data;
  data.inputs.resize(36, 100);
  for (Index i = 0; i < data.inputs.size(); ++i) data.inputs.data()[i] = rng.uniform(0.0, 0.999);
  for (Index c = 0; c < 100; ++c) data.labels.push_back(static_cast<int>(c % 2));
  data.targets = one_hot(data.labels, 2);
  const auto run = w::train_watched(net, data, sgd(0.01, 10, 2));
  ASSERT_EQ(run.watch.steps.size(), 20u);
  for (const auto& st : run.watch.steps) EXPECT_DOUBLE_EQ(st.layers[0].dead_fraction, 0.5);
  EXPECT_DOUBLE_EQ(run.watch.epochs[1].layers[0].dead_fraction, 0.5);
  const w::Finding* f = run.watch.find(w::Kind::dead_units);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->layer, 0);
  EXPECT_NE(f->message.find("50.0 % of layer 0's relu feature maps are dead"), std::string::npos) << f->message;
  EXPECT_NE(f->message.find("at every position of every sample"), std::string::npos) << f->message;
}

TEST(WatchConv, NamesAnOverflowInAConvolutionWithItsChannelAndPosition) {
  // A 2 × 2 kernel whose only non-zero tap is its top-left one, 1e10, on a
  // 1 × 3 × 4 image holding 1e300 at (1, 2): the one output position whose
  // top-left tap reads it, (1, 2) of the 2 × 3 map, is 1e310 = +inf.
  Matrix<double> x = Matrix<double>::Ones(12, 1);
  x(1 * 4 + 2, 0) = 1e300;
  auto net = conv_then_dense(3, 4, 2, Activation::identity, matrix({{1e10, 0, 0, 0}}), vector({0.0}),
                             Matrix<double>::Constant(2, 6, 0.1));
  const auto nf = w::trace_step(net, x, matrix({{1.0}, {0.0}}));
  ASSERT_TRUE(nf.has_value());
  EXPECT_EQ(nf->pass, w::Pass::forward);
  EXPECT_EQ(nf->quantity, w::Quantity::z);
  EXPECT_EQ(nf->layer, 0);
  EXPECT_EQ(nf->row, 1 * 3 + 2);
  EXPECT_EQ(nf->position, "channel 0 at (1, 2)");
  EXPECT_EQ(nf->value, INFINITY);
  EXPECT_EQ(nf->operation, w::Operation::overflow);
  EXPECT_EQ(nf->site, w::Site::matrix_product);
  EXPECT_EQ(nf->cause, "overflow in W⋆a (forward)");
  EXPECT_NE(nf->detail.find("1e+10 × 1e+300"), std::string::npos) << nf->detail;
  EXPECT_TRUE(nf->produced);
}

TEST(WatchConv, NamesAnOverflowInAConvKernelsGradientWithTheKernelEntry) {
  // conv2d 1 × 1 kernel 1e-300 (identity) on a 1 × 1 × 2 image of 1e300: its map
  // is [1, 1]. A dense identity output W = [1, 1] gives 2; against a target of
  // −1e10 the quadratic δ is 1e10 + 2, the map's δ = Wᵀ δ ≈ [1e10, 1e10], and
  // the kernel's gradient Σ δ · a has terms 1e10 · 1e300 that overflow: the
  // forward and every δ are finite, dW of layer 0, kernel [0][0][0][0], is the
  // first inf, and its first term is named.
  auto net = conv_then_dense(1, 2, 1, Activation::identity, matrix({{1e-300}}), vector({0.0}),
                             matrix({{1.0, 1.0}}), Loss::quadratic, Activation::identity);
  const auto nf = w::trace_step(net, matrix({{1e300}, {1e300}}), matrix({{-1e10}}));
  ASSERT_TRUE(nf.has_value());
  EXPECT_EQ(nf->pass, w::Pass::backward);
  EXPECT_EQ(nf->quantity, w::Quantity::weight_gradient);
  EXPECT_EQ(nf->layer, 0);
  EXPECT_EQ(nf->position, "kernel [0][0][0][0]");
  EXPECT_EQ(nf->value, INFINITY);
  EXPECT_EQ(nf->site, w::Site::weight_gradient);
  EXPECT_EQ(nf->cause, "overflow in the weight gradient Σ δ ⋆ a (backward)");
  EXPECT_EQ(nf->detail, "the product δ·a of term 0 (1e+10 × 1e+300) exceeds 1.8e308");
}

TEST(WatchConv, AHealthyConvRunHasNormsForEveryLayerAndNoWarning) {
  // conv2d 1 → 2 maps (3 × 3, tanh) on 5 × 5 images, max pool 3 (stride 1),
  // dense softmax: two classes told apart by the image's mean sign.
  Rng rng(8);
  Network<double> net;
  net.input_shape = {1, 5, 5};
  net.loss = Loss::cross_entropy;
  Matrix<double> K(2, 9);
  for (Index i = 0; i < K.size(); ++i) K.data()[i] = rng.uniform(-0.3, 0.3);
  net.layers.push_back(conv2d_layer(ConvGeometry{1, 0, 0, 0, 3, 3}, Activation::tanh, K, vector({0.0, 0.0})));
  net.layers.push_back(pool_layer(LayerKind::max_pool, 3, 1));
  net.layers.push_back({Activation::softmax, Matrix<double>::Constant(2, 2, 0.05), vector({0.0, 0.0})});
  net.layers.back().weights.row(1) *= -1;
  connect_shapes(net);
  Dataset<double> data;
  data.inputs.resize(25, 60);
  for (Index c = 0; c < 60; ++c) {
    const double sign = c % 2 ? 1.0 : -1.0;
    for (Index i = 0; i < 25; ++i) data.inputs(i, c) = sign * 0.5 + rng.uniform(-0.2, 0.2);
    data.labels.push_back(static_cast<int>(c % 2));
  }
  data.targets = one_hot(data.labels, 2);
  const auto run = w::train_watched(net, data, sgd(0.5, 6, 3));
  EXPECT_FALSE(run.watch.first_non_finite.has_value());
  EXPECT_EQ(run.watch.count(w::Severity::error), 0u);
  ASSERT_EQ(run.watch.kinds.size(), 3u);
  EXPECT_EQ(run.watch.kinds[1], LayerKind::max_pool);
  const auto& first = run.watch.steps.front();
  EXPECT_GT(first.layers[0].weight_norm, 0.0);
  EXPECT_EQ(first.layers[1].weight_norm, 0.0) << "pooling has no parameters";
  EXPECT_EQ(first.layers[1].gradient_norm, 0.0);
  EXPECT_GT(first.layers[0].gradient_norm, 0.0);
  EXPECT_GT(run.history.epochs.back().train_loss, 0.0);
  EXPECT_LT(run.history.epochs.back().train_loss, run.history.epochs.front().train_loss);
}

}  // namespace
}  // namespace gradcheck
