#pragma once
// The round-off of one evaluation of the loss, per sample: the ε_f that the
// finite-difference estimators add to their error estimates (ε_f / h).
#include <gradcheck/engine/case.hpp>

namespace gradcheck::detail {

// u·(|ℓ_n| + Σ_l Σ_j |dℓ_n/dz_l(j)|·(|W_l||a| + |b|)(j) + the outputs' own
// rounding), unreduced, per sample n: the first-order effect of rounding every
// pre-activation and output. fp and g are the double forward and backward passes.
Vector<double> loss_noise(const Case& c, const ForwardPass<double>& fp, const Gradients<double>& g);

}  // namespace gradcheck::detail
