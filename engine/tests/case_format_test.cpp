// The JSON case and reply formats: exact round trips, the documented examples,
// and one test per class of bad input asserting its exact message (the same
// messages are listed in docs/case-format.md, which a test keeps in sync).
#include <gradcheck/probe/generators.hpp>
#include <gradcheck/engine/case_format.hpp>

#include "conv_cases.hpp"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace gradcheck {
namespace {

const std::string kSourceDir = GRADCHECK_SOURCE_DIR;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

template <class A, class B>
bool same_bits(const Eigen::MatrixBase<A>& a, const Eigen::MatrixBase<B>& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return false;
  for (Index r = 0; r < a.rows(); ++r)
    for (Index k = 0; k < a.cols(); ++k)
      if (!same_bits(a(r, k), b(r, k))) return false;
  return true;
}

bool same_geometry(const Layer<double>& x, const Layer<double>& y) {
  const ConvGeometry &a = x.conv, &b = y.conv;
  const PoolGeometry &p = x.pool, &q = y.pool;
  return x.kind == y.kind && a.in_channels == b.in_channels && a.height == b.height && a.width == b.width &&
         a.out_channels == b.out_channels && a.kernel_h == b.kernel_h && a.kernel_w == b.kernel_w &&
         a.stride == b.stride && a.padding == b.padding && p.kind == q.kind && p.channels == q.channels &&
         p.height == q.height && p.width == q.width && p.window == q.window && p.stride == q.stride;
}

bool same_case(const Case& a, const Case& b) {
  if (a.name != b.name || a.network.loss != b.network.loss || a.network.reduction != b.network.reduction ||
      a.network.layers.size() != b.network.layers.size() || a.network.input_shape != b.network.input_shape)
    return false;
  for (std::size_t l = 0; l < a.network.layers.size(); ++l) {
    const auto &x = a.network.layers[l], &y = b.network.layers[l];
    if (x.activation != y.activation || !same_bits(x.weights, y.weights) || !same_bits(x.biases, y.biases) ||
        !same_geometry(x, y))
      return false;
  }
  return same_bits(a.inputs, b.inputs) && same_bits(a.targets, b.targets);
}

// Same values, where NaN equals NaN and signs of zeros and infinities count.
bool same_values(const Matrix<double>& a, const Matrix<double>& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return false;
  for (Index i = 0; i < a.size(); ++i) {
    const double x = a.data()[i], y = b.data()[i];
    if (std::isnan(x) ? !std::isnan(y) : !same_bits(x, y)) return false;
  }
  return true;
}

std::string message_of_case(const std::string& text) {
  try {
    parse_case(text, "case.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

std::string message_of_reply(const std::string& text) {
  try {
    parse_reply(text, "reply.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

// ---------------------------------------------------------------------------
// The documented example

TEST(CaseFormat, TheExampleCaseGivesTheEnginesKnownOutput) {
  const Case c = read_case(kSourceDir + "/docs/examples/case-321.json");
  EXPECT_EQ(c.name, "3-2-1 sigmoid network of the question");
  ASSERT_EQ(c.network.layers.size(), 2u);
  EXPECT_EQ(c.network.loss, Loss::quadratic);
  EXPECT_EQ(c.network.reduction, Reduction::mean);
  // weights[j][i]: from input i into unit j, the same in JSON and in memory.
  EXPECT_EQ(c.network.layers[0].weights(1, 0), 0.3);
  EXPECT_EQ(c.network.layers[0].weights(0, 2), 0.2);
  ASSERT_EQ(c.inputs.rows(), 3);  // features × samples
  ASSERT_EQ(c.inputs.cols(), 1);
  EXPECT_EQ(c.inputs(1, 0), 0.5);
  const auto fp = forward(c.network, c.inputs);
  EXPECT_NEAR(fp.output()(0, 0), 0.7890033084910505, 1e-15);
  EXPECT_NEAR(loss(c.network, fp, c.targets), 0.0222598019138614, 1e-15);
}

TEST(CaseFormat, TheExampleCaseIsInTheWritersOwnLayout) {
  const std::string text = slurp(kSourceDir + "/docs/examples/case-321.json");
  EXPECT_EQ(case_to_json(parse_case(text, "case-321.json")) + "\n", text);
}

TEST(ReplyFormat, TheExampleReplyIsTheEnginesGradientOfTheExampleCase) {
  const Case c = read_case(kSourceDir + "/docs/examples/case-321.json");
  const Reply r = read_reply(kSourceDir + "/docs/examples/reply-321.json");
  const auto fp = forward(c.network, c.inputs);
  Gradients<double> g;
  backward(c.network, fp, c.targets, g);
  ASSERT_FALSE(r.declined());
  ASSERT_EQ(r.layers.size(), 2u);
  for (std::size_t l = 0; l < 2; ++l) {
    ASSERT_EQ(r.layers[l].weights.rows(), g.weights[l].rows()) << "layer " << l;
    ASSERT_EQ(r.layers[l].weights.cols(), g.weights[l].cols()) << "layer " << l;
    // A few ulps (the values are ~0.04, an ulp ~7e-18): the file was written by one
    // build of the engine and must stay its gradient under any correct rounding.
    EXPECT_LT((r.layers[l].weights - g.weights[l]).cwiseAbs().maxCoeff(), 5e-17) << "dL/dW of layer " << l;
    EXPECT_LT((r.layers[l].biases - g.biases[l]).cwiseAbs().maxCoeff(), 5e-17) << "dL/db of layer " << l;
  }
  EXPECT_NEAR(r.layers[1].biases(0), -0.0351261147127841, 1e-15);  // the question's number
  ASSERT_TRUE(r.loss.has_value());
  EXPECT_NEAR(*r.loss, 0.0222598019138614, 1e-15);
  ASSERT_TRUE(r.outputs.has_value());
  EXPECT_NEAR((*r.outputs)(0, 0), 0.7890033084910505, 1e-15);
  EXPECT_TRUE(r.non_finite_tokens.empty());
}

TEST(ReplyFormat, MakeReplyWritesTheExampleReply) {
  const Case c = read_case(kSourceDir + "/docs/examples/case-321.json");
  const auto fp = forward(c.network, c.inputs);
  Gradients<double> g;
  backward(c.network, fp, c.targets, g);
  const Reply r = make_reply(c.network, g, loss(c.network, fp, c.targets), &fp.output());
  const Reply back = parse_reply(reply_to_json(r), "made");
  ASSERT_EQ(back.layers.size(), 2u);
  for (std::size_t l = 0; l < 2; ++l) {
    EXPECT_TRUE(same_bits(back.layers[l].weights, g.weights[l])) << "layer " << l;
    EXPECT_TRUE(same_bits(back.layers[l].biases, g.biases[l])) << "layer " << l;
  }
  EXPECT_TRUE(same_bits(*back.outputs, fp.output()));
  // The example file is this reply; allow for a last-digit change in the engine.
  const Reply file = read_reply(kSourceDir + "/docs/examples/reply-321.json");
  EXPECT_NEAR(*file.loss, *back.loss, 1e-17);
}

// ---------------------------------------------------------------------------
// Writing and reading back

RC_GTEST_PROP(CaseFormat, WritingThenParsingGivesTheSameCaseBitForBit, ()) {
  Case c = *gen::any_case(CaseSpace{});
  c.name = *rc::gen::element<std::string>("", "probe case 7", "tab\tquote\"back\\slash", "ünï\ncode");
  const std::string compact = case_to_json(c, -1);
  RC_ASSERT(compact.find('\n') == std::string::npos);
  RC_ASSERT(same_case(parse_case(compact, "compact"), c));
  RC_ASSERT(same_case(parse_case(case_to_json(c), "indented"), c));
  RC_ASSERT(same_case(parse_case(case_to_json(c, 0), "indent 0"), c));
  RC_ASSERT(same_case(case_from_json(to_json(c), "embedded"), c));
  // and through nlohmann's own writer, as a report embedding the case would
  RC_ASSERT(same_case(parse_case(to_json(c).dump(), "nlohmann"), c));
}

// Every finite double, not only the generator's grid: subnormals, -0.0, extremes.
RC_GTEST_PROP(CaseFormat, EveryFiniteDoubleRoundTripsExactly, ()) {
  const auto bits = *rc::gen::container<std::vector<std::uint64_t>>(8, rc::gen::arbitrary<std::uint64_t>());
  Case c;
  Layer<double> layer{Activation::identity, Matrix<double>(1, 8), Vector<double>(1)};
  for (Index i = 0; i < 8; ++i) {
    double x;
    std::memcpy(&x, &bits[static_cast<std::size_t>(i)], sizeof x);
    RC_PRE(std::isfinite(x));
    layer.weights(0, i) = x;
  }
  layer.biases(0) = -0.0;
  c.network.layers.push_back(layer);
  c.inputs = Matrix<double>::Constant(8, 1, 5e-324);
  c.targets = Matrix<double>::Constant(1, 1, -1.7976931348623157e308);
  RC_ASSERT(same_case(parse_case(case_to_json(c, -1), "compact"), c));
  RC_ASSERT(same_case(parse_case(case_to_json(c), "indented"), c));
}

TEST(CaseFormat, ReductionIsOptionalAndDefaultsToMean) {
  const Case c = parse_case(
      R"({"network":{"layers":[{"activation":"identity","weights":[[2]],"biases":[1]}],"loss":"quadratic"},)"
      R"("inputs":[[3],[4]],"targets":[[0],[1]]})",
      "case.json");
  EXPECT_EQ(c.network.reduction, Reduction::mean);
  EXPECT_EQ(c.name, "");
  ASSERT_EQ(c.inputs.rows(), 1);  // one feature
  ASSERT_EQ(c.inputs.cols(), 2);  // two samples
  EXPECT_EQ(c.inputs(0, 1), 4.0);
  EXPECT_EQ(c.targets(0, 1), 1.0);
}

TEST(CaseFormat, IntegersAndExponentsReadAsDoubles) {
  const Case c = parse_case(
      R"({"network":{"layers":[{"activation":"identity","weights":[[1e-2, -3E+1, 18446744073709551615]],)"
      R"("biases":[0]}],"loss":"quadratic","reduction":"sum"},"inputs":[[1e-999, 0, -0.0]],"targets":[[1]]})",
      "case.json");
  EXPECT_EQ(c.network.layers[0].weights(0, 0), 0.01);
  EXPECT_EQ(c.network.layers[0].weights(0, 1), -30.0);
  EXPECT_EQ(c.network.layers[0].weights(0, 2), 18446744073709551615.0);
  EXPECT_EQ(c.inputs(0, 0), 0.0);  // underflow is not an error: it reads as 0
  EXPECT_TRUE(std::signbit(c.inputs(2, 0)));
  EXPECT_EQ(c.network.reduction, Reduction::sum);
}

TEST(CaseFormat, WriterKeepsTheSignOfZeroAndMarksIntegersAsReal) {
  Case c = parse_case(slurp(kSourceDir + "/docs/examples/case-321.json"), "case.json");
  c.network.layers[0].biases(0) = -0.0;
  const std::string text = case_to_json(c, -1);
  EXPECT_NE(text.find("\"biases\":[-0.0,0.45]"), std::string::npos) << text;
  EXPECT_NE(text.find("\"inputs\":[[0.0,0.5,1.0]]"), std::string::npos) << text;
}

TEST(CaseFormat, WriteJsonPutsCaseKeysInTheDocumentedOrderAndOthersAlphabetically) {
  const nlohmann::json doc = {{"zeta", 1}, {"targets", 2}, {"alpha", true}, {"network", nullptr}, {"name", "n"}};
  EXPECT_EQ(write_json(doc, -1), R"({"name":"n","network":null,"targets":2,"alpha":true,"zeta":1})");
  const nlohmann::json nonfinite = {std::nan(""), HUGE_VAL, -HUGE_VAL, 1.5};
  EXPECT_EQ(write_json(nonfinite), "[NaN, Infinity, -Infinity, 1.5]");
}

// ---------------------------------------------------------------------------
// conv2d and pooling layers

TEST(CaseFormat, TheConvExampleReadsItsGeometryAndIsInTheWritersOwnLayout) {
  const std::string path = kSourceDir + "/examples/cases/conv-small.json";
  const Case c = read_case(path);
  EXPECT_EQ(case_to_json(c) + "\n", slurp(path));
  EXPECT_EQ(c.network.input_shape, (ImageShape{1, 6, 6}));
  ASSERT_EQ(c.network.layers.size(), 3u);
  const Layer<double>& conv = c.network.layers[0];
  EXPECT_EQ(conv.kind, LayerKind::conv2d);
  EXPECT_EQ(conv.activation, Activation::relu);
  EXPECT_EQ(conv.conv.kernel_h, 3);
  EXPECT_EQ(conv.conv.padding, 1);
  EXPECT_EQ(conv.conv.height, 6) << "filled from input_shape";
  EXPECT_EQ(conv.weights.rows(), 2) << "out_channels: the entries of weights";
  EXPECT_EQ(conv.weights.cols(), 9);
  // weights[1][0][2][0] is row 1, column (0·3 + 2)·3 + 0 = 6: PyTorch's weight[o][i][u][v] flattened
  EXPECT_EQ(conv.weights(1, 6), -0.142);
  EXPECT_EQ(c.network.layers[1].kind, LayerKind::max_pool);
  EXPECT_EQ(c.network.layers[1].pool.channels, 2);
  EXPECT_EQ(c.network.layers[2].inputs(), 2 * 3 * 3) << "the dense layer reads the pooled map flattened";
  EXPECT_EQ(c.inputs.rows(), 36);
  EXPECT_EQ(c.inputs(7, 1), 0.55) << "one row per sample, channel-major: feature 7 is y 1, x 1";
}

TEST(CaseFormat, AKernelMayBeOneNumberAndStrideAndPaddingHaveDefaults) {
  const Case c = parse_case(
      R"({"network":{"input_shape":[1,3,3],"layers":[)"
      R"({"type":"conv2d","activation":"identity","in_channels":1,"kernel":2,"weights":[[[[1,2],[3,4]]]],"biases":[0]},)"
      R"({"type":"avg_pool","window":2},{"type":"dense","activation":"identity","weights":[[1]],"biases":[0]}],)"
      R"("loss":"quadratic"},"inputs":[[1,2,3,4,5,6,7,8,9]],"targets":[[0]]})",
      "case.json");
  const auto& conv = c.network.layers[0].conv;
  EXPECT_EQ(conv.kernel_h, 2);
  EXPECT_EQ(conv.kernel_w, 2);
  EXPECT_EQ(conv.stride, 1);
  EXPECT_EQ(conv.padding, 0);
  EXPECT_EQ(c.network.layers[1].pool.stride, 2) << "a pooling stride defaults to its window, as in PyTorch";
  EXPECT_EQ(c.network.layers[2].kind, LayerKind::dense);
  const std::string written = case_to_json(c, -1);
  EXPECT_NE(written.find(R"({"type":"conv2d","activation":"identity","in_channels":1,"kernel":[2,2],"stride":1,)"
                         R"("padding":0,"weights":[[[[1.0,2.0],[3.0,4.0]]]],"biases":[0.0]})"),
            std::string::npos)
      << written;
  EXPECT_NE(written.find(R"({"type":"avg_pool","window":2,"stride":2})"), std::string::npos) << written;
  EXPECT_NE(written.find(R"({"activation":"identity","weights":[[1.0]])"), std::string::npos)
      << "a dense layer is written as before image layers existed: " << written;
  EXPECT_TRUE(same_case(parse_case(written, "again"), c));
}

RC_GTEST_PROP(CaseFormat, RandomConvCasesRoundTripExactly, ()) {
  const Case c = *gen::conv_case();
  RC_ASSERT(same_case(parse_case(case_to_json(c, -1), "compact"), c));
  RC_ASSERT(same_case(parse_case(case_to_json(c), "indented"), c));
}

TEST(ReplyFormat, AConvKernelGradientIsWrittenAndReadAsNestedArraysLikeItsWeights) {
  const Case c = read_case(kSourceDir + "/examples/cases/conv-small.json");
  const auto fp = forward(c.network, c.inputs);
  Gradients<double> g;
  backward(c.network, fp, c.targets, g);
  const Reply r = make_reply(c.network, g, std::nullopt, nullptr);
  EXPECT_EQ(r.layers[0].weights_shape, (std::vector<Index>{2, 1, 3, 3}));
  const std::string text = reply_to_json(r, -1);
  EXPECT_NE(text.find(R"({"weights":[],"biases":[]})"), std::string::npos) << "the max-pool layer's entry: " << text;
  const Reply back = parse_reply(text, "reply.json");
  EXPECT_EQ(back.layers[0].weights_shape, (std::vector<Index>{2, 1, 3, 3}));
  EXPECT_TRUE(same_values(back.layers[0].weights, g.weights[0]));
  EXPECT_EQ(back.layers[1].weights.size() + back.layers[1].biases.size(), 0);
  EXPECT_TRUE(back.layers[2].weights_shape.empty()) << "a dense layer's gradient stays a matrix";
  EXPECT_EQ(reply_to_json(back, -1), text);
}

// ---------------------------------------------------------------------------
// Bad cases: one row per class, each with its exact message.

// The smallest valid case around which the rows below make one change.
const std::string kBase =
    R"({"network":{"layers":[{"activation":"sigmoid","weights":[[0.1,0.15,0.2],[0.3,0.35,0.4]],"biases":[0.25,0.45]},)"
    R"({"activation":"sigmoid","weights":[[0.5,0.55]],"biases":[0.6]}],"loss":"quadratic"},)"
    R"("inputs":[[0,0.5,1]],"targets":[[1]]})";

// A small convolutional case: 1 × 5 × 5 images, conv2d 3 × 3 (2 channels,
// padding 1) + relu, 2 × 2 max pool, dense 8 -> 1.
const std::string kConvBase =
    R"({"network":{"input_shape":[1,5,5],"layers":[)"
    R"({"type":"conv2d","activation":"relu","in_channels":1,"kernel":[3,3],"stride":1,"padding":1,)"
    R"("weights":[[[[0.1,0.2,0.3],[0.4,0.5,0.6],[0.7,0.8,0.9]]],[[[-0.1,-0.2,-0.3],[-0.4,-0.5,-0.6],[-0.7,-0.8,-0.9]]]],)"
    R"("biases":[0.05,-0.05]},)"
    R"({"type":"max_pool","window":2,"stride":2},)"
    R"({"activation":"sigmoid","weights":[[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8]],"biases":[0.25]}],"loss":"quadratic"},)"
    R"("inputs":[[0.0,0.04,0.08,0.12,0.16,0.2,0.24,0.28,0.32,0.36,0.4,0.44,0.48,0.52,0.56,0.6,0.64,0.68,0.72,0.76,)"
    R"(0.8,0.84,0.88,0.92,0.96]],"targets":[[1]]})";

// `base` with each `from` (which must occur exactly once) replaced by its `to`, in turn.
std::string edited(std::string s, std::initializer_list<std::pair<std::string, std::string>> edits) {
  for (const auto& [from, to] : edits) {
    const auto at = s.find(from);
    if (at == std::string::npos || s.find(from, at + 1) != std::string::npos)
      throw std::logic_error("test bug: \"" + from + "\" is not in the base case exactly once");
    s.replace(at, from.size(), to);
  }
  return s;
}
std::string with_conv(const std::string& from, const std::string& to) { return edited(kConvBase, {{from, to}}); }

// kBase with each `from` (which must occur exactly once) replaced by its `to`, in turn.
std::string with(std::initializer_list<std::pair<std::string, std::string>> edits) {
  std::string s = kBase;
  for (const auto& [from, to] : edits) {
    const auto at = s.find(from);
    if (at == std::string::npos || s.find(from, at + 1) != std::string::npos)
      throw std::logic_error("test bug: \"" + from + "\" is not in the base case exactly once");
    s.replace(at, from.size(), to);
  }
  return s;
}
std::string with(const std::string& from, const std::string& to) { return with({{from, to}}); }

struct BadInput {
  const char* name;
  std::string text;
  std::string message;
};
void PrintTo(const BadInput& bad, std::ostream* os) { *os << bad.name; }

std::string too_wide_layer() {
  std::string row = "[0";
  for (Index i = 0; i < max_layer_width; ++i) row += ",0";
  return R"({"network":{"layers":[{"activation":"sigmoid","weights":[)" + row +
         R"(]],"biases":[0]}],"loss":"quadratic"},"inputs":[],"targets":[]})";
}

std::vector<BadInput> bad_cases() {
  return {
      // Not JSON
      {"MalformedJson", "{\n  \"network\": {\"loss\": \"quadratic\"}\n  \"inputs\": []\n}",
       "case.json: line 3, column 10: syntax error while parsing object - unexpected string literal; expected '}'"},
      {"EmptyText", "",
       "case.json: line 1, column 1: syntax error while parsing value - unexpected end of input; expected '[', '{', or a literal"},
      {"TrailingText", kBase + "\n]",
       "case.json: line 2, column 1: syntax error while parsing value - unexpected ']'; expected end of input"},
      {"MalformedJsonAfterANaNToken", "{\"a\": [NaN, Infinity x]}",
       "case.json: line 1, column 22: syntax error while parsing array - invalid literal; expected ']'"},
      {"NestingTooDeep", std::string(100, '['), "case.json: line 1, column 65: nested deeper than 64 levels"},
      // Missing fields and wrong types
      {"NotAnObject", "[1, 2]", "case.json: expected an object, got an array"},
      {"MissingNetwork", R"({"inputs": [[0]], "targets": [[1]]})", "case.json: missing field \"network\""},
      {"MissingWeights", with(R"("weights":[[0.5,0.55]],)", ""), "case.json: network.layers[1]: missing field \"weights\""},
      {"MissingLoss", with(R"(,"loss":"quadratic")", ""), "case.json: network: missing field \"loss\""},
      {"WeightsAreAString", with("[[0.1,0.15,0.2],[0.3,0.35,0.4]]", R"("0.1 0.15 0.2")"),
       "case.json: network.layers[0].weights: expected an array of rows, got a string"},
      {"WeightsAreAFlatArray", with("[[0.1,0.15,0.2],[0.3,0.35,0.4]]", "[0.1,0.15,0.2]"),
       "case.json: network.layers[0].weights: expected an array of rows, got an array of numbers"},
      {"NumberWrittenAsAString", with("0.35", R"("0.35")"),
       "case.json: network.layers[0].weights[1][1]: expected a number, got a string"},
      {"NullForANumber", with("0.6", "null"), "case.json: network.layers[1].biases[0]: expected a number, got null"},
      {"LayersAreAnObject", R"({"network":{"layers":{"0":{}},"loss":"quadratic"},"inputs":[[1]],"targets":[[1]]})",
       "case.json: network.layers: expected an array of layers, got an object"},
      {"ActivationIsANumber", with(R"("activation":"sigmoid","weights":[[0.5)", R"("activation":1,"weights":[[0.5)"),
       "case.json: network.layers[1].activation: expected a string, got a number"},
      // Shapes
      {"WeightRowsDoNotMatchThePreviousLayer", with("[[0.5,0.55]]", "[[0.5,0.55,0.6]]"),
       "case.json: network.layers[1].weights: row 0 has 3 entries, expected 2"},
      {"RaggedWeightRows", with("[0.3,0.35,0.4]", "[0.3,0.35]"),
       "case.json: network.layers[0].weights: row 1 has 2 entries, expected 3 (like row 0)"},
      {"TooFewBiases", with("[0.25,0.45]", "[0.25]"),
       "case.json: network.layers[0].biases: has 1 entries, expected 2 (one per row of weights)"},
      {"NoLayers", R"({"network":{"layers":[],"loss":"quadratic"},"inputs":[[1]],"targets":[[1]]})",
       "case.json: network.layers: must have at least one layer"},
      {"LayerWithoutUnits", with("[[0.5,0.55]]", "[]"),
       "case.json: network.layers[1].weights: has no rows (a layer needs at least one unit)"},
      {"LayerWithoutInputs", with("[[0.1,0.15,0.2],[0.3,0.35,0.4]]", "[[],[]]"),
       "case.json: network.layers[0].weights: has no columns (a layer needs at least one input)"},
      {"InputsDoNotMatchTheFirstLayer", with("[[0,0.5,1]]", "[[0,0.5]]"),
       "case.json: inputs: row 0 has 2 entries, expected 3 (the inputs of network.layers[0])"},
      {"TargetsDoNotMatchTheLastLayer", with(R"("targets":[[1]])", R"("targets":[[1,0]])"),
       "case.json: targets: row 0 has 2 entries, expected 1 (the units of network.layers[1])"},
      {"MoreTargetsThanInputs", with(R"("targets":[[1]])", R"("targets":[[1],[0]])"),
       "case.json: targets: has 2 rows, expected 1 (one per row of inputs)"},
      {"EmptyBatch", with(R"("inputs":[[0,0.5,1]],"targets":[[1]])", R"("inputs":[],"targets":[])"),
       "case.json: inputs: has no rows (a case needs at least one sample)"},
      {"LayerWiderThanTheLimit", too_wide_layer(),
       "case.json: network.layers[0].weights: is wider than the limit of 1048576 units"},
      // Names
      {"UnknownActivation", with(R"("activation":"sigmoid","weights":[[0.5)", R"("activation":"sigmoyd","weights":[[0.5)"),
       "case.json: network.layers[1].activation: unknown activation \"sigmoyd\" (expected identity, sigmoid, tanh, "
       "relu, leaky_relu, softmax)"},
      {"UnknownLoss", with(R"("loss":"quadratic")", R"("loss":"mse")"),
       "case.json: network.loss: unknown loss \"mse\" (expected quadratic, cross_entropy, binary_cross_entropy)"},
      {"UnknownReduction", with(R"("loss":"quadratic")", R"("loss":"quadratic","reduction":"average")"),
       "case.json: network.reduction: unknown reduction \"average\" (expected mean, sum)"},
      {"SoftmaxOnAHiddenLayer", with(R"("activation":"sigmoid","weights":[[0.1)", R"("activation":"softmax","weights":[[0.1)"),
       "case.json: network.layers[0].activation: softmax is only supported on the last layer"},
      {"SoftmaxOverOneUnit", with(R"("activation":"sigmoid","weights":[[0.5)", R"("activation":"softmax","weights":[[0.5)"),
       "case.json: network.layers[1].activation: softmax over a single unit is the constant 1 (use sigmoid for one "
       "output)"},
      {"CrossEntropyWithoutAProbabilityOutput",
       with({{R"("activation":"sigmoid","weights":[[0.5)", R"("activation":"relu","weights":[[0.5)"},
             {"quadratic", "cross_entropy"}}),
       "case.json: network.loss: cross_entropy needs a sigmoid or softmax output layer, got relu"},
      // Values
      {"NaNInWeights", with("0.3,", "NaN,"),
       "case.json: network.layers[0].weights[1][0]: is not finite (NaN); a case must hold finite numbers"},
      {"InfinityInInputs", with("[[0,0.5,1]]", "[[0,-Infinity,1]]"),
       "case.json: inputs[0][1]: is not finite (-Infinity); a case must hold finite numbers"},
      {"NumberBeyondTheDoubleRange", with("0.6", "1e999"),
       "case.json: network.layers[1].biases[0]: is not finite (Infinity); a case must hold finite numbers"},
      {"CrossEntropyTargetAboveOne",
       with({{R"("targets":[[1]])", R"("targets":[[1.5]])"}, {"quadratic", "cross_entropy"}}),
       "case.json: targets[0][0]: is 1.5, outside [0, 1] (cross_entropy needs targets in [0, 1])"},
      {"BinaryCrossEntropyTargetBelowZero",
       with({{R"("targets":[[1]])", R"("targets":[[-0.25]])"}, {"quadratic", "binary_cross_entropy"}}),
       "case.json: targets[0][0]: is -0.25, outside [0, 1] (binary_cross_entropy needs targets in [0, 1])"},
      // Fields
      {"MisspelledField", with(R"({"activation":"sigmoid","weights":[[0.1)", R"({"activaton":"sigmoid","weights":[[0.1)"),
       "case.json: network.layers[0]: unknown field \"activaton\" (expected activation, weights, biases, type)"},
      {"UnknownTopLevelField", with(R"("targets":[[1]])", R"("targets":[[1]],"id":7)"),
       "case.json: unknown field \"id\" (expected network, inputs, targets, name)"},
      {"DuplicateField", with(R"("biases":[0.6])", R"("biases":[0.6],"biases":[0.7])"),
       "case.json: network.layers[1]: duplicate field \"biases\""},
      // conv2d and pooling layers (kConvBase)
      {"ConvWithoutInputShape", with_conv(R"("input_shape":[1,5,5],)", ""),
       "case.json: network.layers[0].type: conv2d needs the image shape of a sample: the network states no "
       "input_shape"},
      {"InputShapeIsNotThreeNumbers", with_conv("[1,5,5]", "[5,5]"),
       "case.json: network.input_shape: expected [channels, height, width], got an array of 2 entries"},
      {"InputShapeWhoseSizeOverflows", with_conv("[1,5,5]", "[1048576,1048576,1048576]"),
       "case.json: network.input_shape: 1048576 × 1048576 × 1048576 exceeds the limit of 1048576 features per "
       "sample (max_layer_width, docs/limits.md)"},
      {"UnknownLayerType", with_conv(R"("type":"conv2d")", R"("type":"conv")"),
       "case.json: network.layers[0].type: unknown layer type \"conv\" (expected dense, conv2d, max_pool, avg_pool)"},
      {"MisspelledConvField", with_conv(R"("kernel":[3,3])", R"("kernal":[3,3])"),
       "case.json: network.layers[0]: unknown field \"kernal\" (expected type, activation, in_channels, kernel, "
       "stride, padding, weights, biases)"},
      {"KernelIsNotAPair", with_conv(R"("kernel":[3,3])", R"("kernel":[3,3,3])"),
       "case.json: network.layers[0].kernel: expected [height, width] (or one number for both), got an array of 3 "
       "entries"},
      {"KernelLargerThanThePaddedInput", edited(kConvBase, {{"[1,5,5]", "[1,1,5]"}, {R"("padding":1)", R"("padding":0)"}}),
       "case.json: network.layers[0].kernel[0]: 3 is larger than the input height 1"},
      {"StrideZero", with_conv(R"("stride":1,)", R"("stride":0,)"),
       "case.json: network.layers[0].stride: must be at least 1, got 0"},
      {"FractionalStride", with_conv(R"("stride":1,)", R"("stride":1.5,)"),
       "case.json: network.layers[0].stride: expected a whole number, got 1.5"},
      {"NegativePadding", with_conv(R"("padding":1)", R"("padding":-1)"),
       "case.json: network.layers[0].padding: must not be negative, got -1"},
      {"ChannelsDoNotMatchTheInputShape", with_conv("[1,5,5]", "[2,5,5]"),
       "case.json: network.layers[0].in_channels: is 1, expected 2 (the channels of network.input_shape)"},
      {"ChannelsDoNotMatchThePreviousLayer",
       with_conv(R"({"type":"max_pool","window":2,"stride":2},)",
                 R"({"type":"max_pool","window":2,"stride":2},{"type":"conv2d","activation":"tanh","in_channels":3,)"
                 R"("kernel":1,"weights":[[[[1]],[[1]],[[1]]]],"biases":[0]},)"),
       "case.json: network.layers[2].in_channels: is 3, expected 2 (the channels of network.layers[1]'s output)"},
      {"KernelWeightsDoNotMatchTheKernel", with_conv("[0.7,0.8,0.9]", "[0.7,0.8]"),
       "case.json: network.layers[0].weights[0][0][2]: has 2 entries, expected 3 (kernel[1])"},
      {"ConvWithoutOutputChannels",
       with_conv(R"("weights":[[[[0.1,0.2,0.3],[0.4,0.5,0.6],[0.7,0.8,0.9]]],[[[-0.1,-0.2,-0.3],[-0.4,-0.5,-0.6],)"
                 R"([-0.7,-0.8,-0.9]]]],)",
                 R"("weights":[],)"),
       "case.json: network.layers[0].weights: has no entries (a conv2d layer needs at least one output channel)"},
      {"ConvBiasesAreNotOnePerChannel", with_conv(R"("biases":[0.05,-0.05])", R"("biases":[0.05])"),
       "case.json: network.layers[0].biases: has 1 entries, expected 2 (one per output channel)"},
      {"PoolingWithAnActivation", with_conv(R"({"type":"max_pool","window":2)", R"({"type":"max_pool","activation":"relu","window":2)"),
       "case.json: network.layers[1].activation: a max_pool layer has no activation (identity), got relu"},
      {"PoolWindowLargerThanTheMap", with_conv(R"("window":2)", R"("window":6)"),
       "case.json: network.layers[1].window: 6 is larger than the input height 5"},
      {"DenseWidthDoesNotMatchTheFlattenedMap", with_conv("0.7,0.8]]", "0.7]]"),
       "case.json: network.layers[2].weights: row 0 has 7 entries, expected 8 (the flattened output of "
       "network.layers[1]: 2 × 2 × 2)"},
      {"ImageLayerAfterADenseLayer", with_conv(R"("biases":[0.25]})", R"("biases":[0.25]},{"type":"avg_pool","window":1})"),
       "case.json: network.layers[3].type: avg_pool cannot follow the dense network.layers[2]: image layers come "
       "before the first dense layer"},
      {"InputsDoNotMatchTheInputShape", with_conv(",0.96]]", "]]"),
       "case.json: inputs: row 0 has 24 entries, expected 25 (network.input_shape: 1 × 5 × 5, channel-major)"},
  };
}

class BadCase : public ::testing::TestWithParam<BadInput> {};

TEST_P(BadCase, IsRefusedWithItsExactMessage) {
  EXPECT_EQ(message_of_case(GetParam().text), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(CaseFormat, BadCase, ::testing::ValuesIn(bad_cases()),
                         [](const ::testing::TestParamInfo<BadInput>& info) { return std::string(info.param.name); });

// A fuzzer's find: the path of a duplicate field quoted a field name with a
// control character raw ("netw<CR>k"), so the one-line message spanned two.
TEST(CaseFormat, APathThroughAFieldNameWithAControlCharacterStaysOneLine) {
  const std::string text = R"({"netw\rk":{"layers":[{"weights":[[1]],"weights":[[2]]}]}})";
  EXPECT_EQ(message_of_case(text), R"(case.json: ["netw\rk"].layers[0]: duplicate field "weights")");
}

TEST(CaseFormat, TheBaseOfTheBadCasesIsValid) {
  EXPECT_EQ(message_of_case(kBase), "(no error)");
  EXPECT_EQ(message_of_case(kConvBase), "(no error)");
}

TEST(CaseFormatDocs, EveryBadInputMessageIsInTheDocumentation) {
  const std::string doc = slurp(kSourceDir + "/docs/case-format.md");
  ASSERT_FALSE(doc.empty());
  for (const auto& bad : bad_cases()) EXPECT_NE(doc.find(bad.message), std::string::npos) << bad.name << ": " << bad.message;
}

TEST(CaseFormat, TextOverTheSizeLimitIsRefusedBeforeParsing) {
  const std::string huge(max_json_bytes + 1, ' ');
  EXPECT_EQ(message_of_case(huge), "case.json: is 67108865 bytes, more than the limit of 67108864 bytes (64 MiB)");
  EXPECT_EQ(message_of_reply(huge), "reply.json: is 67108865 bytes, more than the limit of 67108864 bytes (64 MiB)");
}

// A scratch file removed at the end of the test.
struct TempFile {
  std::string path;
  explicit TempFile(const std::string& tag)
      : path(::testing::TempDir() + "/gradcheck_case_format_" + tag + "_" + std::to_string(::getpid())) {}
  ~TempFile() { std::remove(path.c_str()); }
};

TEST(CaseFormat, FileOverTheSizeLimitIsRefusedBeforeReading) {
  TempFile f("huge");
  {
    std::ofstream out(f.path, std::ios::binary);
    out << "{";
  }
  ASSERT_EQ(::truncate(f.path.c_str(), 1LL << 40), 0);  // 1 TiB, sparse: reading it would not finish
  EXPECT_THROW(
      {
        try {
          read_case(f.path);
        } catch (const InputError& e) {
          EXPECT_EQ(std::string(e.what()),
                    f.path + ": is 1099511627776 bytes, more than the limit of 67108864 bytes (64 MiB)");
          throw;
        }
      },
      InputError);
}

TEST(CaseFormat, MissingFileSaysSoWithThePath) {
  try {
    read_case("/nonexistent/dir/case.json");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "/nonexistent/dir/case.json: cannot open: No such file or directory");
    EXPECT_EQ(e.source(), "/nonexistent/dir/case.json");
  }
}

TEST(CaseFormat, DirectoryIsNotReadAsACase) {
  try {
    read_reply(kSourceDir + "/docs");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), kSourceDir + "/docs: cannot read: Is a directory");
  }
}

TEST(CaseFormat, ErrorCarriesSourceFieldAndProblemSeparately) {
  try {
    parse_case(with("[[0.5,0.55]]", "[[0.5,0.55,0.6]]"), "case.json");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.source(), "case.json");
    EXPECT_EQ(e.field(), "network.layers[1].weights");
    EXPECT_EQ(e.problem(), "row 0 has 3 entries, expected 2");
  }
}

TEST(CaseFormat, OverlongTokenInASyntaxErrorIsShortened) {
  const std::string text = "{\"network\": \"" + std::string(10000, 'x') + "\n\"}";
  const std::string m = message_of_case(text);
  EXPECT_LT(m.size(), 250u) << m;  // not the 10,000 characters of the string
  EXPECT_EQ(m.rfind("case.json: line 1, column 10014: syntax error while parsing value - invalid string: "
                    "control character U+000A (LF) must be escaped to \\u000A or \\n; last read: '\"xxxxxxxxxxxxxxxxxxx...",
                    0),
            0u)
      << m;
}

// ---------------------------------------------------------------------------
// Replies

TEST(ReplyFormat, BareNonFiniteTokensAreValuesAndTheirPathsAreRecorded) {
  const Reply r = parse_reply(
      R"({"layers": [{"weights": [[NaN, 1], [-Infinity, inf]], "biases": [nan, -inf]}],)"
      "\n"
      R"( "loss": Infinity, "outputs": [[1e999], [-NaN]]})",
      "reply.json");
  ASSERT_EQ(r.layers.size(), 1u);
  const auto& w = r.layers[0].weights;
  EXPECT_TRUE(std::isnan(w(0, 0)));
  EXPECT_EQ(w(0, 1), 1.0);
  EXPECT_EQ(w(1, 0), -HUGE_VAL);
  EXPECT_EQ(w(1, 1), HUGE_VAL);
  EXPECT_TRUE(std::isnan(r.layers[0].biases(0)));
  EXPECT_EQ(r.layers[0].biases(1), -HUGE_VAL);
  EXPECT_EQ(*r.loss, HUGE_VAL);
  ASSERT_EQ(r.outputs->rows(), 1);  // outputs × samples
  ASSERT_EQ(r.outputs->cols(), 2);
  EXPECT_EQ((*r.outputs)(0, 0), HUGE_VAL);
  EXPECT_TRUE(std::isnan((*r.outputs)(0, 1)));
  const std::vector<std::string> paths = {"layers[0].weights[0][0]", "layers[0].weights[1][0]",
                                          "layers[0].weights[1][1]", "layers[0].biases[0]",
                                          "layers[0].biases[1]",     "loss",
                                          "outputs[0][0]",           "outputs[1][0]"};
  EXPECT_EQ(r.non_finite_tokens, paths);
  EXPECT_EQ(r.non_finite_count, 8u);
}

TEST(ReplyFormat, NullReadsAsNaNTheWayNlohmannAndJavaScriptWriteIt) {
  const Reply r = parse_reply(R"({"layers": [{"weights": [[null]], "biases": [0.5]}], "loss": null})", "reply.json");
  EXPECT_TRUE(std::isnan(r.layers[0].weights(0, 0)));
  EXPECT_TRUE(std::isnan(*r.loss));
  EXPECT_EQ(r.non_finite_tokens, (std::vector<std::string>{"layers[0].weights[0][0]", "loss"}));
}

TEST(ReplyFormat, WordsInsideStringsAreLeftAlone) {
  const Reply r = parse_reply(R"({"error": "got NaN, \"Infinity\\\" and null \\", "id": "inf"})", "reply.json");
  ASSERT_TRUE(r.declined());
  EXPECT_EQ(*r.error, R"(got NaN, "Infinity\" and null \)");
  EXPECT_EQ(r.non_finite_count, 0u);
}

TEST(ReplyFormat, AnErrorFieldDeclinesTheCase) {
  const Reply r = parse_reply(R"({"error": "softmax not implemented"})", "reply.json");
  ASSERT_TRUE(r.declined());
  EXPECT_EQ(*r.error, "softmax not implemented");
  EXPECT_TRUE(r.layers.empty());
  // A non-string error is kept as its JSON text; an error of null declines nothing.
  EXPECT_EQ(*parse_reply(R"({"error": {"code": 3}})", "reply.json").error, R"({"code":3})");
  const Reply ok = parse_reply(R"({"error": null, "layers": []})", "reply.json");
  EXPECT_FALSE(ok.declined());
  // And a declined reply writes back as one.
  EXPECT_EQ(reply_to_json(r, -1), R"({"error":"softmax not implemented"})");
}

TEST(ReplyFormat, UnknownFieldsAreIgnoredAndShapesAreNotJudged) {
  // Shapes that match no case: the verifier reports them, the parser does not.
  const Reply r = parse_reply(
      R"({"id": 17, "layers": [{"weights": [[1, 2, 3]], "biases": [], "note": "x"}, {"weights": [], "biases": [4]}],)"
      R"( "elapsed_ms": 0.3})",
      "reply.json");
  ASSERT_EQ(r.layers.size(), 2u);
  EXPECT_EQ(r.layers[0].weights.cols(), 3);
  EXPECT_EQ(r.layers[0].biases.size(), 0);
  EXPECT_EQ(r.layers[1].weights.size(), 0);
  EXPECT_FALSE(r.loss.has_value());
  EXPECT_FALSE(r.outputs.has_value());
}

TEST(ReplyFormat, BadRepliesAreRefusedWithTheirExactMessages) {
  EXPECT_EQ(message_of_reply(R"({"loss": 1})"), "reply.json: missing field \"layers\"");
  EXPECT_EQ(message_of_reply(R"({"layers": [{"weights": [[1, 2], [3]], "biases": [0, 0]}]})"),
            "reply.json: layers[0].weights: row 1 has 1 entries, expected 2 (like row 0)");
  EXPECT_EQ(message_of_reply(R"({"layers": [{"weights": [[1]]}]})"), "reply.json: layers[0]: missing field \"biases\"");
  EXPECT_EQ(message_of_reply(R"({"layers": [{"weights": [[1]], "biases": "0"}]})"),
            "reply.json: layers[0].biases: expected an array of numbers, got a string");
  EXPECT_EQ(message_of_reply(R"({"layers": [], "outputs": [[1], [2, 3]]})"),
            "reply.json: outputs: row 1 has 2 entries, expected 1 (like row 0)");
  EXPECT_EQ(message_of_reply(R"({"layers": [], "loss": "0.5"})"), "reply.json: loss: expected a number, got a string");
  EXPECT_EQ(message_of_reply(R"({"layers": [{"weights": [[[[1, 2]]], [[[3]]]], "biases": [0, 0]}]})"),
            "reply.json: layers[0].weights[1][0][0]: has 1 entries, expected 2 (like layers[0].weights[0][0][0])");
  EXPECT_EQ(message_of_reply("{\"layers\": [NaN,\n"),
            "reply.json: line 2, column 1: syntax error while parsing value - unexpected end of input; expected '[', "
            "'{', or a literal");
  EXPECT_EQ(message_of_reply("garbage"),
            "reply.json: line 1, column 1: syntax error while parsing value - invalid literal; last read: 'g'");
}

// Overflow is decided as strtod would round: DBL_MAX = 1.7976931348623157e308,
// and anything from DBL_MAX + ulp/2 ≈ 1.797693134862315807e308 up is Infinity.
TEST(ReplyFormat, NumbersBeyondTheDoubleRangeReadAsInfinityExactlyAtTheBorder) {
  const Reply r = parse_reply(
      R"({"layers": [{"weights": [[1.7976931348623157e308, 1.7976931348623158e308, 1.7976931348623159e308,)"
      R"( 17976931348623159e292, 0.00017976931348623157e312, -1e309, 1e400000000000000000000, 0e999999]],)"
      R"( "biases": [1e308, 223456789e300, 1e-400]}]})",
      "reply.json");
  const auto& w = r.layers[0].weights;
  const double max = std::numeric_limits<double>::max();
  EXPECT_EQ(w(0, 0), max);
  EXPECT_EQ(w(0, 1), max);
  EXPECT_EQ(w(0, 2), HUGE_VAL);
  EXPECT_EQ(w(0, 3), HUGE_VAL);
  EXPECT_EQ(w(0, 4), max);
  EXPECT_EQ(w(0, 5), -HUGE_VAL);
  EXPECT_EQ(w(0, 6), HUGE_VAL);
  EXPECT_EQ(w(0, 7), 0.0);
  EXPECT_EQ(r.layers[0].biases(0), 1e308);
  EXPECT_EQ(r.layers[0].biases(1), HUGE_VAL);
  EXPECT_EQ(r.layers[0].biases(2), 0.0);
  EXPECT_EQ(r.non_finite_tokens, (std::vector<std::string>{"layers[0].weights[0][2]", "layers[0].weights[0][3]",
                                                             "layers[0].weights[0][5]", "layers[0].weights[0][6]",
                                                             "layers[0].biases[1]"}));
}

TEST(ReplyFormat, NestingUpToTheLimitIsAcceptedAndOneLevelMoreIsNot) {
  const auto nested = [](int levels) {  // the object itself is one level
    return R"({"layers": [], "x": )" + std::string(static_cast<std::size_t>(levels - 1), '[') +
           std::string(static_cast<std::size_t>(levels - 1), ']') + "}";
  };
  EXPECT_EQ(message_of_reply(nested(max_json_depth)), "(no error)");
  EXPECT_EQ(message_of_reply(nested(max_json_depth + 1)), "reply.json: line 1, column 84: nested deeper than 64 levels");
}

TEST(ReplyFormat, OnlyTheFirstHundredNonFinitePathsAreKept) {
  std::string text = R"({"layers": [{"weights": [[)";
  for (int i = 0; i < 250; ++i) text += i ? ",NaN" : "NaN";
  text += R"(]], "biases": [0]}]})";
  const Reply r = parse_reply(text, "reply.json");
  EXPECT_EQ(r.non_finite_count, 250u);
  ASSERT_EQ(r.non_finite_tokens.size(), max_recorded_non_finite);
  EXPECT_EQ(r.non_finite_tokens.back(), "layers[0].weights[0][99]");
}

RC_GTEST_PROP(ReplyFormat, WritingThenParsingKeepsEveryValueIncludingNaNAndInfinity, ()) {
  const auto values = *rc::gen::container<std::vector<std::uint64_t>>(6, rc::gen::arbitrary<std::uint64_t>());
  const auto special = *rc::gen::container<std::vector<int>>(6, rc::gen::inRange(0, 4));
  std::vector<double> x(6);
  for (std::size_t i = 0; i < 6; ++i) {
    std::memcpy(&x[i], &values[i], sizeof(double));
    if (special[i] == 1) x[i] = std::nan("");
    if (special[i] == 2) x[i] = HUGE_VAL;
    if (special[i] == 3) x[i] = -HUGE_VAL;
  }
  Reply r;
  LayerGradient g{Matrix<double>(2, 2), Vector<double>(1)};
  g.weights << x[0], x[1], x[2], x[3];
  g.biases << x[4];
  r.layers.push_back(g);
  r.loss = x[5];
  r.outputs = Matrix<double>(1, 2);
  *r.outputs << x[5], x[0];
  for (int indent : {-1, 2}) {
    const Reply back = parse_reply(reply_to_json(r, indent), "reply");
    RC_ASSERT(back.layers.size() == 1u);
    RC_ASSERT(same_values(back.layers[0].weights, g.weights));
    RC_ASSERT(same_values(back.layers[0].biases, g.biases));
    RC_ASSERT(same_values(Matrix<double>::Constant(1, 1, *back.loss), Matrix<double>::Constant(1, 1, x[5])));
    RC_ASSERT(same_values(*back.outputs, *r.outputs));
    std::size_t non_finite = 0;
    for (double v : {x[0], x[1], x[2], x[3], x[4], x[5], x[5], x[0]}) non_finite += std::isfinite(v) ? 0 : 1;
    RC_ASSERT(back.non_finite_count == non_finite);
  }
}

// ---------------------------------------------------------------------------
// Hostile text: whatever the damage, the result is a case or an InputError.

// Cases of at most 3 layers of 3 units and 2 samples, at every magnitude: short
// texts to damage.
CaseSpace small_space() {
  CaseSpace space;
  space.max_layers = 3;
  space.max_width = 3;
  space.max_batch = 2;
  return space;
}

rc::Gen<std::string> damaged(const std::string& text) {
  return rc::gen::exec([text]() {
    static const std::string alphabet = "{}[],:\"\\-+.0123456789eEnNaIfinity ul\n\x01\xc3\xff";
    std::string s = text;
    const int edits = *rc::gen::inRange(1, 6);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = *rc::gen::inRange<std::size_t>(0, s.size() + 1);
      const char c = alphabet[*rc::gen::inRange<std::size_t>(0, alphabet.size())];
      switch (*rc::gen::inRange(0, 4)) {
        case 0: if (at < s.size()) s.erase(at, 1); break;
        case 1: s.insert(at, 1, c); break;
        case 2: if (at < s.size()) s[at] = c; break;
        case 3: s = s.substr(0, at); break;  // cut short
      }
    }
    return s;
  });
}

RC_GTEST_PROP(CaseFormat, DamagedTextGivesACaseOrAnInputErrorNeverAnythingElse, ()) {
  const Case c = *gen::any_case(small_space());
  const std::string text = *damaged(*rc::gen::element(case_to_json(c, -1), case_to_json(c)));
  try {
    const Case back = parse_case(text, "fuzz.json");
    RC_ASSERT(back.inputs.cols() >= 1);  // what is accepted is a usable case
    validate(back.network);
  } catch (const InputError& e) {
    RC_ASSERT(std::string(e.what()).rfind("fuzz.json: ", 0) == 0u);
  }
}

RC_GTEST_PROP(ReplyFormat, DamagedTextGivesAReplyOrAnInputErrorNeverAnythingElse, ()) {
  const Case c = *gen::any_case(small_space());
  const auto g = gradients(c.network, c.inputs, c.targets);
  const std::string text = *damaged(reply_to_json(make_reply(c.network, g, 0.5, &c.targets), -1));
  try {
    parse_reply(text, "fuzz.json");
  } catch (const InputError& e) {
    RC_ASSERT(std::string(e.what()).rfind("fuzz.json: ", 0) == 0u);
  }
}

}  // namespace
}  // namespace gradcheck
