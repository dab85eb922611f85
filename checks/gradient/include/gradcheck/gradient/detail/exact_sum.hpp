#pragma once
// Exact sums of products of doubles, rounded once to 50 digits: the reference's
// first dense layer, whose weights and inputs are doubles, without 50-digit
// multiplies (docs/checks.md#methods, "multiprecision").
//
//   ExactSum s;
//   if (!s.add_product(w, x)) ...   // w·x left double's range: compute in 50 digits
//   s.add(b);
//   const cpp_bin_float_50 z = s.take();   // Σ, within one 50-digit rounding; s is empty again
//
// A product a·b is p + e exactly (p = a·b rounded, e = fma(a, b, −p)) unless it
// overflows or comes within 2^-960 of underflow; every double is added exactly
// into a fixed-point accumulator of 32-bit digits spanning double's whole range.
// A 50-digit factor enters as its exact split into up to four doubles.

#include <gradcheck/engine/scalar.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace gradcheck::detail {

class ExactSum {
 public:
  // Adds v exactly; v must be finite.
  void add(double v) {
    if (v == 0) return;
    std::uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    const int e = static_cast<int>((bits >> 52) & 0x7ff);
    std::uint64_t m = bits & ((std::uint64_t(1) << 52) - 1);
    if (e != 0) m |= std::uint64_t(1) << 52;
    const int pos = e == 0 ? 0 : e - 1;  // v = ±m · 2^(pos − 1074)
    const int at = pos >> 5;
    const int shift = pos & 31;  // m · 2^shift has up to 84 bits: three digits
    const std::uint64_t low = m << shift, high = shift == 0 ? 0 : m >> (64 - shift);
    // ±d as (d ^ s) − s with s = 0 or −1: signs are random, a branch on them mispredicts.
    const std::int64_t s = -static_cast<std::int64_t>(bits >> 63);
    digits_[at] += (static_cast<std::int64_t>(low & 0xffffffff) ^ s) - s;
    digits_[at + 1] += (static_cast<std::int64_t>(low >> 32) ^ s) - s;
    digits_[at + 2] += (static_cast<std::int64_t>(high) ^ s) - s;
    low_ = std::min(low_, at);
    high_ = std::max(high_, at + 2);
    if (++pending_ == kMaxPending) normalise();
  }

  // Adds a·b exactly, or returns false (adding nothing) when a·b overflows or is
  // too small for its rounding error to be a double.
  bool add_product(double a, double b) {
    if (a == 0 || b == 0) return true;
    const double p = a * b;
    if (!std::isfinite(p) || std::abs(p) < 0x1p-960) return false;
    add(p);
    add(std::fma(a, b, -p));
    return true;
  }

  // The sum rounded once to 50 digits from its top 225 bits or more (below
  // them it is truncated: 2^-224 of itself); an exact 0 when the sum is 0.
  // Empties the accumulator for the next sum.
  cpp_bin_float_50 take();
  // Empties it without rounding (a sum given up half-way).
  void clear();

 private:
  // Carries: digits below the top one in [0, 2^32), the top one signed.
  void normalise();

  // 32-bit digits in int64s, digit k worth 2^(32k − 1074): double's range, the
  // three digits one double touches and room for the carries.
  static constexpr int kDigits = 70;
  static constexpr int kMaxPending = 1 << 30;  // adds before a carry could overflow
  std::array<std::int64_t, kDigits> digits_{};
  int low_ = kDigits, high_ = -1, pending_ = 0;
};

// v as up to four doubles whose sum is v exactly; false when v needs more (its
// exponent outside double's range).
bool split_exactly(const cpp_bin_float_50& v, std::array<double, 4>& parts);

// A · B with A in double and B in 50 digits (or double: B50 null), each entry
// the exact Σ_k A(r, k) B(k, c) plus bias(r) if given, rounded once; an entry
// whose products leave double's range is computed in 50 digits instead. Over
// `threads` workers.
Matrix<cpp_bin_float_50> exact_product(const Matrix<double>& A, const Matrix<double>* B, const Matrix<cpp_bin_float_50>* B50,
                                       const Vector<double>* bias, unsigned threads);

}  // namespace gradcheck::detail
