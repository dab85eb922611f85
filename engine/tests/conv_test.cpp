// The convolution and pooling kernels (conv.hpp): hand-computed examples, the
// forward against the definition written as plain loops, every gradient against
// 50-digit central differences and complex step, the adjoint identity as a
// property, the max-pool tie rule and its margins, and every validation message.
#include "test_helpers.hpp"

#include <gradcheck/engine/conv.hpp>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cmath>
#include <complex>
#include <cstdint>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace gradcheck {
namespace {

using Big = cpp_bin_float_50;
using Cx = std::complex<double>;
using Kind = PoolGeometry::Kind;

Matrix<double> uniform(Index rows, Index cols, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  Matrix<double> m(rows, cols);
  for (Index k = 0; k < m.size(); ++k) m.data()[k] = u(rng);
  return m;
}

template <class T>
Matrix<T> as(const Matrix<double>& m) {
  return m.unaryExpr([](double v) { return T(v); });
}

// 1, 2, ..., 16: a 1 × 4 × 4 image, feature y·4 + x holds y·4 + x + 1.
Matrix<double> one_to_sixteen() {
  Matrix<double> x(16, 1);
  for (Index k = 0; k < 16; ++k) x(k, 0) = double(k + 1);
  return x;
}

void expect_column(const Matrix<double>& got, const std::vector<double>& expected, const std::string& what) {
  ASSERT_EQ(got.rows(), Index(expected.size())) << what;
  for (Index k = 0; k < got.rows(); ++k) EXPECT_EQ(got(k, 0), expected[std::size_t(k)]) << what << " entry " << k;
}

// The definition in the header, one loop per index, nothing shared with the engine.
Matrix<double> conv_by_definition(const ConvGeometry& g, const Matrix<double>& W, const Vector<double>& b,
                                  const Matrix<double>& X) {
  const Index OH = g.out_h(), OW = g.out_w();
  Matrix<double> Z(g.output_size(), X.cols());
  for (Index n = 0; n < X.cols(); ++n)
    for (Index o = 0; o < g.out_channels; ++o)
      for (Index oy = 0; oy < OH; ++oy)
        for (Index ox = 0; ox < OW; ++ox) {
          double z = b(o);
          for (Index i = 0; i < g.in_channels; ++i)
            for (Index u = 0; u < g.kernel_h; ++u)
              for (Index v = 0; v < g.kernel_w; ++v) {
                const Index y = oy * g.stride - g.padding + u, x = ox * g.stride - g.padding + v;
                if (y < 0 || y >= g.height || x < 0 || x >= g.width) continue;
                z += W(o, (i * g.kernel_h + u) * g.kernel_w + v) * X((i * g.height + y) * g.width + x, n);
              }
          Z((o * OH + oy) * OW + ox, n) = z;
        }
  return Z;
}

// dX by scattering, as a hand-written backward would, with the bugs the adjoint
// identity must catch: the stride taken as 1, the padding left out.
enum class ScatterBug { none, stride_taken_as_one, padding_ignored };
Matrix<double> scattered_input_gradient(const ConvGeometry& g, const Matrix<double>& W, const Matrix<double>& dZ,
                                        ScatterBug bug) {
  const Index OH = g.out_h(), OW = g.out_w();
  const Index s = bug == ScatterBug::stride_taken_as_one ? 1 : g.stride;
  const Index p = bug == ScatterBug::padding_ignored ? 0 : g.padding;
  Matrix<double> dX = Matrix<double>::Zero(g.input_size(), dZ.cols());
  for (Index n = 0; n < dZ.cols(); ++n)
    for (Index o = 0; o < g.out_channels; ++o)
      for (Index oy = 0; oy < OH; ++oy)
        for (Index ox = 0; ox < OW; ++ox)
          for (Index i = 0; i < g.in_channels; ++i)
            for (Index u = 0; u < g.kernel_h; ++u)
              for (Index v = 0; v < g.kernel_w; ++v) {
                const Index y = oy * s - p + u, x = ox * s - p + v;
                if (y < 0 || y >= g.height || x < 0 || x >= g.width) continue;
                dX((i * g.height + y) * g.width + x, n) +=
                    W(o, (i * g.kernel_h + u) * g.kernel_w + v) * dZ((o * OH + oy) * OW + ox, n);
              }
  return dX;
}

// ---------------------------------------------------------------------------
// Forward, by hand

TEST(ConvGeometry, OutputSizeIsThePaddedInputLessTheKernelOverTheStridePlusOne) {
  EXPECT_EQ((ConvGeometry{1, 28, 28, 6, 5, 5}.out_h()), 24);
  EXPECT_EQ((ConvGeometry{1, 28, 28, 6, 5, 5, 1, 2}.out_w()), 28);
  EXPECT_EQ((ConvGeometry{1, 5, 5, 1, 2, 2, 2, 0}.out_h()), 2) << "the last row does not fit a window: dropped";
  EXPECT_EQ((ConvGeometry{2, 7, 6, 3, 3, 2, 2, 1}.output_size()), 3 * 4 * 4);
  EXPECT_EQ((ConvGeometry{2, 7, 6, 3, 3, 2, 2, 1}.weight_cols()), 2 * 3 * 2);
  EXPECT_EQ((PoolGeometry{Kind::max, 6, 24, 24, 2, 2}.output_size()), 6 * 12 * 12);
}

TEST(Conv2d, ForwardIsCrossCorrelationWithoutAKernelFlip) {
  const ConvGeometry g{1, 4, 4, 2, 2, 2};
  // channel 0: [[1, 2], [3, 4]] + 0.5; channel 1 picks the lower-right tap, − 1.
  const Matrix<double> W = testing::matrix({{1, 2, 3, 4}, {0, 0, 0, 1}});
  Matrix<double> Z;
  conv2d_forward(g, W, testing::vector({0.5, -1}), one_to_sixteen(), Z);
  // 1·x(y,x) + 2·x(y,x+1) + 3·x(y+1,x) + 4·x(y+1,x+1) + 0.5 = 10·x(y,x) + 34.5; flipped it would be + 16.5.
  expect_column(Z, {44.5, 54.5, 64.5, 84.5, 94.5, 104.5, 124.5, 134.5, 144.5,  //
                    5, 6, 7, 9, 10, 11, 13, 14, 15},
                "stride 1, padding 0");
}

TEST(Conv2d, StrideTwoSkipsEveryOtherPositionAndPaddingReadsZeros) {
  const ConvGeometry g{1, 4, 4, 1, 2, 2, 2, 1};
  Matrix<double> Z;
  conv2d_forward(g, testing::matrix({{1, 2, 3, 4}}), testing::vector({0.5}), one_to_sixteen(), Z);
  // Window (oy, ox) covers rows 2oy − 1, 2oy and columns 2ox − 1, 2ox of the image;
  // e.g. (0, 0) sees only x(0,0) = 1, under the weight 4: 4 + 0.5.
  expect_column(Z, {4.5, 18.5, 12.5, 46.5, 94.5, 44.5, 26.5, 44.5, 16.5}, "stride 2, padding 1");
}

TEST(Conv2d, ForwardMatchesTheDefinitionWrittenAsLoops) {
  const ConvGeometry geometries[] = {{2, 5, 6, 3, 2, 3, 1, 0}, {3, 7, 5, 2, 3, 3, 2, 2}, {1, 6, 6, 4, 1, 4, 3, 1},
                                     {2, 3, 4, 2, 4, 5, 1, 2}, {1, 28, 28, 6, 5, 5}};
  for (std::uint64_t row = 0; row < std::size(geometries); ++row) {
    const ConvGeometry& g = geometries[row];
    const Matrix<double> W = uniform(g.out_channels, g.weight_cols(), 3 * row),
                         X = uniform(g.input_size(), 5, 3 * row + 1);
    const Vector<double> b = uniform(g.out_channels, 1, 3 * row + 2);
    Matrix<double> Z;
    conv2d_forward(g, W, b, X, Z);
    const Matrix<double> expected = conv_by_definition(g, W, b, X);
    EXPECT_LE((Z - expected).cwiseAbs().maxCoeff(), 1e-13) << "geometry " << row;
  }
}

TEST(MaxPool, TwoByTwoWindowsAtStrideTwoKeepTheLargestOfEach) {
  Matrix<double> Z;
  max_pool_forward(PoolGeometry{Kind::max, 1, 4, 4, 2, 2}, one_to_sixteen(), Z);
  expect_column(Z, {6, 8, 14, 16}, "max pool 2 × 2 / 2");
  max_pool_forward(PoolGeometry{Kind::max, 1, 4, 4, 3, 1}, one_to_sixteen(), Z);
  expect_column(Z, {11, 12, 15, 16}, "overlapping windows 3 × 3 / 1");
}

TEST(AvgPool, DividesEachWindowSumByTheWindowAreaBothWays) {
  const PoolGeometry g{Kind::avg, 1, 4, 4, 2, 2};
  Matrix<double> Z, dX;
  avg_pool_forward(g, one_to_sixteen(), Z);
  expect_column(Z, {3.5, 5.5, 11.5, 13.5}, "avg pool forward");
  avg_pool_backward(g, testing::matrix({{4}, {8}, {12}, {16}}), dX);
  expect_column(dX, {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}, "avg pool backward");
}

TEST(Pooling, WindowsThatDoNotFitAreDroppedAndTheirEntriesGetNoGradient) {
  for (Kind kind : {Kind::max, Kind::avg}) {
    const PoolGeometry g{kind, 1, 5, 5, 2, 2};
    ASSERT_EQ(g.output_size(), 4);
    const Matrix<double> X = uniform(25, 1, 7);
    Matrix<double> Z, dX;
    pool_forward(g, X, Z);
    pool_backward(g, X, Matrix<double>(Matrix<double>::Ones(4, 1)), dX);
    for (Index k = 0; k < 5; ++k) {
      EXPECT_EQ(dX(4 * 5 + k, 0), 0) << to_string(kind) << ": last row, x " << k;
      EXPECT_EQ(dX(k * 5 + 4, 0), 0) << to_string(kind) << ": last column, y " << k;
    }
    EXPECT_EQ(dX.sum(), 4.0) << to_string(kind) << ": every window passes its 1 on";
  }
}

// ---------------------------------------------------------------------------
// Backward against the references

// Σ R ⊙ f(θ), the scalar whose gradient a backward with dZ = R computes, in the
// scalar T, with entry k of tensor t (0: W, 1: b, 2: X) moved by `step`.
struct ConvCase {
  ConvGeometry g;
  Matrix<double> W, X, R;
  Vector<double> b;
};

ConvCase random_case(const ConvGeometry& g, Index batch, std::uint64_t seed) {
  return {g, uniform(g.out_channels, g.weight_cols(), seed), uniform(g.input_size(), batch, seed + 1),
          uniform(g.output_size(), batch, seed + 2), uniform(g.out_channels, 1, seed + 3)};
}

template <class T>
T conv_objective(const ConvCase& c, int t, Index k, const T& step) {
  Matrix<T> W = as<T>(c.W), X = as<T>(c.X), Z;
  Vector<T> b = as<T>(c.b);
  (t == 0 ? W.data() : t == 1 ? b.data() : X.data())[k] += step;
  conv2d_forward(c.g, W, b, X, Z);
  return Z.cwiseProduct(as<T>(c.R)).sum();
}

// Gradient entry by gradient entry: the double, long double and 50-digit
// backward against 50-digit central differences (exact up to rounding: the
// objective is linear in each entry), and complex step against both.
void expect_conv_gradients_match_references(const ConvCase& c, const std::string& label) {
  Matrix<double> dW, dX;
  Vector<double> db;
  conv2d_backward(c.g, c.W, c.X, c.R, dW, db, &dX);
  Matrix<Big> bW, bX;
  Vector<Big> bb;
  conv2d_backward(c.g, as<Big>(c.W), as<Big>(c.X), as<Big>(c.R), bW, bb, &bX);
  Matrix<long double> lW, lX;
  Vector<long double> lb;
  conv2d_backward(c.g, as<long double>(c.W), as<long double>(c.X), as<long double>(c.R), lW, lb, &lX);
  const double* analytic[] = {dW.data(), db.data(), dX.data()};
  const Big* big[] = {bW.data(), bb.data(), bX.data()};
  const long double* wide[] = {lW.data(), lb.data(), lX.data()};
  const char* names[] = {"dW", "db", "dX"};
  const Big h("1e-20");
  const double ih = 1e-30;
  for (int t = 0; t < 3; ++t)
    for (Index k = 0; k < (t == 0 ? dW.size() : t == 1 ? db.size() : dX.size()); ++k) {
      const Big numeric = (conv_objective<Big>(c, t, k, h) - conv_objective<Big>(c, t, k, Big(-h))) / (2 * h);
      const double r = static_cast<double>(numeric), tol = 1e-13 * (1 + std::abs(r));
      const double step = conv_objective<Cx>(c, t, k, Cx(0, ih)).imag() / ih;
      EXPECT_NEAR(analytic[t][k], r, tol) << label << ": double " << names[t] << "[" << k << "]";
      EXPECT_NEAR(step, r, tol) << label << ": complex step " << names[t] << "[" << k << "]";
      EXPECT_LE(static_cast<double>(abs(big[t][k] - numeric)), 1e-25) << label << ": 50-digit " << names[t] << "[" << k << "]";
      EXPECT_LE(std::abs(static_cast<double>(wide[t][k] - static_cast<long double>(numeric))), 1e-16 * (1 + std::abs(r)))
          << label << ": long double " << names[t] << "[" << k << "]";
    }
}

TEST(Conv2dBackward, EveryGradientMatchesFiftyDigitDifferencesAndComplexStep) {
  const struct {
    ConvGeometry g;
    const char* label;
  } rows[] = {
      {{2, 5, 6, 3, 2, 3, 1, 0}, "2→3 channels, 2×3 kernel, stride 1, padding 0"},
      {{2, 6, 5, 2, 3, 2, 2, 1}, "3×2 kernel, stride 2, padding 1"},
      {{3, 5, 5, 2, 3, 3, 2, 2}, "3 channels, stride 2, padding 2"},
      {{1, 7, 6, 2, 1, 3, 1, 1}, "1×3 kernel, stride 1, padding 1"},
      {{2, 6, 7, 2, 2, 2, 3, 2}, "stride 3 (gaps between windows), padding 2"},
  };
  std::uint64_t seed = 100;
  for (const auto& row : rows) expect_conv_gradients_match_references(random_case(row.g, 3, seed += 10), row.label);
}

TEST(Conv2dBackward, InputGradientIsSkippedWhenNotAskedForAndTheRestIsUnchanged) {
  const ConvCase c = random_case({2, 6, 5, 2, 3, 2, 2, 1}, 3, 5);
  Matrix<double> dW, dW2, dX;
  Vector<double> db, db2;
  conv2d_backward(c.g, c.W, c.X, c.R, dW, db, &dX);
  conv2d_backward(c.g, c.W, c.X, c.R, dW2, db2);
  EXPECT_EQ(dW, dW2);
  EXPECT_EQ(db, db2);
}

// Σ R ⊙ pool(X) with entry k of X moved by `step`.
template <class T>
T pool_objective(const PoolGeometry& g, const Matrix<double>& X, const Matrix<double>& R, Index k, const T& step) {
  Matrix<T> x = as<T>(X), Z;
  x.data()[k] += step;
  pool_forward(g, x, Z);
  return Z.cwiseProduct(as<T>(R)).sum();
}

TEST(PoolBackward, EveryGradientMatchesFiftyDigitDifferencesAndComplexStep) {
  const PoolGeometry geometries[] = {{Kind::max, 2, 5, 6, 2, 2}, {Kind::max, 2, 5, 5, 3, 1}, {Kind::max, 1, 7, 7, 2, 3},
                                     {Kind::avg, 2, 5, 6, 2, 2}, {Kind::avg, 2, 5, 5, 3, 1}, {Kind::avg, 1, 7, 7, 3, 2}};
  std::uint64_t seed = 200;
  for (const PoolGeometry& g : geometries) {
    const std::string label = std::string(to_string(g.kind)) + " window " + std::to_string(g.window) + " stride " +
                              std::to_string(g.stride);
    const Matrix<double> X = uniform(g.input_size(), 3, seed++), R = uniform(g.output_size(), 3, seed++);
    // No window within 1e-6 of a tie: the 1e-20 step cannot change a winner.
    ASSERT_TRUE(max_pool_margins(g, X, 1e-6).empty()) << label;
    Matrix<double> dX;
    pool_backward(g, X, R, dX);
    Matrix<Big> bX;
    pool_backward(g, as<Big>(X), as<Big>(R), bX);
    const Big h("1e-20");
    for (Index k = 0; k < X.size(); ++k) {
      const Big numeric = (pool_objective<Big>(g, X, R, k, h) - pool_objective<Big>(g, X, R, k, Big(-h))) / (2 * h);
      const double r = static_cast<double>(numeric);
      EXPECT_NEAR(dX.data()[k], r, 1e-15 * (1 + std::abs(r))) << label << ": double dX[" << k << "]";
      EXPECT_NEAR(pool_objective<Cx>(g, X, R, k, Cx(0, 1e-30)).imag() / 1e-30, r, 1e-15 * (1 + std::abs(r)))
          << label << ": complex step dX[" << k << "]";
      EXPECT_LE(static_cast<double>(abs(bX.data()[k] - numeric)), 1e-25) << label << ": 50-digit dX[" << k << "]";
    }
  }
}

// ---------------------------------------------------------------------------
// The adjoint identity: for the linear part Z₀ = conv(W, 0, X),
//   <dZ, Z₀> = <dX, X> = <dW, W>,  and <dZ, Z − Z₀> = <db, b>.
// A backward that forgets to dilate by the stride or to shift by the padding breaks it.

struct Inner {
  double value, scale;  // Σ aᵢbᵢ and Σ |aᵢbᵢ|, the size of its rounding errors
};
Inner inner(const Matrix<double>& a, const Matrix<double>& b) {
  return {a.cwiseProduct(b).sum(), a.cwiseProduct(b).cwiseAbs().sum()};
}
bool agree(const Inner& x, const Inner& y) {
  return std::abs(x.value - y.value) <= 1e-13 * (x.scale + y.scale) + 1e-300;
}

ConvGeometry any_conv_geometry() {
  ConvGeometry g;
  g.in_channels = *rc::gen::inRange<Index>(1, 4);
  g.out_channels = *rc::gen::inRange<Index>(1, 4);
  g.height = *rc::gen::inRange<Index>(1, 9);
  g.width = *rc::gen::inRange<Index>(1, 9);
  g.padding = *rc::gen::inRange<Index>(0, 3);
  g.kernel_h = *rc::gen::inRange<Index>(1, std::min<Index>(g.height + 2 * g.padding, 5) + 1);
  g.kernel_w = *rc::gen::inRange<Index>(1, std::min<Index>(g.width + 2 * g.padding, 5) + 1);
  g.stride = *rc::gen::inRange<Index>(1, 4);
  return g;
}

RC_GTEST_PROP(Conv2d, BackwardIsTheAdjointOfForwardOnRandomGeometries, ()) {
  const ConvGeometry g = any_conv_geometry();
  const Index batch = *rc::gen::inRange<Index>(1, 4);
  const auto seed = *rc::gen::arbitrary<std::uint32_t>();
  const ConvCase c = random_case(g, batch, seed);
  Matrix<double> Z0, Z, dW, dX;
  Vector<double> db;
  conv2d_forward(g, c.W, Vector<double>(Vector<double>::Zero(g.out_channels)), c.X, Z0);
  conv2d_forward(g, c.W, c.b, c.X, Z);
  conv2d_backward(g, c.W, c.X, c.R, dW, db, &dX);
  RC_ASSERT(agree(inner(c.R, Z0), inner(dX, c.X)));
  RC_ASSERT(agree(inner(c.R, Z0), inner(dW, c.W)));
  RC_ASSERT(agree(inner(c.R, Matrix<double>(Z - Z0)), inner(db, c.b)));
}

RC_GTEST_PROP(Pooling, BackwardIsTheAdjointOfForwardOnRandomGeometries, ()) {
  // Both are positively homogeneous of degree 1: <dZ, pool(X)> = <dX, X>.
  PoolGeometry g;
  g.kind = *rc::gen::element(Kind::max, Kind::avg);
  g.channels = *rc::gen::inRange<Index>(1, 4);
  g.height = *rc::gen::inRange<Index>(1, 9);
  g.width = *rc::gen::inRange<Index>(1, 9);
  g.window = *rc::gen::inRange<Index>(1, std::min(g.height, g.width) + 1);
  g.stride = *rc::gen::inRange<Index>(1, 4);
  const Index batch = *rc::gen::inRange<Index>(1, 4);
  const auto seed = *rc::gen::arbitrary<std::uint32_t>();
  const Matrix<double> X = uniform(g.input_size(), batch, seed), dZ = uniform(g.output_size(), batch, seed + 1);
  Matrix<double> Z, dX;
  pool_forward(g, X, Z);
  pool_backward(g, X, dZ, dX);
  RC_ASSERT(agree(inner(dZ, Z), inner(dX, X)));
}

TEST(Conv2d, AdjointIdentityCatchesAScatterThatForgetsTheStrideOrThePadding) {
  const ConvCase c = random_case({2, 7, 7, 2, 3, 3, 2, 1}, 2, 300);
  Matrix<double> Z0, dW, dX;
  Vector<double> db;
  conv2d_forward(c.g, c.W, Vector<double>(Vector<double>::Zero(2)), c.X, Z0);
  conv2d_backward(c.g, c.W, c.X, c.R, dW, db, &dX);
  const Matrix<double> scattered = scattered_input_gradient(c.g, c.W, c.R, ScatterBug::none);
  EXPECT_LE((scattered - dX).cwiseAbs().maxCoeff(), 1e-14) << "the engine's col2im is the plain scatter";
  EXPECT_TRUE(agree(inner(c.R, Z0), inner(scattered, c.X)));
  for (ScatterBug bug : {ScatterBug::stride_taken_as_one, ScatterBug::padding_ignored})
    EXPECT_FALSE(agree(inner(c.R, Z0), inner(scattered_input_gradient(c.g, c.W, c.R, bug), c.X)))
        << "bug " << int(bug);
}

// ---------------------------------------------------------------------------
// Max pool: the tie rule and the margins

// 1 × 2 × 6, windows 2 × 2 at stride 2: three windows, entries (c·2 + y)·6 + x.
//   window 0: 3 3 / 1 2     tied: the first 3 (feature 0) wins, the second (1) is runner-up
//   window 1: 5 0 / 5 5     tied three ways: feature 2 wins, feature 8 is runner-up
//   window 2: 4 1 / 2 2.5   no tie: feature 4 wins by 1.5 over feature 11
Matrix<double> tied_windows() { return testing::matrix({{3}, {3}, {5}, {0}, {4}, {1}, {1}, {2}, {5}, {5}, {2}, {2.5}}); }
const PoolGeometry tied_geometry{Kind::max, 1, 2, 6, 2, 2};

TEST(MaxPool, ATiedWindowSendsItsWholeGradientToTheFirstMaximalEntryOnly) {
  Matrix<double> dX;
  max_pool_backward(tied_geometry, tied_windows(), testing::matrix({{10}, {20}, {30}}), dX);
  expect_column(dX, {10, 0, 20, 0, 30, 0, 0, 0, 0, 0, 0, 0}, "max pool backward at ties");
}

// The tie rule by its definition: scan the window row by row, keep the first strictly larger.
Matrix<double> first_maximum_gradient(const PoolGeometry& g, const Matrix<double>& X, const Matrix<double>& dZ) {
  Matrix<double> dX = Matrix<double>::Zero(X.rows(), X.cols());
  for (Index n = 0; n < X.cols(); ++n)
    for (Index c = 0; c < g.channels; ++c)
      for (Index oy = 0; oy < g.out_h(); ++oy)
        for (Index ox = 0; ox < g.out_w(); ++ox) {
          Index best = -1;
          for (Index u = 0; u < g.window; ++u)
            for (Index v = 0; v < g.window; ++v) {
              const Index i = (c * g.height + oy * g.stride + u) * g.width + ox * g.stride + v;
              if (best < 0 || X(i, n) > X(best, n)) best = i;
            }
          dX(best, n) += dZ((c * g.out_h() + oy) * g.out_w() + ox, n);
        }
  return dX;
}

// Windows 2 and 3 take a branch-free form, other windows and inputs holding a NaN
// the general one: on inputs full of ties (relu outputs are) all follow one rule.
TEST(MaxPool, EveryWindowSizeAndFormFollowsTheSameTieRule) {
  for (Index window : {Index(2), Index(3), Index(4)}) {
    for (Index stride : {Index(1), window}) {
      const PoolGeometry g{Kind::max, 2, 9, 8, window, stride};
      Matrix<double> X = uniform(g.input_size(), 3, 40 + window).unaryExpr([](double v) { return std::floor(v * 1.5); });
      X.col(1).setZero();  // every window tied
      const Matrix<double> dZ = uniform(g.output_size(), 3, 50 + window);
      const std::string label = "window " + std::to_string(window) + " stride " + std::to_string(stride);
      const Matrix<double> expected = first_maximum_gradient(g, X, dZ);
      Matrix<double> Z, dX;
      max_pool_backward(g, X, dZ, dX);
      EXPECT_EQ(dX, expected) << label;
      max_pool_forward(g, X, Z);
      // With a NaN in a third sample the batch takes the general form: samples 0 and 1 are unchanged.
      Matrix<double> Xn = X, Zn, dXn;
      Xn(5, 2) = std::numeric_limits<double>::quiet_NaN();
      max_pool_forward(g, Xn, Zn);
      max_pool_backward(g, Xn, dZ, dXn);
      EXPECT_EQ(Zn.leftCols(2), Z.leftCols(2)) << label;
      EXPECT_EQ(dXn.leftCols(2), expected.leftCols(2)) << label;
    }
  }
}

TEST(MaxPool, ComplexStepComparesRealPartsSoAnImaginaryPerturbationBreaksNoTie) {
  Matrix<Cx> X = as<Cx>(tied_windows()), Z, dX;
  X(1, 0) += Cx(0, 1e-30);  // the second 3 of window 0, perturbed: still tied in its real part
  max_pool_forward(tied_geometry, X, Z);
  EXPECT_EQ(Z(0, 0), Cx(3, 0)) << "the first 3 still wins, so Z carries no derivative of the second";
  max_pool_backward(tied_geometry, X, as<Cx>(testing::matrix({{10}, {20}, {30}})), dX);
  EXPECT_EQ(dX(0, 0), Cx(10, 0));
  EXPECT_EQ(dX(1, 0), Cx(0, 0));
}

TEST(MaxPool, MarginsReportAZeroGapAtATieAndNameBothTiedEntries) {
  const auto all = max_pool_margins(tied_geometry, tied_windows());
  ASSERT_EQ(all.size(), 3u);
  const struct {
    Index out_x, first, second;
    double gap;
  } expected[] = {{0, 0, 1, 0.0}, {1, 2, 8, 0.0}, {2, 4, 11, 1.5}};
  for (std::size_t w = 0; w < 3; ++w) {
    EXPECT_EQ(all[w].sample, 0) << "window " << w;
    EXPECT_EQ(all[w].channel, 0) << "window " << w;
    EXPECT_EQ(all[w].out_y, 0) << "window " << w;
    EXPECT_EQ(all[w].out_x, expected[w].out_x) << "window " << w;
    EXPECT_EQ(all[w].first, expected[w].first) << "window " << w;
    EXPECT_EQ(all[w].second, expected[w].second) << "window " << w;
    EXPECT_EQ(all[w].gap, expected[w].gap) << "window " << w;
  }
  const auto near_ties = max_pool_margins(tied_geometry, tied_windows(), 1e-6);
  ASSERT_EQ(near_ties.size(), 2u) << "max_gap keeps only the windows within it";
  EXPECT_EQ(near_ties[1].out_x, 1);
}

TEST(MaxPool, MarginsAreComputedInTheScalarSoAFiftyDigitGapBelowDoubleResolutionIsSeen) {
  Matrix<Big> X = as<Big>(testing::matrix({{1}, {0}, {0}, {0}}));
  X(3, 0) = Big(1) - Big("1e-30");
  const auto m = max_pool_margins(PoolGeometry{Kind::max, 1, 2, 2, 2, 2}, X);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].second, 3);
  EXPECT_NEAR(m[0].gap, 1e-30, 1e-44);
}

