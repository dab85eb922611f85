// The implementation under test of the low-precision properties (textbook.hpp)
// and its scalars (emulated_float.hpp): in double it is the engine to 1e-7,
// with a bug injected it is the catalogue's mutation to 1e-7, in float it
// really computes in float; BFloat16 and Float16 round as those formats do.
#include "emulated_float.hpp"
#include "textbook.hpp"
#include "verify_test_support.hpp"
#include "../../../engine/tests/case_spaces.hpp"

#include <gradcheck/engine/case_format.hpp>
#include <gradcheck/probe/generators.hpp>
#include <gradcheck/verify/mutations.hpp>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iomanip>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace gradcheck {
namespace {

using testing::BFloat16;
using testing::Float16;
using testing::textbook_reply;

const double inf = std::numeric_limits<double>::infinity();

std::string number(double x) {
  std::ostringstream os;
  os << std::setprecision(17) << x;
  return os.str();
}

// "" when got is within tol of want normwise, ‖got − want‖ ≤ tol·max(‖want‖,
// floor), else what differs. The floor is for a tensor that is 0 or nearly so
// by cancellation (a hidden unit feeding two softmax classes with equal
// weights has dL/dz = 0 exactly; a textbook sum leaves 1e-17 there).
template <class M>
std::string normwise(const std::string& what, const M& got, const M& want, double tol, double floor) {
  if (got.rows() != want.rows() || got.cols() != want.cols()) return what + ": shape differs\n";
  const double err = (got - want).norm(), size = want.norm();
  if (err <= tol * std::max(size, floor)) return "";
  return what + ": ‖Δ‖ = " + number(err) + " against ‖want‖ = " + number(size) + "\n";
}

// The gradients' floor: 1e-6 of the reply's scale, the larger of its largest
// gradient tensor's norm and |L|, so that a difference of 1e-13 of that scale
// (a thousand roundings) is accepted on a tensor that cancelled to nearly 0
// (softmax's Jacobian of d − a·d with d nearly constant leaves 1e-10 of
// terms of 0.5).
double gradient_floor(const std::vector<Matrix<double>>& weights, const std::vector<Vector<double>>& biases,
                      double loss) {
  double largest = std::abs(loss);
  for (const auto& w : weights) largest = std::max(largest, w.norm());
  for (const auto& b : biases) largest = std::max(largest, b.norm());
  return 1e-6 * largest;
}

std::string compare_gradients(const Reply& got, const std::vector<Matrix<double>>& weights,
                              const std::vector<Vector<double>>& biases, double loss, double tol) {
  if (got.layers.size() != weights.size()) return "layer count differs\n";
  const double floor = gradient_floor(weights, biases, loss);
  std::string out;
  for (std::size_t l = 0; l < weights.size(); ++l) {
    const std::string at = "layers[" + std::to_string(l) + "]";
    out += normwise(at + ".weights", got.layers[l].weights, weights[l], tol, floor);
    out += normwise(at + ".biases", got.layers[l].biases, biases[l], tol, floor);
  }
  return out;
}

std::string compare_replies(const Reply& got, const Reply& want, double tol) {
  std::vector<Matrix<double>> w;
  std::vector<Vector<double>> b;
  for (const LayerGradient& g : want.layers) w.push_back(g.weights), b.push_back(g.biases);
  std::string out = compare_gradients(got, w, b, *want.loss, tol);
  out += normwise("outputs", *got.outputs, *want.outputs, tol, 0.0);
  if (!(std::abs(*got.loss - *want.loss) <= tol * std::abs(*want.loss)))
    out += "loss: " + number(*got.loss) + " against " + number(*want.loss) + "\n";
  return out;
}

// Whether the textbook formulas keep double's accuracy to 1e-7 on this case:
// no sigmoid, tanh or softmax unit within 1e-6 of saturation, where a(1 − a),
// 1 − a², ln(1 − a), 1/(1 − a) and the softmax Jacobian lose the digits
// 1 − |a| has lost (a sample's whole gradient can be 1e-10 there, known to
// 1e-6), and no relu kink within 1e-9 of z, where the order of a sum decides
// the side.
bool textbook_is_accurate(const Case& c) {
  const ForwardPass<double> fp = forward(c.network, c.inputs);
  const double margin = 1e-6;
  for (std::size_t l = 0; l < c.network.layers.size(); ++l) {
    const Activation act = c.network.layers[l].activation;
    const Matrix<double>& a = fp.a[l + 1];
    const Matrix<double>& z = fp.z[l];
    for (Index i = 0; i < a.size(); ++i) {
      const double v = a.data()[i], zv = z.data()[i];
      if ((act == Activation::sigmoid || act == Activation::softmax) && 1 - v < margin) return false;
      if (act == Activation::tanh && 1 - std::abs(v) < margin) return false;
      if (has_kink(act) && zv != 0 && std::abs(zv) < 1e-9) return false;
    }
  }
  return true;
}

RC_GTEST_PROP(Textbook, InDoubleMatchesTheEngine, ()) {
  const Case c = *gen::any_case(testing::unit_space(4, 6));
  RC_PRE(textbook_is_accurate(c));
  const std::string diff = compare_replies(textbook_reply<double>(c), testing::engine_reply(c, true), 1e-7);
  if (!diff.empty()) RC_FAIL(diff);
}

RC_GTEST_PROP(Textbook, EveryInjectedBugMatchesTheCatalogue, ()) {
  const Case c = *gen::any_case(testing::unit_space(4, 6));
  RC_PRE(textbook_is_accurate(c));
  const double L = loss(c.network, forward(c.network, c.inputs), c.targets);
  for (const Mutation& m : all_mutations) {
    if (!applies(m, c.network)) continue;
    const Gradients<double> want = mutated_gradients(c, m);
    const std::string diff = compare_gradients(textbook_reply<double>(c, m), want.weights, want.biases, L, 1e-7);
    if (!diff.empty()) RC_FAIL(std::string(to_string(m)) + ":\n" + diff);
  }
}

// Every hidden activation, loss, output activation the loss allows and
// reduction, on a 3-4-3 network with a batch of 3 (fixed numbers).
std::vector<Case> sweep_cases() {
  std::vector<Case> cases;
  int seed = 1;
  for (Activation hidden : all_activations) {
    if (hidden == Activation::softmax) continue;
    for (Loss loss : all_losses)
      for (Activation out : all_activations)
        for (Reduction r : {Reduction::mean, Reduction::sum})
          if (output_supports(loss, out))
            cases.push_back(testing::make_case({3, 4, 3}, {hidden, out}, loss, r, 3, seed++));
  }
  return cases;
}

// Each tensor of got within tol of want's largest entry; whether any entry differs.
struct Closeness {
  std::string far;
  bool differs = false;
};
template <class M>
void check_close(const std::string& what, const M& got, const M& want, double tol, Closeness& c) {
  const double err = (got - want).cwiseAbs().maxCoeff(), size = want.cwiseAbs().maxCoeff();
  if (err != 0) c.differs = true;
  if (!(err <= tol * size)) c.far += what + ": " + number(err) + " against " + number(size) + "\n";
}
Closeness closeness(const Reply& got, const Reply& want, double tol) {
  Closeness c;
  for (std::size_t l = 0; l < want.layers.size(); ++l) {
    check_close("weights", got.layers[l].weights, want.layers[l].weights, tol, c);
    check_close("biases", got.layers[l].biases, want.layers[l].biases, tol, c);
  }
  check_close("outputs", *got.outputs, *want.outputs, tol, c);
  const Vector<double> gl = Vector<double>::Constant(1, *got.loss), wl = Vector<double>::Constant(1, *want.loss);
  check_close("loss", gl, wl, tol, c);
  return c;
}

TEST(Textbook, FloatRepliesDifferFromDoubleByRounding) {
  for (const Case& c : sweep_cases()) {
    const Closeness f = closeness(textbook_reply<float>(c), textbook_reply<double>(c), 1e-3);
    EXPECT_TRUE(f.differs) << to_string(c.network.layers[0].activation) << " → "
                           << to_string(c.network.layers[1].activation) << ", " << to_string(c.network.loss);
    EXPECT_EQ(f.far, "") << to_string(c.network.layers[0].activation) << " → "
                         << to_string(c.network.layers[1].activation) << ", " << to_string(c.network.loss);
  }
}

// Within 0.1 of each tensor's largest entry: a few dozen ulps of the format,
// as cancellation in the softmax Jacobian costs (float16's 5e-4 becomes 2e-2 of
// a quadratic loss's weights); not across a relu kink, where a hidden z of 1e-4
// that rounds to 0 switches a unit off.
TEST(Textbook, EmulatedRepliesStayNearDoubleAtTheirPrecision) {
  for (const Case& c : sweep_cases()) {
    if (has_kink(c.network.layers[0].activation)) continue;
    const Reply d = textbook_reply<double>(c);
    const Closeness b = closeness(textbook_reply<BFloat16>(c), d, 0.1);
    const Closeness h = closeness(textbook_reply<Float16>(c), d, 0.1);
    const std::string what = std::string(to_string(c.network.layers[0].activation)) + " → " +
                             to_string(c.network.layers[1].activation) + ", " + to_string(c.network.loss);
    EXPECT_TRUE(b.differs) << what;
    EXPECT_EQ(b.far, "") << "bfloat16, " << what;
    EXPECT_TRUE(h.differs) << what;
    EXPECT_EQ(h.far, "") << "float16, " << what;
  }
}

// A sigmoid output that rounds to 0 in float under cross_entropy: ln 0 makes the
// loss infinite and −y/a · a(1 − a) = −inf · 0 the gradients NaN, recorded
// as the program's JSON would have them recorded.
TEST(Textbook, NonFiniteValuesAreRecordedAsTheParserRecordsThem) {
  Case c;
  c.network.loss = Loss::cross_entropy;
  c.network.layers.push_back({Activation::sigmoid, Matrix<double>::Constant(1, 2, 1.0), Vector<double>::Constant(1, -200)});
  c.inputs = Matrix<double>::Constant(2, 2, 1.0);
  c.targets = Matrix<double>::Constant(1, 2, 1.0);
  const Reply r = textbook_reply<float>(c);
  EXPECT_EQ(*r.loss, inf);
  EXPECT_TRUE(std::isnan(r.layers[0].weights(0, 1)));
  const Reply parsed = parse_reply(reply_to_json(r, -1), "textbook reply");
  EXPECT_EQ(r.non_finite_tokens, parsed.non_finite_tokens);
  EXPECT_EQ(r.non_finite_count, parsed.non_finite_count);
  EXPECT_EQ(r.non_finite_count, 4u);  // two weights, the bias, the loss
  EXPECT_EQ(textbook_reply<double>(c).non_finite_count, 0u);
}

// ---------------------------------------------------------------------------
// The emulated formats

double bf16(double x) { return static_cast<double>(BFloat16(x)); }
double f16(double x) { return static_cast<double>(Float16(x)); }

TEST(EmulatedFloat, BFloat16RoundsToNearestEven) {
  EXPECT_EQ(bf16(1.0 / 3), 0.333984375);
  EXPECT_EQ(bf16(1 + 0x1p-8), 1.0);                   // a tie: to the even neighbour 1
  EXPECT_EQ(bf16(1 + 3 * 0x1p-8), 1 + 0x1p-6);        // a tie: to the even neighbour above
  EXPECT_EQ(bf16(-(1 + 0x1p-8)), -1.0);
  EXPECT_EQ(bf16(1 + 0x1p-8 + 0x1p-40), 1 + 0x1p-7);  // above the tie: through float it would tie to 1
  EXPECT_EQ(bf16(0x1.fep127), 0x1.fep127);            // the largest finite number
  EXPECT_EQ(bf16(0x1.fefffp127), 0x1.fep127);
  EXPECT_EQ(bf16(0x1.ffp127), inf);                   // half an ulp beyond it: overflow
  EXPECT_EQ(bf16(-1e300), -inf);
  EXPECT_EQ(bf16(0x1p-133), 0x1p-133);                // the smallest subnormal
  EXPECT_EQ(bf16(0x1p-134), 0.0);                     // half of it ties to 0
  EXPECT_EQ(bf16(3 * 0x1p-135), 0x1p-133);
  EXPECT_EQ(bf16(0x1.234p-130), 0x1.2p-130);          // a subnormal keeps 4 bits here
  EXPECT_TRUE(std::isnan(bf16(std::nan(""))));
}

TEST(EmulatedFloat, Float16RoundsToNearestEven) {
  EXPECT_EQ(f16(1.0 / 3), 0.333251953125);
  EXPECT_EQ(f16(65504), 65504.0);
  EXPECT_EQ(f16(65519), 65504.0);
  EXPECT_EQ(f16(65520), inf);
  EXPECT_EQ(f16(0x1p-24), 0x1p-24);
  EXPECT_EQ(f16(0x1p-25), 0.0);
  EXPECT_EQ(f16(3 * 0x1p-26), 0x1p-24);
  EXPECT_EQ(f16(1 + 0x1p-11), 1.0);
  EXPECT_EQ(f16(1 + 3 * 0x1p-11), 1 + 0x1p-9);
  EXPECT_EQ(f16(2049), 2048.0);
  EXPECT_EQ(f16(2051), 2052.0);
  EXPECT_EQ(f16(1 + 0x1p-11 + 0x1p-40), 1 + 0x1p-10);
}

TEST(EmulatedFloat, EveryOperationRoundsToTheFormat) {
  EXPECT_EQ(static_cast<double>(BFloat16(1) / BFloat16(3)), 0.333984375);
  EXPECT_EQ(static_cast<double>(BFloat16(1) + BFloat16(0x1p-9)), 1.0);
  EXPECT_EQ(static_cast<double>(BFloat16(256) + BFloat16(1)), 256.0);
  EXPECT_EQ(static_cast<double>(BFloat16(1 + 0x1p-7) * BFloat16(1 + 0x1p-7)), 1 + 0x1p-6);  // exact 1 + 2^-6 + 2^-14
  EXPECT_EQ(static_cast<double>(-BFloat16(3)), -3.0);
  EXPECT_EQ(static_cast<double>(Float16(300) * Float16(300)), inf);
  EXPECT_EQ(static_cast<double>(Float16(0x1p-14) / Float16(4096)), 0.0);
  EXPECT_EQ(static_cast<double>(exp(BFloat16(1))), 2.71875);
  EXPECT_EQ(static_cast<double>(log(Float16(2))), f16(std::log(2.0)));
  EXPECT_EQ(static_cast<double>(log1p(BFloat16(0x1p-10))), bf16(std::log1p(0x1p-10)));
  EXPECT_EQ(static_cast<double>(tanh(Float16(0.5))), f16(std::tanh(0.5)));
  EXPECT_EQ(static_cast<double>(abs(BFloat16(-2))), 2.0);
  EXPECT_EQ(static_cast<double>(max(Float16(-2), Float16(1))), 1.0);
  EXPECT_TRUE(BFloat16(1) < BFloat16(2) && BFloat16(2) >= BFloat16(2) && BFloat16(1) != BFloat16(2));
  BFloat16 x(1);
  x += BFloat16(0x1p-8);  // a tie again
  EXPECT_EQ(static_cast<double>(x), 1.0);
}

// Random doubles over the whole range: the result is a number of the format
// and within half an ulp of the double.
template <class F, class Representable>
void sweep(int lowest_exponent, Representable representable) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> mantissa(1.0, 2.0);
  std::uniform_int_distribution<int> exponent(lowest_exponent, F::max_exponent);
  const double largest = std::ldexp(2.0 - std::ldexp(1.0, 1 - F::digits), F::max_exponent);
  const double overflow = std::ldexp(2.0 - std::ldexp(1.0, -F::digits), F::max_exponent);
  for (int i = 0; i < 200000; ++i) {
    const int e = exponent(rng);
    const double x = std::ldexp(rng() % 2 ? -mantissa(rng) : mantissa(rng), e);
    const double r = static_cast<double>(F(x));
    if (std::abs(x) >= overflow) {
      ASSERT_EQ(std::abs(r), inf) << x;
      continue;
    }
    const double ulp = std::ldexp(1.0, std::max(e, F::min_exponent) - (F::digits - 1));
    ASSERT_LE(std::abs(r - x), ulp / 2) << x;
    ASSERT_LE(std::abs(r), largest) << x;
    ASSERT_TRUE(representable(r)) << x << " -> " << r;
  }
}

TEST(EmulatedFloat, BFloat16IsTheNearestNumberOfTheFormat) {
  sweep<BFloat16>(-140, [](double r) {
    const float f = static_cast<float>(r);
    std::uint32_t bits = 0;
    std::memcpy(&bits, &f, sizeof bits);
    return static_cast<double>(f) == r && (bits & 0xFFFFu) == 0;  // a float whose low 16 bits are 0
  });
}

TEST(EmulatedFloat, Float16IsTheNearestNumberOfTheFormat) {
  sweep<Float16>(-28, [](double r) {
    int e = 0;
    const double m = std::frexp(r, &e);  // r = m 2^e, |m| in [0.5, 1)
    const double grid = std::ldexp(r, 24);  // a multiple of the smallest subnormal, 2^-24
    return std::ldexp(m, 11) == std::trunc(std::ldexp(m, 11)) && grid == std::trunc(grid);
  });
}

}  // namespace
}  // namespace gradcheck
