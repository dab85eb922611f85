// The training watch: input sanity (the signed-byte signature on real and
// synthetic data), the first non-finite value and its producer for every
// producer class claimed, per-layer statistics (dead relu, saturated sigmoid,
// update ratio), plateau, divergence, chance accuracy, and a healthy run that
// produces no warning. Expected values come from hand analysis, from the raw
// bytes, or from an independent observer written here.
#include "../../../engine/tests/test_helpers.hpp"  // matrix(), vector()

#include <gradcheck/watch/watch.hpp>
#include "../src/watch_detail.hpp"  // detail::gram_norm
#include <gradcheck/engine/idx.hpp>
#include <gradcheck/engine/init.hpp>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>
#include <utility>
#include <string>
#include <vector>

namespace gradcheck {
namespace {

namespace w = gradcheck::watch;
using testing::matrix;
using testing::sgd;
using testing::vector;

const std::string fashion = "/usr/share/datasets/fashion-mnist/";
const std::string train_images = fashion + "train-images-idx3-ubyte.gz";
const std::string train_labels = fashion + "train-labels-idx1-ubyte.gz";
const std::string test_images = fashion + "t10k-images-idx3-ubyte.gz";
const std::string test_labels = fashion + "t10k-labels-idx1-ubyte.gz";

bool have_fashion() { return std::filesystem::exists(train_images) && std::filesystem::exists(test_images); }

Network<double> one_layer(Activation act, Loss loss, Matrix<double> W, Vector<double> b) {
  Network<double> net;
  net.loss = loss;
  net.layers.push_back({act, std::move(W), std::move(b)});
  return net;
}

Dataset<double> dataset(Matrix<double> x, Matrix<double> y) {
  Dataset<double> d;
  d.inputs = std::move(x);
  d.targets = std::move(y);
  return d;
}

// Random classification data: `features` N(0, 1) inputs, `classes` random labels.
Dataset<double> random_set(Index features, Index n, int classes, std::uint64_t seed) {
  Rng rng(seed);
  Dataset<double> d;
  d.inputs.resize(features, n);
  for (Index i = 0; i < d.inputs.size(); ++i) d.inputs.data()[i] = rng.normal();
  for (Index c = 0; c < n; ++c) d.labels.push_back(static_cast<int>(rng.below(static_cast<std::uint64_t>(classes))));
  d.targets = one_hot(d.labels, classes);
  return d;
}

bool has_kind(const w::Result& r, w::Kind k) { return r.find(k) != nullptr; }

// The first of `fs` of kind `k`, or nullptr (w::Result::find for a list of findings).
const w::Finding* first_of_kind(const std::vector<w::Finding>& fs, w::Kind k) {
  for (const auto& f : fs)
    if (f.kind == k) return &f;
  return nullptr;
}

std::string findings_text(const std::vector<w::Finding>& fs) {
  std::string s;
  for (const auto& f : fs) s += std::string("\n  [") + w::to_string(f.severity) + " " + w::to_string(f.kind) + "] " + f.message;
  return s;
}

// ---------------------------------------------------------------------------
// Input sanity

TEST(WatchInputs, FlagsFashionMnistReadAsSignedCharOnItsOwn) {
  if (!have_fashion()) GTEST_SKIP() << "Debian package dataset-fashion-mnist is not installed";
  const Index n = 10000;
  const auto misread = idx::load(train_images, train_labels, idx::ByteReading::signed_char, n);
  // The expected fraction, from the raw bytes: every byte above 127 wraps negative.
  const auto raw = idx::read(train_images);
  std::size_t high = 0, total = static_cast<std::size_t>(n) * 784;
  for (std::size_t i = 0; i < total; ++i) high += raw.bytes[i] > 127 ? 1 : 0;
  const double expected_negative = static_cast<double>(high) / static_cast<double>(total);

  const w::InputSanity s = w::check_inputs(misread);
  EXPECT_TRUE(s.signed_bytes);
  EXPECT_DOUBLE_EQ(s.fraction_negative, expected_negative);
  EXPECT_NEAR(expected_negative, 0.315, 0.01) << "the question's 31.5 % of bytes exceed 127";
  EXPECT_DOUBLE_EQ(s.min, -128.0 / 255.0);
  EXPECT_DOUBLE_EQ(s.max, 127.0 / 255.0);
  EXPECT_EQ(s.bytes.min_byte, -128);
  EXPECT_EQ(s.bytes.max_byte, 127);
  ASSERT_FALSE(s.findings.empty());
  const w::Finding& f = s.findings[0];
  EXPECT_EQ(f.kind, w::Kind::signed_bytes);
  EXPECT_EQ(f.severity, w::Severity::error);
  for (std::size_t i = 1; i < s.findings.size(); ++i)
    EXPECT_EQ(s.findings[i].severity, w::Severity::info) << findings_text(s.findings);
  char percent[32];
  std::snprintf(percent, sizeof percent, "%.1f %%", 100 * expected_negative);
  EXPECT_NE(f.message.find(std::string("pixel bytes were read as signed char: ") + percent +
                           " of values are negative, none is ≥ 0.5"),
            std::string::npos)
      << f.message;
  EXPECT_NE(f.message.find("read them as unsigned char"), std::string::npos) << f.message;
  EXPECT_NE(f.fix.find("unsigned char"), std::string::npos);
  ASSERT_FALSE(f.evidence.empty());
  EXPECT_EQ(f.evidence[0].label, "fraction of values < 0");
  EXPECT_DOUBLE_EQ(f.evidence[0].value, expected_negative);
}

TEST(WatchInputs, SaysNothingOfSignedBytesForTheCorrectReading) {
  if (!have_fashion()) GTEST_SKIP() << "Debian package dataset-fashion-mnist is not installed";
  const auto right = idx::load(train_images, train_labels, idx::ByteReading::unsigned_bytes, 3000);
  const w::InputSanity s = w::check_inputs(right);
  EXPECT_FALSE(s.signed_bytes);
  EXPECT_EQ(s.fraction_negative, 0.0);
  EXPECT_EQ(s.min, 0.0);
  EXPECT_EQ(s.max, 1.0);
  EXPECT_TRUE(s.bytes.on_grid) << "pixels are b/255";
  EXPECT_EQ(s.bytes.max_byte, 255);
  for (const auto& f : s.findings) {
    EXPECT_NE(f.kind, w::Kind::signed_bytes);
    EXPECT_EQ(f.severity, w::Severity::info) << f.message;
  }
}

// Bytes drawn like Fashion-MNIST's: half background (0), the rest spread over 1…255.
std::vector<int> fashion_like_bytes(std::size_t n, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<int> b(n);
  for (auto& v : b) v = rng.uniform() < 0.5 ? 0 : 1 + static_cast<int>(rng.below(255));
  return b;
}

Matrix<double> as_matrix(const std::vector<int>& bytes, Index rows, double (*map)(int)) {
  Matrix<double> x(rows, static_cast<Index>(bytes.size()) / rows);
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = map(bytes[static_cast<std::size_t>(i)]);
  return x;
}

TEST(WatchInputs, FlagsSyntheticSignedBytesAndNotTheUnsignedOnes) {
  const auto bytes = fashion_like_bytes(64 * 500, 11);
  const auto signed_read = as_matrix(bytes, 64, [](int b) { return (b > 127 ? b - 256 : b) / 255.0; });
  const auto right = as_matrix(bytes, 64, [](int b) { return b / 255.0; });
  const auto s = w::check_inputs(signed_read);
  EXPECT_TRUE(s.signed_bytes);
  ASSERT_NE(s.findings.size(), 0u);
  EXPECT_EQ(s.findings[0].kind, w::Kind::signed_bytes);
  EXPECT_FALSE(w::check_inputs(right).signed_bytes);
  // Raw signed bytes (no /255) are recognised on the integer grid.
  const auto raw_signed = as_matrix(bytes, 64, [](int b) { return double(b > 127 ? b - 256 : b); });
  const auto r = w::check_inputs(raw_signed);
  EXPECT_TRUE(r.signed_bytes);
  EXPECT_EQ(r.bytes.scale, 1.0);
}

TEST(WatchInputs, DoesNotMistakeCentredBytesForSignedOnes) {
  // (b − 128)/255 covers the same range as the misread, but the background sits
  // at −128/255: the bottom edge holds half the values, the top edge little.
  const auto bytes = fashion_like_bytes(64 * 500, 12);
  const auto centred = as_matrix(bytes, 64, [](int b) { return (b - 128) / 255.0; });
  const auto s = w::check_inputs(centred);
  EXPECT_TRUE(s.bytes.on_grid);
  EXPECT_EQ(s.bytes.min_byte, -128);
  EXPECT_FALSE(s.signed_bytes) << "low edge " << s.bytes.low_edge << ", high edge " << s.bytes.high_edge;
}

TEST(WatchInputs, DoesNotMistakeGenuinelySignedDataForMisreadBytes) {
  // int8 samples of a clipped signal centred on 0: both edges populated, but
  // continuous through 0, so no wrap.
  Rng rng(13);
  std::vector<int> bytes(64 * 500);
  for (auto& b : bytes) b = std::max(-128, std::min(127, static_cast<int>(std::lround(60 * rng.normal()))));
  const auto x = as_matrix(bytes, 64, [](int b) { return double(b); });
  const auto s = w::check_inputs(x);
  EXPECT_GT(s.bytes.low_edge, 0.001);
  EXPECT_GT(s.bytes.high_edge, 0.001);
  EXPECT_FALSE(s.signed_bytes) << "below 0 " << s.bytes.below_zero << ", above " << s.bytes.above_zero;
}

TEST(WatchInputs, ReportsRawBytesAsUnscaled) {
  const auto bytes = fashion_like_bytes(64 * 100, 14);
  const auto x = as_matrix(bytes, 64, [](int b) { return double(b); });
  const auto s = w::check_inputs(x);
  const w::Finding* f = first_of_kind(s.findings, w::Kind::unscaled_inputs);
  ASSERT_NE(f, nullptr) << findings_text(s.findings);
  EXPECT_EQ(f->severity, w::Severity::warning);
  EXPECT_NE(f->message.find("raw bytes"), std::string::npos) << f->message;
  EXPECT_NE(f->fix.find("255"), std::string::npos);
  EXPECT_FALSE(s.signed_bytes);
}

TEST(WatchInputs, NamesTheFeatureOfWildlyDifferentScale) {
  Rng rng(15);
  Matrix<double> x(5, 200);
  for (Index c = 0; c < 200; ++c)
    for (Index f = 0; f < 5; ++f) x(f, c) = rng.uniform(-1, 1) * (f == 3 ? 1e5 : 1.0);
  const auto s = w::check_inputs(x);
  EXPECT_EQ(s.largest_scale_feature, 3);
  bool found = false;
  for (const auto& f : s.findings)
    if (f.kind == w::Kind::feature_scales) {
      found = true;
      EXPECT_NE(f.message.find("feature 3"), std::string::npos) << f.message;
      EXPECT_EQ(f.evidence[3].value, 1.0) << "one feature beyond the ratio";
    }
  EXPECT_TRUE(found) << findings_text(s.findings);
  // Equal scales: nothing of the kind.
  x.row(3) /= 1e5;
  for (const auto& f : w::check_inputs(x).findings) EXPECT_NE(f.kind, w::Kind::feature_scales);
}

TEST(WatchInputs, CountsConstantFeaturesAndNonFiniteValues) {
  Matrix<double> x = Matrix<double>::Random(6, 50);
  x.row(1).setConstant(0.25);
  x.row(4).setZero();
  x(2, 7) = std::nan("");
  x(5, 9) = INFINITY;
  const auto s = w::check_inputs(x);
  EXPECT_EQ(s.constant_features, 2);
  EXPECT_EQ(s.first_constant_feature, 1);
  EXPECT_EQ(s.non_finite, 2);
  ASSERT_FALSE(s.findings.empty());
  EXPECT_EQ(s.findings[0].kind, w::Kind::non_finite_inputs);
  EXPECT_EQ(s.findings[0].severity, w::Severity::error);
  EXPECT_NE(s.findings[0].message.find("feature 2 of sample 7"), std::string::npos) << s.findings[0].message;
  bool constant = false;
  for (const auto& f : s.findings) constant = constant || (f.kind == w::Kind::constant_features && f.severity == w::Severity::info);
  EXPECT_TRUE(constant);
}

TEST(WatchInputs, ReportsRangeMeanAndFractionNegativeExactly) {
  // 4 features × 4 samples: feature 1 constant, 4 of 16 values negative.
  const Matrix<double> x = matrix({{-1.0, 2.0, 3.0, 0.0},
                                   {0.5, 0.5, 0.5, 0.5},
                                   {-0.25, -4.0, 1.0, 0.75},
                                   {0.1, 0.2, -0.3, 0.5}});
  const auto s = w::check_inputs(x);
  EXPECT_EQ(s.samples, 4);
  EXPECT_EQ(s.features, 4);
  EXPECT_EQ(s.min, -4.0);
  EXPECT_EQ(s.max, 3.0);
  EXPECT_DOUBLE_EQ(s.mean, (4.0 + 2.0 - 2.5 + 0.5) / 16);
  EXPECT_DOUBLE_EQ(s.fraction_negative, 4.0 / 16.0);
  EXPECT_EQ(s.constant_features, 1);
  EXPECT_EQ(s.first_constant_feature, 1);
  EXPECT_EQ(s.non_finite, 0);
  // Median over the three non-constant features' max |x| (3, 4, 0.5); the largest is feature 2's 4.
  EXPECT_DOUBLE_EQ(s.median_feature_scale, 3.0);
  EXPECT_EQ(s.largest_feature_scale, 4.0);
  EXPECT_EQ(s.largest_scale_feature, 2);
  EXPECT_FALSE(s.signed_bytes);
  for (const auto& f : s.findings) EXPECT_EQ(f.severity, w::Severity::info) << findings_text(s.findings);
}

TEST(WatchInputs, ReportsUnscaledRealValuedFeaturesAndNotScaledOnes) {
  Rng rng(16);
  Matrix<double> x(4, 300);
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = rng.uniform(0, 5000) + 0.5;  // not on a byte grid
  const auto s = w::check_inputs(x);
  const w::Finding* f = first_of_kind(s.findings, w::Kind::unscaled_inputs);
  ASSERT_NE(f, nullptr) << findings_text(s.findings);
  EXPECT_EQ(f->severity, w::Severity::warning);
  EXPECT_NE(f->message.find("inputs are not scaled: values reach"), std::string::npos) << f->message;
  EXPECT_NE(f->fix.find("standardise"), std::string::npos);
  ASSERT_EQ(f->evidence.size(), 3u);
  EXPECT_EQ(f->evidence[1].label, "max");
  EXPECT_EQ(f->evidence[1].value, s.max);
  EXPECT_GT(s.max, w::InputOptions{}.unscaled_max);
  // The same values scaled to [0, 1] (max |x| ≤ 10): nothing unscaled.
  x /= 5000.5;
  for (const auto& g : w::check_inputs(x).findings) EXPECT_NE(g.kind, w::Kind::unscaled_inputs) << g.message;
}

// The per-feature statistics and the byte grid of two sanity results agree
// (RapidCheck assertions, for the properties below).
void assert_same_features_and_grid(const w::InputSanity& a, const w::InputSanity& b) {
  const auto same = [](double u, double v) { return u == v || (std::isnan(u) && std::isnan(v)); };
  RC_ASSERT(a.constant_features == b.constant_features && a.first_constant_feature == b.first_constant_feature);
  RC_ASSERT(same(a.median_feature_scale, b.median_feature_scale));
  RC_ASSERT(same(a.largest_feature_scale, b.largest_feature_scale));
  RC_ASSERT(a.largest_scale_feature == b.largest_scale_feature);
  RC_ASSERT(a.bytes.on_grid == b.bytes.on_grid && a.bytes.scale == b.bytes.scale);
  RC_ASSERT(a.bytes.min_byte == b.bytes.min_byte && a.bytes.max_byte == b.bytes.max_byte);
  RC_ASSERT(a.bytes.histogram == b.bytes.histogram && a.signed_bytes == b.signed_bytes);
}

// Inputs kept as bytes (idx::load_bytes, what `gradcheck train` reads) get
// the sanity of the matrix they decode to: every statistic and finding the
// same, the mean (summed by byte there, in storage order here) to 1e-14 of
// the largest |value| (it may cancel to near 0).
RC_GTEST_PROP(WatchInputs, BytesAndTheMatrixTheyDecodeToGetTheSameSanity, ()) {
  const int kind = *rc::gen::inRange(0, 6);
  ByteInputs<double> b;
  b.features = *rc::gen::inRange<Index>(1, 20);
  b.samples = *rc::gen::inRange<Index>(1, 80);
  Rng rng(*rc::gen::inRange<std::uint64_t>(0, 1u << 30));
  for (int k = 0; k < 256; ++k) {
    const double normal = rng.normal();
    switch (kind) {
      case 0: b.value[static_cast<std::size_t>(k)] = k / 255.0; break;
      case 1: b.value[static_cast<std::size_t>(k)] = (k > 127 ? k - 256 : k) / 255.0; break;
      case 2: b.value[static_cast<std::size_t>(k)] = k; break;
      case 3: b.value[static_cast<std::size_t>(k)] = k / 256.0; break;
      case 4: b.value[static_cast<std::size_t>(k)] = 100 * normal; break;
      default: b.value[static_cast<std::size_t>(k)] = k == 7 ? std::nan("") : k / 255.0; break;
    }
  }
  for (Index i = 0; i < b.features * b.samples; ++i)
    b.codes.push_back(static_cast<std::uint8_t>(rng.uniform() < 0.5 ? 7 : rng.below(256)));
  for (Index f = 0; f < b.features; f += 3)  // every third feature constant
    for (Index j = 0; j < b.samples; ++j) b.codes[static_cast<std::size_t>(j * b.features + f)] = b.codes[f];
  Dataset<double> d;
  d.bytes = b;
  const w::InputSanity x = w::check_inputs(d.dense_inputs()), y = w::check_inputs(d);
  const auto same = [](double u, double v) { return u == v || (std::isnan(u) && std::isnan(v)); };
  RC_ASSERT(y.samples == x.samples && y.features == x.features && y.non_finite == x.non_finite);
  RC_ASSERT(same(y.min, x.min) && same(y.max, x.max) && y.fraction_negative == x.fraction_negative);
  RC_ASSERT(same(y.mean, x.mean) || std::fabs(y.mean - x.mean) <= 1e-14 * std::max(std::fabs(x.min), std::fabs(x.max)));
  assert_same_features_and_grid(x, y);
  RC_ASSERT(y.findings.size() == x.findings.size());
  for (std::size_t k = 0; k < x.findings.size(); ++k) {
    RC_ASSERT(y.findings[k].kind == x.findings[k].kind);
    if (x.findings[k].kind != w::Kind::unscaled_inputs) RC_ASSERT(y.findings[k].message == x.findings[k].message);
  }
  RC_TAG(kind);
}

// ---------------------------------------------------------------------------
// The producer of the first non-finite value, one small case per class

w::Numerics naive_softmax() {
  w::Numerics n;
  n.softmax = w::SoftmaxForm::naive;
  return n;
}
w::Numerics naive_cross_entropy() {
  w::Numerics n;
  n.cross_entropy = w::CrossEntropyForm::from_outputs;
  return n;
}

// Softmax over 3 classes of one input: z = W·[1] + b = the biases.
Network<double> logits(double z0, double z1, double z2) {
  return one_layer(Activation::softmax, Loss::cross_entropy, matrix({{0.0}, {0.0}, {0.0}}), vector({z0, z1, z2}));
}

// Inputs of every kind the checks tell apart: pixel bytes read right and as
// signed char, raw bytes, bytes just off their grid, and real-valued features,
// some of them constant.
Matrix<double> inputs_of_kind(int kind, Index rows, Index cols, std::uint64_t seed) {
  Rng rng(seed);
  Matrix<double> x(rows, cols);
  for (Index i = 0; i < x.size(); ++i) {
    const int b = rng.uniform() < 0.5 ? 0 : static_cast<int>(rng.below(256));
    switch (kind) {
      case 0: x.data()[i] = b / 255.0; break;
      case 1: x.data()[i] = (b > 127 ? b - 256 : b) / 255.0; break;
      case 2: x.data()[i] = b; break;
      case 3: x.data()[i] = b / 255.0 + (rng.uniform() < 0.01 ? 1e-7 : 0); break;
      default: x.data()[i] = (1 + static_cast<double>(i % rows)) * rng.normal(); break;
    }
  }
  for (Index f = 0; f < rows; f += 3) x.row(f).setConstant(x(f, 0));  // every third feature constant
  return x;
}

// check_inputs takes a vectorised path when every input is finite and skips
// non-finite values otherwise: a sample of NaN appended must change nothing
// but the counts of samples and non-finite values, and the finding they add
// (from two samples on: with one, no feature is called constant).
RC_GTEST_PROP(WatchInputs, ASampleOfNaNChangesNothingButTheNonFiniteCount, ()) {
  const int kind = *rc::gen::element(0, 1, 2, 3, 4);
  const Index rows = *rc::gen::inRange<Index>(1, 20), cols = *rc::gen::inRange<Index>(2, 80);
  const Matrix<double> x = inputs_of_kind(kind, rows, cols, *rc::gen::inRange<std::uint64_t>(0, 1u << 30));
  Matrix<double> with_nan(rows, cols + 1);
  with_nan << x, Vector<double>::Constant(rows, std::nan(""));
  const w::InputSanity a = w::check_inputs(x), b = w::check_inputs(with_nan);
  RC_ASSERT(b.non_finite == rows);
  RC_ASSERT(a.non_finite == Index{0});
  const auto same = [](double u, double v) { return u == v || (std::isnan(u) && std::isnan(v)); };
  RC_ASSERT(same(a.min, b.min) && same(a.max, b.max) && same(a.mean, b.mean));
  RC_ASSERT(a.fraction_negative == b.fraction_negative);
  assert_same_features_and_grid(a, b);
  RC_ASSERT(b.findings.size() == a.findings.size() + 1);
  RC_ASSERT(b.findings[0].kind == w::Kind::non_finite_inputs);
  for (std::size_t k = 0; k < a.findings.size(); ++k) RC_ASSERT(a.findings[k].kind == b.findings[k + 1].kind);
  RC_TAG(kind);
}

TEST(WatchTrace, NamesExpOverflowInANaiveSoftmax) {
  const auto net = logits(1.0, 800.0, 2.0);
  const Matrix<double> x = matrix({{1.0}}), y = matrix({{0.0}, {1.0}, {0.0}});
  EXPECT_FALSE(w::trace_step(net, x, y).has_value()) << "the engine's stable softmax is finite";
  const auto nf = w::trace_step(net, x, y, naive_softmax());
  ASSERT_TRUE(nf.has_value());
  EXPECT_EQ(nf->operation, w::Operation::exp_overflow);
  EXPECT_EQ(nf->site, w::Site::softmax);
  EXPECT_EQ(nf->cause, "exp overflow in softmax");
  EXPECT_EQ(nf->pass, w::Pass::forward);
  EXPECT_EQ(nf->quantity, w::Quantity::a);
  EXPECT_EQ(nf->layer, 0);
  EXPECT_EQ(nf->row, 1) << "the unit whose exp overflowed";
  EXPECT_EQ(nf->col, 0);
  EXPECT_TRUE(nf->produced);
  EXPECT_TRUE(nf->emulated);
  EXPECT_TRUE(std::isnan(nf->value)) << "inf / inf";
  EXPECT_EQ(nf->operands[0].value, 800.0);
  // What came after only passed it on: the output error and the gradients.
  ASSERT_FALSE(nf->passed_on.empty());
  EXPECT_EQ(nf->passed_on[0].quantity, w::Quantity::delta);
  EXPECT_EQ(nf->passed_on[0].pass, w::Pass::backward);
}

TEST(WatchTrace, NamesZeroOverZeroWhenEveryExpUnderflows) {
  const auto net = logits(-800.0, -900.0, -1000.0);
  const auto nf = w::trace_step(net, matrix({{1.0}}), matrix({{1.0}, {0.0}, {0.0}}), naive_softmax());
  ASSERT_TRUE(nf.has_value());
  EXPECT_EQ(nf->operation, w::Operation::zero_over_zero);
  EXPECT_EQ(nf->site, w::Site::softmax);
  EXPECT_EQ(nf->row, 0) << "the largest logit";
}

TEST(WatchTrace, NamesLogOfZeroInANaiveCrossEntropy) {
  // Class 0 is the target; its output underflows to exactly 0 beside z = 800.
  const auto net = logits(0.0, 800.0, 799.0);
  const Matrix<double> x = matrix({{1.0}}), y = matrix({{1.0}, {0.0}, {0.0}});
  EXPECT_FALSE(w::trace_step(net, x, y).has_value()) << "log-sum-exp keeps the engine's loss finite";
  const auto nf = w::trace_step(net, x, y, naive_cross_entropy());
  ASSERT_TRUE(nf.has_value());
  EXPECT_EQ(nf->operation, w::Operation::log_of_zero);
  EXPECT_EQ(nf->cause, "log(0) in cross-entropy");
  EXPECT_EQ(nf->pass, w::Pass::loss);
  EXPECT_EQ(nf->quantity, w::Quantity::loss);
  EXPECT_EQ(nf->row, 0) << "the target class";
  EXPECT_EQ(nf->col, 0);
  EXPECT_EQ(nf->value, INFINITY);
  EXPECT_TRUE(nf->emulated);
}

TEST(WatchTrace, NamesZeroTimesInfWhenAZeroTargetMeetsLogZero) {
  // Class 1 is the target (a = 1); class 0's output is 0 and its target 0: 0 · ln 0.
  const auto net = logits(0.0, 800.0, 1.0);
  const auto nf = w::trace_step(net, matrix({{1.0}}), matrix({{0.0}, {1.0}, {0.0}}), naive_cross_entropy());
  ASSERT_TRUE(nf.has_value());
  EXPECT_EQ(nf->operation, w::Operation::zero_times_inf);
  EXPECT_EQ(nf->cause, "0 · inf in cross-entropy");
  EXPECT_EQ(nf->row, 0);
  EXPECT_TRUE(std::isnan(nf->value));
}

TEST(WatchTrace, NamesInfMinusInfWhenProductsOverflowWithOppositeSigns) {
  const auto net = one_layer(Activation::sigmoid, Loss::quadratic, matrix({{1e200, -1e200}}), vector({0.0}));
  const auto nf = w::trace_step(net, matrix({{1e200}, {1e200}}), matrix({{0.5}}));
  ASSERT_TRUE(nf.has_value());
  EXPECT_EQ(nf->operation, w::Operation::inf_minus_inf);
  EXPECT_EQ(nf->site, w::Site::matrix_product);
  EXPECT_EQ(nf->quantity, w::Quantity::z);
  EXPECT_EQ(nf->cause, "inf − inf in W·a (forward)");
  EXPECT_TRUE(nf->produced);
  EXPECT_FALSE(nf->emulated);
  // a = σ(NaN) and the loss only passed it on.
  ASSERT_GE(nf->passed_on.size(), 2u);
  EXPECT_EQ(nf->passed_on[0].quantity, w::Quantity::a);
  EXPECT_EQ(nf->passed_on[1].quantity, w::Quantity::loss);
}

TEST(WatchTrace, NamesOverflowInWaWhenFiniteTermsSumBeyondTheRange) {
  const auto net = one_layer(Activation::sigmoid, Loss::quadratic, matrix({{1e308, 1e308}}), vector({0.0}));
  const auto nf = w::trace_step(net, matrix({{1.0}, {1.0}}), matrix({{0.5}}));
  ASSERT_TRUE(nf.has_value());
  EXPECT_EQ(nf->operation, w::Operation::overflow);
  EXPECT_EQ(nf->site, w::Site::matrix_product);
  EXPECT_EQ(nf->value, INFINITY);
  EXPECT_NE(nf->detail.find("every term is finite"), std::string::npos) << nf->detail;
}

TEST(WatchTrace, NamesOverflowInTheQuadraticLoss) {
  const auto net = one_layer(Activation::identity, Loss::quadratic, matrix({{1.0}}), vector({0.0}));
  const auto nf = w::trace_step(net, matrix({{2e154}}), matrix({{0.0}}));
  ASSERT_TRUE(nf.has_value());
  EXPECT_EQ(nf->pass, w::Pass::loss);
  EXPECT_EQ(nf->cause, "overflow in the quadratic loss");
  EXPECT_EQ(nf->operands[2].value, 2e154) << "a − y";
}

TEST(WatchTrace, NamesOverflowInTheBackwardProductWhenTheForwardPassIsFinite) {
  // Hidden identity unit fed x = 0, so a₀ = 0 and the output z = b = [0, ln 9]
  // is finite: softmax [0.1, 0.9], target class 0, δ = [−0.9, 0.9]. Backward,
  // Wᵀ·δ = 1.5e308 · (−0.9) + (−1.5e308) · 0.9 = −2.7e308: overflow, backward.
  Network<double> net;
  net.loss = Loss::cross_entropy;
  net.layers.push_back({Activation::identity, matrix({{1.0}}), vector({0.0})});
  net.layers.push_back({Activation::softmax, matrix({{1.5e308}, {-1.5e308}}), vector({0.0, std::log(9.0)})});
  const auto nf = w::trace_step(net, matrix({{0.0}}), matrix({{1.0}, {0.0}}));
  ASSERT_TRUE(nf.has_value());
  EXPECT_EQ(nf->pass, w::Pass::backward);
  EXPECT_EQ(nf->quantity, w::Quantity::delta);
  EXPECT_EQ(nf->layer, 0) << "dL/dz of the hidden layer";
  EXPECT_EQ(nf->row, 0);
  EXPECT_EQ(nf->col, 0);
  EXPECT_EQ(nf->site, w::Site::backprop_product);
  EXPECT_EQ(nf->operation, w::Operation::overflow);
  EXPECT_EQ(nf->value, -INFINITY);
  EXPECT_TRUE(nf->produced);
  EXPECT_NE(nf->cause.find("Wᵀ·δ (backward)"), std::string::npos) << nf->cause;
  // dL/dW₀ = δ₀·xᵀ = −inf · 0 = NaN and dL/db₀ = −inf only passed it on.
  ASSERT_FALSE(nf->passed_on.empty());
  EXPECT_EQ(nf->passed_on[0].pass, w::Pass::backward);
  EXPECT_EQ(nf->passed_on[0].quantity, w::Quantity::weight_gradient);
  EXPECT_EQ(nf->passed_on[0].layer, 0);
}

TEST(WatchTrace, MarksNonFiniteInputAsPassedOnNotProduced) {
  const auto net = one_layer(Activation::sigmoid, Loss::quadratic, matrix({{1.0, 2.0}}), vector({0.0}));
  const auto nf = w::trace_step(net, matrix({{1.0}, {std::nan("")}}), matrix({{0.5}}));
  ASSERT_TRUE(nf.has_value());
  EXPECT_EQ(nf->quantity, w::Quantity::input);
  EXPECT_EQ(nf->row, 1);
  EXPECT_FALSE(nf->produced);
  EXPECT_EQ(nf->operation, w::Operation::non_finite_operand);
  EXPECT_EQ(nf->site, w::Site::data);
  ASSERT_FALSE(nf->passed_on.empty());
  EXPECT_EQ(nf->passed_on[0].quantity, w::Quantity::z) << "W·a passed it on";
}

TEST(WatchTrace, NamesOverflowInAWeightUpdateDuringTraining) {
  // z = [1.5e308, 1.6e308]: the stable softmax gives a = [0, 1], the target is
  // class 0, so dL/dW00 = −1 and η = 1e308 moves W00 = 1.5e308 up by 1e308.
  auto net = one_layer(Activation::softmax, Loss::cross_entropy, matrix({{1.5e308}, {0.0}}), vector({0.0, 1.6e308}));
  const auto data = dataset(matrix({{1.0}}), matrix({{1.0}, {0.0}}));
  const auto opt = sgd(1e308, 1, 1);
  w::Watch watch({}, opt);
  Trainer<double> trainer(net, opt, watch.callbacks());
  const History h = trainer.train(data);
  const w::Result r = watch.result();
  ASSERT_TRUE(r.first_non_finite.has_value()) << findings_text(r.findings);
  const auto& nf = *r.first_non_finite;
  EXPECT_EQ(nf.step, 0);
  EXPECT_EQ(nf.pass, w::Pass::update);
  EXPECT_EQ(nf.quantity, w::Quantity::weights);
  EXPECT_EQ(nf.layer, 0);
  EXPECT_EQ(nf.row, 0);
  EXPECT_EQ(nf.col, 0);
  EXPECT_EQ(nf.site, w::Site::weight_update);
  EXPECT_EQ(nf.operation, w::Operation::overflow);
  EXPECT_EQ(nf.cause, "overflow in a weight update");
  EXPECT_EQ(nf.value, INFINITY);
  EXPECT_TRUE(nf.produced);
  EXPECT_EQ(nf.operands[0].value, 1.5e308) << "the weight before";
  EXPECT_EQ(nf.operands[1].value, -1.0) << "its gradient";
  EXPECT_EQ(nf.operands[4].value, -1e308) << "η·g";
  EXPECT_NE(nf.detail.find("minus the finite update"), std::string::npos) << nf.detail;
  EXPECT_TRUE(r.stopped);
  EXPECT_TRUE(h.stopped);
  const w::Finding* f = r.find(w::Kind::non_finite);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, w::Severity::error);
  EXPECT_EQ(r.worst(), w::Severity::error);
}

// ---------------------------------------------------------------------------
// Training that runs into its first non-finite value

// 1 → 1 identity, quadratic, x = 1, y = 0, w = 1, b = 0, η = 3: a ← a − 6a = −5a,
// so a_t = (−5)^t and the loss ½(a − y)² overflows at the first t with a_t² > DBL_MAX.
TEST(WatchTraining, FindsTheAnalyticStepWhereTheQuadraticLossOverflows) {
  auto net = one_layer(Activation::identity, Loss::quadratic, matrix({{1.0}}), vector({0.0}));
  const auto data = dataset(matrix({{1.0}}), matrix({{0.0}}));
  Index expected = 0;
  for (double a = 1; std::isfinite(a * a); a *= -5) ++expected;
  ASSERT_EQ(expected, 221);
  w::Options wo;
  wo.loss_window = 10;
  const auto run = w::train_watched(net, data, sgd(3.0, 1, 1000), nullptr, wo);
  ASSERT_TRUE(run.watch.first_non_finite.has_value());
  const auto& nf = *run.watch.first_non_finite;
  EXPECT_EQ(nf.step, expected);
  EXPECT_EQ(nf.layer, 0);
  EXPECT_EQ(nf.pass, w::Pass::loss);
  EXPECT_EQ(nf.cause, "overflow in the quadratic loss");
  EXPECT_EQ(run.history.steps, expected) << "the watch stopped before the update of the offending step";
  // The growth before it: the weights' norm grew 5× per step.
  ASSERT_EQ(nf.history.size(), 32u);
  EXPECT_EQ(nf.history.back().step, expected);
  const double growth = nf.history.back().layers[0].weight_norm / nf.history[nf.history.size() - 2].layers[0].weight_norm;
  EXPECT_NEAR(growth, 5.0, 1e-9);
  const w::Finding* f = run.watch.find(w::Kind::non_finite);
  ASSERT_NE(f, nullptr);
  bool growth_evidence = false;
  for (const auto& e : f->evidence)
    if (e.label == "weight norm growth per step") {
      growth_evidence = true;
      EXPECT_NEAR(e.value, 5.0, 1e-6);
    }
  EXPECT_TRUE(growth_evidence);
  EXPECT_TRUE(has_kind(run.watch, w::Kind::divergence)) << findings_text(run.watch.findings);
}

// An independent observer: the first step (and tensor) at which any of the
// engine's values is non-finite, reading everything every step.
struct FirstBad {
  Index step = -1;
  w::Pass pass = w::Pass::forward;
  w::Quantity quantity = w::Quantity::z;
  int layer = -1;
};

Callbacks<double> reference_observer(FirstBad& out) {
  Callbacks<double> cb;
  cb.before_update = [&out](const Step<double>& s) {
    if (out.step >= 0) return Control::stop;
    const int L = static_cast<int>(s.network.layers.size());
    const auto bad = [&](w::Pass p, w::Quantity q, int l) {
      out = {s.step, p, q, l};
      return Control::stop;
    };
    for (int l = 0; l < L; ++l) {
      if (!s.forward.z[static_cast<std::size_t>(l)].allFinite()) return bad(w::Pass::forward, w::Quantity::z, l);
      if (!s.forward.a[static_cast<std::size_t>(l) + 1].allFinite()) return bad(w::Pass::forward, w::Quantity::a, l);
    }
    if (!std::isfinite(s.loss)) return bad(w::Pass::loss, w::Quantity::loss, L - 1);
    if (!s.gradients.deltas[static_cast<std::size_t>(L - 1)].allFinite()) return bad(w::Pass::backward, w::Quantity::delta, L - 1);
    for (int l = L - 1; l >= 0; --l) {
      if (!s.gradients.weights[static_cast<std::size_t>(l)].allFinite()) return bad(w::Pass::backward, w::Quantity::weight_gradient, l);
      if (!s.gradients.biases[static_cast<std::size_t>(l)].allFinite()) return bad(w::Pass::backward, w::Quantity::bias_gradient, l);
      if (l > 0 && !s.gradients.deltas[static_cast<std::size_t>(l) - 1].allFinite()) return bad(w::Pass::backward, w::Quantity::delta, l - 1);
    }
    return Control::proceed;
  };
  cb.after_update = [&out](const Step<double>& s) {
    for (std::size_t l = 0; l < s.network.layers.size(); ++l) {
      if (!s.network.layers[l].weights.allFinite()) out = {s.step, w::Pass::update, w::Quantity::weights, static_cast<int>(l)};
      else if (!s.network.layers[l].biases.allFinite()) out = {s.step, w::Pass::update, w::Quantity::biases, static_cast<int>(l)};
      if (out.step >= 0) return Control::stop;
    }
    return Control::proceed;
  };
  return cb;
}

TEST(WatchTraining, LocalisesTheFirstNaNOfAReluNetworkAtAHugeLearningRate) {
  const auto data = random_set(20, 200, 4, 3);
  const auto opt = sgd(1000.0, 10, 50);
  const auto make = [] { return make_network({20, 16, 4}, Activation::relu, Activation::softmax, Loss::cross_entropy, Init::he, 1); };

  auto ref_net = make();
  FirstBad ref;
  train(ref_net, data, opt, nullptr, reference_observer(ref));
  ASSERT_GE(ref.step, 0) << "the reference run must reach a non-finite value";

  auto net = make();
  const auto run = w::train_watched(net, data, opt);
  ASSERT_TRUE(run.watch.first_non_finite.has_value());
  const auto& nf = *run.watch.first_non_finite;
  EXPECT_EQ(nf.step, ref.step);
  EXPECT_EQ(nf.pass, ref.pass);
  EXPECT_EQ(nf.quantity, ref.quantity);
  EXPECT_EQ(nf.layer, ref.layer);
  EXPECT_TRUE(nf.produced);
  EXPECT_FALSE(nf.emulated);
  // The claim, checked in long double (whose range reaches 1e4932): the exact
  // W·a of the blamed entry lies beyond DBL_MAX.
  ASSERT_EQ(nf.quantity, w::Quantity::z) << nf.cause;
  ASSERT_TRUE(nf.site == w::Site::matrix_product) << nf.cause;
  const Network<double>& before = ref_net;  // the reference stopped before this step's update
  const auto& layer = before.layers[static_cast<std::size_t>(nf.layer)];
  ForwardPass<double> fp;
  // Rebuild the batch of that step: re-run the reference up to it, keeping the inputs.
  Matrix<double> batch;
  Callbacks<double> keep;
  keep.before_update = [&](const Step<double>& s) {
    if (s.step == ref.step) {
      batch = s.inputs;
      return Control::stop;
    }
    return Control::proceed;
  };
  auto replay = make();
  train(replay, data, opt, nullptr, keep);
  forward(replay, batch, fp);
  long double exact = 0;
  const auto& a = fp.a[static_cast<std::size_t>(nf.layer)];
  for (Index i = 0; i < layer.weights.cols(); ++i)
    exact += static_cast<long double>(layer.weights(nf.row, i)) * static_cast<long double>(a(i, nf.col));
  EXPECT_GT(fabsl(exact), static_cast<long double>(DBL_MAX)) << "W·a of unit " << nf.row << ", sample " << nf.col;
  EXPECT_EQ(nf.operation, w::Operation::overflow);
}

// The growth before the first NaN: every norm's factor per step is the one the
// history shows (from its oldest to its newest finite value), and all three
// grew in the run that blew up; the message quotes each.
TEST(WatchTraining, QuotesTheGrowthOfEveryNormBeforeTheFirstNaN) {
  const auto data = random_set(20, 200, 4, 3);
  auto net = make_network({20, 16, 4}, Activation::relu, Activation::softmax, Loss::cross_entropy, Init::he, 1);
  const auto run = w::train_watched(net, data, sgd(1000.0, 10, 50));
  ASSERT_TRUE(run.watch.first_non_finite.has_value());
  const auto& nf = *run.watch.first_non_finite;
  ASSERT_EQ(nf.history.size(), 32u);
  const w::Finding* f = run.watch.find(w::Kind::non_finite);
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(nf.layer, 1) << "the output layer's W·a";
  // The output is a softmax, whose activation norm is bounded by 1: the growth
  // shows in the weights, the gradients and the layer's input (layer 0's output).
  struct Norm {
    const char* name;
    double w::LayerStats::*field;
    std::size_t layer;
    bool grows;
  };
  for (const Norm& n : {Norm{"weight norm", &w::LayerStats::weight_norm, 1, true},
                        Norm{"gradient norm", &w::LayerStats::gradient_norm, 1, true},
                        Norm{"activation norm", &w::LayerStats::activation_norm, 1, false},
                        Norm{"input's activation norm", &w::LayerStats::activation_norm, 0, true}}) {
    const char* name = n.name;
    const auto field = n.field;
    const std::size_t l = n.layer;
    const w::StepStats* first = nullptr;
    const w::StepStats* last = nullptr;
    for (const auto& st : nf.history)
      if (std::isfinite(st.layers[l].*field)) {
        if (!first) first = &st;
        last = &st;
      }
    ASSERT_NE(first, nullptr) << name;
    ASSERT_LT(first->step, last->step) << name;
    const double expected =
        std::pow(last->layers[l].*field / first->layers[l].*field, 1.0 / static_cast<double>(last->step - first->step));
    if (n.grows) EXPECT_GT(expected, 10.0) << name << " grew before the overflow";
    else EXPECT_LE(last->layers[l].*field, 1.0 + 1e-12) << "a softmax output's norm is at most 1";
    bool found = false;
    for (const auto& e : f->evidence)
      if (e.label == std::string(name) + " growth per step") {
        found = true;
        EXPECT_DOUBLE_EQ(e.value, expected) << name;
      }
    EXPECT_TRUE(found) << name;
    EXPECT_NE(f->message.find(std::string("its ") + name + " went from"), std::string::npos) << f->message;
  }
  EXPECT_EQ(f->message.find("to NaN"), std::string::npos) << "growth is measured over finite values: " << f->message;
}

TEST(WatchTraining, NamesTheStepAtWhichANaiveSoftmaxWouldOverflow) {
  const auto data = random_set(20, 200, 4, 5);
  const auto opt = sgd(3.0, 10, 20);
  const auto make = [] { return make_network({20, 16, 4}, Activation::relu, Activation::softmax, Loss::cross_entropy, Init::gaussian, 2); };
  // Independently: the first step whose output logits exceed ln(DBL_MAX).
  Index expected = -1;
  Callbacks<double> probe;
  probe.before_update = [&](const Step<double>& s) {
    if (expected < 0 && s.forward.z.back().maxCoeff() > std::log(DBL_MAX)) expected = s.step;
    return Control::proceed;
  };
  auto ref = make();
  const History ref_history = train(ref, data, opt, nullptr, probe);
  ASSERT_GE(expected, 1) << "the logits must outgrow the naive softmax during the run";

  w::Options wo;
  wo.numerics = naive_softmax();
  auto net = make();
  const auto run = w::train_watched(net, data, opt, nullptr, wo);
  ASSERT_TRUE(run.watch.first_non_finite.has_value());
  const auto& nf = *run.watch.first_non_finite;
  EXPECT_EQ(nf.step, expected);
  EXPECT_EQ(nf.layer, 1);
  EXPECT_EQ(nf.quantity, w::Quantity::a);
  EXPECT_EQ(nf.operation, w::Operation::exp_overflow);
  EXPECT_EQ(nf.cause, "exp overflow in softmax");
  EXPECT_TRUE(nf.emulated);
  EXPECT_GT(nf.operands[0].value, std::log(DBL_MAX));
  const w::Finding* f = run.watch.find(w::Kind::non_finite);
  ASSERT_NE(f, nullptr);
  EXPECT_NE(f->fix.find("subtract the largest logit"), std::string::npos) << f->fix;

  // The same run with the engine's stable softmax has no non-finite value.
  auto stable = make();
  const auto plain = w::train_watched(stable, data, opt);
  EXPECT_FALSE(plain.watch.first_non_finite.has_value());
  EXPECT_EQ(plain.history.steps, ref_history.steps);
}

// The bounds that let the watch skip reading dL/dW and the updated parameters
// never hide a non-finite value: with and without them (TrainOptions given or
// not) the watch finds the same first one, and so does the reference observer.
RC_GTEST_PROP(WatchTraining, BoundsNeverHideANonFiniteValue, ()) {
  const auto seed = *rc::gen::inRange<std::uint64_t>(0, 1000);
  const auto hidden = *rc::gen::element(Activation::identity, Activation::relu, Activation::tanh);
  const auto optimizer = *rc::gen::element(Optimizer::sgd, Optimizer::momentum, Optimizer::adam);
  const double lr = *rc::gen::element(0.5, 3.0, 30.0, 1e3, 1e6);
  const auto data = random_set(5, 40, 3, seed);
  const auto make = [&] {
    return make_network({5, 6, 3}, hidden, Activation::identity, Loss::quadratic, Init::gaussian, seed);
  };
  TrainOptions opt = sgd(lr, 4, 30);
  opt.optimizer = optimizer;
  FirstBad ref;
  auto ref_net = make();
  train(ref_net, data, opt, nullptr, reference_observer(ref));

  auto bounded_net = make();
  w::Watch bounded({}, opt);
  Trainer<double>(bounded_net, opt, bounded.callbacks()).train(data);
  auto exact_net = make();
  w::Watch exact;
  Trainer<double>(exact_net, opt, exact.callbacks()).train(data);

  RC_TAG(ref.step >= 0 ? "reaches a non-finite value" : "stays finite");
  const auto b = bounded.result().first_non_finite;
  const auto e = exact.result().first_non_finite;
  RC_ASSERT(b.has_value() == (ref.step >= 0));
  RC_ASSERT(e.has_value() == (ref.step >= 0));
  if (b) {
    RC_ASSERT(b->step == ref.step);
    RC_ASSERT(e->step == ref.step);
    RC_ASSERT(b->quantity == ref.quantity);
    RC_ASSERT(b->layer == ref.layer);
    RC_ASSERT(e->quantity == b->quantity);
    RC_ASSERT(e->cause == b->cause);
  }
}

// ---------------------------------------------------------------------------
// Per-layer statistics

TEST(WatchLayers, ReportsTheExactDeadFractionOfAReluLayer) {
  // 20 relu units on inputs in [0, 1): 7 with bias −1000 can never fire; 13 with
  // bias +1 and weights ≤ 0.01 always do.
  Rng rng(21);
  Matrix<double> W0(20, 8), W1(3, 20);
  for (Index i = 0; i < W0.size(); ++i) W0.data()[i] = rng.uniform(-0.01, 0.01);
  for (Index i = 0; i < W1.size(); ++i) W1.data()[i] = rng.uniform(-0.1, 0.1);
  Vector<double> b0(20);
  for (Index j = 0; j < 20; ++j) b0(j) = j % 3 == 0 ? -1000.0 : 1.0;  // units 0, 3, …, 18: 7 of them
  Network<double> net;
  net.loss = Loss::cross_entropy;
  net.layers.push_back({Activation::relu, W0, b0});
  net.layers.push_back({Activation::softmax, W1, Vector<double>::Zero(3)});
  Dataset<double> data = random_set(8, 100, 3, 22);
  data.inputs = data.inputs.cwiseAbs().cwiseMin(0.999);
  const auto run = w::train_watched(net, data, sgd(0.01, 10, 2));
  ASSERT_EQ(run.watch.steps.size(), 20u);
  for (const auto& st : run.watch.steps) EXPECT_DOUBLE_EQ(st.layers[0].dead_fraction, 7.0 / 20.0);
  ASSERT_EQ(run.watch.epochs.size(), 2u);
  EXPECT_DOUBLE_EQ(run.watch.epochs[1].layers[0].dead_fraction, 0.35);
  EXPECT_TRUE(std::isnan(run.watch.epochs[1].layers[1].dead_fraction)) << "softmax has no dead units";
  const w::Finding* f = run.watch.find(w::Kind::dead_units);
  ASSERT_NE(f, nullptr) << findings_text(run.watch.findings);
  EXPECT_EQ(f->layer, 0);
  EXPECT_EQ(f->evidence[0].value, 0.35);
  EXPECT_NE(f->message.find("35.0 %"), std::string::npos) << f->message;
}

TEST(WatchLayers, ReportsTheExactSaturatedFractionOfASigmoidLayer) {
  // 10 sigmoid units: 4 with bias 50 (|z| ≈ 50 > 6), 6 with bias 0 and tiny weights.
  Matrix<double> W0 = Matrix<double>::Constant(10, 4, 1e-3), W1 = Matrix<double>::Constant(2, 10, 0.1);
  Vector<double> b0 = Vector<double>::Zero(10);
  b0.head(4).setConstant(50.0);
  Network<double> net;
  net.loss = Loss::quadratic;
  net.layers.push_back({Activation::sigmoid, W0, b0});
  net.layers.push_back({Activation::sigmoid, W1, Vector<double>::Zero(2)});
  const auto data = random_set(4, 50, 2, 23);
  w::Options wo;
  wo.saturated_warning = 0.3;
  const auto run = w::train_watched(net, data, sgd(1e-6, 5, 1), nullptr, wo);
  for (const auto& st : run.watch.steps) EXPECT_DOUBLE_EQ(st.layers[0].saturated_fraction, 0.4);
  EXPECT_DOUBLE_EQ(run.watch.epochs[0].layers[0].saturated_fraction, 0.4);
  EXPECT_NEAR(run.watch.epochs[0].layers[0].max_abs_z, 50.0, 0.02);
  const w::Finding* f = run.watch.find(w::Kind::saturated_units);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->layer, 0);
  EXPECT_DOUBLE_EQ(f->evidence[0].value, 0.4);
  // At the default threshold (50 %) the same run says nothing of the kind.
  auto net2 = net;
  EXPECT_FALSE(has_kind(w::train_watched(net2, data, sgd(1e-6, 5, 1)).watch, w::Kind::saturated_units));
}