TEST(MaxPool, AOneByOneWindowHasNoRunnerUpAndAnInfiniteGap) {
  const auto m = max_pool_margins(PoolGeometry{Kind::max, 1, 1, 2, 1, 1}, testing::matrix({{1}, {2}}));
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[1].first, 1);
  EXPECT_EQ(m[1].second, -1);
  EXPECT_EQ(m[1].gap, std::numeric_limits<double>::infinity());
}

TEST(MaxPool, ANaNWinsItsWindowSoThatItPropagates) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const PoolGeometry g{Kind::max, 1, 2, 2, 2, 2};
  const Matrix<double> X = testing::matrix({{1}, {nan}, {3}, {nan}});
  Matrix<double> Z, dX;
  max_pool_forward(g, X, Z);
  EXPECT_TRUE(std::isnan(Z(0, 0)));
  max_pool_backward(g, X, testing::matrix({{7}}), dX);
  expect_column(dX, {0, 7, 0, 0}, "the first NaN takes the gradient");
  EXPECT_TRUE(std::isnan(max_pool_margins(g, X)[0].gap));
}

// ---------------------------------------------------------------------------
// Validation: one line each, naming the field

TEST(Validate, EveryBadConvGeometryGetsOneLineNamingItsField) {
  const struct {
    ConvGeometry g;
    const char* message;
  } rows[] = {
      {{1, 4, 4, 2, 2, 2, 0, 0}, "layers[0].stride: must be at least 1, got 0"},
      {{1, 4, 4, 2, 2, 2, -2, 0}, "layers[0].stride: must be at least 1, got -2"},
      {{1, 4, 4, 2, 2, 2, 1, -1}, "layers[0].padding: must not be negative, got -1"},
      {{1, 2, 3, 1, 5, 2, 1, 1}, "layers[0].kernel_h: 5 is larger than the padded input height 4 (height 2 + 2 × padding 1)"},
      {{1, 4, 3, 1, 2, 4, 1, 0}, "layers[0].kernel_w: 4 is larger than the input width 3"},
      {{0, 4, 4, 2, 2, 2}, "layers[0].in_channels: must be at least 1, got 0"},
      {{1, 4, 4, 0, 2, 2}, "layers[0].out_channels: must be at least 1, got 0"},
      {{1, 0, 4, 2, 2, 2}, "layers[0].height: must be at least 1, got 0"},
      {{1, 4, 4, 2, 2, 0}, "layers[0].kernel_w: must be at least 1, got 0"},
      {{1, Index(1) << 62, 4, 2, 2, 2},
       "layers[0].height: 4611686018427387904 is more than the limit of 1048576 (max_layer_width, docs/limits.md)"},
      {{1048576, 1048576, 1048576, 1, 1, 1},
       "layers[0].input_size: 1048576 × 1048576 × 1048576 exceeds the limit of 1048576 features per sample "
       "(max_layer_width, docs/limits.md)"},
      {{1, 1024, 1024, 1048576, 1, 1, 1, 1048576},
       "layers[0].output_size: 1048576 × 2098176 × 2098176 exceeds the limit of 1048576 features per sample "
       "(max_layer_width, docs/limits.md)"},
      {{16, 256, 256, 1, 16, 16},
       "layers[0].unfolded: 16 × 16 × 16 × 241 × 241 exceeds the limit of 16777216 entries per sample "
       "(max_conv_unfolded, docs/limits.md)"},
  };
  for (const auto& row : rows)
    EXPECT_EQ(testing::input_error_of([&] { validate(row.g, "layers[0]"); }), row.message);
}

