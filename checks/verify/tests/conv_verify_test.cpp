// verify through conv2d and pooling layers (docs/verify.md#image-layers): a
// correct reply agrees, each image-layer mutation (mutations.hpp) is named by
// its signature with its evidence and by no other, generic signatures and the
// chain test work through image layers, and no correct reply of a random conv
// case diverges, in double or in float32.
#include "verify_test_support.hpp"
#include "../../../tests/documented_fields.hpp"

#include <gradcheck/verify/mutations.hpp>
#include <gradcheck/engine/case_format.hpp>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <set>
#include <string>

namespace gradcheck {
namespace {

using testing::describe;
using testing::divergence_kinds;
using testing::engine_reply;
using testing::evidence;
using testing::find_signature;
using testing::reply_of;

// The layers of a test network, input side first.
struct ConvSpec {
  Index channels, size;  // the input image: channels × size × size
  struct Conv {
    Index out, kernel, stride, padding;
    Activation act;
  };
  std::vector<Conv> convs;
  LayerKind pool = LayerKind::dense;  // dense: no pooling layer
  Index window = 2;
  Activation out = Activation::softmax;
  Loss loss = Loss::cross_entropy;
  Index batch = 2;
};

// A case of spec's layers (convs, the pool, a dense output of 3 units) with
// weights, biases and inputs drawn from [−1, 1] by splitmix64 from `seed`.
Case conv_case(const ConvSpec& spec, std::uint64_t seed) {
  std::uint64_t s = seed * 0x9E3779B97F4A7C15ull + 7;
  auto uniform = [&s] {
    std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return static_cast<double>((z ^ (z >> 31)) >> 11) * 0x1.0p-52 - 1.0;
  };
  auto random = [&](Index r, Index c) { return Matrix<double>(Matrix<double>::NullaryExpr(r, c, [&] { return uniform(); })); };
  Case c;
  c.network.input_shape = {spec.channels, spec.size, spec.size};
  c.network.loss = Loss::quadratic;  // until the output layer is there
  Index channels = spec.channels;
  for (const auto& k : spec.convs) {
    ConvGeometry g;
    g.in_channels = channels;
    g.kernel_h = g.kernel_w = k.kernel;
    g.stride = k.stride;
    g.padding = k.padding;
    c.network.layers.push_back(conv2d_layer(g, k.act, random(k.out, channels * k.kernel * k.kernel), random(k.out, 1)));
    channels = k.out;
  }
  if (spec.pool != LayerKind::dense) c.network.layers.push_back(pool_layer(spec.pool, spec.window, spec.window));
  connect_shapes(c.network);  // fills the image layers' shapes; the dense layer's width follows
  const Index features = c.network.layers.back().output_size();
  Layer<double> dense;
  dense.activation = spec.out;
  dense.weights = random(3, features);
  dense.biases = random(3, 1);
  c.network.layers.push_back(dense);
  c.network.loss = spec.loss;
  connect_shapes(c.network);
  c.inputs = random(c.network.input_size(), spec.batch);
  c.targets = Matrix<double>::Zero(3, spec.batch);
  for (Index n = 0; n < spec.batch; ++n) {
    if (spec.loss == Loss::cross_entropy) c.targets(n % 3, n) = 1;
    else c.targets.col(n) = (random(3, 1).array() * 0.5 + 0.5).matrix();
  }
  return c;
}

// Two conv layers (the second strided, padded, 2 → 2 channels) and avg pool:
// every conv2d and avg-pool mutation applies.
Case strided_case() {
  using A = Activation;
  return conv_case({1, 8, {{2, 3, 1, 1, A::tanh}, {2, 3, 2, 1, A::tanh}}, LayerKind::avg_pool, 2, A::sigmoid,
                    Loss::quadratic, 2},
                   11);
}

// A conv layer with an identity activation whose 1 × 1 kernel keeps the
// input's exact ties, a max pool over them, then a conv and the dense output:
// the max-pool mutations, ties included, apply.
Case tied_max_case() {
  using A = Activation;
  Case c = conv_case({1, 6, {{2, 1, 1, 0, A::identity}}, LayerKind::max_pool, 2, A::softmax, Loss::cross_entropy, 2}, 5);
  for (Index i = 0; i < c.inputs.size(); i += 4) c.inputs.data()[i + 1] = c.inputs.data()[i];  // pairs of equal pixels
  return c;
}

TEST(ConvVerify, TheEnginesOwnGradientsAgreeOnTheConvExample) {
  const Case c = read_case(std::string(GRADCHECK_SOURCE_DIR) + "/examples/cases/conv-small.json");
  const VerifyResult v = verify_reply(c, engine_reply(c, /*with_forward=*/true));
  EXPECT_EQ(v.status, VerifyStatus::agree) << describe(v);
  EXPECT_FALSE(v.origin_layer.has_value());
}

TEST(ConvVerify, TheEnginesOwnGradientsAgreeOnTheTestCases) {
  for (const Case& c : {strided_case(), tied_max_case()}) {
    const VerifyResult v = verify_reply(c, engine_reply(c, true));
    EXPECT_NE(v.status, VerifyStatus::diverge) << describe(v);
  }
}

// The tied case's gradients with each max-pool window's δ sent to its last
// maximum (a >= scan) instead of the first: the engine's backward, then the
// pool (layer 1) and the 1 × 1 identity conv below it (layer 0) redone by hand.
Reply last_maximum_reply(const Case& c) {
  ForwardPass<double> fp;
  forward(c.network, c.inputs, fp);
  Gradients<double> g;
  backward(c.network, fp, c.targets, g);
  const PoolGeometry& pool = c.network.layers[1].pool;
  const Index OH = pool.out_h(), OW = pool.out_w();
  Matrix<double> da = Matrix<double>::Zero(pool.input_size(), c.inputs.cols());
  for (Index n = 0; n < da.cols(); ++n) {
    const double* x = fp.a[1].col(n).data();
    detail::for_each_window(pool, [&](Index ch, Index oy, Index ox, Index first) {
      Index last = first;
      for (Index u = 0; u < pool.window; ++u)
        for (Index w = 0; w < pool.window; ++w)
          if (x[first + u * pool.width + w] >= x[last]) last = first + u * pool.width + w;
      da(last, n) += g.deltas[1]((ch * OH + oy) * OW + ox, n);
    });
  }
  Reply r = engine_reply(c);
  const Layer<double>& conv = c.network.layers[0];
  Matrix<double> dW;
  Vector<double> db;
  conv2d_backward<double>(conv.conv, conv.weights, fp.a[0], da, dW, db);
  r.layers[0].weights = dW;
  r.layers[0].biases = db;
  return r;
}

// A 1 × 1 conv (2 → 1 channels, weights 1 and 1) whose sums tie from
// different pixels: 0.25 + 0.5 and 0.5 + 0.25 are both 0.75, so which of the
// tied positions takes a max-pool window's gradient moves dW. Then the pool
// (one 2 × 2 window) and a softmax layer of 3 units. Two samples.
Case distinct_tie_case() {
  Case c;
  c.network.input_shape = {2, 2, 2};
  ConvGeometry g;
  g.in_channels = 2;
  g.kernel_h = g.kernel_w = 1;
  g.stride = 1;
  g.padding = 0;
  Matrix<double> w(1, 2);
  w << 1.0, 1.0;
  c.network.layers.push_back(conv2d_layer(g, Activation::identity, w, Vector<double>::Zero(1)));
  c.network.layers.push_back(pool_layer(LayerKind::max_pool, 2, 2));
  c.network.loss = Loss::quadratic;  // until the output layer is there
  connect_shapes(c.network);
  Layer<double> dense;
  dense.activation = Activation::softmax;
  dense.weights = Matrix<double>(3, 1);
  dense.weights << 0.5, -0.25, 1.0;
  dense.biases = Vector<double>(3);
  dense.biases << 0.1, 0.2, -0.3;
  c.network.layers.push_back(dense);
  c.network.loss = Loss::cross_entropy;
  connect_shapes(c.network);
  c.inputs = Matrix<double>(8, 2);  // channel 0's four pixels, then channel 1's
  c.inputs.col(0) << 0.25, 0.5, 0.125, 0.0625, 0.5, 0.25, 0.125, 0.25;
  c.inputs.col(1) << 0.125, 0.75, 0.5, 0.375, 0.75, 0.125, 0.375, 0.5;
  c.targets = Matrix<double>::Zero(3, 2);
  c.targets(0, 0) = c.targets(2, 1) = 1;
  return c;
}

// The other tie rule is a convention, as relu'(0) = 1 is: a note that names
// it, never a divergence (docs/verify.md#image-layers).
TEST(ConvVerify, TheLastMaximumAtATiedMaxPoolWindowIsAConventionNote) {
  const Case c = distinct_tie_case();
  const Reply last = last_maximum_reply(c);
  ASSERT_GT(testing::change(last, engine_reply(c)), 1e-3) << "the ties must move the gradients";
  const VerifyResult v = verify_reply(c, last);
  SCOPED_TRACE(describe(v));
  EXPECT_EQ(v.status, VerifyStatus::notes);
  ASSERT_EQ(v.signatures.size(), 1u);
  const Signature& s = v.signatures[0];
  EXPECT_EQ(s.kind, BugKind::kink_convention);
  EXPECT_EQ(s.severity, Severity::note);
  EXPECT_GT(evidence(s, "max-pool windows with tied maxima"), 0);
  EXPECT_NE(s.message.find("max-pool windows hold tied maxima (first: layer 1 channel "), std::string::npos);
  EXPECT_NE(s.message.find("to the last maximum"), std::string::npos);
  // The engine's own rule (the first maximum) needs no note.
  const VerifyResult first = verify_reply(c, engine_reply(c));
  EXPECT_EQ(first.status, VerifyStatus::agree) << describe(first);
}

// Each image mutation on the case it applies to: diverge, its own kind and no
// other, with the hypothesis's evidence (the entries it reproduces).
TEST(ConvVerify, EveryImageMutationIsNamedByItsSignatureWithEvidenceAndByNoOther) {
  std::set<std::string> tested;
  for (const Case& c : {strided_case(), tied_max_case()}) {
    const Reply good = engine_reply(c);
    for (Mutation m : image_mutations) {
      if (!applies(m, c.network)) continue;
      const Reply bad = reply_of(mutated_gradients(c, m));
      if (testing::change(bad, good) < 1e-3) continue;
      tested.insert(to_string(m));
      const VerifyResult v = verify_reply(c, bad);
      SCOPED_TRACE(std::string(to_string(m)) + "\n" + describe(v));
      EXPECT_EQ(v.status, VerifyStatus::diverge);
      EXPECT_EQ(divergence_kinds(v), std::set<BugKind>{m.kind});
      const Signature* s = find_signature(v, m.kind);
      ASSERT_NE(s, nullptr);
      EXPECT_GT(evidence(*s, "gradient entries it reproduces"), 0);
      EXPECT_FALSE(s->layers.empty());
      ASSERT_TRUE(v.cause.has_value());
      EXPECT_EQ(v.cause->kind, m.kind);
    }
  }
  EXPECT_EQ(tested.size(), std::size(image_mutations));  // every one, the whole flip and the ties included
}

// The mutations of image layers are computed apart from verify's hypotheses:
// where both apply, the named form is the one injected.
TEST(ConvVerify, TheNamedFormIsTheInjectedOne) {
  const Case c = strided_case();
  const struct {
    Mutation m;
    const char* words;
  } rows[] = {{mutation::kernel_flipped_dw, "dW of the conv2d layers is turned 180°"},
              {mutation::kernel_flipped_dx, "dL/da below a conv2d layer goes through its kernel"},
              {mutation::stride_ignored_dx, "dL/da below the strided conv2d layers"},
              {mutation::padding_ignored, "ignores the padding"},
              {mutation::padding_plus_one, "padding p + 1"},
              {mutation::conv_bias_first, "first output position"},
              {mutation::conv_bias_mean, "mean of δ over the output positions"}};
  for (const auto& row : rows) {
    const VerifyResult v = verify_reply(c, reply_of(mutated_gradients(c, row.m)));
    const Signature* s = find_signature(v, row.m.kind);
    ASSERT_NE(s, nullptr) << to_string(row.m) << "\n" << describe(v);
    EXPECT_NE(s->message.find(row.words), std::string::npos) << s->message;
  }
}

TEST(ConvVerify, GenericSignaturesWorkThroughImageLayers) {
  const Case c = strided_case();
  for (Mutation m : {mutation::sign_flip, mutation::doubled, mutation::bias_zero}) {
    const VerifyResult v = verify_reply(c, reply_of(mutated_gradients(c, m)));
    EXPECT_EQ(divergence_kinds(v), std::set<BugKind>{m.kind}) << to_string(m) << "\n" << describe(v);
  }
  const VerifyResult v = verify_reply(c, reply_of(mutated_gradients(c, mutation::sign_flip)));
  EXPECT_TRUE(v.update.computed);
  EXPECT_GT(v.update.loss_after_claimed, v.update.loss_before);
  EXPECT_NEAR(v.update.cosine, -1, 1e-12);
}

// The chain test reaches a conv layer below a pooling layer: with the dense
// output's δ (batch 1: its biases), the conv layer's db must be the sum over
// positions of the δ that comes back through the pool.
TEST(ConvVerify, TheChainComparesAConvLayerWithTheDeltaOfTheDenseLayerAboveThePool) {
  using A = Activation;
  const Case c = conv_case({1, 6, {{2, 3, 1, 1, A::tanh}}, LayerKind::max_pool, 2, A::sigmoid, Loss::quadratic, 1}, 3);
  const VerifyResult good = verify_reply(c, engine_reply(c));
  EXPECT_EQ(good.status, VerifyStatus::agree);
  Reply bad = reply_of(mutated_gradients(c, mutation::conv_bias_mean));
  const VerifyResult v = verify_reply(c, bad);
  EXPECT_EQ(v.chain.status, ChainConsistency::Status::inconsistent) << describe(v);
  ASSERT_EQ(v.chain.layers.size(), 1u);  // the pool has nothing to compare
  EXPECT_EQ(v.chain.layers[0].layer, 0u);
  EXPECT_TRUE(v.chain.layers[0].weights_consistent);
  EXPECT_FALSE(v.chain.layers[0].biases_consistent);
  EXPECT_EQ(v.fault, FaultLocation::bias_gradient);
  EXPECT_EQ(v.fault_layer, std::optional<std::size_t>(0));
  EXPECT_EQ(v.origin_layer, std::optional<std::size_t>(0));
}

// A bug outside the catalogue in the pool's backward: the step test from the
// dense layer, through the pool, to the conv layer fails.
TEST(ConvVerify, AWrongStepThroughAPoolIsLocalisedToIt) {
  using A = Activation;
  const Case c = conv_case({1, 6, {{2, 3, 1, 1, A::tanh}}, LayerKind::max_pool, 2, A::sigmoid, Loss::quadratic, 1}, 3);
  Reply bad = engine_reply(c);
  bad.layers[0].weights *= 1.5;  // dW and db of the conv layer both wrong, by one factor
  bad.layers[0].biases *= 1.5;
  const VerifyResult v = verify_reply(c, bad);
  EXPECT_EQ(v.status, VerifyStatus::diverge);
  EXPECT_EQ(v.fault, FaultLocation::backward_step) << describe(v);
  EXPECT_EQ(v.fault_layer, std::optional<std::size_t>(1));
}

TEST(ConvVerify, AFloat32ReplyOfAConvCaseIsAPrecisionNoteNotADivergence) {
  const Case c = strided_case();
  Reply r = engine_reply(c, true);
  const auto f32 = [](double x) { return double(float(x)); };
  for (auto& l : r.layers) {
    l.weights = l.weights.unaryExpr(f32);
    l.biases = l.biases.unaryExpr(f32);
  }
  r.outputs = r.outputs->unaryExpr(f32);
  r.loss = f32(*r.loss);
  r.precision = Precision::float32;
  const VerifyResult v = verify_reply(c, r);
  EXPECT_NE(v.status, VerifyStatus::diverge) << describe(v);
}

// docs/verify.md's signature table has one row per kind of the catalogue, and back.
TEST(ConvVerify, TheSignatureTableOfTheDocsNamesEveryKind) {
  std::set<std::string> kinds;
  for (int k = 0; k <= static_cast<int>(BugKind::kink_convention); ++k) kinds.insert(to_string(static_cast<BugKind>(k)));
  EXPECT_EQ(gradcheck::testing::documented_fields("docs/verify.md", "## Signatures"), kinds);
}

// Random conv cases: 1–2 conv layers, 1–2 channels, images up to 7 × 7,
// kernels 1–3, stride 1–2, padding 0–1, max, avg or no pooling, batch 1–3.
ConvSpec any_spec() {
  using A = Activation;
  const A acts[] = {A::relu, A::tanh, A::sigmoid, A::leaky_relu, A::identity};
  ConvSpec s;
  s.channels = *rc::gen::inRange<Index>(1, 3);
  s.size = *rc::gen::inRange<Index>(3, 8);
  const int convs = *rc::gen::inRange(1, 3);
  for (int k = 0; k < convs; ++k)
    s.convs.push_back({*rc::gen::inRange<Index>(1, 3), *rc::gen::inRange<Index>(1, 4), *rc::gen::inRange<Index>(1, 3),
                       *rc::gen::inRange<Index>(0, 2), acts[*rc::gen::inRange(0, 5)]});
  s.pool = *rc::gen::element(LayerKind::dense, LayerKind::max_pool, LayerKind::avg_pool);
  s.out = *rc::gen::element(Activation::softmax, Activation::sigmoid);
  s.loss = s.out == Activation::softmax ? Loss::cross_entropy : Loss::quadratic;
  s.batch = *rc::gen::inRange<Index>(1, 4);
  return s;
}

RC_GTEST_PROP(ConvVerifyProperty, CorrectRepliesOfRandomConvCasesNeverDiverge, ()) {
  const ConvSpec spec = any_spec();
  Case c;
  try {
    c = conv_case(spec, *rc::gen::inRange<std::uint64_t>(0, 1u << 30));
  } catch (const InputError&) {
    RC_DISCARD("the geometry does not fit (kernel or window larger than the map)");
  }
  const VerifyResult v = verify_reply(c, engine_reply(c, true));
  RC_ASSERT(v.status != VerifyStatus::diverge);
  Reply r = engine_reply(c, true);
  for (auto& l : r.layers) {
    l.weights = l.weights.unaryExpr([](double x) { return double(float(x)); });
    l.biases = l.biases.unaryExpr([](double x) { return double(float(x)); });
  }
  r.precision = Precision::float32;
  r.outputs.reset();
  r.loss.reset();
  RC_ASSERT(verify_reply(c, r).status != VerifyStatus::diverge);
}

}  // namespace
}  // namespace gradcheck

