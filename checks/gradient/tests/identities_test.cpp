// Structural identities of backpropagation over random networks, each judged
// by the comparison rule: a buggy engine breaks them.
#include <gradcheck/gradient/compare.hpp>
#include <gradcheck/probe/generators.hpp>
#include <gradcheck/gradient/network_check.hpp>

#include "../../../engine/tests/case_spaces.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <numeric>

namespace gradcheck {
namespace {

using testing::non_agreeing;
using testing::unit_space;

// Every entry of `a` agrees with `r` (the rule, tensor floor from r, a round-off
// allowance of 64 ulps of the tensor's scale for differently ordered sums).
void assert_agrees(const Matrix<double>& a, const Matrix<double>& r, double absolute = 0) {
  RC_ASSERT(a.rows() == r.rows());
  RC_ASSERT(a.cols() == r.cols());
  const Tolerances tol;
  const double floor = tensor_floor_of(Eigen::Map<const Vector<double>>(r.data(), r.size()), tol);
  const double scale = r.size() ? r.cwiseAbs().maxCoeff() : 0.0;
  for (Index i = 0; i < a.size(); ++i) {
    const Comparison c = compare(a.data()[i], r.data()[i], absolute, 64 * 0x1p-53 * scale, floor, tol);
    if (c.verdict != Verdict::agree)
      RC_FAIL("entry " + std::to_string(i) + ": " + std::to_string(a.data()[i]) + " vs " + std::to_string(r.data()[i]));
  }
}

RC_GTEST_PROP(Identities, DeepIdentityNetworkIsTheProductMatrixAndPassesTheCheck, ()) {
  const int L = *rc::gen::inRange(2, 6);
  const Index batch = *rc::gen::inRange(1, 9);
  Case c;
  c.network.loss = Loss::quadratic;
  Index fan_in = *rc::gen::inRange(1, 9);
  const Index inputs = fan_in;
  Matrix<double> product = Matrix<double>::Identity(fan_in, fan_in);
  for (int l = 0; l < L; ++l) {
    const Index units = *rc::gen::inRange(1, 9);
    Layer<double> layer;
    layer.activation = Activation::identity;
    layer.weights = *gen::matrix(units, fan_in, 1.0);
    layer.biases = Vector<double>::Zero(units);
    product = (layer.weights * product).eval();
    c.network.layers.push_back(layer);
    fan_in = units;
  }
  c.inputs = *gen::matrix(inputs, batch, 2.0);
  c.targets = *gen::matrix(fan_in, batch, 1.0);
  const auto fp = forward(c.network, c.inputs);
  assert_agrees(fp.output(), product * c.inputs);
  // dL/dx of the deep network is that of the single layer W_L⋯W_1.
  Case single;
  single.network.loss = Loss::quadratic;
  single.network.layers.push_back({Activation::identity, product, Vector<double>::Zero(fan_in)});
  single.inputs = c.inputs;
  single.targets = c.targets;
  assert_agrees(gradients(c.network, c.inputs, c.targets).inputs, gradients(single.network, c.inputs, c.targets).inputs);
  CheckOptions o;
  o.threads = 1;
  const CheckResult r = check_network(c, o);
  if (!r.summary.passed) RC_FAIL(non_agreeing(r));
}

RC_GTEST_PROP(Identities, SumReductionGradientsAreNTimesMeanReductionGradients, ()) {
  Case c = *gen::any_case(unit_space());
  c.network.reduction = Reduction::mean;
  const auto mean = gradients(c.network, c.inputs, c.targets);
  c.network.reduction = Reduction::sum;
  const auto sum = gradients(c.network, c.inputs, c.targets);
  const double n = static_cast<double>(c.batch_size());
  for (std::size_t l = 0; l < mean.weights.size(); ++l) {
    assert_agrees(sum.weights[l], n * mean.weights[l]);
    assert_agrees(sum.biases[l], n * mean.biases[l]);
  }
}

RC_GTEST_PROP(Identities, EachBiasGradientIsTheSumOfItsDeltasAndOfItsSamplesGradients, ()) {
  Case c = *gen::any_case(unit_space());
  const auto g = gradients(c.network, c.inputs, c.targets);
  const double n = static_cast<double>(c.batch_size());
  const double per_sample_scale = c.network.reduction == Reduction::mean ? 1.0 / n : 1.0;
  std::vector<Vector<double>> summed;
  for (const auto& b : g.biases) summed.push_back(Vector<double>::Zero(b.size()));
  for (Index s = 0; s < c.batch_size(); ++s) {  // the same network on sample s alone
    const Matrix<double> x = c.inputs.col(s), y = c.targets.col(s);
    const auto gs = gradients(c.network, x, y);
    for (std::size_t l = 0; l < gs.biases.size(); ++l) summed[l] += per_sample_scale * gs.biases[l];
  }
  for (std::size_t l = 0; l < g.biases.size(); ++l) {
    assert_agrees(g.biases[l], g.deltas[l].rowwise().sum());
    assert_agrees(g.biases[l], summed[l]);
  }
}

RC_GTEST_PROP(Identities, PermutingHiddenUnitsPermutesTheGradients, ()) {
  CaseSpace space = unit_space();
  space.min_layers = 2;
  const Case c = *gen::any_case(space);
  const std::size_t l = static_cast<std::size_t>(*rc::gen::inRange<int>(0, static_cast<int>(c.network.layers.size()) - 1));
  const Index units = c.network.layers[l].units();
  std::vector<Index> order(static_cast<std::size_t>(units));
  std::iota(order.begin(), order.end(), Index(0));
  for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[*rc::gen::inRange<std::size_t>(0, i)]);
  Eigen::PermutationMatrix<Eigen::Dynamic> P(units);
  for (Index i = 0; i < units; ++i) P.indices()(i) = static_cast<int>(order[static_cast<std::size_t>(i)]);
  Case p = c;  // unit i of layer l moves to position order[i]
  p.network.layers[l].weights = P * c.network.layers[l].weights;
  p.network.layers[l].biases = P * c.network.layers[l].biases;
  p.network.layers[l + 1].weights = c.network.layers[l + 1].weights * P.transpose();
  const auto g = gradients(c.network, c.inputs, c.targets), gp = gradients(p.network, p.inputs, p.targets);
  assert_agrees(gp.weights[l], P * g.weights[l]);
  assert_agrees(gp.biases[l], P * g.biases[l]);
  assert_agrees(gp.weights[l + 1], g.weights[l + 1] * P.transpose());
  for (std::size_t k = 0; k < g.weights.size(); ++k)
    if (k != l && k != l + 1) {
      assert_agrees(gp.weights[k], g.weights[k]);
      assert_agrees(gp.biases[k], g.biases[k]);
    }
}

RC_GTEST_PROP(Identities, SoftmaxCrossEntropyOutputDeltaIsASumYMinusY, ()) {
  CaseSpace space;
  space.losses = {Loss::cross_entropy};
  space.activations = {Activation::identity, Activation::sigmoid, Activation::tanh, Activation::relu, Activation::softmax};
  space.reductions = {Reduction::sum};
  space.max_batch = 1;  // one sample: dL/db of the output layer is its delta
  const Case c = *gen::any_case(space);
  RC_PRE(c.network.layers.back().activation == Activation::softmax);
  // The 50-digit reference (cross-checked by 50-digit differences) against the formula.
  const Reference ref = reference_gradients(c);
  RC_ASSERT(ref.findings.empty());
  const auto fp = forward(c.network.cast<cpp_bin_float_50>(), Matrix<cpp_bin_float_50>(c.inputs.cast<cpp_bin_float_50>()));
  const Matrix<cpp_bin_float_50> y = c.targets.cast<cpp_bin_float_50>();
  const Matrix<cpp_bin_float_50> delta = fp.output() * y.sum() - y;
  const Matrix<double> formula = delta.unaryExpr([](const cpp_bin_float_50& v) { return static_cast<double>(v); });
  const ReferenceTensor* b = ref.find(static_cast<int>(c.network.layers.size()) - 1, TensorKind::biases);
  // The formula cancels for the dominant class (a_m → 1) even in 50 digits:
  // allow its 50-digit rounding, 1e-45 of its terms.
  assert_agrees(b->value, formula, 1e-45 * (1 + c.targets.sum()));
}

}  // namespace
}  // namespace gradcheck