TEST(Validate, EveryBadPoolGeometryGetsOneLineNamingItsField) {
  const struct {
    PoolGeometry g;
    const char* message;
  } rows[] = {
      {{Kind::max, 6, 24, 24, 2, 0}, "layers[1].stride: must be at least 1, got 0"},
      {{Kind::avg, 6, 24, 24, 0, 2}, "layers[1].window: must be at least 1, got 0"},
      {{Kind::max, 0, 24, 24, 2, 2}, "layers[1].channels: must be at least 1, got 0"},
      {{Kind::max, 1, 2, 5, 3, 1}, "layers[1].window: 3 is larger than the input height 2"},
      {{Kind::avg, 1, 5, 2, 3, 1}, "layers[1].window: 3 is larger than the input width 2"},
      {{Kind::max, 2048, 1024, 1024, 2, 2},
       "layers[1].input_size: 2048 × 1024 × 1024 exceeds the limit of 1048576 features per sample "
       "(max_layer_width, docs/limits.md)"},
  };
  for (const auto& row : rows)
    EXPECT_EQ(testing::input_error_of([&] { validate(row.g, "layers[1]"); }), row.message);
}

TEST(Validate, AcceptsLeNetFivesLayers) {
  EXPECT_NO_THROW(validate(ConvGeometry{1, 28, 28, 6, 5, 5, 1, 2}, "c1"));
  EXPECT_NO_THROW(validate(PoolGeometry{Kind::max, 6, 28, 28, 2, 2}, "s2"));
  EXPECT_NO_THROW(validate(ConvGeometry{6, 14, 14, 16, 5, 5}, "c3"));
  EXPECT_NO_THROW(validate(PoolGeometry{Kind::avg, 16, 10, 10, 2, 2}, "s4"));
  EXPECT_NO_THROW(validate(ConvGeometry{16, 5, 5, 120, 5, 5}, "c5"));
}

TEST(Conv2d, MisshapenArgumentsAreAProgrammingErrorNotAnInputError) {
  const ConvGeometry g{1, 4, 4, 2, 2, 2};
  Matrix<double> Z;
  try {
    conv2d_forward(g, Matrix<double>(Matrix<double>::Zero(2, 3)), testing::vector({0, 0}), one_to_sixteen(), Z);
    FAIL() << "no exception";
  } catch (const InputError&) {
    FAIL() << "an InputError";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "conv2d_forward: W is 2 × 3, expected 2 × 4");
  }
}

}  // namespace
}  // namespace gradcheck
