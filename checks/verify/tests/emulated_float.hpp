#pragma once
// Emulated low-precision scalars for the tests: BFloat16 and Float16, value
// types that behave as if the hardware computed in that format, so that
// templated test code (textbook.hpp) can run in them as it runs in float.
//
// Contract:
//   - The formats: bfloat16 has 8 significant bits and float32's exponent range
//     (normal from 2^−126, subnormals down to 2^−133, largest 0x1.fep127);
//     float16 has 11 significant bits (normal from 2^−14, subnormals down to
//     2^−24, largest 65504).
//   - A value is always one of the format's numbers (or ±inf, NaN), held
//     exactly in a float.
//   - Construction from a double rounds it straight to the format, once: round
//     to nearest, ties to even (not double → float → format, which rounds twice
//     and breaks ties the wrong way). IEEE at the ends: a result beyond the
//     largest finite number by half an ulp or more is ±inf; small results
//     underflow gradually through the subnormals to ±0. NaN stays NaN.
//     round_to_format does it for any precision and exponent range.
//   - + − × ÷ and unary − take the exact values, compute in double and round
//     the result to the format: correctly rounded, since double's 53 bits are
//     more than 2p + 2 for both formats (no harm from the double rounding).
//   - exp, log, log1p, tanh take the exact value, call the double library
//     function and round its result: within an ulp of the format.
//     abs and max are exact. All are found by argument-dependent lookup, so
//     generic code writes `using std::exp; exp(x)` for float, double and these.
//   - Comparisons compare the exact values (NaN unordered); conversion to
//     double is exact and explicit, as is construction from a number.
//
//   BFloat16 x(1.0 / 3);               // 0.333984375
//   BFloat16 y = x * x + BFloat16(1);  // every step rounded to bfloat16
//   double d = static_cast<double>(y);

#include <algorithm>
#include <cmath>
#include <limits>
#include <ostream>

namespace gradcheck::testing {

// x rounded to a binary format with `digits` significant bits whose normal
// numbers have exponents min_exponent..max_exponent (x = 1.f × 2^e): round to
// nearest, ties to even, overflow to ±inf, gradual underflow. Independent of
// the floating-point rounding mode.
inline double round_to_format(double x, int digits, int min_exponent, int max_exponent) {
  if (!std::isfinite(x) || x == 0) return x;
  int e2 = 0;
  (void)std::frexp(x, &e2);  // |x| = m 2^e2 with m in [0.5, 1)
  const int quantum = std::max(e2 - 1, min_exponent) - (digits - 1);  // the ulp at x is 2^quantum
  const double scaled = std::ldexp(std::abs(x), -quantum);             // exact: a power-of-two scaling
  double whole = std::floor(scaled);
  const double fraction = scaled - whole;  // exact
  if (fraction > 0.5 || (fraction == 0.5 && std::fmod(whole, 2.0) != 0)) whole += 1;
  const double r = std::ldexp(whole, quantum);
  const double largest = std::ldexp(2.0 - std::ldexp(1.0, 1 - digits), max_exponent);
  if (r > largest) return std::copysign(std::numeric_limits<double>::infinity(), x);
  return std::copysign(r, x);
}

template <int Digits, int MinExponent, int MaxExponent>
class Emulated {
 public:
  static constexpr int digits = Digits;
  static constexpr int min_exponent = MinExponent;  // of the smallest normal number
  static constexpr int max_exponent = MaxExponent;  // of the largest finite number

  static double round(double x) { return round_to_format(x, Digits, MinExponent, MaxExponent); }

  Emulated() = default;  // +0
  explicit Emulated(double x) : value_(static_cast<float>(round(x))) {}
  explicit operator double() const { return value_; }
  // The value as a float (exact: every number of the format is a float).
  float value() const { return value_; }

  friend Emulated operator+(Emulated a, Emulated b) { return Emulated(a.d() + b.d()); }
  friend Emulated operator-(Emulated a, Emulated b) { return Emulated(a.d() - b.d()); }
  friend Emulated operator*(Emulated a, Emulated b) { return Emulated(a.d() * b.d()); }
  friend Emulated operator/(Emulated a, Emulated b) { return Emulated(a.d() / b.d()); }
  friend Emulated operator-(Emulated a) { return exactly(-a.value_); }
  friend Emulated operator+(Emulated a) { return a; }
  Emulated& operator+=(Emulated b) { return *this = *this + b; }
  Emulated& operator-=(Emulated b) { return *this = *this - b; }
  Emulated& operator*=(Emulated b) { return *this = *this * b; }
  Emulated& operator/=(Emulated b) { return *this = *this / b; }

  friend bool operator==(Emulated a, Emulated b) { return a.value_ == b.value_; }
  friend bool operator!=(Emulated a, Emulated b) { return a.value_ != b.value_; }
  friend bool operator<(Emulated a, Emulated b) { return a.value_ < b.value_; }
  friend bool operator<=(Emulated a, Emulated b) { return a.value_ <= b.value_; }
  friend bool operator>(Emulated a, Emulated b) { return a.value_ > b.value_; }
  friend bool operator>=(Emulated a, Emulated b) { return a.value_ >= b.value_; }

  friend Emulated exp(Emulated a) { return Emulated(std::exp(a.d())); }
  friend Emulated log(Emulated a) { return Emulated(std::log(a.d())); }
  friend Emulated log1p(Emulated a) { return Emulated(std::log1p(a.d())); }
  friend Emulated tanh(Emulated a) { return Emulated(std::tanh(a.d())); }
  friend Emulated abs(Emulated a) { return exactly(std::abs(a.value_)); }
  friend Emulated max(Emulated a, Emulated b) { return a < b ? b : a; }

  friend std::ostream& operator<<(std::ostream& os, Emulated a) { return os << a.value_; }

 private:
  static Emulated exactly(float v) {  // v is already a number of the format
    Emulated e;
    e.value_ = v;
    return e;
  }
  double d() const { return value_; }

  float value_ = 0;
};

using BFloat16 = Emulated<8, -126, 127>;
using Float16 = Emulated<11, -14, 15>;

}  // namespace gradcheck::testing
