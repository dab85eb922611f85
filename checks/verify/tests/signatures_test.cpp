// Bug signatures: every known-bad mutation of the backward pass (mutations.hpp)
// is named by its signature and by no other; handcrafted replies cover float32
// rounding, kinks, NaN and shapes; bugs outside the catalogue get the generic,
// localised signatures.
#include "verify_test_support.hpp"
#include "../../../engine/tests/case_spaces.hpp"

#include <gradcheck/probe/generators.hpp>
#include <gradcheck/verify/mutations.hpp>
#include <gradcheck/engine/case_format.hpp>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <ostream>
#include <cmath>
#include <set>
#include <string>

namespace gradcheck {
namespace {

using testing::describe;
using testing::divergence_kinds;
using testing::evidence;
using testing::visible_at_float32;
using testing::engine_reply;
using testing::find_signature;
using testing::make_case;
using testing::catalogue;
using testing::change;
using testing::reply_of;

TEST(Signatures, EveryMutationIsNamedByItsSignatureAndByNoOther) {
  int tested = 0;
  for (const Case& c : catalogue()) {
    const Reply good = engine_reply(c);
    for (Mutation m : all_mutations) {
      if (!applies(m, c.network)) continue;
      const Reply bad = reply_of(mutated_gradients(c, m));
      if (change(bad, good) < 1e-2) continue;  // this case does not show the mutation
      ++tested;
      const VerifyResult v = verify_reply(c, bad);
      SCOPED_TRACE(std::string(to_string(m)) + " on a " + std::to_string(c.network.layers.size()) + "-layer " +
                   to_string(c.network.loss) + " network, batch " + std::to_string(c.batch_size()) + "\n" +
                   describe(v));
      EXPECT_EQ(v.status, VerifyStatus::diverge);
      EXPECT_EQ(divergence_kinds(v), std::set<BugKind>{m.kind});
      EXPECT_FALSE(v.has_notes());
    }
  }
  EXPECT_GE(tested, 40);
}

TEST(Signatures, ScalesNameTheirFactor) {
  const Case c = catalogue()[1];  // mean reduction, batch 3
  const struct {
    Mutation m;
    double factor;
  } expected[] = {{mutation::summed_under_mean, 3.0}, {mutation::doubled, 2.0}, {mutation::halved, 0.5}};
  for (const auto& e : expected) {
    const VerifyResult v = verify_reply(c, reply_of(mutated_gradients(c, e.m)));
    const Signature* s = find_signature(v, BugKind::constant_scale);
    ASSERT_NE(s, nullptr) << describe(v);
    EXPECT_EQ(evidence(*s, "recognised factor"), e.factor);
    EXPECT_NEAR(evidence(*s, "fitted ratio claimed / reference (mean over tensors)"), e.factor, 1e-12);
    EXPECT_LT(evidence(*s, "largest fit residual of a tensor"), 1e-12);
    EXPECT_EQ(evidence(*s, "tensors fitted"), 6.0);
  }
  const VerifyResult n = verify_reply(c, reply_of(mutated_gradients(c, mutation::summed_under_mean)));
  EXPECT_NE(find_signature(n, BugKind::constant_scale)->message.find("×N, N = 3 the batch size"),
            std::string::npos);
  const VerifyResult f = verify_reply(c, reply_of(mutated_gradients(c, mutation::sign_flip)));
  ASSERT_NE(find_signature(f, BugKind::sign_flip), nullptr);
  EXPECT_EQ(f.fault, FaultLocation::output_error_term);
}

// RapidCheck's counterexample (seed 10038376263373289391, max_success=1000): a
// softmax saturated to 1 − 6.5e-7, where float32's textbook 1 − a may lose every
// digit of δ_L, so zero bias gradients passed as precision and only the generic
// backward-step was named. The weight gradients of the same layers agree: δ came
// through, and the zeros are the bug.
TEST(Signatures, ZeroBiasGradientsBesideAgreeingWeightsAreBiasZeroAtASaturatedSoftmax) {
  const Case c = parse_case(R"({"network": {"layers": [
      {"activation": "identity", "weights": [[0, 0, 0, 0, 1.476]], "biases": [-1.09]},
      {"activation": "relu", "weights": [[-1.116], [-1.302]], "biases": [0, 0]},
      {"activation": "softmax", "weights": [[0, 1.54], [-1.146, -1.648]], "biases": [1.136, 0]}],
    "loss": "binary_cross_entropy", "reduction": "sum"},
    "inputs": [[0, 0, 0, 0, -0.898]], "targets": [[0, 0]]})",
                            "counterexample");
  const VerifyResult v = verify_reply(c, reply_of(mutated_gradients(c, mutation::bias_zero)));
  EXPECT_EQ(v.status, VerifyStatus::diverge);
  const Signature* s = find_signature(v, BugKind::bias_zero);
  ASSERT_NE(s, nullptr) << describe(v);
  EXPECT_EQ(s->layers, (std::vector<std::size_t>{0, 1, 2}));
  EXPECT_EQ(divergence_kinds(v), (std::set<BugKind>{BugKind::bias_zero})) << describe(v);
}

