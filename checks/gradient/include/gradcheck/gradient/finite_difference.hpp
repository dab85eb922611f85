#pragma once
// Numerical derivatives of a function of one real variable t at t = 0, each
// returning the derivative AND an estimate of its error, so that tolerances
// can be derived from them (compare.hpp).
//
//   central_difference  D(h) = (f(h) − f(−h)) / 2h; error ≈ |D(h) − D(2h)| / 3
//                       (the O(h²) truncation from step halving) + ε_f / h (round-off)
//   central_difference_3  the same D(h), its truncation from two third differences
//                       through f(0), and whether the step resolves f at all
//   ridders             Numerical Recipes' dfridr: D at steps h, h/1.4, h/1.4², ...,
//                       extrapolated to h → 0 in a Neville tableau; the error estimate
//                       is the tableau's; one-sided variants extrapolate in powers of h
//   complex_step        Im f(i h) / h: no subtraction, exact to rounding for h = 1e-20
//
// f returns std::optional<double>: std::nullopt marks a point that must not be
// used (the network checks return it when the point lies across a relu kink
// from t = 0), and the estimators then use smaller steps or report failure
// (Derivative::ok == false). f may also return a plain double.
// `roundoff` is ε_f, the absolute round-off of one evaluation of f.
//
// How to use:
//   auto f = [&](double t) { return loss_along(t); };
//   const Derivative d = ridders(f, 1e-2);                 // d.value, d.error
//   const Derivative c = central_difference(f, 6e-6, 1e-16 * std::abs(f(0)));

#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <optional>
#include <type_traits>
#include <vector>

