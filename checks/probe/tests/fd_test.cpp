// Black-box mode (fd.hpp, docs/fd.md): the numerics on in-process losses
// whose derivatives are known, the protocol's parsing, and the examples and
// misbehaving programs over JSON lines.
#include <gradcheck/probe/fd.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>

namespace gradcheck {
namespace {

// Values at a point: the description's, moved as the point says.
std::vector<std::vector<double>> at(const FdDescription& d, const FdPoint& p) {
  std::vector<std::vector<double>> v;
  for (const FdParameter& q : d.parameters) v.push_back(q.values);
  for (const FdShift& s : p.shifts) v[s.param][s.index] += s.delta;
  for (std::size_t q = 0; q < p.direction.size(); ++q)
    for (std::size_t i = 0; i < p.direction[q].size(); ++i) v[q][i] += p.step * p.direction[q][i];
  return v;
}

using Loss = std::function<double(const std::vector<std::vector<double>>&)>;

FdLossAt loss_at(const FdDescription& d, Loss f) {
  return [d, f](const std::vector<FdPoint>& points) {
    std::vector<double> out;
    for (const FdPoint& p : points) out.push_back(f(at(d, p)));
    return out;
  };
}

// Two tensors: a [2, 3] matrix and a vector of 3, values of order 1.
FdDescription two_tensors() {
  FdDescription d;
  d.parameters = {{"W", {2, 3}, {0.3, -1.2, 0.7, 2.1, -0.4, 0.05}}, {"b", {3}, {0.5, -0.25, 1.5}}};
  return d;
}

// A smooth loss coupling every entry, and its exact gradient.
double smooth(const std::vector<std::vector<double>>& v) {
  double s = 0;
  for (std::size_t i = 0; i < 6; ++i) s += std::sin(v[0][i] * v[1][i % 3]) + 0.5 * v[0][i] * v[0][i];
  return s + std::exp(0.3 * v[1][0]) + v[1][1] * v[1][2];
}
std::vector<std::vector<double>> smooth_gradient(const std::vector<std::vector<double>>& v) {
  std::vector<std::vector<double>> g{std::vector<double>(6, 0.0), std::vector<double>(3, 0.0)};
  for (std::size_t i = 0; i < 6; ++i) {
    const double c = std::cos(v[0][i] * v[1][i % 3]);
    g[0][i] = c * v[1][i % 3] + v[0][i];
    g[1][i % 3] += c * v[0][i];
  }
  g[1][0] += 0.3 * std::exp(0.3 * v[1][0]);
  g[1][1] += v[1][2];
  g[1][2] += v[1][1];
  return g;
}

FdResult check_smooth(std::vector<std::vector<double>> gradient) {
  const FdDescription d = two_tensors();
  return fd_check(d, smooth(at(d, {})), gradient, loss_at(d, smooth));
}

const FdEntry& entry(const FdResult& r, std::size_t param, std::size_t index) { return r.tensors.at(param).entries.at(index); }

TEST(FdCheck, ACorrectGradientAgreesAtTwoEvaluationsPerEntry) {
  const FdDescription d = two_tensors();
  const FdResult r = check_smooth(smooth_gradient(at(d, {})));
  EXPECT_TRUE(r.passed(true));
  EXPECT_EQ(r.count(FdVerdict::agree), 9u);
  EXPECT_TRUE(r.noise.deterministic);
  for (const FdTensor& t : r.tensors)
    for (const FdEntry& e : t.entries) {
      EXPECT_EQ(e.evaluations, 2) << t.name << "[" << e.index << "]";
      EXPECT_LT(e.relative_error, 1e-8);
      EXPECT_GT(e.error, 0);  // every verdict has its error bar
    }
  // 4 repeats and 2 noise lines of 9, then 2 per entry.
  EXPECT_EQ(r.evaluations, 4u + 18u + 18u);
  EXPECT_TRUE(r.signatures.empty());
}

TEST(FdCheck, AnEntryOffByOnePerMilleDisagreesAndTheOthersAgree) {
  const FdDescription d = two_tensors();
  auto g = smooth_gradient(at(d, {}));
  g[0][4] *= 1.001;
  const FdResult r = check_smooth(g);
  EXPECT_FALSE(r.passed());
  EXPECT_EQ(entry(r, 0, 4).verdict, FdVerdict::disagree);
  EXPECT_NEAR(entry(r, 0, 4).relative_error, 1e-3, 1e-5);
  EXPECT_EQ(r.count(FdVerdict::agree), 8u);
  ASSERT_FALSE(r.worst.empty());
  EXPECT_EQ(r.worst.front().param, 0u);
  EXPECT_EQ(r.worst.front().index, 4u);
  EXPECT_LE(entry(r, 0, 4).evaluations, 4);  // decided by the h/2h estimate, no Ridders
}

TEST(FdCheck, StrongCurvatureIsDecidedWithItsTruncationEstimateNotMistakenForAKink) {
  // exp(200 θ) at θ = 1: the central difference's truncation (4e-7 relative)
  // is far above the rule's rtol at the first step; the h/2h estimate measures it.
  FdDescription d;
  d.parameters = {{"x", {}, {1.0}}};
  const Loss f = [](const std::vector<std::vector<double>>& v) { return std::exp(200 * v[0][0]); };
  const FdResult r = fd_check(d, f(at(d, {})), {{200 * std::exp(200.0)}}, loss_at(d, f));
  const FdEntry& e = entry(r, 0, 0);
  EXPECT_EQ(e.verdict, FdVerdict::agree) << e.relative_error;
  EXPECT_TRUE(e.refined);
  EXPECT_EQ(e.evaluations, 4);
  EXPECT_GT(e.relative_error, 1e-8);   // what the first estimate alone could not accept
  EXPECT_GT(e.tolerance, std::abs(e.analytic - e.numeric));
}

TEST(FdCheck, ARelUKinkAtTheDescribedValuesIsInconclusiveWithBothSlopes) {
  FdDescription d;
  d.parameters = {{"z", {3}, {0.0, 0.5, -0.5}}};
  const Loss f = [](const std::vector<std::vector<double>>& v) {
    double s = 0;
    for (double z : v[0]) s += 2 * std::max(z, 0.0);
    return s;
  };
  const FdResult r = fd_check(d, 1.0, {{0.0, 2.0, 0.0}}, loss_at(d, f));  // relu'(0) = 0
  const FdEntry& e = entry(r, 0, 0);
  EXPECT_EQ(e.verdict, FdVerdict::inconclusive_kink);
  EXPECT_NEAR(e.forward, 2.0, 1e-6);
  EXPECT_NEAR(e.backward, 0.0, 1e-6);
  EXPECT_EQ(entry(r, 0, 1).verdict, FdVerdict::agree);
  EXPECT_EQ(entry(r, 0, 2).verdict, FdVerdict::agree);
  EXPECT_TRUE(r.passed());
  EXPECT_FALSE(r.passed(true));
}

// Deterministic noise: a hash of the point's bits, uniform in ±amplitude.
double hashed_noise(const std::vector<std::vector<double>>& v, double amplitude) {
  std::uint64_t h = 1469598103934665603ull;
  for (const auto& t : v)
    for (double x : t) {
      std::uint64_t bits;
      std::memcpy(&bits, &x, sizeof bits);
      h = (h ^ bits) * 1099511628211ull;
    }
  return amplitude * (static_cast<double>(h >> 11) / 9007199254740992.0 * 2 - 1);
}

TEST(FdCheck, ALossTooNoisyToDecideIsInconclusiveNeverAPass) {
  const FdDescription d = two_tensors();
  const Loss noisy = [](const std::vector<std::vector<double>>& v) { return smooth(v) + hashed_noise(v, 3e-3); };
  auto g = smooth_gradient(at(d, {}));
  g[0][0] = -g[0][0];  // a sign error the noise hides
  const FdResult r = fd_check(d, noisy(at(d, {})), g, loss_at(d, noisy));
  EXPECT_TRUE(r.noise.deterministic);
  EXPECT_GT(r.noise.tiny_step_noise, 1e-3);
  EXPECT_LT(r.noise.tiny_step_noise, 1e-2);
  EXPECT_EQ(r.count(FdVerdict::agree) + r.count(FdVerdict::inconclusive_noise) + r.count(FdVerdict::disagree), 9u);
  EXPECT_GT(r.count(FdVerdict::inconclusive_noise), 0u);
  EXPECT_NE(entry(r, 0, 0).verdict, FdVerdict::agree);
  for (const FdTensor& t : r.tensors)
    for (const FdEntry& e : t.entries) {
      if (e.verdict == FdVerdict::inconclusive_noise) {
        EXPECT_EQ(e.evaluations, 24);  // Ridders was tried
      }
    }
  EXPECT_FALSE(r.passed());
}

// A float32 program: the smooth loss rounded to float32 (ε_f/|f| ≈ 1e-7). The first
// central difference's bar, ε_f/h with h = ∛(ε_f/|f|)·s, is about 1 % of an entry; the
// Ridders tableau, started near 0.1·s for such noise, decides every entry.
TEST(FdCheck, AFloat32LossIsDecidedEntryByEntryNotLeftToNoise) {
  FdDescription d = two_tensors();
  d.precision = Precision::float32;
  const Loss f32 = [](const std::vector<std::vector<double>>& v) { return double(float(smooth(v))); };
  const FdResult r = fd_check(d, f32(at(d, {})), smooth_gradient(at(d, {})), loss_at(d, f32));
  std::size_t agree = 0, noise = 0;
  for (const FdTensor& t : r.tensors)
    for (const FdEntry& e : t.entries)
      agree += e.verdict == FdVerdict::agree, noise += e.verdict == FdVerdict::inconclusive_noise;
  EXPECT_EQ(noise, 0u);
  EXPECT_EQ(agree, 9u);
  EXPECT_TRUE(r.passed());
  // A sign error in float32 is still found.
  std::vector<std::vector<double>> wrong = smooth_gradient(at(d, {}));
  wrong[0][4] = -wrong[0][4];
  EXPECT_FALSE(fd_check(d, f32(at(d, {})), wrong, loss_at(d, f32)).passed());
}

TEST(FdCheck, AFloat32EntryFarSmallerThanItsTensorIsDecidedAtTheTensorsScale) {
  // w[1]'s derivative (0.02) is 500 times smaller than w[0]'s; a float32 loss of
  // about 3 has noise near 1e-6, so no step resolves 0.02 to 1 % of itself, but
  // every step resolves it to 1 % of its tensor's largest entry.
  FdDescription d;
  d.parameters = {{"w", {2}, {0.3, 1.0}}};
  d.precision = Precision::float32;
  const Loss f32 = [](const std::vector<std::vector<double>>& v) {
    return double(float(10 * std::sin(v[0][0]) + 0.01 * v[0][1] * v[0][1]));
  };
  const std::vector<std::vector<double>> right = {{10 * std::cos(0.3), 0.02}};
  const FdResult r = fd_check(d, f32(at(d, {})), right, loss_at(d, f32));
  EXPECT_EQ(r.tensors[0].entries[1].verdict, FdVerdict::agree);
  EXPECT_GT(r.tensors[0].entries[1].error, 0.01 * 0.02 / 4);  // a bar wider than 1 % of the entry itself
  EXPECT_TRUE(r.passed());
  // The small entry's sign flipped is still a disagreement, not hidden in the bar.
  const FdResult flipped = fd_check(d, f32(at(d, {})), {{right[0][0], -0.02}}, loss_at(d, f32));
  EXPECT_EQ(flipped.tensors[0].entries[1].verdict, FdVerdict::disagree);
  EXPECT_FALSE(flipped.passed());
}

TEST(FdCheck, TheSamePointGivingTwoLossesIsReportedAsNondeterministic) {
  const FdDescription d = two_tensors();
  std::mt19937_64 rng(3);
  const Loss f = [&rng](const std::vector<std::vector<double>>& v) {
    return smooth(v) + 1e-12 * std::uniform_real_distribution<double>(-1, 1)(rng);
  };
  const FdResult r = fd_check(d, smooth(at(d, {})), smooth_gradient(at(d, {})), loss_at(d, f));
  EXPECT_FALSE(r.noise.deterministic);
  EXPECT_GT(r.noise.spread, 0);
  EXPECT_EQ(r.noise.repeats.size(), 4u);
  EXPECT_FALSE(r.passed());
}

TEST(FdCheck, ATensorOfDeadUnitsAgreesAtTheModelsScale) {
  // The loss does not depend on "dead": 0 against 0 ± ε, which its own scale
  // (0) cannot judge; the model's largest gradient entry can.
  FdDescription d;
  d.parameters = {{"w", {3}, {0.3, -1.2, 0.7}}, {"dead", {2}, {0.4, -0.1}}};
  const Loss f = [](const std::vector<std::vector<double>>& v) {
    return std::sin(v[0][0]) + std::sin(v[0][1]) + std::sin(v[0][2]);
  };
  const FdResult r = fd_check(d, f(at(d, {})), {{std::cos(0.3), std::cos(-1.2), std::cos(0.7)}, {0.0, 0.0}},
                              loss_at(d, f));
  EXPECT_EQ(r.count(FdVerdict::agree), 5u);
  EXPECT_NEAR(r.tensors[1].bar_scale, 1e-3 * std::cos(0.3), 1e-15);
  EXPECT_TRUE(r.passed(true));
}

TEST(FdCheck, AGradientLossUnlikeTheLossAtTheDescribedValuesIsFlagged) {
  const FdDescription d = two_tensors();
  const auto g = smooth_gradient(at(d, {}));
  EXPECT_TRUE(fd_check(d, smooth(at(d, {})), g, loss_at(d, smooth)).noise.gradient_loss_matches);
  EXPECT_FALSE(fd_check(d, smooth(at(d, {})) * 1.001, g, loss_at(d, smooth)).noise.gradient_loss_matches);
}

TEST(FdCheck, ANaNInTheGradientIsNonFinite) {
  const FdDescription d = two_tensors();
  auto g = smooth_gradient(at(d, {}));
  g[1][2] = std::nan("");
  const FdResult r = check_smooth(g);
  EXPECT_EQ(entry(r, 1, 2).verdict, FdVerdict::non_finite);
  EXPECT_EQ(r.count(FdVerdict::agree), 8u);
  EXPECT_FALSE(r.passed());
}

TEST(FdSignatures, EveryTensorNegatedIsOneSignFlip) {
  const FdDescription d = two_tensors();
  auto g = smooth_gradient(at(d, {}));
  for (auto& t : g)
    for (double& x : t) x = -x;
  const FdResult r = check_smooth(g);
  ASSERT_EQ(r.signatures.size(), 1u);
  EXPECT_EQ(r.signatures[0].kind, "sign-flip");
  EXPECT_EQ(r.signatures[0].tensor, "");
  EXPECT_NEAR(r.signatures[0].factor, -1, 1e-9);
}

TEST(FdSignatures, OneTensorDoubledIsATensorScaleOfTwo) {
  const FdDescription d = two_tensors();
  auto g = smooth_gradient(at(d, {}));
  for (double& x : g[1]) x *= 2;
  const FdResult r = check_smooth(g);
  ASSERT_EQ(r.signatures.size(), 1u);
  EXPECT_EQ(r.signatures[0].kind, "tensor-scale");
  EXPECT_EQ(r.signatures[0].tensor, "b");
  EXPECT_NEAR(r.signatures[0].factor, 2, 1e-9);
}

TEST(FdSignatures, ATensorSentAsZerosIsTensorZero) {
  const FdDescription d = two_tensors();
  auto g = smooth_gradient(at(d, {}));
  g[0].assign(6, 0.0);
  const FdResult r = check_smooth(g);
  ASSERT_EQ(r.signatures.size(), 1u);
  EXPECT_EQ(r.signatures[0].kind, "tensor-zero");
  EXPECT_EQ(r.signatures[0].tensor, "W");
}

TEST(FdSignatures, AMatrixSentAsItsTransposeIsTransposed) {
  const FdDescription d = two_tensors();
  auto g = smooth_gradient(at(d, {}));
  const std::vector<double> w = g[0];  // [2, 3]; its transpose [3, 2] read row-major
  for (std::size_t p = 0; p < 3; ++p)
    for (std::size_t q = 0; q < 2; ++q) g[0][p * 2 + q] = w[q * 3 + p];
  const FdResult r = check_smooth(g);
  ASSERT_EQ(r.signatures.size(), 1u);
  EXPECT_EQ(r.signatures[0].kind, "transposed");
  EXPECT_EQ(r.signatures[0].tensor, "W");
}

FdOptions fast() {
  FdOptions o;
  o.mode = FdMode::fast;
  return o;
}

TEST(FdFast, ACorrectGradientAgreesAlongEveryDirectionWithItsMissProbability) {
  const FdDescription d = two_tensors();
  const FdResult r = fd_check(d, smooth(at(d, {})), smooth_gradient(at(d, {})), loss_at(d, smooth), fast());
  EXPECT_TRUE(r.passed(true));
  for (const FdTensor& t : r.tensors) {
    EXPECT_EQ(t.directions, 8);
    EXPECT_EQ(t.directions_disagree, 0);
    EXPECT_TRUE(t.entries.empty());  // nothing needed checking alone
    EXPECT_NEAR(t.miss_probability, std::pow(0.0797, 8), 1e-12);
  }
  EXPECT_EQ(r.evaluations, 4u + 18u + 2u * 8u * 2u);
}

// A tensor of 1000 entries coupled through their sum, as a layer's weights are.
FdDescription wide(std::size_t n) {
  FdDescription d;
  d.parameters = {{"w", {n}, {}}};
  for (std::size_t i = 0; i < n; ++i) d.parameters[0].values.push_back(0.8 * std::sin(0.37 * double(i)));
  return d;
}
double wide_loss(const std::vector<std::vector<double>>& v) {
  double s = 0, lin = 0;
  for (double x : v[0]) s += std::sin(x), lin += x;
  return s + 0.5 * lin * lin / double(v[0].size());
}
std::vector<std::vector<double>> wide_gradient(const std::vector<std::vector<double>>& v) {
  double lin = 0;
  for (double x : v[0]) lin += x;
  std::vector<double> g;
  for (double x : v[0]) g.push_back(std::cos(x) + lin / double(v[0].size()));
  return {g};
}

TEST(FdFast, OneWrongEntryAmongAThousandIsFoundByBisectionInAFewDozenEvaluations) {
  const FdDescription d = wide(1000);
  auto g = wide_gradient(at(d, {}));
  g[0][637] *= 1.01;
  const FdResult r = fd_check(d, wide_loss(at(d, {})), g, loss_at(d, wide_loss), fast());
  EXPECT_FALSE(r.passed());
  const FdTensor& t = r.tensors[0];
  EXPECT_EQ(t.directions_disagree, 8);
  ASSERT_EQ(r.count(FdVerdict::disagree), 1u);
  EXPECT_EQ(r.worst.front().index, 637u);
  EXPECT_NEAR(r.worst.front().relative_error, 0.01, 1e-4);
  EXPECT_LE(t.entries.size(), 2u);        // the last block of 2
  EXPECT_LE(t.search_evaluations, 60u);   // 10 levels of 2 halves (+ the block's entries), not 2000
  EXPECT_LE(r.evaluations, 120u);
}

TEST(FdFast, AKinkLeavesItsDirectionsUndecidedAndItsEntriesAreCheckedAlone) {
  FdDescription d;
  d.parameters = {{"z", {3}, {0.0, 0.5, -0.5}}};
  const Loss f = [](const std::vector<std::vector<double>>& v) {
    double s = 0;
    for (double z : v[0]) s += 2 * std::max(z, 0.0);
    return s;
  };
  const FdResult r = fd_check(d, 1.0, {{0.0, 2.0, 0.0}}, loss_at(d, f), fast());
  EXPECT_EQ(r.tensors[0].directions_disagree, 0);
  EXPECT_GT(r.tensors[0].directions_undecided, 0);
  EXPECT_EQ(r.count(FdVerdict::inconclusive_kink), 1u);
  EXPECT_EQ(r.count(FdVerdict::agree), 2u);
  EXPECT_TRUE(r.passed());
}

TEST(FdProtocol, DescribeReadsFlatAndNestedValuesAndThePrecision) {
  const FdDescription d = detail::fd_parse_describe(
      R"({"parameters": [{"name": "W", "shape": [2, 2], "values": [[1, 2], [3, 4]]},
                         {"name": "s", "shape": [], "values": 0.5}], "precision": "float32"})",
      "describe");
  ASSERT_EQ(d.parameters.size(), 2u);
  EXPECT_EQ(d.parameters[0].values, (std::vector<double>{1, 2, 3, 4}));
  EXPECT_EQ(d.parameters[1].values, (std::vector<double>{0.5}));
  EXPECT_EQ(d.precision, Precision::float32);
}

