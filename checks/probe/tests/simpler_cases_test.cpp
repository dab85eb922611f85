// The shrinker's candidates (simpler_cases.hpp): every one a valid case, and
// simpler than the case it came from in the way its stage promises.
#include <gradcheck/probe/generators.hpp>

#include <gradcheck/engine/case_format.hpp>
#include <gradcheck/engine/network.hpp>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "../src/simpler_cases.hpp"

namespace gradcheck {
namespace {

using detail::ShrinkStage;

TEST(RoundSignificant, KeepsTheLeadingDigits) {
  EXPECT_EQ(detail::round_significant(431.2, 1), 400.0);
  EXPECT_EQ(detail::round_significant(431.2, 2), 430.0);
  EXPECT_EQ(detail::round_significant(-0.0567, 1), -0.06);
  EXPECT_EQ(detail::round_significant(0.0, 1), 0.0);
  EXPECT_EQ(detail::significant_digits(0.5), 1);
  EXPECT_EQ(detail::significant_digits(431), 3);
  EXPECT_EQ(detail::significant_digits(0.123), 3);
  EXPECT_EQ(detail::significant_digits(0.1 + 0.2), 17);
}

TEST(SimplerCases, WithoutTheFirstLayerTheRestComputesWhatItDid) {
  Case c;
  c.network.loss = Loss::quadratic;
  c.network.layers.push_back({Activation::tanh, Matrix<double>::Constant(2, 1, 0.3), Vector<double>::Constant(2, 0.1)});
  c.network.layers.push_back({Activation::sigmoid, Matrix<double>::Constant(1, 2, -0.7), Vector<double>::Zero(1)});
  c.inputs = Matrix<double>::Constant(1, 1, 0.9);
  c.targets = Matrix<double>::Constant(1, 1, 0.5);
  const auto candidates = detail::simpler_cases(c, ShrinkStage::layers);
  ASSERT_EQ(candidates.size(), 2u) << "without the output layer, without the first layer";
  const Case& first = candidates[1];
  ASSERT_EQ(first.network.layers.size(), 1u);
  EXPECT_EQ(first.network.layers[0].activation, Activation::sigmoid);
  EXPECT_EQ(forward(first.network, first.inputs).output(), forward(c.network, c.inputs).output());
}

// The transpose bug (W where Wᵀ belongs) shows only on a square matrix: the
// unit stage also removes unit j from two layers at once, keeping W_1 square.
TEST(SimplerCases, ASquareWeightMatrixCanStaySquare) {
  Case c;
  c.network.loss = Loss::quadratic;
  c.network.layers.push_back({Activation::tanh, Matrix<double>::Constant(3, 1, 0.3), Vector<double>::Constant(3, 0.1)});
  c.network.layers.push_back({Activation::sigmoid, Matrix<double>::Constant(3, 3, -0.7), Vector<double>::Zero(3)});
  c.inputs = Matrix<double>::Constant(1, 1, 0.9);
  c.targets = Matrix<double>::Constant(3, 1, 0.5);
  std::size_t square = 0;
  for (const Case& d : detail::simpler_cases(c, ShrinkStage::units)) {
    const auto& w = d.network.layers[1].weights;
    if (w.rows() == 2 && w.cols() == 2) {
      ++square;
      EXPECT_EQ(d.targets.rows(), 2);
    }
  }
  EXPECT_EQ(square, 3u) << "unit j of both layers, for each of the 3 units";
}

// A conv case shrunk as probe shrinks (the first candidate that keeps the
// "bug", stage after stage, until a pass keeps nothing), for a bug that needs
// a strided conv2d layer: it ends at one conv2d layer of one channel and a
// 1 × 1 kernel, stride 2, on a 1 × 1 image, and one output unit.
TEST(SimplerCases, AConvCaseShrinksToOneStridedConvLayerOfOneChannel) {
  Case c;
  c.network.loss = Loss::quadratic;
  c.network.input_shape = {2, 6, 6};
  ConvGeometry g1{2, 6, 6, 3, 3, 3, 1, 1};
  c.network.layers.push_back(conv2d_layer(g1, Activation::tanh, Matrix<double>(Matrix<double>::Constant(3, 18, 0.1)),
                                          Vector<double>::Constant(3, 0.2)));
  c.network.layers.push_back(pool_layer(LayerKind::max_pool, 2, 2));
  ConvGeometry g2{3, 3, 3, 2, 2, 2, 2, 1};
  c.network.layers.push_back(conv2d_layer(g2, Activation::relu, Matrix<double>(Matrix<double>::Constant(2, 12, -0.3)),
                                          Vector<double>::Constant(2, 0.5)));
  c.network.layers.push_back({Activation::identity, Matrix<double>::Constant(2, 8, 0.25), Vector<double>::Zero(2)});
  connect_shapes(c.network);
  c.inputs = Matrix<double>::Constant(72, 3, 0.5);
  c.targets = Matrix<double>::Constant(2, 3, 1.0);
  const auto shows_bug = [](const Case& d) {
    for (const auto& l : d.network.layers)
      if (l.kind == LayerKind::conv2d && l.conv.stride == 2 && l.conv.out_h() * l.conv.out_w() > 1) return true;
    return false;
  };
  ASSERT_TRUE(shows_bug(c));
  for (bool progress = true; progress;) {
    progress = false;
    for (ShrinkStage stage : {ShrinkStage::layers, ShrinkStage::batch, ShrinkStage::image, ShrinkStage::units})
      for (bool again = true; again;) {
        again = false;
        for (Case& d : detail::simpler_cases(c, stage))
          if (shows_bug(d)) {
            c = std::move(d);
            again = progress = true;
            break;
          }
      }
  }
  EXPECT_NO_THROW(validate(c.network));
  ASSERT_EQ(c.network.layers.size(), 2u) << case_to_json(c, -1);
  const Layer<double>& conv = c.network.layers[0];
  EXPECT_EQ(conv.kind, LayerKind::conv2d);
  EXPECT_EQ(conv.conv.stride, 2);
  EXPECT_EQ(conv.conv.in_channels, 1);
  EXPECT_EQ(conv.conv.out_channels, 1);
  EXPECT_EQ(conv.conv.kernel_h * conv.conv.kernel_w, 1);
  // The image goes before the padding: a 1 × 1 image padded by 1 keeps 2 × 2
  // positions at stride 2, a local minimum no single step leaves.
  EXPECT_EQ(c.network.input_shape, (ImageShape{1, 1, 1})) << to_string(c.network.input_shape);
  EXPECT_EQ(conv.conv.padding, 1);
  EXPECT_EQ(c.network.layers[1].units(), 1);
  EXPECT_EQ(c.batch_size(), 1);
}

int units(const Case& c) {
  int n = static_cast<int>(c.inputs.rows());
  for (const auto& l : c.network.layers) n += static_cast<int>(l.units());
  return n;
}

// The size of an image case's geometry: image layers, channels, kernel sides,
// strides, padding, windows and the input image. Each image candidate lowers it.
int geometry(const Case& c) {
  const ImageShape& in = c.network.input_shape;
  int n = static_cast<int>(in.channels + in.height + in.width);
  for (const auto& l : c.network.layers) {
    if (l.kind == LayerKind::conv2d)
      n += static_cast<int>(1 + l.conv.out_channels + l.conv.kernel_h + l.conv.kernel_w + l.conv.stride + l.conv.padding);
    if (is_pooling(l.kind)) n += static_cast<int>(1 + l.pool.window);
  }
  return n;
}

// Every candidate of every stage of c validates (the engine's validate() too)
// and is smaller in its stage's measure (layers, samples, geometry, units) or
// differs in values only.
void check_candidates(const Case& c) {
  for (ShrinkStage stage : detail::shrink_stages) {
    for (const Case& d : detail::simpler_cases(c, stage)) {
      RC_ASSERT(d.targets.rows() == d.network.output_size());
      RC_ASSERT(d.inputs.rows() == d.network.input_size());
      RC_ASSERT(d.inputs.cols() == d.targets.cols());
      validate(d.network);  // throws on an invalid network
      RC_ASSERT(d.network.layers.back().is_dense());
      switch (stage) {
        case ShrinkStage::layers: RC_ASSERT(d.network.layers.size() + 1 == c.network.layers.size()); break;
        case ShrinkStage::batch: RC_ASSERT(d.batch_size() < c.batch_size()); break;
        case ShrinkStage::image: RC_ASSERT(geometry(d) < geometry(c)); break;
        case ShrinkStage::units: RC_ASSERT(units(d) + 1 == units(c) || units(d) + 2 == units(c)); break;
        case ShrinkStage::round:
        case ShrinkStage::values:
          RC_ASSERT(d.network.layers.size() == c.network.layers.size());
          RC_ASSERT(units(d) == units(c));
          RC_ASSERT(case_to_json(d, -1) != case_to_json(c, -1));
          break;
      }
    }
  }
}

// Over random cases: every candidate validates, and is smaller in its
// stage's measure (layers, samples, units) or differs in values only.
RC_GTEST_PROP(SimplerCasesProperty, EveryCandidateIsAValidSmallerCase, ()) {
  CaseSpace space;
  space.max_layers = 3;
  space.max_width = 4;
  space.max_batch = 3;
  check_candidates(*gen::any_case(space));
}

RC_GTEST_PROP(SimplerCasesProperty, EveryCandidateOfAConvCaseIsAValidSmallerCase, ()) {
  CaseSpace space;
  space.layer_types = {LayerKind::dense, LayerKind::conv2d, LayerKind::max_pool, LayerKind::avg_pool};
  space.max_layers = 3;
  space.max_width = 3;
  space.max_batch = 2;
  space.max_image_side = 5;
  check_candidates(*gen::any_case(space));
}

}  // namespace
}  // namespace gradcheck