TEST(Signatures, DerivativeAtActivationSaysWhere) {
  using A = Activation;
  // Quadratic loss, sigmoid output: the mutation evaluates σ'(a) in every layer.
  const Case all = make_case({3, 4, 2}, {A::sigmoid, A::sigmoid}, Loss::quadratic, Reduction::mean, 1, 1);
  VerifyResult v = verify_reply(all, reply_of(mutated_gradients(all, mutation::derivative_at_output_value)));
  ASSERT_NE(find_signature(v, BugKind::derivative_at_output_value), nullptr) << describe(v);
  EXPECT_NE(find_signature(v, BugKind::derivative_at_output_value)->message.find("in every layer"),
            std::string::npos);
  // The backward step from the output is the first wrong one.
  EXPECT_EQ(v.fault, FaultLocation::backward_step);
  EXPECT_EQ(v.fault_layer, std::optional<std::size_t>(1));
  // Softmax + cross-entropy output (fused): only the hidden layers change.
  const Case hidden = make_case({4, 5, 3}, {A::tanh, A::softmax}, Loss::cross_entropy, Reduction::mean, 3, 3);
  v = verify_reply(hidden, reply_of(mutated_gradients(hidden, mutation::derivative_at_output_value)));
  ASSERT_NE(find_signature(v, BugKind::derivative_at_output_value), nullptr) << describe(v);
  EXPECT_NE(find_signature(v, BugKind::derivative_at_output_value)->message.find("in the hidden layers"),
            std::string::npos);
  // relu hidden layers, sigmoid output under the quadratic loss: only the output.
  const Case out = make_case({3, 4, 2}, {A::relu, A::sigmoid}, Loss::quadratic, Reduction::mean, 1, 9);
  v = verify_reply(out, reply_of(mutated_gradients(out, mutation::derivative_at_output_value)));
  ASSERT_NE(find_signature(v, BugKind::derivative_at_output_value), nullptr) << describe(v);
  EXPECT_NE(find_signature(v, BugKind::derivative_at_output_value)->message.find("at the output layer"),
            std::string::npos);
}

TEST(Signatures, EvidenceHoldsTheNumbersOfTheFinding) {
  const Case c = catalogue()[0];
  const Reply good = engine_reply(c);
  const Reply bad = reply_of(mutated_gradients(c, mutation::output_missing_derivative));
  const VerifyResult v = verify_reply(c, bad);
  const Signature* s = find_signature(v, BugKind::output_missing_derivative);
  ASSERT_NE(s, nullptr) << describe(v);
  EXPECT_LT(evidence(*s, "largest tensor distance, reply vs this mistake"), 1e-14);
  EXPECT_GT(evidence(*s, "largest tensor distance, this mistake vs reference"), 0.1);
  // The entry quoted: claimed (= the mistake) and the reference.
  for (const Evidence& e : s->evidence) {
    if (e.label.size() > 8 && e.label.compare(e.label.size() - 8, 8, " claimed") == 0) {
      const std::string at = e.label.substr(0, e.label.size() - 8);
      EXPECT_EQ(evidence(*s, at + " with this mistake"), e.value);
      EXPECT_NE(evidence(*s, at + " reference"), e.value);
    }
  }
  EXPECT_EQ(v.fault, FaultLocation::output_error_term);  // hidden layers follow from the wrong δ_L
  EXPECT_EQ(v.chain.status, ChainConsistency::Status::consistent);
}