TEST(FdProtocol, ADescriptionWhoseShapeDisagreesWithItsValuesNamesTheField) {
  EXPECT_THROW(detail::fd_parse_describe(R"({"parameters": [{"name": "W", "shape": [2, 3], "values": [1, 2, 3]}]})", "d"),
               FdProgramError);
  try {
    detail::fd_parse_describe(R"({"parameters": [{"name": "W", "shape": [100000000000, 100000000000], "values": [1]}]})",
                              "fd: reply to request 1 (describe)");
    FAIL() << "no error";
  } catch (const FdProgramError& e) {
    EXPECT_STREQ(e.what(), "fd: reply to request 1 (describe): parameters[0].shape: more than 2^40 entries");
  }
  EXPECT_THROW(detail::fd_parse_describe(R"({"parameters": [{"name": "W", "shape": [1], "values": [1]},
                                                            {"name": "W", "shape": [1], "values": [2]}]})", "d"),
               FdProgramError);
}

TEST(FdProtocol, AGradientOfTheWrongShapeNamesTheParameter) {
  const FdDescription d = two_tensors();
  std::vector<std::vector<double>> g;
  try {
    detail::fd_parse_gradient(R"({"loss": 1, "gradient": {"W": [1, 2, 3, 4, 5, 6], "b": [[1, 2], [3, 4]]}})", d, g,
                              "fd: reply to request 2 (gradient)");
    FAIL() << "no error";
  } catch (const FdProgramError& e) {
    EXPECT_STREQ(e.what(), "fd: reply to request 2 (gradient): gradient.b: expected 3 entries at depth 0, got 2");
  }
}

