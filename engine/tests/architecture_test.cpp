// Architectures as `gradcheck train --net` writes them (architecture.hpp): the
// dense form of old, image layers on the data's image or a stated one, lenet5,
// the shapes and parameter counts worked out before anything is allocated, and
// one line per bad spec.
#include "test_helpers.hpp"

#include <gradcheck/engine/architecture.hpp>

#include <gtest/gtest.h>

#include <string>

namespace gradcheck {
namespace {

using testing::input_error_of;

constexpr std::int64_t limit = std::int64_t{1} << 25;
const ImageShape mnist{1, 28, 28};

TEST(Architecture, TheDenseFormIsInputsThenUnitsAndNeedsNoImage) {
  const Architecture a = parse_architecture("784-30-10", {}, "--net", limit);
  EXPECT_TRUE(a.input.empty());
  EXPECT_EQ(a.input_features, 784);
  ASSERT_EQ(a.layers.size(), 2u);
  EXPECT_EQ(a.layers[1].units, 10);
  EXPECT_EQ(a.layers[1].inputs, 30);
  EXPECT_EQ(a.parameters, 785 * 30 + 31 * 10);
  const auto net = network_from(a, Activation::sigmoid, Activation::sigmoid, Loss::quadratic, Init::gaussian, 3);
  const auto same = make_network({784, 30, 10}, Activation::sigmoid, Activation::sigmoid, Loss::quadratic,
                                 Init::gaussian, 3);
  ASSERT_EQ(net.layers.size(), 2u);
  EXPECT_EQ(net.layers[0].weights, same.layers[0].weights) << "the same draws as make_network(sizes)";
  EXPECT_EQ(net.layers[1].biases, same.layers[1].biases);
}

TEST(Architecture, Lenet5IsTheClassicLayersOnTheDataImage) {
  const Architecture a = parse_architecture("lenet5", mnist, "--net", limit);
  EXPECT_EQ(a.input, mnist);
  ASSERT_EQ(a.layers.size(), 7u);
  // 1×28×28 -c6k5p2-> 6×28×28 -m2-> 6×14×14 -c16k5-> 16×10×10 -m2-> 16×5×5 = 400 -> 120 -> 84 -> 10
  EXPECT_EQ(a.layers[2].in_channels, 6);
  EXPECT_EQ(a.layers[4].inputs, 400);
  EXPECT_EQ(a.parameters, 6 * 26 + 16 * 151 + 401 * 120 + 121 * 84 + 85 * 10);
  const auto net = network_from(a, Activation::relu, Activation::softmax, Loss::cross_entropy, Init::he, 1);
  EXPECT_EQ(net.parameter_count(), a.parameters);
  EXPECT_EQ(net.layers[0].kind, LayerKind::conv2d);
  EXPECT_EQ(net.layers[0].conv.padding, 2);
  EXPECT_EQ(net.layers[0].activation, Activation::relu);
  EXPECT_EQ(net.layers[1].kind, LayerKind::max_pool);
  EXPECT_EQ(net.layers[1].pool.stride, 2) << "a pool's stride is its window unless stated";
  EXPECT_EQ(net.layers[3].output_shape(), (ImageShape{16, 5, 5}));
  EXPECT_EQ(net.layers[6].activation, Activation::softmax);
  EXPECT_EQ(net.input_size(), 784);
  EXPECT_EQ(net.output_size(), 10);
}

TEST(Architecture, AStatedImageAndStridedOptionsAreRead) {
  const Architecture a = parse_architecture("3x9x8-c4k3s2p1-a2s1-5", mnist, "--net", limit);
  EXPECT_EQ(a.input, (ImageShape{3, 9, 8}));
  EXPECT_EQ(a.layers[0].stride, 2);
  EXPECT_EQ(a.layers[0].padding, 1);
  EXPECT_EQ(a.layers[1].kind, LayerKind::avg_pool);
  EXPECT_EQ(a.layers[1].stride, 1);
  // 3×9×8 -c4k3s2p1-> 4×5×4 -a2s1-> 4×4×3 = 48 -> 5
  EXPECT_EQ(a.layers[2].inputs, 48);
  EXPECT_EQ(a.parameters, 4 * 28 + 49 * 5);
}

TEST(Architecture, BadSpecsAreOneLineNamingTheEntry) {
  const auto error = [](const std::string& text) {
    return input_error_of([&] { parse_architecture(text, mnist, "--net", limit); });
  };
  EXPECT_EQ(error("c6k5-x3-10"),
            "--net: \"c6k5-x3-10\": entry 1 (\"x3\") is not a layer: a number of units, c<maps>k<size>[s<stride>]"
            "[p<padding>], m<window>[s<stride>] or a<window>[s<stride>] (docs/training.md)");
  EXPECT_EQ(error("784-c6k5-10"),
            "--net: \"784-c6k5-10\": entry 1 (\"c6k5\") is an image layer after a dense one (or on data that are not "
            "images): image layers come first");
  EXPECT_EQ(error("c6k30-10"),
            "--net: \"c6k30-10\": entry 0 (\"c6k30\") kernel_h 30 is larger than the input height 28");
  EXPECT_EQ(error("c6k5s0-10"), "--net: \"c6k5s0-10\": entry 0 (\"c6k5s0\") stride must be at least 1, got 0");
  EXPECT_EQ(error("784-1000000000-10"), "--net: layer size 1000000000 (entry 1) is outside 1..1048576 (docs/limits.md)");
  EXPECT_EQ(error("784"), "--net: \"784\": needs at least two sizes (inputs and outputs), e.g. 784-10, or image "
                          "layers such as c6k5p2-m2-c16k5-m2-120-84-10");
  EXPECT_EQ(error("784-1048576-10"),
            "--net: 784-1048576-10 has 833617930 parameters, more than the limit of 33554432 (docs/limits.md)");
}

}  // namespace
}  // namespace gradcheck
