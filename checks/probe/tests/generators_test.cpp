// The case generator (generators.hpp) as probe draws from it (probe_case):
// dense only by default, with the very cases it always drew; with image layer
// kinds allowed, only valid conv cases, covering every layer kind, stride 2,
// padding and exact max-pool ties.
#include <gradcheck/probe/probe.hpp>

#include <gradcheck/engine/case_format.hpp>
#include <gradcheck/engine/network.hpp>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstdint>
#include <string>

namespace gradcheck {
namespace {

CaseSpace conv_space() {
  CaseSpace s;
  s.layer_types = {LayerKind::dense, LayerKind::conv2d, LayerKind::max_pool, LayerKind::avg_pool};
  return s;
}

// FNV-1a of the compact JSON of cases 0..count-1 of each seed.
std::uint64_t fingerprint(const CaseSpace& space, std::initializer_list<std::uint64_t> seeds, int count) {
  std::uint64_t h = 1469598103934665603ull;
  for (std::uint64_t seed : seeds)
    for (int i = 0; i < count; ++i)
      for (char ch : case_to_json(probe_case(space, seed, static_cast<std::size_t>(i)).value(), -1)) {
        h ^= static_cast<unsigned char>(ch);
        h *= 1099511628211ull;
      }
  return h;
}

// The fingerprint of seeds 1, 7 and 42 (200 cases each) as the generator drew
// them before it knew image layers (commit 650a1f8, measured with its header):
// a probe replayed with --seed sends the cases it sent then.
TEST(CaseGenerator, DenseOnlyIsTheDefaultAndDrawsTheCasesItAlwaysDrew) {
  const CaseSpace space;
  EXPECT_EQ(space.layer_types, std::vector<LayerKind>{LayerKind::dense});
  EXPECT_EQ(fingerprint(space, {1, 7, 42}, 200), 0x5541807528d13ce7ull);
}

// How many of the max-pool windows of case c hold an exact tie between two
// entries, at least one of which passes a gradient on (nonzero act').
int tied_windows(const Case& c) {
  const ForwardPass<double> fp = forward(c.network, c.inputs);
  int ties = 0;
  for (std::size_t l = 0; l < c.network.layers.size(); ++l) {
    const PoolGeometry& p = c.network.layers[l].pool;
    if (c.network.layers[l].kind != LayerKind::max_pool) continue;
    for (Index n = 0; n < c.batch_size(); ++n)
      for (Index ch = 0; ch < p.channels; ++ch)
        for (Index oy = 0; oy < p.out_h(); ++oy)
          for (Index ox = 0; ox < p.out_w(); ++ox) {
            const auto at = [&](Index u, Index v) {
              return fp.a[l]((ch * p.height + oy * p.stride + u) * p.width + ox * p.stride + v, n);
            };
            double best = at(0, 0);
            int count = 0;
            for (Index u = 0; u < p.window; ++u)
              for (Index v = 0; v < p.window; ++v) best = std::max(best, at(u, v));
            for (Index u = 0; u < p.window; ++u)
              for (Index v = 0; v < p.window; ++v) count += at(u, v) == best;
            const bool live = l == 0 || activation_derivative(c.network.layers[l - 1].activation, best) != 0;
            ties += count > 1 && live;
          }
  }
  return ties;
}

TEST(CaseGenerator, ConvCasesAreValidAndCoverEveryLayerKindStridePaddingAndMaxPoolTies) {
  const CaseSpace space = conv_space();
  int conv = 0, max_pool = 0, avg_pool = 0, two_conv = 0, stride2 = 0, padding1 = 0,
      cases_with_ties = 0;
  const int draws = 300;
  for (int i = 0; i < draws; ++i) {
    const Case c = probe_case(space, 5, static_cast<std::size_t>(i)).value();
    const Network<double>& net = c.network;
    EXPECT_NO_THROW(validate(net)) << case_to_json(c, -1);
    EXPECT_TRUE(net.layers.back().is_dense());
    EXPECT_EQ(c.inputs.rows(), net.input_size());
    EXPECT_EQ(c.targets.rows(), net.output_size());
    EXPECT_FALSE(net.is_dense()) << "with image kinds allowed every case is an image network";
    EXPECT_GE(net.input_shape.channels, 1);
    EXPECT_LE(net.input_shape.channels, 3);
    EXPECT_LE(net.input_shape.height, 8);
    EXPECT_LE(net.input_shape.width, 8);
    int convs = 0;
    for (const auto& l : net.layers) {
      if (l.kind == LayerKind::conv2d) {
        ++convs;
        EXPECT_LE(l.conv.out_channels, 3);
        EXPECT_LE(std::max(l.conv.kernel_h, l.conv.kernel_w), 3);
        EXPECT_LE(l.conv.kernel_h, l.conv.height + 2 * l.conv.padding);
        EXPECT_LE(l.conv.kernel_w, l.conv.width + 2 * l.conv.padding);
        EXPECT_LE(l.conv.stride, 2);
        EXPECT_LE(l.conv.padding, 1);
        stride2 += l.conv.stride == 2;
        padding1 += l.conv.padding == 1;
      }
      max_pool += l.kind == LayerKind::max_pool;
      avg_pool += l.kind == LayerKind::avg_pool;
    }
    EXPECT_GE(convs, 1);
    EXPECT_LE(convs, 2);
    ++conv;
    two_conv += convs == 2;
    cases_with_ties += tied_windows(c) > 0;
  }
  // Measured: seed 5 draws these; each must be there at all.
  EXPECT_EQ(conv, draws);
  EXPECT_GT(two_conv, 0);
  EXPECT_GT(max_pool, 0);
  EXPECT_GT(avg_pool, 0);
  EXPECT_GT(stride2, 0);
  EXPECT_GT(padding1, 0);
  EXPECT_GT(cases_with_ties, 10) << "exact ties in max-pool windows, drawn on purpose";
}

TEST(CaseGenerator, PoolingWithoutConvPoolsTheInputImage) {
  CaseSpace space;
  space.layer_types = {LayerKind::dense, LayerKind::avg_pool};
  int pooled = 0;
  for (int i = 0; i < 50; ++i) {
    const Case c = probe_case(space, 3, static_cast<std::size_t>(i)).value();
    EXPECT_NO_THROW(validate(c.network));
    for (const auto& l : c.network.layers) {
      EXPECT_NE(l.kind, LayerKind::conv2d);
      EXPECT_NE(l.kind, LayerKind::max_pool);
      pooled += l.kind == LayerKind::avg_pool;
    }
  }
  EXPECT_GT(pooled, 0);
}

RC_GTEST_PROP(CaseGeneratorProperty, EveryConvCaseValidatesAndComputes, ()) {
  const Case c = *gen::any_case(conv_space());
  validate(c.network);  // throws on an invalid geometry
  RC_ASSERT(c.network.layers.back().is_dense());
  const ForwardPass<double> fp = forward(c.network, c.inputs);
  RC_ASSERT(fp.output().rows() == c.targets.rows());
  RC_ASSERT(fp.output().cols() == c.inputs.cols());
}

}  // namespace
}  // namespace gradcheck