TEST(FdProtocol, LossesAcceptBareNaNAndInfinityAndCountThePoints) {
  const std::vector<double> v = detail::fd_parse_losses(R"({"losses": [1.5, NaN, -Infinity, inf]})", 4, "loss");
  EXPECT_EQ(v[0], 1.5);
  EXPECT_TRUE(std::isnan(v[1]));
  EXPECT_EQ(v[2], -INFINITY);
  EXPECT_EQ(v[3], INFINITY);
  EXPECT_THROW(detail::fd_parse_losses(R"({"losses": [1.5]})", 2, "loss"), FdProgramError);
  EXPECT_THROW(detail::fd_parse_losses(R"({"error": "out of memory"})", 1, "loss"), FdProgramError);
}

TEST(FdProtocol, ALossRequestCarriesShiftsAndDirectionsByName) {
  const FdDescription d = two_tensors();
  FdPoint dir;
  dir.direction = {std::vector<double>(6, 0.0), {1, 0, -1}};
  dir.step = 0.5;
  EXPECT_EQ(detail::fd_loss_request(d, {{}, {{{1, 2, 1e-6}}, {}, 0}, dir}),
            R"({"request":"loss","points":[{},{"shifts":[{"param":"b","index":2,"delta":1e-06}]},)"
            R"({"direction":{"W":[0,0,0,0,0,0],"b":[1,0,-1]},"step":0.5}]})");
}

