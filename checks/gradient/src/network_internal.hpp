#pragma once
// Internals of the network checks shared between their sources (not installed).
#include <gradcheck/gradient/network_check.hpp>

#include <gradcheck/gradient/detail/internal.hpp>

namespace gradcheck::detail {

std::vector<const Matrix<double>*> match_shapes(const Case& c, const std::vector<LayerGradient>& claimed,
                                                const std::vector<TensorId>& ids, std::vector<Matrix<double>>& storage,
                                                std::vector<CheckFinding>& findings);

// match_shapes, with the inputs' tensor (when checked) taken from `input_gradient` where its shape fits.
std::vector<const Matrix<double>*> claimed_tensors(const Case& c, const std::vector<LayerGradient>& claimed,
                                                   const Matrix<double>* input_gradient,
                                                   const std::vector<TensorId>& ids,
                                                   std::vector<Matrix<double>>& storage,
                                                   std::vector<CheckFinding>& findings);

CheckResult compare_with_reference(const Case& c, const std::vector<LayerGradient>& claimed,
                                   const Matrix<double>* input_gradient, const Reference& ref, const Tolerances& tol);

// Full mode; `include` (in tensors_of order) restricts the entries checked.
CheckResult full_check(const Case& c, const std::vector<LayerGradient>& analytic, const Matrix<double>* input_gradient,
                       const CheckOptions& o, const std::vector<char>* include);

CheckResult fast_check(const Case& c, const std::vector<LayerGradient>& analytic, const Matrix<double>* input_gradient,
                       const CheckOptions& o);

}  // namespace gradcheck::detail