TEST(WatchLayers, MeasuresTheUpdateRatioOfEachLayer) {
  const auto data = random_set(6, 60, 3, 24);
  for (Optimizer o : {Optimizer::sgd, Optimizer::momentum, Optimizer::adam}) {
    auto net = make_network({6, 5, 3}, Activation::tanh, Activation::softmax, Loss::cross_entropy, Init::xavier, 4);
    TrainOptions opt = sgd(0.05, 6, 1);
    opt.optimizer = o;
    // Reference: the parameters before and after each update.
    std::vector<std::vector<double>> ratios;
    Network<double> before;
    Callbacks<double> ref;
    ref.before_update = [&](const Step<double>& s) {
      before = s.network;
      return Control::proceed;
    };
    ref.after_update = [&](const Step<double>& s) {
      std::vector<double> r;
      for (std::size_t l = 0; l < s.network.layers.size(); ++l) {
        const auto& a = s.network.layers[l];
        const auto& b = before.layers[l];
        const double moved = std::sqrt((a.weights - b.weights).squaredNorm() + (a.biases - b.biases).squaredNorm());
        r.push_back(moved / std::sqrt(b.weights.squaredNorm() + b.biases.squaredNorm()));
      }
      ratios.push_back(r);
      return Control::proceed;
    };
    w::Watch watch({}, opt);
    Trainer<double>(net, opt, watch.callbacks(ref)).train(data);
    const auto r = watch.result();
    ASSERT_EQ(r.steps.size(), ratios.size());
    for (std::size_t t = 0; t < ratios.size(); ++t)
      for (std::size_t l = 0; l < 2; ++l)
        EXPECT_NEAR(r.steps[t].layers[l].update_ratio, ratios[t][l], 1e-9 * ratios[t][l])
            << to_string(o) << " step " << t << " layer " << l;
  }
}

