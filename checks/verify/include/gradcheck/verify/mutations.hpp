#pragma once
// Known-bad backward passes: the bugs people actually write, each a BugKind of
// the signature catalogue (signatures.hpp) that can be injected into a case,
// returning the gradients the buggy code would produce. The checks' known-bad
// controls, the bug-signature tests of `gradcheck verify` and the fixtures use
// them as the implementation under test (docs/checks.md lists them).
//
//   if (applies(mutation::z_instead_of_a, c.network))
//     const Gradients<double> bad = mutated_gradients(c, mutation::z_instead_of_a);

#include <gradcheck/engine/case.hpp>
#include <gradcheck/verify/signatures.hpp>

#include <optional>
#include <string_view>

namespace gradcheck {

// A bug to inject: its kind, and for the scale bugs (sign_flip, constant_scale)
// the factor every gradient is multiplied by (0: N, the batch size).
// form: which of a kind's variants (derivative_formula has several).
struct Mutation {
  BugKind kind = BugKind::sign_flip;
  double factor = 1;
  const char* name = "";  // to_string(kind), or the scale's own name for constant_scale
  int form = 0;
};
inline bool operator==(const Mutation& a, const Mutation& b) {
  return a.kind == b.kind && a.factor == b.factor && a.form == b.form;
}
inline bool operator!=(const Mutation& a, const Mutation& b) { return !(a == b); }

namespace mutation {
inline constexpr Mutation sign_flip{BugKind::sign_flip, -1, "sign-flip"};                 // θ += η g instead of −=
inline constexpr Mutation bias_zero{BugKind::bias_zero, 1, "bias-zero"};                  // dL/db left at zero
inline constexpr Mutation derivative_at_output_value{BugKind::derivative_at_output_value, 1,
                                                     "derivative-at-a"};  // σ'(a) for σ'(z) (sigmoid, tanh layers)
inline constexpr Mutation summed_under_mean{BugKind::constant_scale, 0, "summed-under-mean"};  // ×N under a mean
inline constexpr Mutation z_instead_of_a{BugKind::z_instead_of_a, 1, "z-instead-of-a"};        // dW_l = δ_l z_{l−1}ᵀ
inline constexpr Mutation output_missing_derivative{BugKind::output_missing_derivative, 1,
                                                    "output-missing-derivative"};  // δ_L = dL/da (quadratic loss)
inline constexpr Mutation doubled{BugKind::constant_scale, 2, "doubled"};  // e.g. ½ dropped from the quadratic loss
inline constexpr Mutation halved{BugKind::constant_scale, 0.5, "halved"};
inline constexpr Mutation softmax_derivative_on_fused{BugKind::softmax_derivative_on_fused, 1,
                                                      "softmax-derivative-on-fused-delta"};  // on top of a·Σy − y
// leaky_relu'(z) = 0 for z ≤ 0, in every leaky_relu layer
inline constexpr Mutation leaky_slope_zero{BugKind::derivative_formula, 1, "leaky-slope-zero", 1};
// δ_{l−1} = W_lᵀ δ_l: the hidden layers' act' left out
inline constexpr Mutation hidden_derivative_omitted{BugKind::derivative_formula, 1, "hidden-derivative-omitted", 2};
// σ' = z(1 − z), tanh' = 1 − z²: the formula in a fed z, in every sigmoid/tanh layer
inline constexpr Mutation formula_at_z{BugKind::derivative_formula, 1, "derivative-formula-at-z", 3};
// softmax' = a(1 − a) elementwise: the Jacobian's diagonal only (unfused losses)
inline constexpr Mutation softmax_diagonal{BugKind::derivative_formula, 1, "softmax-jacobian-diagonal", 4};
// δ_{l−1} from W_l δ_l (square layers; others keep W_lᵀ)
inline constexpr Mutation transposed_step{BugKind::transposed_step, 1, "transposed-step"};
// sample s paired with the target of sample s + 1 (mod N)
inline constexpr Mutation targets_rolled{BugKind::targets_misaligned, 1, "targets-rolled"};
// conv2d and pooling layers (docs/verify.md#image-layers)
// a true convolution: every kernel turned 180° in the forward and the backward pass
inline constexpr Mutation kernel_flipped{BugKind::kernel_flipped, 1, "kernel-flipped", 1};
inline constexpr Mutation kernel_flipped_dw{BugKind::kernel_flipped, 1, "kernel-flipped-dw", 2};  // dW only
inline constexpr Mutation kernel_flipped_dx{BugKind::kernel_flipped, 1, "kernel-flipped-dx", 3};  // dX only
inline constexpr Mutation stride_ignored_dw{BugKind::stride_ignored, 1, "stride-ignored-dw", 1};  // δ not dilated
inline constexpr Mutation stride_ignored_dx{BugKind::stride_ignored, 1, "stride-ignored-dx", 2};
inline constexpr Mutation padding_ignored{BugKind::backward_padding, 1, "padding-ignored", 1};  // backward at p = 0
inline constexpr Mutation padding_plus_one{BugKind::backward_padding, 1, "padding-plus-one", 2};  // at p + 1
inline constexpr Mutation channels_swapped{BugKind::channels_swapped, 1, "channels-swapped"};  // dX through W[i][o]
inline constexpr Mutation max_pool_to_all{BugKind::max_pool_routing, 1, "max-pool-to-all", 1};  // every entry
inline constexpr Mutation max_pool_to_ties{BugKind::max_pool_routing, 1, "max-pool-to-ties", 2};  // every tied max
inline constexpr Mutation max_pool_averaged{BugKind::max_pool_routing, 1, "max-pool-averaged", 3};
inline constexpr Mutation avg_pool_undivided{BugKind::avg_pool_undivided, 1, "avg-pool-undivided"};
inline constexpr Mutation conv_bias_first{BugKind::conv_bias_unsummed, 1, "conv-bias-first-position", 1};
inline constexpr Mutation conv_bias_mean{BugKind::conv_bias_unsummed, 1, "conv-bias-mean", 2};
}  // namespace mutation

inline constexpr Mutation all_mutations[] = {
    mutation::sign_flip,         mutation::bias_zero,        mutation::derivative_at_output_value,
    mutation::summed_under_mean, mutation::z_instead_of_a,   mutation::output_missing_derivative,
    mutation::doubled,           mutation::halved,           mutation::softmax_derivative_on_fused,
    mutation::leaky_slope_zero,  mutation::hidden_derivative_omitted, mutation::formula_at_z,
    mutation::softmax_diagonal,  mutation::transposed_step,  mutation::targets_rolled};

// The mutations of conv2d and pooling layers: they apply to no dense network.
inline constexpr Mutation image_mutations[] = {
    mutation::kernel_flipped,    mutation::kernel_flipped_dw, mutation::kernel_flipped_dx,
    mutation::stride_ignored_dw, mutation::stride_ignored_dx, mutation::padding_ignored,
    mutation::padding_plus_one,  mutation::channels_swapped,  mutation::max_pool_to_all,
    mutation::max_pool_to_ties,  mutation::max_pool_averaged, mutation::avg_pool_undivided,
    mutation::conv_bias_first,   mutation::conv_bias_mean};


inline const char* to_string(const Mutation& m) { return m.name; }
std::optional<Mutation> parse_mutation(std::string_view s);

// Whether the mutation changes anything on this network in general (e.g.
// z_instead_of_a needs two layers and a non-identity hidden activation;
// summed_under_mean needs mean reduction). A mutation that applies may still
// leave a particular entry unchanged (a zero gradient stays zero).
bool applies(const Mutation& m, const Network<double>& net);

// The gradients (weights, biases, deltas; inputs too) the buggy backward computes.
Gradients<double> mutated_gradients(const Case& c, const Mutation& m);

}  // namespace gradcheck
