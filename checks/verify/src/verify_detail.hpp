#pragma once
// Internals shared by verify.cpp and signatures.cpp (not installed).

#include <gradcheck/verify/verify.hpp>
#include <gradcheck/engine/format.hpp>
#include <gradcheck/engine/network.hpp>
#include <gradcheck/gradient/precision_model.hpp>

#include <map>
#include <optional>
#include <string>
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

// How verify knows the format the reply was computed in (docs/verify.md#precision).
struct PrecisionSource {
  enum class How { stated, given, values, program, differences, assumed };
  Precision precision = Precision::float64;
  How how = How::assumed;
  std::size_t values = 0;   // How::values, How::program: how many values were looked at
  std::size_t replies = 0;  // How::program: over how many of the program's replies
};

// The precision known before the analysis (stated, --precision, or every value
// exactly a number of a narrower format) and the models built for it, on demand.
struct PrecisionState {
  PrecisionState(const Reply& reply, const VerifyOptions& options);
  std::optional<PrecisionSource> known;
  std::map<Precision, PrecisionModel> models;
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
  PrecisionState* precision = nullptr;
};

const PrecisionModel& model_for(const VerifyContext& ctx, Precision p);
// The known precision, or float32 (what hypotheses are matched at when unknown).
Precision working_precision(const VerifyContext& ctx);
// match_tolerance widened to 8 units of the working precision's round-off.
double match_tolerance(const VerifyContext& ctx);

// Differences that share a cause (an operation in a layer), or rounding alone (cause −1).
struct CauseGroup {
  int cause = -1;
  std::size_t entries = 0;
  double worst = 0;           // largest relative error
  std::size_t destroyed = 0;  // entries that matter with no digit left
};

// Claimed values against exact ones, judged by a precision model.
struct PrecisionTally {
  explicit PrecisionTally(const PrecisionModel& m) : model(&m) {}
  PrecisionTally() = default;  // nothing differed: no model was built
  const PrecisionModel* model = nullptr;
  bool within = true;
  std::size_t entries = 0;  // differing values
  std::size_t printed = 0;  // explained by the digits printed
  int fewest_digits = 17;
  double worst_printed = 0;
  std::vector<CauseGroup> groups;
  // scale: the largest |exact| of the value's tensor.
  void add(const PrecisionModel& m, const EntryBound& b, double claimed, double exact, double scale);

 private:
  void add_to_group(int cause, double rel, bool destroys);
};

// The model's bound for a compared value (an output, the loss, a gradient entry).
const EntryBound& bound_of(const PrecisionModel& m, const Entry& e);
// Whether a non-finite forward value is what a correct program in the known
// format can produce (ln 0 in its loss, an overflow): false when the format
// is not known.
bool non_finite_within_precision(const VerifyContext& ctx, const Entry& e);

// Whether a verdict is a difference: disagree or non-finite.
inline bool is_divergent(Verdict v) { return v == Verdict::disagree || v == Verdict::non_finite; }