// Activation, gradient and weight norms against an independent observer that
// computes them from the engine's tensors by their definitions (watch.hpp):
// gradient-norm clipping is on, so a norm taken after clipping would differ.
TEST(WatchLayers, MeasuresActivationGradientAndWeightNormsByTheirDefinitions) {
  const auto data = random_set(7, 90, 3, 27);
  auto net = make_network({7, 6, 5, 3}, Activation::relu, Activation::softmax, Loss::cross_entropy, Init::gaussian, 7);
  TrainOptions opt = sgd(0.5, 9, 2);
  opt.clip_norm = 0.05;
  struct Norms {
    std::vector<double> act, grad, weight;
    double clip_scale;
  };
  std::vector<Norms> ref;
  Callbacks<double> observe;
  observe.before_update = [&](const Step<double>& s) {
    Norms n;
    const double m = static_cast<double>(s.inputs.cols());
    for (std::size_t l = 0; l < s.network.layers.size(); ++l) {
      n.act.push_back(s.forward.a[l + 1].norm() / std::sqrt(m));
      n.grad.push_back(std::sqrt(s.gradients.weights[l].squaredNorm() + s.gradients.biases[l].squaredNorm()));
      n.weight.push_back(std::sqrt(s.network.layers[l].weights.squaredNorm() + s.network.layers[l].biases.squaredNorm()));
    }
    n.clip_scale = s.clip_scale;
    ref.push_back(n);
    return Control::proceed;
  };
  w::Watch watch({}, opt);
  Trainer<double>(net, opt, watch.callbacks(observe)).train(data);
  const auto r = watch.result();
  ASSERT_EQ(r.steps.size(), ref.size());
  ASSERT_EQ(ref.size(), 20u);
  Index clipped = 0;
  for (std::size_t t = 0; t < ref.size(); ++t) {
    clipped += ref[t].clip_scale < 1 ? 1 : 0;
    EXPECT_DOUBLE_EQ(r.steps[t].clip_scale, ref[t].clip_scale);
    for (std::size_t l = 0; l < 3; ++l) {
      const auto& st = r.steps[t].layers[l];
      EXPECT_NEAR(st.activation_norm, ref[t].act[l], 1e-12 * ref[t].act[l]) << "step " << t << " layer " << l;
      EXPECT_NEAR(st.gradient_norm, ref[t].grad[l], 1e-12 * ref[t].grad[l]) << "step " << t << " layer " << l;
      EXPECT_NEAR(st.weight_norm, ref[t].weight[l], 1e-12 * ref[t].weight[l]) << "step " << t << " layer " << l;
    }
  }
  EXPECT_GT(clipped, 10) << "clipping must be active for the 'before clipping' claim to be tested";
  // Per epoch, the norms are the means over the epoch's steps.
  for (std::size_t l = 0; l < 3; ++l) {
    double sum = 0;
    for (std::size_t t = 10; t < 20; ++t) sum += ref[t].grad[l];
    EXPECT_NEAR(r.epochs[1].layers[l].gradient_norm, sum / 10, 1e-12 * sum);
  }
}