TEST(Signatures, BiasDroppedIsLocalisedToTheBiasGradient) {
  const Case c = catalogue()[0];
  const VerifyResult v = verify_reply(c, reply_of(mutated_gradients(c, mutation::bias_zero)));
  const Signature* s = find_signature(v, BugKind::bias_zero);
  ASSERT_NE(s, nullptr) << describe(v);
  EXPECT_EQ(s->layers, (std::vector<std::size_t>{0, 1}));
  EXPECT_NE(s->message.find("the weight gradients of the same layers agree"), std::string::npos);
  EXPECT_EQ(v.fault, FaultLocation::bias_gradient);
  EXPECT_EQ(v.chain.output.how, DeltaRecovery::from_weights);
}

TEST(Signatures, ZInsteadOfAIsLocalisedToTheWeightGradient) {
  const Case c = catalogue()[0];
  const VerifyResult v = verify_reply(c, reply_of(mutated_gradients(c, mutation::z_instead_of_a)));
  ASSERT_NE(find_signature(v, BugKind::z_instead_of_a), nullptr) << describe(v);
  EXPECT_EQ(v.fault, FaultLocation::weight_gradient);
  EXPECT_EQ(v.fault_layer, std::optional<std::size_t>(1));
  EXPECT_TRUE(v.chain.output.residual_tested);
  EXPECT_GT(v.chain.output.weights_residual, 0.1);  // dW_L is not db_L a_{L−1}ᵀ
}

}  // namespace
// How RapidCheck prints a mutation in a counterexample.
inline void showValue(Mutation m, std::ostream& os) { os << to_string(m); }
namespace {

// Tensors (weights, biases) whose largest entry is above 1e-6 of the reply's largest.
int tensors_carrying_gradient(const Reply& r) {
  double top = 0;
  for (const auto& l : r.layers) top = std::max({top, l.weights.cwiseAbs().maxCoeff(), l.biases.cwiseAbs().maxCoeff()});
  int n = 0;
  for (const auto& l : r.layers)
    n += (l.weights.cwiseAbs().maxCoeff() > 1e-6 * top) + (l.biases.cwiseAbs().maxCoeff() > 1e-6 * top);
  return n;
}

RC_GTEST_PROP(SignaturesProperty, AMutationThatShowsIsNamedAndNothingElseIs, ()) {
  const Case c = *gen::any_case(testing::unit_space(4, 4, 5));
  const Mutation m = *rc::gen::elementOf(std::vector<Mutation>(std::begin(all_mutations), std::end(all_mutations)));
  RC_PRE(applies(m, c.network));
  const Reply bad = reply_of(mutated_gradients(c, m));
  RC_PRE(change(bad, engine_reply(c)) > 1e-2);
  RC_PRE(visible_at_float32(c, bad, engine_reply(c)));
  // The case must tell this mutation apart from the others: on a degenerate
  // case (zero weights, one softmax pair) the softmax Jacobian on a − y can be
  // exactly ×½, and no reading of the numbers can say which was written. (×N
  // and ×2 coincide at N = 2, but both read constant-scale.)
  for (Mutation other : all_mutations)
    if (other != m && other.kind != m.kind && applies(other, c.network))
      RC_PRE(change(reply_of(mutated_gradients(c, other)), bad) > 1e-2);
  // A scale of every tensor and the same scale of δ_L alone are one reading
  // when a single tensor carries the gradient (zero inputs and activations
  // zero the weight gradients): a found case, seed 5825474405821552525.
  RC_PRE(tensors_carrying_gradient(engine_reply(c)) >= 2);
  const VerifyResult v = verify_reply(c, bad);
  RC_ASSERT(v.status == VerifyStatus::diverge);
  const auto kinds = divergence_kinds(v);
  RC_ASSERT(kinds.count(m.kind) == 1u);
  RC_ASSERT(kinds.size() == 1u);
}

// ---------------------------------------------------------------------------
// Handcrafted replies

Reply float32_engine_reply(const Case& c) {
  const Network<float> net = c.network.cast<float>();
  const Matrix<float> x = c.inputs.cast<float>(), y = c.targets.cast<float>();
  const auto fp = forward(net, x);
  Gradients<float> g;
  backward(net, fp, y, g);
  Reply r;
  for (std::size_t l = 0; l < g.weights.size(); ++l)
    r.layers.push_back({g.weights[l].cast<double>(), g.biases[l].cast<double>()});
  r.outputs = fp.output().cast<double>();
  r.loss = static_cast<double>(loss(net, fp, y));
  return r;
}

TEST(Signatures, AFloat32ImplementationIsAPrecisionNoteNotABug) {
  for (const Case& c : catalogue()) {
    const VerifyResult v = verify_reply(c, float32_engine_reply(c));
    SCOPED_TRACE(describe(v));
    EXPECT_EQ(v.status, VerifyStatus::notes);
    ASSERT_FALSE(v.signatures.empty());
    double worst = 0;
    for (const Signature& s : v.signatures) {
      EXPECT_EQ(s.kind, BugKind::precision);
      EXPECT_EQ(s.severity, Severity::note);
      EXPECT_NE(s.message.find("float32, inferred"), std::string::npos);
      worst = std::max(worst, evidence(s, "largest relative error of those"));
    }
    EXPECT_GT(worst, 1e-8);  // float32 rounding shows ...
    EXPECT_LE(worst, 1e-2);  // ... and float32's cancellations stay far from 1
    EXPECT_TRUE(v.passed(false));
    EXPECT_FALSE(v.passed(true));
    EXPECT_FALSE(v.origin_layer.has_value());
    EXPECT_EQ(v.fault, FaultLocation::none);
  }
}

RC_GTEST_PROP(SignaturesProperty, AFloat32ImplementationIsNeverADivergence, ()) {
  // Unit magnitudes: 0 false alarms in 3 × 3,000 cases since outputs carry
  // their round-off estimate (one cancelling output did before: the test
  // AFloat32OutputThatCancelsIsAPrecisionNoteNotAForwardDivergence). At large
  // ones (weights to ±30) a float32 softmax + binary_cross_entropy can drift to
  // 6e-5 of its tensor, past the default precision limit (1 case in 3,000;
  // docs/verify.md).
  const Case c = *gen::any_case(testing::unit_space(4, 6));
  const VerifyResult v = verify_reply(c, float32_engine_reply(c));
  RC_ASSERT(v.status != VerifyStatus::diverge);
  RC_ASSERT(v.passed(false));
  for (const Signature& s : v.signatures) RC_ASSERT(s.kind == BugKind::precision);
}

// A RapidCheck counterexample (seed 314396633563637753, CI 2026-11-27): a
// leaky_relu output of 7.9e-4 summed from terms of order 1. float32 gets it to
// 3.5e-4 relative, 2.9e-5 of the outputs' largest: past the precision limit as a
// plain difference, but well within float32's share of the reference's own
// round-off estimate for that output, which verify now gives the forward
// entries as it gives the gradient entries.
TEST(Signatures, AFloat32OutputThatCancelsIsAPrecisionNoteNotAForwardDivergence) {
  const Case c = parse_case(
      "{\"inputs\":[[0.0,0.0,0.0,0.0,0.0,0.0,0.0],[0.036,1.21,0.0,0.828,0.684,-0.458,-0.4]],\"network\":{\"layer"
      "s\":[{\"activation\":\"leaky_relu\",\"biases\":[0.434,-1.148,-0.236,0.24,-0.012,0.4,0.124],\"weights\":[[0.55"
      "4,1.17,-0.81,0.724,1.086,-1.472,-0.064],[-0.438,-0.594,-0.364,-0.18,1.44,-0.036,-0.036],[0.436,-0.23"
      "8,0.422,1.148,0.294,-0.17,0.0],[-0.14,0.084,-0.178,1.494,0.638,0.978,0.648],[0.512,0.0,0.0,-0.884,0."
      "0,-0.38,0.436],[-0.504,0.002,0.0,0.53,0.022,-0.53,0.042],[0.442,0.086,0.92,1.056,0.838,0.476,-0.602]"
      "]},{\"activation\":\"sigmoid\",\"biases\":[0.0,-1.242,-1.078,1.07,0.5,-0.09,0.204],\"weights\":[[-0.8,0.03,1"
      ".398,1.574,0.434,0.018,0.202],[0.962,0.0,1.53,0.0,0.0,0.0,0.392],[0.398,-0.09,0.0,-0.528,-0.554,-0.2"
      "68,0.568],[0.12,-0.502,0.0,-0.424,-0.408,0.0,0.91],[0.17,0.018,0.028,0.088,0.0,-1.404,-0.022],[0.662"
      ",-0.406,0.552,0.0,0.0,0.006,0.0],[-0.002,0.0,0.0,0.412,0.0,0.0,0.0]]},{\"activation\":\"leaky_relu\",\"bi"
      "ases\":[-0.692],\"weights\":[[-0.58,1.468,1.226,0.546,-0.554,-1.42,-0.144]]}],\"loss\":\"quadratic\",\"reduc"
      "tion\":\"sum\"},\"targets\":[[0.0],[0.0]]}",
      "cancelling.json");
  const VerifyResult v = verify_reply(c, float32_engine_reply(c));
  SCOPED_TRACE(describe(v));
  const Entry* cancelling = nullptr;
  for (const Entry& e : v.forward.entries)
    if (e.tensor == TensorKind::outputs && e.col == 1) cancelling = &e;
  ASSERT_NE(cancelling, nullptr);
  EXPECT_NEAR(cancelling->numeric, 7.865e-4, 1e-7);
  EXPECT_GT(cancelling->relative_error, 1e-4) << "float32 loses digits to the cancellation";
  EXPECT_GT(cancelling->roundoff, 0) << "the reference's round-off estimate of the output";
  EXPECT_LT(std::abs(cancelling->analytic - cancelling->numeric), 5.4e8 * cancelling->roundoff)
      << "within float32's share (u32/u64 = 2^29) of it";
  EXPECT_EQ(v.status, VerifyStatus::notes);
  ASSERT_FALSE(v.signatures.empty());
  const Signature& s = v.signatures[0];
  EXPECT_EQ(s.kind, BugKind::precision);
  EXPECT_NE(s.message.find("W a + b = 0.00078650825 in float32 (layer 2 unit 0 sample 1) keeps 2 significant digits"),
            std::string::npos) << "the note names the cancelling sum";
  EXPECT_GT(evidence(s, "largest relative error of those"), 1e-4);
  // Beyond that share the output is wrong, not imprecise: off by half its value
  // (4e-4, 4 % of the outputs' scale, past the 1 % cap), or the well-conditioned
  // other output off by 1 %.
  for (const auto& [sample, factor] : {std::pair{1, 1.5}, std::pair{0, 1.01}}) {
    Reply wrong = float32_engine_reply(c);
    (*wrong.outputs)(0, sample) *= factor;
    EXPECT_EQ(verify_reply(c, wrong).status, VerifyStatus::diverge) << "output " << sample << " × " << factor;
  }
}

TEST(Signatures, CorrectValuesRoundedToFloat32AreAPrecisionNote) {
  const Case c = catalogue()[2];
  Reply r = engine_reply(c, true);
  for (auto& l : r.layers) {
    l.weights = l.weights.cast<float>().cast<double>();
    l.biases = l.biases.cast<float>().cast<double>();
  }
  const VerifyResult v = verify_reply(c, r);
  ASSERT_NE(find_signature(v, BugKind::precision), nullptr) << describe(v);
  EXPECT_EQ(v.status, VerifyStatus::notes);
  for (const Signature& s : v.signatures) {
    EXPECT_EQ(s.kind, BugKind::precision);
    EXPECT_LE(evidence(s, "largest relative error of those"), 6e-8);  // ½ ulp of float32
  }
}

TEST(Signatures, AFloat32ImplementationOfABugStillGetsTheBugsSignature) {
  const Case c = catalogue()[1];
  Reply r = reply_of(mutated_gradients(c, mutation::derivative_at_output_value));
  for (auto& l : r.layers) {
    l.weights = l.weights.cast<float>().cast<double>();
    l.biases = l.biases.cast<float>().cast<double>();
  }
  const VerifyResult v = verify_reply(c, r);
  EXPECT_EQ(v.status, VerifyStatus::diverge);
  EXPECT_EQ(divergence_kinds(v), std::set<BugKind>{BugKind::derivative_at_output_value}) << describe(v);
  EXPECT_FALSE(v.has_notes());
}

// A relu unit whose pre-activation is exactly 0: layer 0 unit 1, z = 0.5·1 − 1·0.5 + 0.
Case exact_kink_case() {
  Case c = make_case({2, 3, 1}, {Activation::relu, Activation::identity}, Loss::quadratic, Reduction::mean, 1, 5);
  c.inputs << 1.0, 0.5;
  c.network.layers[0].weights.row(1) << 0.5, -1.0;
  c.network.layers[0].biases(1) = 0.0;
  return c;
}

// The engine's gradients with relu'(0) = d at exact kinks.
Reply kink_reply(const Case& c, double d) {
  const auto fp = forward(c.network, c.inputs);
  Gradients<double> g;
  backward(c.network, fp, c.targets, g);
  Matrix<double> delta = c.network.layers[1].weights.transpose() * g.deltas[1];
  for (Index i = 0; i < delta.size(); ++i) {
    const double z = fp.z[0].data()[i];
    delta.data()[i] *= z > 0 ? 1.0 : z == 0 ? d : 0.0;
  }
  Reply r = engine_reply(c);
  r.layers[0].weights = delta * c.inputs.transpose();
  r.layers[0].biases = delta.rowwise().sum();
  return r;
}

TEST(Signatures, Relu0TakenAsOneAtAnExactKinkIsAConventionNote) {
  const Case c = exact_kink_case();
  ASSERT_EQ(forward(c.network, c.inputs).z[0](1, 0), 0.0);
  const VerifyResult engine = verify_reply(c, kink_reply(c, 0.0));
  EXPECT_EQ(engine.status, VerifyStatus::agree) << describe(engine);

  for (double d : {1.0, 0.5}) {
    const VerifyResult v = verify_reply(c, kink_reply(c, d));
    SCOPED_TRACE(describe(v));
    EXPECT_EQ(v.status, VerifyStatus::notes);
    ASSERT_EQ(v.signatures.size(), 1u);
    EXPECT_EQ(v.signatures[0].kind, BugKind::kink_convention);
    EXPECT_EQ(v.signatures[0].severity, Severity::note);
    EXPECT_EQ(evidence(v.signatures[0], "derivative at 0 the reply matches"), d);
    EXPECT_EQ(evidence(v.signatures[0], "pre-activations exactly at 0"), 1.0);
    EXPECT_NE(v.signatures[0].message.find("layer 0 unit 1 sample 0"), std::string::npos);
    EXPECT_TRUE(v.passed(false));
    EXPECT_FALSE(v.passed(true));
  }
}

TEST(Signatures, AnyOtherValueAtTheKinkIsNotExcusedAsAConvention) {
  const Case c = exact_kink_case();
  const VerifyResult v = verify_reply(c, kink_reply(c, 3.0));
  EXPECT_EQ(v.status, VerifyStatus::diverge) << describe(v);
  EXPECT_EQ(find_signature(v, BugKind::kink_convention), nullptr);
}

TEST(Signatures, BareNaNTokensAreNonFiniteWithTheirPaths) {
  const Case c = catalogue()[0];
  const Reply good = engine_reply(c);
  std::string text = reply_to_json(good, -1);
  // Replace the first weight of layer 1 with a bare NaN token, as a C printf("%f") of NaN writes it.
  const auto at = text.find("\"weights\":[[", text.find("\"weights\":[[") + 1) + 12;
  text.replace(at, text.find(',', at) - at, "NaN");
  const Reply r = parse_reply(text, "reply");
  ASSERT_EQ(r.non_finite_count, 1u);
  const VerifyResult v = verify_reply(c, r);
  EXPECT_EQ(v.status, VerifyStatus::diverge);
  const Signature* s = find_signature(v, BugKind::non_finite);
  ASSERT_NE(s, nullptr) << describe(v);
  EXPECT_NE(s->message.find("layers[1].weights[0][0] = NaN"), std::string::npos) << s->message;
  EXPECT_NE(s->message.find("first at layers[1].weights[0][0]"), std::string::npos) << s->message;
  EXPECT_EQ(evidence(*s, "non-finite gradient entries"), 1.0);
  EXPECT_EQ(v.origin_layer, std::optional<std::size_t>(1));
  EXPECT_FALSE(v.update.computed);
}

TEST(Signatures, NaNFromAnOverflowingSoftmaxSaysWhereExpOverflows) {
  Case c = make_case({3, 4, 3}, {Activation::tanh, Activation::softmax}, Loss::cross_entropy, Reduction::mean, 1, 9);
  c.network.layers[1].weights *= 3000;  // logits in the thousands, past 709.78
  Reply r = engine_reply(c);
  for (auto& l : r.layers) {
    l.weights.setConstant(std::nan(""));
    l.biases.setConstant(std::nan(""));
  }
  r.outputs = Matrix<double>::Constant(3, 1, std::nan(""));
  const VerifyResult v = verify_reply(c, r);
  const Signature* s = find_signature(v, BugKind::non_finite);
  ASSERT_NE(s, nullptr) << describe(v);
  EXPECT_GT(evidence(*s, "largest |z| in the reference forward pass"), 709.78);
  EXPECT_NE(s->message.find("past exp's overflow at 709.78"), std::string::npos) << s->message;
  EXPECT_NE(s->message.find("the forward pass already failed"), std::string::npos) << s->message;
  EXPECT_EQ(v.forward.verdict, Verdict::non_finite);
}

TEST(Signatures, TransposedWeightsAreAShapeMismatchThatSaysSo) {
  const Case c = catalogue()[0];
  Reply r = engine_reply(c);
  r.layers[0].weights.transposeInPlace();
  const VerifyResult v = verify_reply(c, r);
  const Signature* s = find_signature(v, BugKind::shape_mismatch);
  ASSERT_NE(s, nullptr) << describe(v);
  EXPECT_EQ(s->message, "layers[0].weights is 3×4, expected 4×3 (transposed: once transposed it agrees with the reference)");
  EXPECT_EQ(s->layers, std::vector<std::size_t>{0});
  EXPECT_EQ(divergence_kinds(v), std::set<BugKind>{BugKind::shape_mismatch});
  EXPECT_FALSE(v.gradients.findings.empty());  // the checks' own finding too
}

TEST(Signatures, LayersListedFromTheOutputAreRecognised) {
  const Case c = catalogue()[0];
  Reply r = engine_reply(c);
  std::reverse(r.layers.begin(), r.layers.end());
  const VerifyResult v = verify_reply(c, r);
  const Signature* s = find_signature(v, BugKind::shape_mismatch);
  ASSERT_NE(s, nullptr) << describe(v);
  EXPECT_NE(s->message.find("the layers are listed from the output back to the input"), std::string::npos);
}

TEST(Signatures, EmptyBiasesAreMissingNotAShapeMismatch) {
  const Case c = catalogue()[0];
  Reply r = engine_reply(c);
  r.layers[1].biases.resize(0);
  const VerifyResult v = verify_reply(c, r);
  EXPECT_EQ(divergence_kinds(v), std::set<BugKind>{BugKind::bias_missing}) << describe(v);
  EXPECT_EQ(find_signature(v, BugKind::bias_missing)->layers, std::vector<std::size_t>{1});
}

TEST(Signatures, AnUnlistedOutputErrorIsTheGenericOutputErrorTerm) {
  // δ_L × 1.7 everywhere: a constant factor, but not one gradcheck recognises;
  // verify localises it and names no scale.
  const Case c = catalogue()[1];
  Reply r = engine_reply(c);
  for (auto& l : r.layers) {
    l.weights *= 1.7;
    l.biases *= 1.7;
  }
  const VerifyResult v = verify_reply(c, r);
  EXPECT_EQ(divergence_kinds(v), std::set<BugKind>{BugKind::output_error_term}) << describe(v);
  EXPECT_EQ(v.fault, FaultLocation::output_error_term);
  const Signature* s = find_signature(v, BugKind::output_error_term);
  EXPECT_NEAR(evidence(*s, s->evidence[0].label.substr(0, s->evidence[0].label.size() - 8) +
                               " ratio claimed / reference"),
              1.7, 1e-12);
  EXPECT_NE(s->message.find("every tensor is the same multiple 1.7"), std::string::npos) << s->message;
}

TEST(Signatures, AnImpliedTargetIsNamedOnlyWhenItIsRound) {
  // The quadratic-loss error term with the target 0.25 in place of the case's:
  // verify names it; a target of 0.2718 is not round and is not named.
  for (double target : {0.25, 0.2718}) {
    Case wrong = catalogue()[0];
    wrong.targets.setConstant(target);
    const Case c = catalogue()[0];
    const VerifyResult v = verify_reply(c, engine_reply(wrong));
    const Signature* s = find_signature(v, BugKind::output_error_term);
    ASSERT_NE(s, nullptr) << describe(v);
    EXPECT_NEAR(evidence(*s, "implied target a − (that)"), target, 1e-12);
    const bool named = s->message.find("the error term of target") != std::string::npos;
    EXPECT_EQ(named, target == 0.25) << s->message;
  }
}

// The issue's list, one row per signature: a reply that carries the bug is
// recognised with evidence; the correct reply to the same case is not.
TEST(Signatures, EachKindIsRecognisedOnItsBugWithEvidenceAndNeverOnTheCorrectReply) {
  struct Row {
    const char* what;
    Case c;
    Reply bad;
    BugKind kind;
    Severity severity;
  };
  const Case mean3 = catalogue()[1];    // mean reduction, batch 3
  const Case fused = catalogue()[2];    // softmax + cross-entropy
  const Case simple = catalogue()[0];
  const auto mutated = [](const Case& c, Mutation m) { return reply_of(mutated_gradients(c, m)); };
  std::vector<Row> rows;
  rows.push_back({"sign flip", mean3, mutated(mean3, mutation::sign_flip), BugKind::sign_flip, Severity::error});
  rows.push_back({"×N", mean3, mutated(mean3, mutation::summed_under_mean), BugKind::constant_scale, Severity::error});
  rows.push_back({"×2", mean3, mutated(mean3, mutation::doubled), BugKind::constant_scale, Severity::error});
  rows.push_back({"×½", mean3, mutated(mean3, mutation::halved), BugKind::constant_scale, Severity::error});
  rows.push_back({"bias zero", simple, mutated(simple, mutation::bias_zero), BugKind::bias_zero,
                  Severity::error});
  {
    Reply r = engine_reply(simple);
    for (auto& l : r.layers) l.biases.resize(0);
    rows.push_back({"bias missing", simple, r, BugKind::bias_missing, Severity::error});
  }
  rows.push_back({"act'(a)", mean3, mutated(mean3, mutation::derivative_at_output_value),
                  BugKind::derivative_at_output_value, Severity::error});
  rows.push_back({"output delta without act'", simple, mutated(simple, mutation::output_missing_derivative),
                  BugKind::output_missing_derivative, Severity::error});
  rows.push_back({"z for a", mean3, mutated(mean3, mutation::z_instead_of_a), BugKind::z_instead_of_a,
                  Severity::error});
  rows.push_back({"softmax on the fused delta", fused, mutated(fused, mutation::softmax_derivative_on_fused),
                  BugKind::softmax_derivative_on_fused, Severity::error});
  rows.push_back({"float32", fused, float32_engine_reply(fused), BugKind::precision, Severity::note});
  rows.push_back({"relu'(0) = 1", exact_kink_case(), kink_reply(exact_kink_case(), 1.0), BugKind::kink_convention,
                  Severity::note});
  {
    Reply r = parse_reply(
        "{\"layers\": [{\"weights\": [[NaN, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]], \"biases\": [0, 0, 0, 0]},"
        " {\"weights\": [[0, 0, 0, 0], [0, 0, 0, 0]], \"biases\": [Infinity, 0]}]}",
        "reply");
    rows.push_back({"bare NaN and Infinity tokens", simple, r, BugKind::non_finite, Severity::error});
  }
  {
    Reply r = engine_reply(simple);
    r.layers[1].weights.conservativeResize(2, 3);
    rows.push_back({"shape", simple, r, BugKind::shape_mismatch, Severity::error});
  }
  for (const Row& row : rows) {
    SCOPED_TRACE(row.what);
    const VerifyResult bad = verify_reply(row.c, row.bad);
    const Signature* s = find_signature(bad, row.kind);
    ASSERT_NE(s, nullptr) << describe(bad);
    EXPECT_EQ(s->severity, row.severity);
    EXPECT_FALSE(s->message.empty());
    EXPECT_GE(s->evidence.size(), 1u);
    EXPECT_EQ(bad.status, row.severity == Severity::note ? VerifyStatus::notes : VerifyStatus::diverge);
    EXPECT_EQ(bad.passed(false), row.severity == Severity::note);
    EXPECT_FALSE(bad.passed(true));
    const VerifyResult good = verify_reply(row.c, engine_reply(row.c, true));
    EXPECT_EQ(good.status, VerifyStatus::agree) << describe(good);
    EXPECT_TRUE(good.signatures.empty()) << describe(good);
  }
}

}  // namespace
}  // namespace gradcheck
