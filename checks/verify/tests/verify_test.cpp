// verify_reply: statuses, forward, localisation (origin layer, chain
// consistency, fault), notes and the update effect. The bug signatures against
// the known-bad mutations are in signatures_test.cpp.
#include "verify_test_support.hpp"
#include "../../../engine/tests/case_spaces.hpp"

#include <gradcheck/probe/generators.hpp>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace gradcheck {
namespace {

using testing::describe;
using testing::visible_at_float32;
using testing::engine_reply;
using testing::find_signature;
using testing::make_case;

const Case& sigmoid_case() {
  static const Case c = make_case({3, 4, 2}, {Activation::sigmoid, Activation::sigmoid}, Loss::quadratic,
                                  Reduction::mean, 1, 11);
  return c;
}

RC_GTEST_PROP(VerifyProperty, TheEnginesOwnGradientsAgreeOnRandomCases, ()) {
  // Unit magnitudes: at large ones the engine's own double backward can lose a
  // softmax + binary_cross_entropy delta to underflow (exp(−904) = 0), which the
  // 50-digit reference rightly flags; that is the engine's test to make.
  const Case c = *gen::any_case(testing::unit_space(4, 4));
  const VerifyResult v = verify_reply(c, engine_reply(c, true));
  RC_ASSERT(v.status == VerifyStatus::agree);
  RC_ASSERT(v.signatures.empty());
  RC_ASSERT(!v.origin_layer.has_value());
  RC_ASSERT(v.fault == FaultLocation::none);
  RC_ASSERT(v.passed(true));
}

// The engine's reply with δ_L's first unit scaled by `factor` and
// backpropagated: an error confined to the output error term.
Reply scaled_output_delta(const Case& c, double factor) {
  Reply r = engine_reply(c);
  const std::size_t L = c.network.layers.size();
  const auto fp = forward(c.network, c.inputs);
  Gradients<double> g;
  backward(c.network, fp, c.targets, g);
  Matrix<double> delta = g.deltas[L - 1];
  delta.row(0) *= factor;
  for (std::size_t l = L; l-- > 0;) {
    r.layers[l].weights = delta * fp.a[l].transpose();
    r.layers[l].biases = delta.rowwise().sum();
    if (l == 0) break;
    delta = (c.network.layers[l].weights.transpose() * delta).eval();
    detail::multiply_by_derivative(c.network.layers[l - 1].activation, fp.z[l - 1], fp.a[l], delta);
  }
  return r;
}

RC_GTEST_PROP(VerifyProperty, AScaledOutputDeltaIsLocalisedToTheOutputErrorTerm, ()) {
  // Any error confined to δ_L: the earlier layers still follow from the
  // implementation's own δ_L, whatever the batch, when δ_L is recoverable.
  CaseSpace space = testing::unit_space(4, 1);
  space.min_layers = 2;
  space.activations = {Activation::sigmoid, Activation::tanh, Activation::identity};
  const Case c = *gen::any_case(space);
  const double factor = *rc::gen::element(1.7, -0.3, 3.1);
  Reply r = scaled_output_delta(c, factor);
  const std::size_t L = c.network.layers.size();
  // A change that shows: some tensor moves by more than 1e-3 of its size
  // (smaller ones are within what verify calls precision).
  const Reply good = engine_reply(c);
  const auto dist = [](const auto& x, const auto& y) {
    const double s = std::max(x.norm(), y.norm());
    return s == 0 ? 0.0 : (x - y).norm() / s;
  };
  double change = 0;
  for (std::size_t l = 0; l < L; ++l)
    change = std::max({change, dist(r.layers[l].weights, good.layers[l].weights),
                       dist(r.layers[l].biases, good.layers[l].biases)});
  RC_PRE(change > 1e-3);
  // ... and that moves the loss at float32's resolution: a gradient whose
  // every change cannot (a saturated output, say) is precision to verify, as in
  // SignaturesProperty.AMutationThatShowsIsNamedAndNothingElseIs.
  RC_PRE(visible_at_float32(c, r, good));
  const VerifyResult v = verify_reply(c, r);
  RC_ASSERT(v.status == VerifyStatus::diverge);
  RC_ASSERT(v.origin_layer == std::optional<std::size_t>(L - 1));
  RC_ASSERT(v.chain.status == ChainConsistency::Status::consistent);
  RC_ASSERT(v.fault == FaultLocation::output_error_term);
}

TEST(Verify, AScaledDeltaBehindASaturatedTanhIsStillADivergence) {
  // A shrunk counterexample from the property above: tanh output units fed
  // through identity layers, only gradients sent, δ_L's first unit × 3.1.
  Case c;
  auto layer = [](Activation a, Matrix<double> w, Vector<double> b) {
    Layer<double> l;
    l.activation = a;
    l.weights = std::move(w);
    l.biases = std::move(b);
    return l;
  };
  Matrix<double> w0(5, 1), w1(2, 5), w2(5, 2), w3(2, 5);
  w0 << 0.112, 0.75, 0.692, 0, 0.012;
  w1 << -1.526, -0.714, 0, 0, 0, -1.788, -1.446, 0, 0, -1.032;
  w2 << -0.194, 0.664, 0, -1.346, 0, 0.308, 0, 0.084, 0, 0;
  w3 << 1.046, -1.13, 1.228, 1.496, 0, 0, 1.104, -0.936, 0, 0;
  Vector<double> b0(5), b1(2), b2(5), b3(2);
  b0 << 0.472, -0.71, -0.444, 0, 0.93;
  b1 << 0.748, 0.786;
  b2 << -0.262, 0, -1.01, -0.456, 0;
  b3 << -0.946, 0;
  c.network.layers = {layer(Activation::tanh, w0, b0), layer(Activation::identity, w1, b1),
                      layer(Activation::identity, w2, b2), layer(Activation::tanh, w3, b3)};
  c.network.loss = Loss::quadratic;
  c.network.reduction = Reduction::mean;
  c.inputs = Matrix<double>::Constant(1, 1, 1.73);
  c.targets = Matrix<double>::Zero(2, 1);
  const VerifyResult v = verify_reply(c, scaled_output_delta(c, 3.1));
  EXPECT_EQ(v.status, VerifyStatus::diverge) << describe(v);
  EXPECT_EQ(v.fault, FaultLocation::output_error_term);
}

TEST(Verify, ADeclinedReplyIsDeclinedAndPasses) {
  Reply r;
  r.error = "softmax is not implemented";
  const VerifyResult v = verify_reply(sigmoid_case(), r);
  EXPECT_EQ(v.status, VerifyStatus::declined);
  EXPECT_EQ(v.declined_message, "softmax is not implemented");
  EXPECT_TRUE(v.passed(true));
  EXPECT_TRUE(v.gradients.entries.empty());
}

TEST(Verify, AMalformedReplyFailsWithItsMessage) {
  const VerifyResult v = malformed_reply("reply.json: layers: expected an array");
  EXPECT_EQ(v.status, VerifyStatus::diverge);
  EXPECT_EQ(v.malformed, "reply.json: layers: expected an array");
  EXPECT_FALSE(v.passed());
}

TEST(Verify, AnInvalidCaseIsAnInputErrorNotAResult) {
  Case c = sigmoid_case();
  c.inputs = Matrix<double>::Zero(2, 1);
  EXPECT_THROW(verify_reply(c, engine_reply(sigmoid_case())), InputError);
  c = sigmoid_case();
  c.network.layers[1].biases.resize(3);
  try {
    verify_reply(c, engine_reply(sigmoid_case()));
    FAIL() << "no InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "case: network.layers[1].biases: has 3 entries, expected 2 (one per row of weights)");
  }
}

TEST(Verify, ForwardOutputsAndLossAreComparedFirst) {
  const Case& c = sigmoid_case();
  Reply r = engine_reply(c, true);
  const VerifyResult ok = verify_reply(c, r);
  ASSERT_EQ(ok.forward.entries.size(), 3u);  // two outputs, the loss
  EXPECT_EQ(ok.forward.entries[2].tensor, TensorKind::loss);
  EXPECT_EQ(ok.forward.verdict, Verdict::agree);

  (*r.outputs)(1, 0) += 0.01;
  const VerifyResult bad = verify_reply(c, r);
  EXPECT_EQ(bad.status, VerifyStatus::diverge);
  EXPECT_EQ(bad.fault, FaultLocation::forward);
  EXPECT_EQ(bad.forward.verdict, Verdict::disagree);
  EXPECT_EQ(bad.forward.entries[1].verdict, Verdict::disagree);
  EXPECT_EQ(bad.forward.entries[1].row, 1);
  EXPECT_EQ(bad.gradients.summary.counts.disagree, 0u);  // the gradients themselves agree
}

TEST(Verify, AWrongLossAloneIsAForwardDivergence) {
  const Case& c = sigmoid_case();
  Reply r = engine_reply(c, true);
  *r.loss *= 2;  // e.g. Σ(a − y)² without the ½
  const VerifyResult v = verify_reply(c, r);
  EXPECT_EQ(v.status, VerifyStatus::diverge);
  EXPECT_EQ(v.fault, FaultLocation::forward);
  EXPECT_EQ(v.forward.entries.back().verdict, Verdict::disagree);
}

TEST(Verify, OutputsOfTheWrongShapeAreAShapeMismatch) {
  const Case& c = sigmoid_case();
  Reply r = engine_reply(c, true);
  r.outputs = Matrix<double>::Zero(1, 2);
  const VerifyResult v = verify_reply(c, r);
  EXPECT_EQ(v.status, VerifyStatus::diverge);
  ASSERT_TRUE(v.forward.outputs_shape_problem.has_value());
  const Signature* s = find_signature(v, BugKind::shape_mismatch);
  ASSERT_NE(s, nullptr) << describe(v);
  EXPECT_NE(s->message.find("outputs has 2 samples of 1 values, expected 1 of 2"), std::string::npos) << s->message;
}

TEST(Verify, TheOriginLayerIsTheFirstDisagreeingLayerFromTheOutput) {
  const Case c = make_case({3, 4, 3, 2}, {Activation::tanh, Activation::sigmoid, Activation::sigmoid},
                           Loss::quadratic, Reduction::mean, 1, 5);
  Reply r = engine_reply(c);
  r.layers[0].weights(1, 1) *= 1.5;  // one wrong entry in the first layer
  VerifyResult v = verify_reply(c, r);
  ASSERT_TRUE(v.origin_layer.has_value());
  EXPECT_EQ(*v.origin_layer, 0u);
  // Its own db gives δ_0, and dW_0 is not δ_0 xᵀ: the weight gradient of layer 0.
  EXPECT_EQ(v.fault, FaultLocation::weight_gradient) << describe(v);
  EXPECT_EQ(v.fault_layer, std::optional<std::size_t>(0));

  r = engine_reply(c);
  r.layers[1].biases(0) *= 1.5;
  v = verify_reply(c, r);
  EXPECT_EQ(v.origin_layer, std::optional<std::size_t>(1));
}

TEST(Verify, AWrongHiddenStepIsLocalisedToThatStep) {
  // δ_1 of a 4-layer net computed with the wrong weights (W_2 scaled): layers 2
  // and 3 are right, layer 1 does not follow from layer 2's own δ.
  const Case c = make_case({3, 4, 4, 3, 2}, {Activation::tanh, Activation::sigmoid, Activation::tanh, Activation::sigmoid},
                           Loss::quadratic, Reduction::mean, 1, 8);
  Case wrong = c;
  wrong.network.layers[2].weights *= 1.25;
  const auto fp = forward(c.network, c.inputs);
  Gradients<double> g, gw;
  backward(c.network, fp, c.targets, g);
  backward(wrong.network, fp, c.targets, gw);  // same forward pass, wrong W_2 in the backward step
  Reply r = engine_reply(c);
  for (std::size_t l = 0; l < 2; ++l) r.layers[l] = {gw.weights[l], gw.biases[l]};
  const VerifyResult v = verify_reply(c, r);
  EXPECT_EQ(v.origin_layer, std::optional<std::size_t>(1));
  EXPECT_EQ(v.fault, FaultLocation::backward_step) << describe(v);
  EXPECT_EQ(v.fault_layer, std::optional<std::size_t>(2));
  EXPECT_EQ(v.chain.status, ChainConsistency::Status::inconsistent);
  ASSERT_EQ(v.chain.steps.size(), 3u);
  EXPECT_TRUE(v.chain.steps[0]->consistent());   // layer 3 → 2
  EXPECT_FALSE(v.chain.steps[1]->consistent());  // layer 2 → 1
  const Signature* s = find_signature(v, BugKind::backward_step);
  ASSERT_NE(s, nullptr) << describe(v);
  EXPECT_NE(s->message.find("the backward step through layers[2] is wrong"), std::string::npos) << s->message;
  EXPECT_EQ(v.signatures.size(), 1u) << describe(v);
}

TEST(Verify, OutputDeltasOfALargeBatchAreUndeterminedAndSaidSo) {
  // Output layer with 2 inputs: dW (2 per unit) and db (1) give 3 equations
  // per unit for 8 unknowns (one per sample).
  const Case c = make_case({3, 2, 1}, {Activation::sigmoid, Activation::sigmoid}, Loss::quadratic,
                           Reduction::mean, 8, 3);
  Reply r = engine_reply(c);
  r.layers[1].biases *= 3.1;
  r.layers[1].weights *= 3.1;
  r.layers[0].biases *= 3.1;
  r.layers[0].weights *= 3.1;
  const VerifyResult v = verify_reply(c, r);
  EXPECT_EQ(v.status, VerifyStatus::diverge);
  EXPECT_EQ(v.chain.output.how, DeltaRecovery::undetermined);
  EXPECT_EQ(v.chain.status, ChainConsistency::Status::undetermined);
  EXPECT_EQ(v.chain.output.delta.size(), 0);
  EXPECT_EQ(v.fault, FaultLocation::undetermined);
}

TEST(Verify, OutputDeltasOfASmallBatchAreSolvedFromWeightsAndBiases) {
  const Case c = make_case({3, 4, 2}, {Activation::sigmoid, Activation::sigmoid}, Loss::quadratic,
                           Reduction::mean, 3, 3);
  const VerifyResult v = verify_reply(c, engine_reply(c));
  EXPECT_EQ(v.chain.output.how, DeltaRecovery::solved);
  ASSERT_EQ(v.chain.output.delta.rows(), 2);
  ASSERT_EQ(v.chain.output.delta.cols(), 3);
  EXPECT_LT((v.chain.output.delta - v.chain.reference_output_delta).cwiseAbs().maxCoeff(), 1e-12);
  EXPECT_TRUE(v.chain.output.residual_tested);  // 5 equations per unit, 3 unknowns
  EXPECT_LT(v.chain.output.weights_residual, 1e-12);
  EXPECT_EQ(v.chain.status, ChainConsistency::Status::consistent);
}

TEST(Verify, ASingleLayerHasNoChainToTest) {
  const Case c = make_case({3, 2}, {Activation::sigmoid}, Loss::quadratic, Reduction::mean, 1, 4);
  Reply r = engine_reply(c);
  r.layers[0].weights *= -1;
  r.layers[0].biases *= -1;
  const VerifyResult v = verify_reply(c, r);
  EXPECT_EQ(v.chain.status, ChainConsistency::Status::not_applicable);
  EXPECT_EQ(v.fault, FaultLocation::output_error_term);
}

TEST(Verify, TheUpdateEffectComparesTheClaimedStepWithTheCorrectOne) {
  const Case& c = sigmoid_case();
  const VerifyResult same = verify_reply(c, engine_reply(c));
  ASSERT_TRUE(same.update.computed);
  EXPECT_NEAR(same.update.cosine, 1.0, 1e-12);
  EXPECT_NEAR(same.update.loss_after_claimed, same.update.loss_after_reference, 1e-14);
  EXPECT_LT(same.update.loss_after_reference, same.update.loss_before);

  VerifyOptions o;
  o.learning_rate = 0.5;
  Reply r = engine_reply(c);
  for (auto& l : r.layers) {
    l.weights *= -1;
    l.biases *= -1;
  }
  const VerifyResult flipped = verify_reply(c, r, o);
  EXPECT_EQ(flipped.update.learning_rate, 0.5);
  EXPECT_NEAR(flipped.update.cosine, -1.0, 1e-12);
  EXPECT_GT(flipped.update.loss_after_claimed, flipped.update.loss_before);
  // The step with the correct gradients, by hand.
  Network<double> stepped = c.network;
  const Reply good = engine_reply(c);
  for (std::size_t l = 0; l < stepped.layers.size(); ++l) {
    stepped.layers[l].weights -= 0.5 * good.layers[l].weights;
    stepped.layers[l].biases -= 0.5 * good.layers[l].biases;
  }
  const auto fp = forward(stepped, c.inputs);
  EXPECT_NEAR(flipped.update.loss_after_reference, loss(stepped, fp, c.targets), 1e-15);
  EXPECT_NEAR(flipped.update.outputs_after_reference(0, 0), fp.output()(0, 0), 1e-15);
}

TEST(Verify, ShapeProblemsLeaveNoUpdateAndNoChain) {
  const Case& c = sigmoid_case();
  Reply r = engine_reply(c);
  r.layers.pop_back();
  const VerifyResult v = verify_reply(c, r);
  EXPECT_EQ(v.status, VerifyStatus::diverge);
  EXPECT_FALSE(v.update.computed);
  EXPECT_EQ(v.chain.status, ChainConsistency::Status::undetermined);
  const Signature* s = find_signature(v, BugKind::shape_mismatch);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->message, "the reply has 1 layers, the case has 2");
}