// Under SGD with callbacks that read no dL/dW, the trainer does not write it and
// the watch takes a wide layer's gradient norm from the m × m Gram matrices
// (layer 0 here: 5 · (6 + 120) < 6 · 120); it must still be the norm of δ aᵀ.
TEST(WatchLayers, TakesAWideLayersGradientNormFromGramMatricesAsByItsDefinition) {
  const auto data = random_set(120, 40, 3, 28);
  auto net = make_network({120, 6, 3}, Activation::tanh, Activation::softmax, Loss::cross_entropy, Init::gaussian, 8);
  const TrainOptions opt = sgd(0.1, 5, 1);
  std::vector<std::vector<double>> ref;
  Index written = 0;
  Callbacks<double> observe;
  observe.weight_gradients = false;
  observe.before_update = [&](const Step<double>& s) {
    std::vector<double> n;
    for (std::size_t l = 0; l < s.network.layers.size(); ++l) {
      written += s.gradients.weights[l].size() > 0 ? 1 : 0;
      const Matrix<double> dw = s.gradients.deltas[l] * s.forward.a[l].transpose();
      n.push_back(std::sqrt(dw.squaredNorm() + s.gradients.biases[l].squaredNorm()));
    }
    ref.push_back(n);
    return Control::proceed;
  };
  w::Watch watch({}, opt);
  Trainer<double>(net, opt, watch.callbacks(observe)).train(data);
  const auto r = watch.result();
  EXPECT_EQ(written, 0) << "the trainer wrote dL/dW: the Gram path was not taken";
  ASSERT_EQ(r.steps.size(), ref.size());
  for (std::size_t t = 0; t < ref.size(); ++t)
    for (std::size_t l = 0; l < 2; ++l)
      EXPECT_NEAR(r.steps[t].layers[l].gradient_norm, ref[t][l], 1e-12 * ref[t][l]) << "step " << t << " layer " << l;
}