// The examples over JSON lines.
const std::string dense = std::string(GRADCHECK_SOURCE_DIR) + "/examples/python/fd_dense.py";

FdResult run_dense(std::vector<std::string> extra, std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  std::vector<std::string> argv{"python3", dense};
  argv.insert(argv.end(), extra.begin(), extra.end());
  FdProgramOptions p;
  p.timeout = timeout;
  return fd(argv, {}, p);
}

TEST(FdProgram, TheDenseExampleAgreesEverywhere) {
  const FdResult r = run_dense({});
  EXPECT_TRUE(r.passed(true));
  EXPECT_EQ(r.count(FdVerdict::agree), 12u + 4u + 8u + 2u);
  EXPECT_EQ(r.tensors.at(0).name, "W1");
  EXPECT_EQ(r.tensors.at(0).shape, (std::vector<std::size_t>{4, 3}));
  EXPECT_EQ(r.gradient_loss, r.noise.base_loss);
  EXPECT_LE(r.requests, 6u);  // describe, gradient, 2 for the noise, 1 for the entries (+1 if any is refined)
}

struct DenseBug {
  std::string bug, kind, tensor;
};
class FdDenseBug : public ::testing::TestWithParam<DenseBug> {};

TEST_P(FdDenseBug, IsADivergenceWithItsSignature) {
  const DenseBug& b = GetParam();
  const FdResult r = run_dense({"--bug", b.bug});
  EXPECT_FALSE(r.passed());
  EXPECT_GT(r.count(FdVerdict::disagree), 0u);
  if (b.kind.empty()) {
    EXPECT_TRUE(r.signatures.empty());
    ASSERT_FALSE(r.worst.empty());
    EXPECT_EQ(r.worst[0].param, 0u);
    EXPECT_EQ(r.worst[0].index, 2u * 3u + 1u);  // W1[2][1]
    EXPECT_EQ(r.count(FdVerdict::disagree), 1u);
    return;
  }
  ASSERT_EQ(r.signatures.size(), 1u);
  EXPECT_EQ(r.signatures[0].kind, b.kind);
  EXPECT_EQ(r.signatures[0].tensor, b.tensor);
}

