#include <gradcheck/engine/findings.hpp>
#include <gradcheck/engine/format.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>

namespace gradcheck {

namespace {

std::string non_finite(double value) {
  if (std::isnan(value)) return "NaN";
  return value > 0 ? "inf" : "-inf";
}

}  // namespace

std::string format_number(double value, int significant_digits) {
  if (!std::isfinite(value)) return non_finite(value);
  std::array<char, 64> buf{};
  const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), value, std::chars_format::general,
                               std::clamp(significant_digits, 1, 17));
  return std::string(buf.data(), r.ptr);
}

std::string format_fixed(double value, int decimals) {
  if (!std::isfinite(value)) return non_finite(value);
  std::array<char, 400> buf{};  // 1e308 in fixed notation, with room for the decimals
  const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), value, std::chars_format::fixed,
                               std::clamp(decimals, 0, 17));
  return std::string(buf.data(), r.ptr);
}

const char* to_string(Severity s) noexcept {
  switch (s) {
    case Severity::info: return "info";
    case Severity::note: return "note";
    case Severity::warning: return "warning";
    case Severity::error: return "error";
  }
  return "error";
}

}  // namespace gradcheck
