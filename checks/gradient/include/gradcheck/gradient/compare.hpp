#pragma once
// The comparison rule: ONE formula, used by every check in gradcheck (network
// checks, claimed gradients, check_gradient on plain functions, fast-mode
// directions, the GoogleTest helpers). Reports only render its results.
//
// Each entry compares a value under test `a` (an analytic gradient: the
// engine's, a user's function's, or one claimed by another implementation)
// with a reference value `r` (a finite difference, a complex step or the
// 50-digit reference). `r` comes with ε_r, an estimate of its own error
// (truncation + round-off); ε_a estimates the round-off a correct
// double-precision computation of `a` carries (0 where nothing is known).
// T is the tensor the entry belongs to (one layer's weights, one layer's
// biases, the input gradient, or the whole x of check_gradient).
//
//   floor_T = max(η · max_{k ∈ T, r_k finite} |r_k|, 1e-290)         one per tensor
//   e       = |a − r| / max(|r|, floor_T)                            relative error (reported)
//   τ       = atol + 1e-290 + rtol · max(|r|, floor_T) + κ · ε_r + κ_a · ε_a   tolerance
//
//   verdict = non-finite         a or r is NaN or ±Inf and they are not the same value
//                                (NaN matches only NaN, +Inf only +Inf, −Inf only −Inf;
//                                a matching pair agrees with e = 0); also when τ itself is
//                                not finite (the reference's error estimate blew up)
//             inconclusive-kink  the reference's stencil crossed a relu/leaky_relu kink and no
//                                one-sided re-check decided the entry (decided by the caller,
//                                which knows the stencil; see kinks in docs/checks.md)
//             agree              |a − r| ≤ τ
//             disagree           otherwise
//
// Why a floor at the tensor's scale rather than a fixed atol, and why derived
// tolerances by default: docs/comparison-rule.md. Tolerances::fixed(atol, rtol)
// gives torch's allclose rule (|a − r| ≤ atol + rtol·|r|) for comparison.
//
// How to use:
//   const Tolerances tol;                                   // derived (default)
//   const double floor = tensor_floor(max_abs_reference, tol);
//   const Comparison c = compare(a, r, error_estimate, analytic_roundoff, floor, tol);
//   if (c.verdict == Verdict::disagree) ...                 // c.relative_error, c.tolerance

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string_view>

namespace gradcheck {

enum class Verdict { agree, disagree, inconclusive_kink, non_finite };

inline constexpr Verdict all_verdicts[] = {Verdict::agree, Verdict::disagree, Verdict::inconclusive_kink,
                                           Verdict::non_finite};

inline const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::agree: return "agree";
    case Verdict::disagree: return "disagree";
    case Verdict::inconclusive_kink: return "inconclusive-kink";
    case Verdict::non_finite: return "non-finite";
  }
  return "?";
}

inline std::optional<Verdict> parse_verdict(std::string_view s) {
  for (Verdict v : all_verdicts)
    if (s == to_string(v)) return v;
  return std::nullopt;
}

// The terms of τ, in one place. Defaults are the derived rule; see the header
// comment for the formula and docs/comparison-rule.md for how they were chosen.
struct Tolerances {
  // Relative slack on top of the error estimates (a safety margin, not the
  // main term): 1e-8 is ~10⁸ ulps, far below any logic error (a wrong gradient
  // is off by ≥ 1e-3 relative in every bug studied) and far above the
  // measured relative error of a correct double backward (≤ 1e-12 on
  // well-conditioned entries).
  double rtol = 1e-8;
  // Absolute slack; 0 in the derived rule (the tensor floor plays its part).
  double atol = 0;
  // η: entries below η · (largest |r| of the tensor) are compared at that scale.
  // 1e-6 leaves 10 decades between the floor and the round-off (1e-16 × max).
  double floor_fraction = 1e-6;
  // κ: multiple of the reference's error estimate. Ridders' estimate (tableau +
  // round-off) bounded its true error in all 2,919 entries measured, the worst
  // true/estimate ratio 0.29 (checks/gradient/tests/ridders_test.cpp); 4 keeps that
  // margin for estimates less well calibrated (step halving, one-sided).
  double estimate_factor = 4;
  // κ_a: multiple of the analytic round-off estimate (which is already a
  // bound-like quantity, see docs/comparison-rule.md).
  double roundoff_factor = 1;

  // torch.autograd.gradcheck's rule: |a − r| ≤ atol + rtol·|r|, nothing derived.
  static Tolerances fixed(double atol, double rtol) {
    Tolerances t;
    t.atol = atol;
    t.rtol = rtol;
    t.floor_fraction = 0;
    t.estimate_factor = 0;
    t.roundoff_factor = 0;
    return t;
  }
  bool is_fixed() const { return estimate_factor == 0 && roundoff_factor == 0; }
};

// The smallest denominator of e (see the header comment).
inline constexpr double absolute_floor = 1e-290;

// floor_T of a tensor whose largest finite |reference entry| is max_abs_reference.
inline double tensor_floor(double max_abs_reference, const Tolerances& tol) {
  const double f = tol.floor_fraction * max_abs_reference;
  return std::isfinite(f) ? std::max(f, absolute_floor) : absolute_floor;
}

// floor_T from the reference entries themselves (any range of doubles).
template <class Range>
double tensor_floor_of(const Range& reference, const Tolerances& tol) {
  double m = 0;
  for (double r : reference)
    if (std::isfinite(r)) m = std::max(m, std::abs(r));
  return tensor_floor(m, tol);
}

struct Comparison {
  double absolute_error = 0;  // |a − r| (0 for a matching non-finite pair, NaN otherwise if non-finite)
  double relative_error = 0;  // e
  double tolerance = 0;       // τ
  Verdict verdict = Verdict::agree;
};

// Same non-finite value: NaN matches NaN, an infinity matches the same infinity.
inline bool same_non_finite(double a, double r) {
  if (std::isnan(a) || std::isnan(r)) return std::isnan(a) && std::isnan(r);
  return a == r;  // both infinite here
}

// The rule of the header comment, kinks excepted (the caller decides those).
inline Comparison compare(double analytic, double reference, double error_estimate, double analytic_roundoff,
                          double floor, const Tolerances& tol) {
  Comparison c;
  const double scale = std::max(std::abs(reference), std::max(floor, absolute_floor));
  c.tolerance = tol.atol + absolute_floor + tol.rtol * scale + tol.estimate_factor * std::abs(error_estimate) +
                tol.roundoff_factor * std::abs(analytic_roundoff);
  if (!std::isfinite(analytic) || !std::isfinite(reference)) {
    if (same_non_finite(analytic, reference)) {
      c.verdict = Verdict::agree;
      return c;
    }
    c.absolute_error = c.relative_error = std::numeric_limits<double>::quiet_NaN();
    if (std::isinf(analytic) || std::isinf(reference)) c.absolute_error = c.relative_error = std::numeric_limits<double>::infinity();
    c.verdict = Verdict::non_finite;
    return c;
  }
  c.absolute_error = std::abs(analytic - reference);
  // r = 0 in a tensor whose every reference entry is 0: nothing to be relative
  // to, so a nonzero a is infinitely far (printed "inf", not 1e+289).
  c.relative_error = scale > absolute_floor || c.absolute_error == 0 ? c.absolute_error / scale
                                                                      : std::numeric_limits<double>::infinity();
  if (!std::isfinite(c.tolerance)) c.verdict = Verdict::non_finite;
  else c.verdict = c.absolute_error <= c.tolerance ? Verdict::agree : Verdict::disagree;
  return c;
}

}  // namespace gradcheck
