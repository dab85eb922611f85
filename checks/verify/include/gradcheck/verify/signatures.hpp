#pragma once
// Bug signatures: known ways a hand-written backward pass goes wrong, each
// recognised from the numbers of a reply and reported with the evidence that
// supports it (docs/verify.md lists every kind with an example).
//
// Most kinds are recognised by recomputing the gradients the way the bug would
// (a hypothesis: σ'(a) for σ'(z), dW from z, ...) on the case's own forward pass
// and finding the reply equal to that hypothesis, tensor by tensor, while the
// hypothesis differs from the reference. Scales are fitted per tensor
// (VerifyResult::ratios) and named when one ratio fits every tensor. A kind is
// claimed only when the numbers show it; the evidence says how closely.
//
// Signatures are produced by verify_reply (verify.hpp); this header defines
// what they carry.

#include <gradcheck/engine/findings.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace gradcheck {

// The catalogue of bugs: what a signature names and what a Mutation injects.
enum class BugKind {
  shape_mismatch,              // a tensor or the layer count differs from the case
  non_finite,                  // NaN or ±Inf in the reply (bare NaN tokens included)
  sign_flip,                   // every tensor is −1 × the reference
  constant_scale,              // every tensor is c × the reference, c = N, 1/N, 2, ½ (or their negatives)
  bias_zero,                   // bias gradients all zero where the reference's are not
  bias_missing,                // bias gradients absent from the reply
  derivative_at_output_value,  // act'(a) used where act'(z) belongs
  output_missing_derivative,   // δ_L = dL/da without the output activation's derivative
  z_instead_of_a,              // dW_l = δ_l z_{l−1}ᵀ instead of δ_l a_{l−1}ᵀ
  softmax_derivative_on_fused, // softmax Jacobian applied on top of the fused softmax + CE delta a − y
  derivative_formula,          // an activation derivative of the wrong formula: omitted, z(1 − z) / 1 − z²,
                               // leaky_relu's negative slope 0, softmax's Jacobian diagonal a(1 − a) only
  transposed_step,             // δ_{l−1} from W_l δ_l where W_lᵀ δ_l belongs (a square layer)
  targets_misaligned,          // each sample paired with another sample's target
  weight_decay,                // the weight gradients carry λW (L2 regularisation) the loss does not
  output_error_term,           // δ_L wrong in a form not listed above (evidence: implied dL/da)
  backward_step,               // a step δ_l → δ_{l−1} is wrong in a form not listed above
  samples_dropped,             // the reply is the gradient of some samples only (dropped, overwritten)
  sample_weights,              // the reply is Σ w_s g_s with per-sample weights other than the reduction's
  tensor_scale,                // each tensor is a multiple of the reference, not all by the same factor
  kernel_flipped,              // a conv2d kernel turned 180° (true convolution): throughout, or in dW or dX only
  stride_ignored,              // a conv2d dW or dX computed as if the stride were 1 (δ not dilated)
  backward_padding,            // a conv2d backward that ignores the padding or is off by one
  channels_swapped,            // a conv2d dX through W[i][o] where W[o][i] belongs (the kernel not transposed)
  max_pool_routing,            // a max-pool window's δ sent to every entry, every tied maximum, or averaged
  avg_pool_undivided,          // an avg-pool backward without the ÷ window²
  conv_bias_unsummed,          // a conv2d db not summed over output positions (one position, or the mean)
  precision,                   // every difference at float32 level (or at the digits printed): a note
  kink_convention,             // relu'(0) / leaky_relu'(0) taken differently at an exact kink: a note
};
const char* to_string(BugKind k);  // "sign-flip", "derivative-at-a", ...

// A signature is a Finding (engine/findings.hpp) of severity error (a bug: it
// fails the verification) or note (not a bug: precision, a convention; passes
// unless strict). `message` is one plain sentence with the key numbers, e.g.
// "every tensor is −1.000000 × the reference (fit residual 2e-16)".
struct Signature : Finding {
  BugKind kind = BugKind::output_error_term;
  std::vector<std::size_t> layers;  // the layers it concerns (empty: the whole network)
};

// How verify's reports spell a signature's severity: "divergence", "note" or
// "warning" (a precision note that lost gradient values; docs/verify.md, the
// report schema).
inline const char* severity_word(const Signature& s) {
  return s.severity == Severity::note ? "note" : s.severity == Severity::warning ? "warning" : "divergence";
}
// " (note)", " (warning)" or "": how the text reports tag a signature.
inline std::string severity_tag(const Signature& s) {
  return s.severity == Severity::note || s.severity == Severity::warning ? std::string(" (") + severity_word(s) + ")" : "";
}

}  // namespace gradcheck