// detail::gram_norm is ‖δ aᵀ‖_F to 1e-7 whenever it answers (compared with the
// product in long double), including batches whose per-sample gradients nearly
// cancel; it declines (NaN) only when the product is less work or the sum has
// cancelled, so on same-signed data of a wide layer it always answers.
RC_GTEST_PROP(WatchGram, TheGramNormIsTheProductsNormWheneverItAnswers, ()) {
  const Index units = *rc::gen::inRange<Index>(1, 12), inputs = *rc::gen::inRange<Index>(1, 200);
  const Index m = *rc::gen::inRange<Index>(1, 9);
  const double cancel = *rc::gen::element(0.0, 1e-3, 1e-9);  // sample 2k+1 undoes 2k but for this
  const bool same_sign = *rc::gen::arbitrary<bool>();
  Rng rng(*rc::gen::inRange<std::uint64_t>(0, 1u << 30));
  Matrix<double> d(units, m), a(inputs, m);
  for (Index k = 0; k < d.size(); ++k) d.data()[k] = same_sign ? rng.uniform() : rng.normal();
  for (Index k = 0; k < a.size(); ++k) a.data()[k] = same_sign ? rng.uniform() : rng.normal();
  if (!same_sign)
    for (Index c = 1; c < m; c += 2) {
      a.col(c) = a.col(c - 1);
      d.col(c) = -(1 + cancel) * d.col(c - 1);
    }
  long double exact = 0;
  for (Index i = 0; i < units; ++i)
    for (Index j = 0; j < inputs; ++j) {
      long double e = 0;
      for (Index k = 0; k < m; ++k) e += static_cast<long double>(d(i, k)) * a(j, k);
      exact += e * e;
    }
  const double want = static_cast<double>(std::sqrt(exact));
  const double got = w::detail::gram_norm(d, a);
  const bool cheaper = m * (units + inputs) < units * inputs;
  if (!cheaper) RC_ASSERT(std::isnan(got));
  if (cheaper && same_sign) RC_ASSERT(!std::isnan(got));
  if (!std::isnan(got)) RC_ASSERT(std::abs(got - want) <= 1e-7 * want);
}