TEST(Verify, WorstEntriesAreOrderedNonFiniteFirstThenByRelativeError) {
  const Case& c = sigmoid_case();
  Reply r = engine_reply(c);
  r.layers[1].weights(0, 0) *= 1.001;
  r.layers[0].biases(2) *= 2;
  r.layers[0].weights(3, 1) = std::numeric_limits<double>::infinity();
  const VerifyResult v = verify_reply(c, r);
  ASSERT_GE(v.worst.size(), 3u);
  const auto& e = v.gradients.entries;
  EXPECT_EQ(e[v.worst[0]].verdict, Verdict::non_finite);
  EXPECT_EQ(e[v.worst[1]].tensor, TensorKind::biases);
  EXPECT_EQ(e[v.worst[2]].layer, 1);
  EXPECT_LE(v.worst.size(), VerifyOptions{}.worst_entries);
}

TEST(Verify, PassedHonoursStrictOnlyForNotes) {
  VerifyResult v;
  v.status = VerifyStatus::notes;
  EXPECT_TRUE(v.passed(false));
  EXPECT_FALSE(v.passed(true));
  v.status = VerifyStatus::diverge;
  EXPECT_FALSE(v.passed(false));
  v.status = VerifyStatus::agree;
  EXPECT_TRUE(v.passed(true));
}

}  // namespace
}  // namespace gradcheck