// The entries verify found different (disagree or non-finite) against p's model.
PrecisionTally tally_reply(const VerifyContext& ctx, const VerifyResult& r, Precision p);
// The known format when the forward entries differ and its model explains
// every difference (ForwardCheck::within_precision); nullopt otherwise.
std::optional<Precision> forward_within_precision(const VerifyContext& ctx, const VerifyResult& r);
// The values sent (any verdict) that float64's model does not explain and p's
// plain rounding does, with no ill-conditioned operation: what corroborates a
// format p inferred from the differences.
std::size_t corroborating(const VerifyContext& ctx, const VerifyResult& r, Precision p);
// Every entry of x against target at the working precision.
PrecisionTally precision_between(const VerifyContext& ctx, const Grads& x, const Grads& target);

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
  bool softmax_diagonal = false;           // δ_L = dL/da ⊙ a(1 − a): the softmax Jacobian's diagonal only
  bool hidden_derivative_omitted = false;  // δ_{l−1} = W_lᵀ δ_l, no act'
  bool hidden_formula_at_z = false;        // a(1 − a), 1 − a² evaluated at z: z(1 − z), 1 − z² (hidden layers)
  bool output_formula_at_z = false;        // ... at the output layer
  bool negative_slope_zero = false;        // leaky_relu'(z) = 0 for z ≤ 0 (relu's) in every layer
  bool transposed_step = false;            // δ_{l−1} from W_l δ_l where W_lᵀ belongs (square layers)
  bool targets_rolled = false;             // sample s paired with the target of sample s + 1 (mod N)
  // conv2d and pooling layers (docs/verify.md#image-layers); 0: the right form
  bool kernel_flipped = false;     // true convolution: every conv2d kernel turned 180° in forward and backward
  bool kernel_flipped_dx = false;  // dL/da_{l−1} through the kernel turned 180° (forward and dW right)
  bool kernel_flipped_dw = false;  // dW turned 180° (forward and dL/da right)
  bool stride_ignored_dw = false;  // dW with δ read at stride 1 (not dilated) where the stride is s > 1
  bool stride_ignored_dx = false;  // dL/da_{l−1} likewise
  int backward_padding = 0;        // the backward reads the input at padding 1: 0, 2: p + 1, 3: p − 1
  bool channels_swapped = false;   // dL/da_{l−1} through W[i][o] where W[o][i] belongs (in = out channels)
  int max_pool_routing = 0;        // a window's δ to 1: every entry, 2: every tied maximum, 3: each entry ÷ window²,
                                   // 4: its last maximum (a >= scan; a convention where the maxima tie)
  bool avg_pool_undivided = false; // avg pool's backward without the ÷ window²
  int conv_bias = 0;               // a conv2d db of 1: the first output position only, 2: the mean over positions
  std::optional<double> kink_derivative;   // relu'(0), leaky_relu'(0) at an exact z = 0
  // relu/leaky_relu units taken on the other side of 0 (layer, unit, sample),
  // as a float32 computation of a z within its rounding of 0 may.
  std::vector<KinkSite> flipped;
};
// How many of the compared gradient entries (verdict agree or disagree) a
// set of gradients explains: the reply's value within the entry's tolerance τ
// plus match_tolerance × the hypothesis's value. `shown`: explained entries
// that disagree with the reference and where the hypothesis differs from the
// correct gradients as much: the entries that point to it.
struct EntryFit {
  std::size_t explained = 0, compared = 0, shown = 0;
  bool all() const { return compared > 0 && explained == compared; }
};
EntryFit entry_fit(const VerifyContext& ctx, const VerifyResult& r, const Grads& h);

// Whether the variant's image-layer flags concern a layer the network has
// (image_variants.cpp; true when it sets none).
bool image_variant_applies(const Network<double>& net, const Variant& v);

// One layer's backward as the variant computes it, from δ = dL/dz_l: its dW
// and db (dW from a_dw, which is a_{l−1} unless the variant says z) and, when
// da is not null, dL/da_{l−1} (a: the layer's input, a_{l−1}). Dense layers
// as W and Wᵀ; conv2d and pooling through the engine's own backward pieces
// (conv.hpp), with the variant's change applied to one product.
void variant_layer_backward(const Layer<double>& layer, const Matrix<double>& a, const Matrix<double>& a_dw,
                            const Matrix<double>& delta, const Variant& v, LayerGradient& g, Matrix<double>* da);

// A conv2d kernel matrix with every kernel turned 180° (an involution).
Matrix<double> flipped_kernels(const ConvGeometry& g, const Matrix<double>& W);

// nullopt when the variant does not apply to the case (e.g. softmax_on_fused
// without softmax + cross_entropy).
std::optional<Grads> variant_gradients(const Case& c, const ForwardPass<double>& fp, const Variant& v);

