#pragma once
// Internals shared by verify.cpp and signatures.cpp (not installed).

#include <gradcheck/verify/verify.hpp>
#include <gradcheck/engine/format.hpp>
#include <gradcheck/engine/network.hpp>

#include <optional>
#include <vector>

namespace gradcheck::detail {

using Grads = std::vector<LayerGradient>;

// Which tensors of the reply can be compared with the case's: shape matches
// and present. A reply with a different layer count has none usable.
struct Usable {
  std::vector<char> weights, biases;
  bool all = false;
  bool any() const;
};

// Everything the analysis needs, computed once by verify_reply.
struct VerifyContext {
  const Case& c;
  const Reply& reply;
  const VerifyOptions& options;
  ForwardPass<double> fp;  // the case's forward pass in double (hypotheses are built on it)
  Grads reference;         // the 50-digit reference rounded to double
  Grads baseline;          // the correct gradients computed like the hypotheses (variant_gradients, no mistake)
  Usable usable;
  bool claimed_finite = true;  // every usable claimed value is finite
};

// ‖x − y‖ / max(‖x‖, ‖y‖): 0 for two zero tensors, ≤ 2 always.
double tensor_distance(const Matrix<double>& x, const Matrix<double>& y);
double tensor_distance(const Vector<double>& x, const Vector<double>& y);

// Largest tensor_distance over the usable tensors of two gradient sets.
double max_distance(const Grads& x, const Grads& y, const Usable& u);

struct KinkSite {
  std::size_t layer = 0;
  Index unit = 0, sample = 0;
  bool operator==(const KinkSite& o) const { return layer == o.layer && unit == o.unit && sample == o.sample; }
};

// A backward pass that makes one of the known mistakes (signatures.hpp), on
// the case's forward pass in double. Written independently of the checks'
// mutations (mutations.hpp), which the tests use to produce bad replies.
struct Variant {
  bool hidden_derivative_at_a = false;     // act'(a_{l}) for act'(z_{l}) in hidden layers
  bool output_derivative_at_a = false;     // δ_L = dL/da ⊙ act'(a_L)
  bool output_missing_derivative = false;  // δ_L = dL/da
  bool z_instead_of_a = false;             // dW_l = δ_l z_{l−1}ᵀ for l ≥ 1
  bool softmax_on_fused = false;           // δ_L = J_softmaxᵀ (a Σy − y)
  std::optional<double> kink_derivative;   // relu'(0), leaky_relu'(0) at an exact z = 0
  // relu/leaky_relu units taken on the other side of 0 (layer, unit, sample),
  // as a float32 computation of a z within its rounding of 0 may.
  std::vector<KinkSite> flipped;
};
// nullopt when the variant does not apply to the case (e.g. softmax_on_fused
// without softmax + cross_entropy).
std::optional<Grads> variant_gradients(const Case& c, const ForwardPass<double>& fp, const Variant& v);

// δ_{l−1} = (W_lᵀ δ_l) ⊙ act'_{l−1}(z_{l−1}) with the engine's derivatives.
Matrix<double> backward_step(const Network<double>& net, const ForwardPass<double>& fp, std::size_t l,
                             const Matrix<double>& delta);

// dL/da of the output layer, unfused, per sample (no reduction).
Matrix<double> loss_derivative(Loss loss, const Matrix<double>& a, const Matrix<double>& y);

// act'(v) for the elementwise activations (kink: the value at exactly v = 0).
double kinked_derivative(Activation act, double v, std::optional<double> kink);

// Notes, decided before localisation (they explain every difference or none):
// every disagreement (forward and gradients) within the precision limit, and
// a relu'(0) / leaky_relu'(0) convention at an exact kink that the reply
// matches as a whole.
std::optional<Signature> precision_note(const VerifyContext& ctx, const VerifyResult& r);
std::optional<Signature> kink_note(const VerifyContext& ctx, const VerifyResult& r);

// Whether the reply matches a known mistake (a hypothesis, a recognised scale,
// zeroed biases): then no note excuses it, however small the differences.
bool matches_known_mistake(const VerifyContext& ctx, const VerifyResult& r);

// The divergence signatures of a verification whose forward, gradients,
// ratios, chain and fault are filled in.
std::vector<Signature> divergence_signatures(const VerifyContext& ctx, const VerifyResult& r);

// "layers[1].weights[0][2]", "layers[0].biases[1]"
std::string entry_path(std::size_t layer, bool biases, Index row, Index col);
// %.8g / %.2g, for findings.
std::string num(double v);
std::string err(double v);

}  // namespace gradcheck::detail
