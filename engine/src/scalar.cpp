#include <gradcheck/engine/scalar.hpp>

#include <boost/math/constants/constants.hpp>

#include <array>

namespace gradcheck {

namespace {

using Big = cpp_bin_float_50;
using Wide = boost::multiprecision::number<boost::multiprecision::cpp_bin_float<100>>;

constexpr int kTerms = 13;  // (2^-10 ln 2)^13 / 14! < 1e-52: the series' truncation
constexpr int kSquarings = 10;

// ln 2 = hi + lo, hi with 140 bits: n · hi is exact for |n| < 2^28 (168 bits),
// lo carries the next 168, from ln 2 in 100 digits.
struct Ln2 {
  Big inverse, hi, lo;
  Ln2() {
    const Wide ln2 = boost::math::constants::ln_two<Wide>();
    hi = static_cast<Big>(ldexp(floor(ldexp(ln2, 140)), -140));
    lo = static_cast<Big>(ln2 - Wide(hi));
    inverse = static_cast<Big>(1 / ln2);
  }
};

std::array<Big, kTerms + 1> reciprocal_factorials() {
  std::array<Big, kTerms + 1> c{};
  Wide f = 1;
  for (int m = 1; m <= kTerms; ++m) {
    f *= m;
    c[static_cast<std::size_t>(m)] = static_cast<Big>(1 / f);
  }
  return c;
}

}  // namespace

namespace detail {

Big exp_(const Big& x) {
  if (!(abs(x) <= 1e6)) return boost::multiprecision::exp(x);  // NaN, ±∞, over- or underflow
  if (x == 0) return Big(1);
  static const Ln2 ln2;
  static const std::array<Big, kTerms + 1> c = reciprocal_factorials();
  const Big n = floor(x * ln2.inverse);
  const Big r = (x - n * ln2.hi) - n * ln2.lo;  // in [0, ln 2), to rounding
  const Big t = ldexp(r, -kSquarings);
  Big e = c[kTerms];  // Horner: e^t − 1 = t (c1 + t (c2 + ...))
  for (int m = kTerms - 1; m >= 1; --m) e = e * t + c[static_cast<std::size_t>(m)];
  e *= t;
  // (1 + e)² − 1 = e (e + 2): squaring what is left of 1 keeps e's relative accuracy.
  for (int k = 0; k < kSquarings; ++k) e *= e + 2;
  return ldexp(e + 1, n.convert_to<int>());
}

}  // namespace detail
}  // namespace gradcheck
