// Floating-point formats and rounding to them (precision.hpp).
#include <gradcheck/engine/precision.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace gradcheck {

const FloatFormat& format_of(Precision p) {
  static const FloatFormat formats[] = {
      {Precision::float64, "float64", 53, 0x1p-53, std::numeric_limits<double>::min(),
       std::numeric_limits<double>::denorm_min(), std::numeric_limits<double>::max()},
      {Precision::float32, "float32", 24, 0x1p-24, 0x1p-126, 0x1p-149, 0x1.fffffep127},
      {Precision::float16, "float16", 11, 0x1p-11, 0x1p-14, 0x1p-24, 65504.0},
      {Precision::bfloat16, "bfloat16", 8, 0x1p-8, 0x1p-126, 0x1p-133, 0x1.fep127},
  };
  return formats[static_cast<int>(p)];
}

std::optional<Precision> parse_precision(std::string_view s) {
  for (Precision p : all_precisions)
    if (s == format_of(p).name) return p;
  return std::nullopt;
}

double round_to(double x, Precision p) {
  if (p == Precision::float64 || !std::isfinite(x) || x == 0) return x;
  if (p == Precision::float32) return static_cast<double>(static_cast<float>(x));
  const FloatFormat& f = format_of(p);
  int e = 0;
  std::frexp(x, &e);  // |x| = m·2^e, m ∈ [0.5, 1): the last kept bit weighs 2^(e − bits)
  const int smallest_exponent = std::ilogb(f.smallest);
  const int q = std::max(e - f.significand_bits, smallest_exponent);
  const double r = std::ldexp(std::nearbyint(std::ldexp(x, -q)), q);  // nearbyint: ties to even
  if (std::abs(r) > f.max) return std::copysign(std::numeric_limits<double>::infinity(), x);
  return r;
}

}  // namespace gradcheck
