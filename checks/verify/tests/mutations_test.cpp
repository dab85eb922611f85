// Known-bad controls: every mutation of the backward pass is caught, on the
// tensors it changes and only there.
#include <gradcheck/probe/generators.hpp>
#include <gradcheck/verify/mutations.hpp>
#include <gradcheck/gradient/network_check.hpp>

#include "../../../engine/tests/case_spaces.hpp"
#include "../../gradient/tests/test_support.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <set>
#include <tuple>

namespace gradcheck {
namespace {

using testing::matrix;
using testing::non_agreeing;
using testing::unit_space;
using testing::vector;

// 3-2-2 with sigmoid hidden units, a tanh layer and the given output, batch of 3.
Case three_layer_case(Activation out, Loss loss) {
  Case c;
  c.network.loss = loss;
  c.network.reduction = Reduction::mean;
  c.network.layers.push_back({Activation::sigmoid, matrix({{0.1, -0.4, 0.2}, {0.7, 0.35, -0.4}}), vector({0.25, -0.45})});
  c.network.layers.push_back({Activation::tanh, matrix({{0.5, -0.8}, {1.1, 0.3}}), vector({0.1, -0.2})});
  c.network.layers.push_back({out, matrix({{0.9, -0.6}, {0.4, 1.2}}), vector({0.3, -0.1})});
  c.inputs = matrix({{0.0, 1.0, -0.5}, {0.5, -1.5, 0.25}, {1.0, 0.3, 2.0}});
  c.targets = loss == Loss::cross_entropy ? matrix({{1.0, 0.0, 0.3}, {0.0, 1.0, 0.7}})
                                          : matrix({{0.2, 0.9, 0.5}, {0.8, 0.1, 0.4}});
  return c;
}

Case case_for(Mutation m) {
  if (m == mutation::softmax_derivative_on_fused) return three_layer_case(Activation::softmax, Loss::cross_entropy);
  if (m == mutation::softmax_diagonal) return three_layer_case(Activation::softmax, Loss::quadratic);
  Case c = three_layer_case(Activation::sigmoid, Loss::quadratic);
  if (m == mutation::leaky_slope_zero) {  // z < 0 in both hidden layers
    for (std::size_t l = 0; l < 2; ++l) c.network.layers[l].activation = Activation::leaky_relu;
    c.network.layers[1].biases(1) = -2;
  }
  return c;
}

// The tensors on which the mutation is expected to be reported.
std::set<std::pair<int, TensorKind>> expected_tensors(Mutation m) {
  std::set<std::pair<int, TensorKind>> all;
  for (int l = 0; l < 3; ++l) all.insert({l, TensorKind::weights}), all.insert({l, TensorKind::biases});
  if (m == mutation::bias_zero) return {{0, TensorKind::biases}, {1, TensorKind::biases}, {2, TensorKind::biases}};
  if (m == mutation::z_instead_of_a) return {{1, TensorKind::weights}, {2, TensorKind::weights}};
  // Changes in the backward step below the output layer: the output layer's gradients stay right.
  if (m == mutation::leaky_slope_zero || m == mutation::hidden_derivative_omitted || m == mutation::transposed_step)
    return {{0, TensorKind::weights}, {0, TensorKind::biases}, {1, TensorKind::weights}, {1, TensorKind::biases}};
  return all;
}

std::set<std::pair<int, TensorKind>> disagreeing_tensors(const CheckResult& r) {
  std::set<std::pair<int, TensorKind>> s;
  for (const Entry& e : r.entries)
    if (e.verdict == Verdict::disagree) s.insert({e.layer, e.tensor});
  return s;
}

class EveryMutation : public ::testing::TestWithParam<std::tuple<Mutation, Method, Mode>> {};

TEST_P(EveryMutation, IsReportedAsDisagreeOnTheTensorsItChanges) {
  const auto [m, method, mode] = GetParam();
  const Case c = case_for(m);
  ASSERT_TRUE(applies(m, c.network));
  const auto bad = as_layer_gradients(mutated_gradients(c, m));
  CheckOptions o;
  o.method = method;
  o.mode = mode;
  const CheckResult r = check_gradients(c, bad, o);
  EXPECT_FALSE(r.summary.passed);
  EXPECT_EQ(disagreeing_tensors(r), expected_tensors(m)) << to_string(m) << "\n" << non_agreeing(r, 40);
  if (mode == Mode::fast) {
    for (const TensorSummary& t : r.tensors)
      EXPECT_EQ(t.fell_back_to_entries, expected_tensors(m).count({t.layer, t.tensor}) == 1)
          << to_string(m) << " layer " << t.layer << " " << to_string(t.tensor);
  }
}

INSTANTIATE_TEST_SUITE_P(
    KnownBad, EveryMutation,
    ::testing::Combine(::testing::ValuesIn(all_mutations),
                       ::testing::Values(Method::multiprecision, Method::central, Method::ridders, Method::complex_step),
                       ::testing::Values(Mode::full, Mode::fast)),
    [](const auto& info) {
      std::string name = std::string(to_string(std::get<0>(info.param))) + "_" + to_string(std::get<1>(info.param)) +
                         "_" + to_string(std::get<2>(info.param));
      for (char& ch : name)
        if (ch == '-') ch = '_';
      return name;
    });

TEST(Mutations, NamesRoundTrip) {
  for (Mutation m : all_mutations) EXPECT_EQ(parse_mutation(to_string(m)), m);
  EXPECT_FALSE(parse_mutation("typo").has_value());
}

TEST(Mutations, ApplyOnlyWhereTheyChangeSomething) {
  Case c = three_layer_case(Activation::sigmoid, Loss::quadratic);
  EXPECT_FALSE(applies(mutation::softmax_derivative_on_fused, c.network));
  c.network.reduction = Reduction::sum;
  EXPECT_FALSE(applies(mutation::summed_under_mean, c.network));
  for (auto& layer : c.network.layers) layer.activation = Activation::identity;
  EXPECT_FALSE(applies(mutation::z_instead_of_a, c.network));
  EXPECT_FALSE(applies(mutation::derivative_at_output_value, c.network));
  EXPECT_FALSE(applies(mutation::output_missing_derivative, c.network));
}

// Over random cases: the 50-digit comparison flags every entry a mutation
// changes visibly (by more than 1e-5 of the entry, at the tensor's scale, and
// by more than twice its tolerance) and no entry it leaves alone.
RC_GTEST_PROP(MutationProperty, DisagreementsAreExactlyWhereTheMutationChangedTheGradient, ()) {
  const Case c = *gen::any_case(unit_space(4));
  const Mutation m = *rc::gen::elementOf(std::vector<Mutation>(std::begin(all_mutations), std::end(all_mutations)));
  RC_PRE(applies(m, c.network));
  ReferenceOptions ro;
  ro.cross_check_all_up_to = 0;
  ro.cross_check_per_tensor = 1;
  const Reference ref = reference_gradients(c, ro);
  const Gradients<double> good = gradients(c.network, c.inputs, c.targets);
  const Gradients<double> bad = mutated_gradients(c, m);
  const CheckResult r = compare_gradients(c, as_layer_gradients(bad), ref);
  RC_TAG(to_string(m));
  std::size_t flagged = 0;
  for (const Entry& e : r.entries) {
    const std::size_t l = static_cast<std::size_t>(e.layer);
    const double g = e.tensor == TensorKind::weights ? good.weights[l](e.row, e.col) : good.biases[l](e.row);
    const double b = e.tensor == TensorKind::weights ? bad.weights[l](e.row, e.col) : bad.biases[l](e.row);
    const TensorSummary* t = nullptr;
    for (const auto& ts : r.tensors)
      if (ts.layer == e.layer && ts.tensor == e.tensor) t = &ts;
    const double scale = std::max(std::abs(g), t->floor);
    if (e.verdict == Verdict::inconclusive_kink) continue;
    // Visible, and beyond twice the entry's tolerance: the correct value is
    // within τ of the reference, so the mutated one is then more than τ away.
    // (An ill-conditioned entry's τ carries its round-off estimate and can
    // exceed 1e-5 of the entry: a change inside it is not detectable.)
    if (std::abs(b - g) > std::max(1e-5 * scale, 2 * e.tolerance)) {
      RC_ASSERT(e.verdict == Verdict::disagree);
      ++flagged;
    }
    if (b == g) RC_ASSERT(e.verdict == Verdict::agree);
  }
  RC_CLASSIFY(flagged > 0, "some entry changed visibly");
}

}  // namespace
}  // namespace gradcheck