INSTANTIATE_TEST_SUITE_P(Example, FdDenseBug,
                         ::testing::Values(DenseBug{"sign", "sign-flip", ""}, DenseBug{"scale-w2", "tensor-scale", "W2"},
                                           DenseBug{"zero-b1", "tensor-zero", "b1"},
                                           DenseBug{"transpose-w1", "transposed", "W1"},
                                           DenseBug{"one-entry", "", ""}),
                         [](const auto& info) {
                           std::string n = info.param.bug;
                           for (char& c : n) c = c == '-' ? '_' : c;
                           return n;
                         });

// Layers gradcheck does not implement (examples/python/fd_layers.py): each
// agrees as written and disagrees with its bug, in the tensors the bug reaches.
struct LayerCase {
  std::string layer, bug;
  std::vector<std::size_t> disagreeing;  // per tensor
};
class FdLayer : public ::testing::TestWithParam<LayerCase> {};

TEST_P(FdLayer, AgreesAsWrittenAndDisagreesWithItsBug) {
  const LayerCase& c = GetParam();
  const std::string layers = std::string(GRADCHECK_SOURCE_DIR) + "/examples/python/fd_layers.py";
  EXPECT_TRUE(fd({"python3", layers, c.layer}).passed(true));
  const FdResult r = fd({"python3", layers, c.layer, "--bug", c.bug});
  std::vector<std::size_t> disagreeing;
  for (const FdTensor& t : r.tensors) disagreeing.push_back(t.disagree);
  EXPECT_EQ(disagreeing, c.disagreeing);
  EXPECT_FALSE(r.passed());
}

