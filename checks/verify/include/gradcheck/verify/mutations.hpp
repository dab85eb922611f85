#pragma once
// Known-bad backward passes: the bugs people actually write, each as a function
// of a case returning the gradients the buggy code would produce. The checks'
// known-bad controls, the bug-signature tests of `gradcheck verify` and the
// fixtures use them as the implementation under test.
//
//   sign_flip                      every gradient negated (θ += η g instead of −=)
//   bias_gradient_dropped          dL/db left at zero
//   derivative_at_activation       σ'(a) instead of σ'(z): a(1 − a) evaluated at a = σ(z),
//                                  i.e. σ(a)(1 − σ(a)); tanh: 1 − tanh²(a) (sigmoid and tanh layers)
//   summed_under_mean              per-sample gradients summed although the loss is a mean (×N)
//   z_instead_of_a                 dW_l = δ_l z_{l−1}ᵀ instead of δ_l a_{l−1}ᵀ (layers ≥ 1)
//   output_delta_without_derivative the output delta is dL/da, the activation derivative missing
//                                  (quadratic loss; identity outputs are unaffected)
//   doubled, halved                every gradient ×2 / ×½ (e.g. ½ dropped from the quadratic loss)
//   softmax_derivative_on_fused_delta  softmax + cross_entropy: the softmax Jacobian applied again
//                                  on top of the fused delta a·Σy − y
//
// How to use:
//   if (applies(Mutation::z_instead_of_a, c.network))
//     const Gradients<double> bad = mutated_gradients(c, Mutation::z_instead_of_a);

#include <gradcheck/engine/case.hpp>

#include <optional>
#include <string_view>
#include <vector>

namespace gradcheck {

enum class Mutation {
  sign_flip,
  bias_gradient_dropped,
  derivative_at_activation,
  summed_under_mean,
  z_instead_of_a,
  output_delta_without_derivative,
  doubled,
  halved,
  softmax_derivative_on_fused_delta,
};

inline constexpr Mutation all_mutations[] = {
    Mutation::sign_flip,        Mutation::bias_gradient_dropped,           Mutation::derivative_at_activation,
    Mutation::summed_under_mean, Mutation::z_instead_of_a,                 Mutation::output_delta_without_derivative,
    Mutation::doubled,          Mutation::halved,                          Mutation::softmax_derivative_on_fused_delta};

const char* to_string(Mutation m);
std::optional<Mutation> parse_mutation(std::string_view s);

// Whether the mutation changes anything on this network in general (e.g.
// z_instead_of_a needs two layers and a non-identity hidden activation;
// summed_under_mean needs mean reduction). A mutation that applies may still
// leave a particular entry unchanged (a zero gradient stays zero).
bool applies(Mutation m, const Network<double>& net);

// The gradients (weights, biases, deltas; inputs too) the buggy backward computes.
Gradients<double> mutated_gradients(const Case& c, Mutation m);

}  // namespace gradcheck