// δ_{l−1} = (W_lᵀ δ_l) ⊙ act'_{l−1}(z_{l−1}) with the engine's derivatives
// (conv2d: the transposed convolution; pooling: each window's δ routed back).
Matrix<double> backward_step(const Network<double>& net, const ForwardPass<double>& fp, std::size_t l,
                             const Matrix<double>& delta);

// dL/da of the output layer, unfused, per sample (no reduction).
Matrix<double> loss_derivative(Loss loss, const Matrix<double>& a, const Matrix<double>& y);

// act'(v) for the elementwise activations (kink: the value at exactly v = 0).
double kinked_derivative(Activation act, double v, std::optional<double> kink);

// Notes, decided before localisation (they explain every difference or none):
// every disagreement (forward and gradients) within the precision limit, and
// a relu'(0) / leaky_relu'(0) convention at an exact kink, or the last
// maximum of max-pool windows whose maxima tie, that the reply matches as a whole.
// Precision notes: one per distinct cause, warnings first; empty unless every
// difference is within the model (docs/verify.md#precision).
std::vector<Signature> precision_notes(const VerifyContext& ctx, const VerifyResult& r);
std::optional<Signature> kink_note(const VerifyContext& ctx, const VerifyResult& r);

// Whether the reply matches a known mistake to the format's rounding (a
// hypothesis, a recognised scale, zeroed biases): then no precision note
// excuses it, however small the differences. A match merely within the
// precision model's bound does not count: a correct bfloat16 reply is within
// it of many mistakes that differ from the truth by a few per cent.
bool matches_known_mistake(const VerifyContext& ctx, const VerifyResult& r);

// Every hypothesis of the catalogue that applies to the case, with how many
// entries it reproduces (the cause's closest hypothesis and its ruled-out list).
struct HypothesisScore {
  BugKind kind;
  std::string label;    // "W for Wᵀ in a backward step"
  std::string message;  // the signature's finding, up to its evidence
  EntryFit fit;
};
std::vector<HypothesisScore> hypothesis_scores(const VerifyContext& ctx, const VerifyResult& r);
// Evidence labels of a matched hypothesis's entry counts (read by the cause).
inline constexpr const char* entries_explained_label = "gradient entries it reproduces";
inline constexpr const char* entries_compared_label = "gradient entries compared";

// The cause of a divergence (verify.hpp, docs/verify.md#cause), from its
// signatures and the catalogue's scores.
Cause find_cause(const VerifyContext& ctx, const VerifyResult& r);

// The divergence signatures of a verification whose forward, gradients,
// ratios, chain and fault are filled in.
std::vector<Signature> divergence_signatures(const VerifyContext& ctx, const VerifyResult& r);

// A factor a scale bug leaves (N, 1/N, 1/N², N², 2, ½, or their negatives)
// and the mistake that leaves it; nullopt for any other ratio.
struct Factor {
  double value;
  std::string why;
};
std::optional<Factor> recognised_factor(const Case& c, double ratio, double tol);

// Per-sample and per-tensor fits (sample_fit.cpp), for a reply that diverges
// and that no known mistake explains: the reply as a weighted sum of the
// per-sample gradients (samples dropped, overwritten, weighted), and tensors
// that are each a multiple of the reference by different factors.
void sample_weight_signatures(const VerifyContext& ctx, std::vector<Signature>& out);
void tensor_scale_signatures(const VerifyContext& ctx, const VerifyResult& r, std::vector<Signature>& out);
void weight_decay_signature(const VerifyContext& ctx, std::vector<Signature>& out);

// "layers[1].weights[0][2]", "layers[0].biases[1]"; a conv2d layer's weights as the JSON
// nests them, "layers[0].weights[out][in][y][x]".
std::string entry_path(const Network<double>& net, std::size_t layer, bool biases, Index row, Index col);
// %.8g / %.2g, for findings.
std::string num(double v);
std::string err(double v);

}  // namespace gradcheck::detail
