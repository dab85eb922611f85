#pragma once
// Floating-point formats an implementation under test may compute in, and
// rounding to them. A reply may state its format ("precision": "float32",
// docs/case-format.md); checks/gradient's precision model (precision_model.hpp)
// bounds what a correct implementation in that format can produce.
//
//   round_to(1.0 / 3, Precision::bfloat16) == 0.333984375
//   format_of(Precision::float16).max == 65504

#include <optional>
#include <string_view>

namespace gradcheck {

enum class Precision { float64, float32, float16, bfloat16 };
inline constexpr Precision all_precisions[] = {Precision::float64, Precision::float32, Precision::float16,
                                               Precision::bfloat16};

struct FloatFormat {
  Precision precision;
  const char* name;
  int significand_bits;   // the hidden bit included: 53, 24, 11, 8
  double unit_roundoff;   // 2^−significand_bits: the largest relative error of one rounding
  double min_normal;      // smallest positive normal number
  double smallest;        // smallest positive subnormal number
  double max;             // largest finite number
};

const FloatFormat& format_of(Precision p);
inline const char* to_string(Precision p) { return format_of(p).name; }
std::optional<Precision> parse_precision(std::string_view s);

// x rounded to the nearest number of the format (ties to even), with IEEE
// behaviour at the ends: ±inf past the largest number, gradual underflow
// through the subnormals to ±0. NaN and infinities pass through.
double round_to(double x, Precision p);

}  // namespace gradcheck