namespace gradcheck {

struct Derivative {
  double value = std::numeric_limits<double>::quiet_NaN();
  double error = std::numeric_limits<double>::infinity();
  double step = 0;  // the step the value came from (Ridders: of the chosen tableau entry)
  bool ok = false;  // false: no usable stencil (every step crossed a kink, or f was not finite)
  bool resolved = true;  // false: the step does not resolve f (central_difference_3 only): extrapolate
};

enum class Side { central, forward, backward };

struct RiddersOptions {
  double shrink = 1.4;  // NR's CON: each step is the previous / 1.4
  int tableau = 10;     // NR's NTAB: steps in the tableau
  double safe = 2.0;    // NR's SAFE: stop when the error grows by this factor
  int max_skipped = 30; // unusable (kink-crossing) steps skipped before giving up
};

namespace detail {

template <class R>
std::optional<double> as_optional(R&& r) {
  if constexpr (std::is_convertible_v<std::decay_t<R>, std::optional<double>> &&
                !std::is_arithmetic_v<std::decay_t<R>>)
    return std::optional<double>(r);
  else
    return static_cast<double>(r);
}

// One difference quotient at step h, or nullopt when a point is unusable.
template <class F>
std::optional<double> quotient(F& f, double f0, double h, Side side) {
  switch (side) {
    case Side::central: {
      const auto p = as_optional(f(h));
      if (!p) return std::nullopt;
      const auto m = as_optional(f(-h));
      if (!m) return std::nullopt;
      return (*p - *m) / (2 * h);
    }
    case Side::forward: {
      const auto p = as_optional(f(h));
      if (!p) return std::nullopt;
      return (*p - f0) / h;
    }
    case Side::backward: {
      const auto m = as_optional(f(-h));
      if (!m) return std::nullopt;
      return (f0 - *m) / h;
    }
  }
  return std::nullopt;
}

}  // namespace detail

// D(h) = (f(h) − f(−h)) / 2h with its truncation h²·f‴/6 estimated from the
// third differences t₁ = f(2h) − 3 f(h) + 3 f(0) − f(−h) and t₂ = f(h) − 3 f(0)
// + 3 f(−h) − f(−2h), both ≈ h³·f‴ (f(0) is known: four evaluations). The
// estimate max(|t₁|, |t₂|)/6h trusts f to look cubic over [−2h, 2h], which holds
// only where it is small: above 1e-3 of |D| (and the round-off) the step does
// not resolve f (a saturated unit switching within the stencil, where a third
// difference can miss the error by far, or vanish by coincidence: hence two)
// and `resolved` is false, for the caller to extrapolate at smaller steps
// (Ridders) instead. A point that cannot be used at ±2h leaves it unresolved.
template <class F>
Derivative central_difference_3(F&& f, double h, double f0, double roundoff = 0) {
  Derivative d;
  const auto p = detail::as_optional(f(h));
  if (!p) return d;
  const auto m = detail::as_optional(f(-h));
  if (!m) return d;
  d.value = (*p - *m) / (2 * h);
  d.step = h;
  d.ok = std::isfinite(d.value);
  const auto p2 = detail::as_optional(f(2 * h));
  const auto m2 = p2 ? detail::as_optional(f(-2 * h)) : std::nullopt;
  if (!m2) {
    d.resolved = false;
    return d;
  }
  const double t1 = *p2 - 3 * *p + 3 * f0 - *m, t2 = *p - 3 * f0 + 3 * *m - *m2;
  const double truncation = std::max(std::abs(t1), std::abs(t2)) / (6 * h), noise = 2.5 * roundoff / h;
  d.error = truncation + noise;
  d.ok = d.ok && !std::isnan(d.error);
  d.resolved = truncation <= 1e-3 * std::abs(d.value) + noise;
  return d;
}

// Central differences at h and 2h (or one-sided: forward/backward differences at
// h and 2h, extrapolated to second order). `f0` = f(0) is only used one-sided.
template <class F>
Derivative central_difference(F&& f, double h, double roundoff = 0, Side side = Side::central, double f0 = 0) {
  Derivative d;
  const auto d1 = detail::quotient(f, f0, h, side);
  if (!d1) return d;
  const auto d2 = detail::quotient(f, f0, 2 * h, side);
  d.step = h;
  if (side == Side::central) {
    if (!d2) {  // only the wider stencil crossed: keep D(h), with no truncation estimate but the round-off
      d.value = *d1;
      d.error = std::numeric_limits<double>::infinity();
      return d;
    }
    d.value = *d1;
    d.error = std::abs(*d1 - *d2) / 3 + roundoff / h;
  } else {
    if (!d2) return d;
    // First-order quotients: D(h) − D(2h) ≈ −(h/2) f''. The second-order
    // combination 2 D(h) − D(2h) removes it; its own error is bounded by the
    // size of the correction it made (a conservative estimate).
    d.value = 2 * *d1 - *d2;
    d.error = std::abs(*d1 - *d2) + 3 * roundoff / h;
  }
  d.ok = std::isfinite(d.value) && !std::isnan(d.error);
  return d;
}

// Ridders' method (Numerical Recipes in C, 2nd ed., §5.7, dfridr), kink-aware:
// steps whose stencil is unusable are skipped and the tableau starts at the
// first usable one. One-sided differences have an error series in every power
// of h, so their tableau extrapolates with factor shrink instead of shrink².
template <class F>
Derivative ridders(F&& f, double h, double roundoff = 0, Side side = Side::central, double f0 = 0,
                   const RiddersOptions& opt = {}) {
  Derivative best;
  const int n = opt.tableau;
  const double con = opt.shrink;
  const double con_p = side == Side::central ? con * con : con;
  std::vector<double> a(static_cast<std::size_t>(n * n), 0.0);
  auto at = [&](int i, int j) -> double& { return a[static_cast<std::size_t>(i * n + j)]; };
  double hh = h;
  int skipped = 0;
  std::optional<double> first;
  while (!(first = detail::quotient(f, f0, hh, side))) {
    if (++skipped > opt.max_skipped) return best;
    hh /= con;
  }
  at(0, 0) = *first;
  best.value = *first;
  best.step = hh;
  double err = std::numeric_limits<double>::max();
  double best_step = hh;
  for (int i = 1; i < n; ++i) {
    hh /= con;
    auto q = detail::quotient(f, f0, hh, side);
    while (!q) {  // a kink between this step and 0: smaller steps only
      if (++skipped > opt.max_skipped) break;
      hh /= con;
      q = detail::quotient(f, f0, hh, side);
    }
    if (!q) break;
    at(0, i) = *q;
    double fac = con_p;
    for (int j = 1; j <= i; ++j) {
      at(j, i) = (at(j - 1, i) * fac - at(j - 1, i - 1)) / (fac - 1);
      fac *= con_p;
      const double errt = std::max(std::abs(at(j, i) - at(j - 1, i)), std::abs(at(j, i) - at(j - 1, i - 1)));
      if (errt <= err) {
        err = errt;
        best.value = at(j, i);
        best_step = hh;
      }
    }
    if (std::abs(at(i, i) - at(i - 1, i - 1)) >= opt.safe * err) break;
  }
  if (err == std::numeric_limits<double>::max()) {  // a single usable step: no tableau
    best.error = std::numeric_limits<double>::infinity();
    best.ok = false;
    return best;
  }
  // The tableau's differences contain the round-off of its entries, but by
  // chance they can be small; keep the round-off of the step used as a floor.
  const double roundoff_term = (side == Side::central ? 1.0 : 2.0) * roundoff / best_step;
  best.error = err + roundoff_term;
  best.step = best_step;
  best.ok = std::isfinite(best.value) && !std::isnan(best.error);
  return best;
}

// Complex step: f is evaluated at the complex point i·h (h = 1e-20 by default
// scale). The imaginary part carries h·f'(0) with no subtraction anywhere, so
// the result is exact to rounding; truncation is O(h²) relative, nil at 1e-20.
// The error estimate is left to the caller (it is the round-off of computing
// f' analytically, which only the caller can bound).
template <class F>
Derivative complex_step(F&& f, double h) {
  Derivative d;
  const std::complex<double> v = f(std::complex<double>(0.0, h));
  d.value = v.imag() / h;
  d.error = 0;
  d.step = h;
  d.ok = std::isfinite(d.value);
  return d;
}

}  // namespace gradcheck