// ---------------------------------------------------------------------------
// The loss over the run

TEST(WatchLoss, DetectsAPlateauWhenTheLossDoesNotMove) {
  const auto data = random_set(6, 200, 3, 25);
  auto net = make_network({6, 8, 3}, Activation::sigmoid, Activation::softmax, Loss::cross_entropy, Init::xavier, 5);
  w::Options wo;
  wo.loss_window = 5;
  // Full batches: every step sees the same 200 samples, so only learning could move the loss.
  const auto run = w::train_watched(net, data, sgd(1e-9, 200, 60), nullptr, wo);
  ASSERT_EQ(run.watch.loss_windows.size(), 12u);
  const w::Finding* f = run.watch.find(w::Kind::plateau);
  ASSERT_NE(f, nullptr) << findings_text(run.watch.findings);
  EXPECT_EQ(f->severity, w::Severity::warning) << "stuck at the first window's loss";
  EXPECT_EQ(f->evidence[3].value, 11.0) << "no window after the first improved";
  EXPECT_NE(f->message.find("stuck"), std::string::npos);
}

TEST(WatchLoss, DetectsDivergenceBeforeAnythingOverflows) {
  // 1 → 1 identity at η = 2.2: a ← a(1 − 4.4) = −3.4a, |a| = 3.4^t stays finite for 60 steps.
  auto net = one_layer(Activation::identity, Loss::quadratic, matrix({{1.0}}), vector({0.0}));
  w::Options wo;
  wo.loss_window = 5;
  const auto run = w::train_watched(net, dataset(matrix({{1.0}}), matrix({{0.0}})), sgd(2.2, 1, 60), nullptr, wo);
  EXPECT_FALSE(run.watch.first_non_finite.has_value());
  const w::Finding* f = run.watch.find(w::Kind::divergence);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, w::Severity::error);
  // Window means grow 3.4² per step: window 1 (steps 5–9) is already beyond 10 × window 0.
  EXPECT_EQ(f->step, 9);
  EXPECT_GT(f->evidence[2].value, 10.0);
  EXPECT_EQ(run.watch.worst(), w::Severity::error);
}