INSTANTIATE_TEST_SUITE_P(Example, FdLayer,
                         ::testing::Values(LayerCase{"layernorm", "no-mean", {12, 0, 0}},          // W, γ, β
                                           LayerCase{"attention", "softmax-transposed", {12, 12, 0}},  // Wq, Wk, Wv
                                           LayerCase{"lstm", "forget", {10, 2}}),                   // W, b
                         [](const auto& info) { return info.param.layer; });

TEST(FdProgram, AReluUnitAtATieIsAKinkNotADivergence) {
  const FdResult r = run_dense({"--tie"});
  EXPECT_EQ(r.count(FdVerdict::disagree), 0u);
  EXPECT_GT(r.count(FdVerdict::inconclusive_kink), 0u);
  // Unit 0's weights from the nonzero inputs of sample 0, and its bias.
  EXPECT_EQ(entry(r, 0, 0).verdict, FdVerdict::inconclusive_kink);
  EXPECT_EQ(entry(r, 0, 1).verdict, FdVerdict::inconclusive_kink);
  EXPECT_EQ(entry(r, 1, 0).verdict, FdVerdict::inconclusive_kink);
  EXPECT_TRUE(r.passed());
  EXPECT_FALSE(r.passed(true));
}

TEST(FdProgram, ANoisyLossIsNondeterministic) {
  const FdResult r = run_dense({"--bug", "noise"});
  EXPECT_FALSE(r.noise.deterministic);
  EXPECT_FALSE(r.passed());
}

