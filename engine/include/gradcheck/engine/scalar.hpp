#pragma once
// Scalar support: the engine is written once and instantiated for
//   double, long double, std::complex<double> (complex step) and
//   boost::multiprecision::cpp_bin_float_50 (the ground truth).
// Branches (relu, stable sigmoid, softmax's max) look at the real part only, so
// the complex instantiation stays analytic and carries derivatives in its
// imaginary part.

#include <Eigen/Dense>
#include <boost/multiprecision/cpp_bin_float.hpp>
#include <boost/multiprecision/eigen.hpp>

#include <cmath>
#include <complex>
#include <type_traits>

namespace gradcheck {

template <class S>
using Matrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
template <class S>
using Vector = Eigen::Matrix<S, Eigen::Dynamic, 1>;
using Index = Eigen::Index;

// Largest layer width accepted anywhere (documented in docs/limits.md): units or
// inputs of a dense layer, features of an image sample. A case asking for more is
// refused before anything is allocated.
inline constexpr Index max_layer_width = 1 << 20;

using boost::multiprecision::cpp_bin_float_50;

namespace detail {

// Scalars for which Eigen has packet (SIMD) exp: the training hot path uses
// array expressions for them, other scalars the per-element forms.
template <class S>
inline constexpr bool vectorised = std::is_same_v<S, double> || std::is_same_v<S, float>;
// Eigen's packet exp is exact to an ulp or two only while its result is a normal
// number (e^{−708} ≈ DBL_MIN); a batch holding an argument beyond this bound
// takes the per-element path (found by CheckProperty's huge magnitudes: tanh'
// of z = 356 came out 10× too large).
inline constexpr double packet_exp_limit = 700.0;

template <class T>
struct is_complex : std::false_type {};
template <class T>
struct is_complex<std::complex<T>> : std::true_type {};

// Real part, used for every branch and comparison.
template <class T>
inline T re(const T& x) {
  return x;
}
template <class T>
inline T re(const std::complex<T>& x) {
  return x.real();
}

template <class T>
inline double to_double(const T& x) {
  return static_cast<double>(re(x));
}

template <class S>
inline S exp_(const S& x) {
  using std::exp;
  return S(exp(x));
}
// e^x in 50 digits by Boost's method (x = n ln 2 + r, e^r from a Taylor series
// of r / 2^s squared s times), 3× faster: the series multiplies by 1/m! where
// Boost divides every term, r is reduced to 2^-10 (Boost sums ~38 terms for
// |x| < 1), e^{−x} needs no final 1/e^x, and ln 2 is split in two (Boost's one
// rounded ln 2 costs n·1e-50 at x = n ln 2). Within about 1e-49 of e^x (tested
// against Boost's exp in 100 digits); |x| > 1e6, NaN and ±∞ are Boost's. The
// 50-digit reference's sigmoids spent most of their time in Boost's exp.
cpp_bin_float_50 exp_(const cpp_bin_float_50& x);

template <class S>
inline S log_(const S& x) {
  using std::log;
  return S(log(x));
}
template <class S>
inline S tanh_(const S& x) {
  using std::tanh;
  return S(tanh(x));
}
// log(1 + x): accurate near 0 for real types; complex has no std::log1p, and the
// imaginary part (all that complex step reads) is exact through log(1 + x).
template <class S>
inline S log1p_(const S& x) {
  if constexpr (is_complex<S>::value) {
    return std::log(S(1) + x);
  } else {
    using std::log1p;
    return S(log1p(x));
  }
}

// Stable logistic function: never evaluates exp of a large positive argument.
template <class S>
inline S sigmoid(const S& z) {
  if (re(z) >= 0) return S(S(1) / S(S(1) + exp_(S(-z))));
  const S e = exp_(z);
  return S(e / S(S(1) + e));
}

// σ'(z) = σ(z)·σ(−z), from z: a·(1 − a) loses all relative accuracy once a rounds near 1.
template <class S>
inline S sigmoid_derivative(const S& z) {
  const S t = re(z) >= 0 ? exp_(S(-z)) : exp_(z);  // e^{−|z|}
  const S d = S(1) + t;
  return S(t / S(d * d));
}

// tanh'(z) = sech²(z) = 4t/(1 + t)² with t = e^{−2|z|}, for the same reason.
template <class S>
inline S tanh_derivative(const S& z) {
  const S t = re(z) >= 0 ? exp_(S(S(-2) * z)) : exp_(S(S(2) * z));
  const S d = S(1) + t;
  return S(S(4) * t / S(d * d));
}

// softplus(x) = log(1 + e^x), stable for both signs.
template <class S>
inline S softplus(const S& x) {
  if (re(x) > 0) return S(x + log1p_(exp_(S(-x))));
  return log1p_(exp_(x));
}

}  // namespace detail
}  // namespace gradcheck