TEST(WatchLoss, ReportsChanceAccuracyWhenOnlyTheTrainingSetIsMisread) {
  if (!have_fashion()) GTEST_SKIP() << "Debian package dataset-fashion-mnist is not installed";
  const auto training = idx::load(train_images, train_labels, idx::ByteReading::signed_char, 2000);
  const auto test = idx::load(test_images, test_labels, idx::ByteReading::unsigned_bytes, 1000);
  auto net = make_network({784, 30, 10}, Activation::sigmoid, Activation::sigmoid, Loss::quadratic, Init::gaussian, 1);
  const auto run = w::train_watched(net, training, sgd(3.0, 10, 1), &test);
  ASSERT_EQ(run.watch.epochs.size(), 1u);
  ASSERT_TRUE(run.watch.epochs[0].test.has_value());
  EXPECT_LT(run.watch.epochs[0].test->accuracy, 0.15);
  const w::Finding* f = run.watch.find(w::Kind::chance_accuracy);
  ASSERT_NE(f, nullptr) << findings_text(run.watch.findings);
  EXPECT_DOUBLE_EQ(f->evidence[0].value, run.watch.epochs[0].test->accuracy);
  EXPECT_DOUBLE_EQ(f->evidence[1].value, 0.1);
  ASSERT_FALSE(run.watch.findings.empty());
  EXPECT_EQ(run.watch.findings[0].kind, w::Kind::signed_bytes) << "input findings come first";
}