namespace gradcheck {
namespace {

// conv 1 → 2, conv 2 → 2 (the only layer whose channels can be swapped), conv
// 2 → 3: the channels-swapped mistake (mutation and hypothesis) must leave the
// two other layers' products alone, not read W[i] past its rows (found by
// AddressSanitizer on a clean-clone CI run).
TEST(ConvVerify, ChannelsSwappedTouchesOnlyALayerWithAsManyInputAsOutputChannels) {
  ConvSpec spec{1, 7, {{2, 2, 1, 0, Activation::tanh}, {2, 2, 1, 0, Activation::tanh}, {3, 2, 1, 0, Activation::tanh}}};
  const Case c = conv_case(spec, 21);
  const Gradients<double> right = gradients(c.network, c.inputs, c.targets);
  const Gradients<double> bad = mutated_gradients(c, mutation::channels_swapped);
  for (std::size_t l = 1; l < 4; ++l)  // the same sums in another order: equal to rounding
    EXPECT_LT((bad.weights[l] - right.weights[l]).norm(), 1e-13 * (1 + right.weights[l].norm()))
        << "layer " << l << ": above the swap";
  EXPECT_GT((bad.weights[0] - right.weights[0]).norm(), 1e-3) << "layer 0 gets dL/da through the swapped layer 1";
  EXPECT_NE(verify_reply(c, engine_reply(c)).status, VerifyStatus::diverge);
  const VerifyResult v = verify_reply(c, reply_of(bad));
  EXPECT_EQ(v.status, VerifyStatus::diverge);
  EXPECT_NE(find_signature(v, BugKind::channels_swapped), nullptr) << describe(v);
}

}  // namespace
}  // namespace gradcheck
