#pragma once
// Internals shared by the watch's sources (watch.cpp, watch_trace.cpp, watch_inputs.cpp).
#include <gradcheck/watch/watch.hpp>

#include <gradcheck/engine/format.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

namespace gradcheck::watch::detail {

// A number as the finding sentences show it: 4 significant digits, "NaN", "inf", "-inf".
inline std::string num(double x, int digits = 4) { return format_number(x, digits); }

// A fraction as a percentage, one decimal: 0.3131 -> "31.3 %".
inline std::string percent(double fraction) { return format_fixed(100.0 * fraction, 1) + " %"; }

// Whether n doubles are all finite. Integer arithmetic on the bits, so that it
// vectorises without -ffast-math (Eigen's allFinite computes x − x == 0 and
// costs several times more): with the sign cleared, x is NaN/±inf exactly when
// its exponent bits are all ones, i.e. |bits| ≥ 0x7ff0…0, and adding 1 << 52
// then carries into bit 63.
inline bool all_finite(const double* p, Index n) {
  std::uint64_t acc = 0;
  for (Index i = 0; i < n; ++i) {
    std::uint64_t b;
    std::memcpy(&b, p + i, sizeof b);
    acc |= (b & 0x7fffffffffffffffULL) + 0x0010000000000000ULL;
  }
  return (acc >> 63) == 0;
}

template <class M>
bool all_finite(const M& m) {
  return all_finite(m.data(), m.size());
}

inline bool finite_parameters(const Network<double>& net) {
  for (const auto& l : net.layers)
    if (!all_finite(l.weights) || !all_finite(l.biases)) return false;
  return true;
}

inline Index count_non_finite(const Matrix<double>& m) {
  Index n = 0;
  for (Index k = 0; k < m.size(); ++k) n += std::isfinite(m.data()[k]) ? 0 : 1;
  return n;
}

// The first non-finite entry of m in the engine's storage order (sample by sample
// for units × batch tensors), or false.
inline bool first_non_finite(const Matrix<double>& m, Index& row, Index& col) {
  for (Index c = 0; c < m.cols(); ++c)
    for (Index r = 0; r < m.rows(); ++r)
      if (!std::isfinite(m(r, c))) {
        row = r;
        col = c;
        return true;
      }
  return false;
}

// Finding sentences name layers from 0, as the case format does.
inline std::string layer_name(int l) { return "layer " + std::to_string(l); }

// ‖δ aᵀ‖_F without forming δ aᵀ, from the batch's two m × m Gram matrices:
// ‖δ aᵀ‖_F² = Σ_ij (δᵀδ)_ij (aᵀa)_ij, a fraction of the product's work when m
// is small against the layer (δ: units × m, a: inputs × m). NaN when the
// product is the cheaper way, or when the sum cancels enough to lose more than
// about 7 digits: its rounding error is below (n + m + 2)·u·B with
// B = (Σ_k ‖δ_k‖‖a_k‖)² (Cauchy–Schwarz on the per-sample terms), so the sum
// must be at least 1e-6·B; also NaN when B overflows or the sum falls below
// 1e-280 (the caller then forms δ aᵀ). docs/watch.md#per-layer-statistics.
double gram_norm(const Matrix<double>& delta, const Matrix<double>& a);

}  // namespace gradcheck::watch::detail