// A misbehaving program: one FdProgramError naming the request, never a hang.
struct Misbehaviour {
  std::string what, message;
};
class FdMisbehaving : public ::testing::TestWithParam<Misbehaviour> {};

TEST_P(FdMisbehaving, IsOneErrorNamingTheRequest) {
  const Misbehaviour& m = GetParam();
  const auto t0 = std::chrono::steady_clock::now();
  // The hang comes after describe and gradient were answered (start-up is
  // behind it), so a short timeout does not depend on how fast Python starts.
  try {
    run_dense({"--misbehave", m.what}, std::chrono::seconds(m.what == "hang" ? 2 : 60));
    FAIL() << "no error";
  } catch (const FdProgramError& e) {
    EXPECT_EQ(std::string(e.what()).substr(0, m.message.size()), m.message) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(100));
}

INSTANTIATE_TEST_SUITE_P(
    Example, FdMisbehaving,
    ::testing::Values(
        Misbehaviour{"crash", "fd: request 3 (loss, 20 points): no reply: it exited with status 3 (its stderr ends: fd_dense: crashing as asked)"},
        Misbehaviour{"hang", "fd: request 3 (loss, 20 points): no reply within 2000 ms; killed"},
        Misbehaviour{"garbage", "fd: reply to request 3 (loss, 20 points): not JSON ("},
        Misbehaviour{"count", "fd: reply to request 3 (loss, 20 points): losses: 1 values, expected 20 (one per point)"},
        Misbehaviour{"shape", "fd: reply to request 2 (gradient): gradient.b2: "}),
    [](const auto& info) { return info.param.what; });

TEST(FdProgram, ACommandThatCannotStartIsASpawnError) {
  EXPECT_THROW(fd({"/nonexistent/program"}), SpawnError);
}

}  // namespace
}  // namespace gradcheck