// `gradcheck train` scans the inputs on another thread during training and
// hands the result over afterwards (Watch::add_inputs): the same findings, in
// the same order, as when check_inputs runs first.
TEST(WatchLoss, InputSanityHandedOverAfterTrainingGivesTheSameFindingsFirst) {
  if (!have_fashion()) GTEST_SKIP() << "Debian package dataset-fashion-mnist is not installed";
  const auto training = idx::load(train_images, train_labels, idx::ByteReading::signed_char, 2000);
  const auto test = idx::load(test_images, test_labels, idx::ByteReading::unsigned_bytes, 1000);
  const auto run = [&](bool after) {
    auto net = make_network({784, 30, 10}, Activation::sigmoid, Activation::sigmoid, Loss::quadratic, Init::gaussian, 1);
    const TrainOptions options = sgd(3.0, 10, 1);
    w::Watch watch({}, options);
    if (!after) watch.check_inputs(training);
    Trainer<double> trainer(net, options, watch.callbacks());
    trainer.train(training, &test);
    if (after) watch.add_inputs(w::check_inputs(training));
    return watch.result();
  };
  const w::Result before = run(false), after = run(true);
  ASSERT_EQ(findings_text(after.findings), findings_text(before.findings));
  ASSERT_GE(after.findings.size(), 2u);
  EXPECT_EQ(after.findings[0].kind, w::Kind::signed_bytes);
  EXPECT_NE(after.find(w::Kind::chance_accuracy), nullptr) << "a training finding follows the input findings";
  ASSERT_TRUE(after.inputs.has_value());
  EXPECT_TRUE(after.inputs->signed_bytes);
}

// ---------------------------------------------------------------------------
// A healthy run, the cadence, and the callbacks

TEST(WatchRun, AHealthyRunProducesNoWarning) {
  if (!have_fashion()) GTEST_SKIP() << "Debian package dataset-fashion-mnist is not installed";
  const auto training = idx::load(train_images, train_labels, idx::ByteReading::unsigned_bytes, 3000);
  const auto test = idx::load(test_images, test_labels, idx::ByteReading::unsigned_bytes, 1000);
  auto net = make_network({784, 30, 10}, Activation::relu, Activation::softmax, Loss::cross_entropy, Init::he, 1);
  const auto run = w::train_watched(net, training, sgd(0.05, 10, 2), &test);
  EXPECT_EQ(run.watch.count(w::Severity::warning), 0u) << findings_text(run.watch.findings);
  EXPECT_EQ(run.watch.count(w::Severity::error), 0u) << findings_text(run.watch.findings);
  EXPECT_FALSE(run.watch.first_non_finite.has_value());
  ASSERT_EQ(run.watch.epochs.size(), 2u);
  EXPECT_GT(run.watch.epochs[1].test->accuracy, 0.7);
  EXPECT_EQ(run.watch.steps.size(), 600u);
  EXPECT_EQ(run.watch.steps_seen, 600);
  const auto& l0 = run.watch.epochs[1].layers[0];
  EXPECT_GT(l0.update_ratio, 1e-5);
  EXPECT_LT(l0.update_ratio, 0.1);
  EXPECT_LT(l0.dead_fraction, 0.1);
}

// Every kind of finding, provoked, carries a severity, a sentence, evidence
// (numbers) and a fix.
TEST(WatchRun, EveryKindOfFindingHasSeverityEvidenceAndAFix) {
  std::vector<w::Finding> all;
  const auto take = [&all](const std::vector<w::Finding>& fs) { all.insert(all.end(), fs.begin(), fs.end()); };
  // Input findings.
  const auto bytes = fashion_like_bytes(64 * 200, 17);
  take(w::check_inputs(as_matrix(bytes, 64, [](int b) { return (b > 127 ? b - 256 : b) / 255.0; })).findings);
  take(w::check_inputs(as_matrix(bytes, 64, [](int b) { return double(b); })).findings);
  Matrix<double> x = Matrix<double>::Random(6, 50);
  x.row(1).setConstant(0.25);
  x.row(3) *= 1e4;
  x(2, 7) = std::nan("");
  take(w::check_inputs(x).findings);
  // A run that overflows (non-finite, divergence).
  auto id = one_layer(Activation::identity, Loss::quadratic, matrix({{1.0}}), vector({0.0}));
  w::Options wo;
  wo.loss_window = 10;
  take(w::train_watched(id, dataset(matrix({{1.0}}), matrix({{0.0}})), sgd(3.0, 1, 1000), nullptr, wo).watch.findings);
  // A stuck run (plateau) tested on other random labels (chance accuracy).
  const auto data = random_set(6, 200, 4, 25), other = random_set(6, 200, 4, 99);
  auto stuck = make_network({6, 8, 4}, Activation::sigmoid, Activation::softmax, Loss::cross_entropy, Init::xavier, 5);
  wo.loss_window = 5;
  take(w::train_watched(stuck, data, sgd(1e-9, 200, 60), &other, wo).watch.findings);
  // Dead relu units, large updates.
  auto dead = make_network({6, 40, 4}, Activation::relu, Activation::softmax, Loss::cross_entropy, Init::gaussian, 8);
  for (Index j = 0; j < 40; j += 2) dead.layers[0].biases(j) = -1e3;
  take(w::train_watched(dead, data, sgd(3.0, 1, 1)).watch.findings);
  // Saturated sigmoid units.
  auto sat = make_network({6, 8, 4}, Activation::sigmoid, Activation::sigmoid, Loss::quadratic, Init::gaussian, 9);
  sat.layers[0].weights *= 100;
  take(w::train_watched(sat, data, sgd(0.1, 10, 1)).watch.findings);

  std::set<w::Kind> seen;
  for (const auto& f : all) {
    seen.insert(f.kind);
    EXPECT_FALSE(f.message.empty()) << w::to_string(f.kind);
    EXPECT_FALSE(f.fix.empty()) << w::to_string(f.kind) << ": " << f.message;
    EXPECT_FALSE(f.evidence.empty()) << w::to_string(f.kind) << ": " << f.message;
    for (const auto& e : f.evidence) EXPECT_FALSE(e.label.empty()) << w::to_string(f.kind);
    const bool error_kind = f.kind == w::Kind::non_finite_inputs || f.kind == w::Kind::signed_bytes ||
                            f.kind == w::Kind::non_finite || f.kind == w::Kind::divergence;
    EXPECT_EQ(f.severity == w::Severity::error, error_kind) << w::to_string(f.kind) << ": " << f.message;
  }
  for (w::Kind k : {w::Kind::non_finite_inputs, w::Kind::signed_bytes, w::Kind::unscaled_inputs, w::Kind::feature_scales,
                    w::Kind::constant_features, w::Kind::non_finite, w::Kind::divergence, w::Kind::plateau,
                    w::Kind::dead_units, w::Kind::saturated_units, w::Kind::large_updates, w::Kind::chance_accuracy})
    EXPECT_EQ(seen.count(k), 1u) << "not provoked: " << w::to_string(k) << findings_text(all);
}

TEST(WatchRun, EpochCadenceKeepsAggregatesAndTheHistoryOnly) {
  auto net = one_layer(Activation::identity, Loss::quadratic, matrix({{1.0}}), vector({0.0}));
  w::Options wo;
  wo.cadence = w::Cadence::epoch;
  wo.stats_every = 3;
  wo.history = 8;
  const auto run = w::train_watched(net, dataset(matrix({{1.0, 1.0}}), matrix({{0.0, 0.0}})), sgd(3.0, 1, 1000), nullptr, wo);
  EXPECT_TRUE(run.watch.steps.empty());
  ASSERT_TRUE(run.watch.first_non_finite.has_value());
  const auto& nf = *run.watch.first_non_finite;
  EXPECT_EQ(nf.step, 221) << "statistics every 3rd step, the non-finite check every step";
  ASSERT_EQ(nf.history.size(), 8u);
  EXPECT_EQ(nf.history.back().step, 221);
  EXPECT_EQ(nf.history[nf.history.size() - 2].step % 3, 0);
  EXPECT_EQ(run.watch.epochs.size(), 111u) << "110 whole epochs and the interrupted one";
  EXPECT_EQ(run.watch.epochs.back().steps, 2);
}

TEST(WatchRun, ChainedCallbacksCanStopTheRunAndThePartialResultStands) {
  const auto data = random_set(4, 100, 2, 26);
  auto net = make_network({4, 3, 2}, Activation::tanh, Activation::softmax, Loss::cross_entropy, Init::xavier, 6);
  const auto opt = sgd(0.1, 10, 3);
  w::Watch watch({}, opt);
  Callbacks<double> then;
  Index seen = 0;
  then.after_update = [&](const Step<double>& s) {
    ++seen;
    return s.step == 14 ? Control::stop : Control::proceed;
  };
  const History h = Trainer<double>(net, opt, watch.callbacks(then)).train(data);
  EXPECT_TRUE(h.stopped);
  EXPECT_EQ(seen, 15);
  const auto r = watch.result();
  EXPECT_EQ(r.steps_seen, 15);
  EXPECT_EQ(r.steps.size(), 15u);
  ASSERT_EQ(r.epochs.size(), 2u) << "epoch 0 and the interrupted epoch 1";
  EXPECT_EQ(r.epochs[1].steps, 5);
  EXPECT_FALSE(r.stopped) << "the watch itself did not stop it";
}

}  // namespace
}  // namespace gradcheck
