// Signatures of black-box mode (docs/fd.md#signatures): the patterns of
// verify's catalogue that need no knowledge of the layers, recognised per
// tensor from the decided entries: sign-flip, tensor-scale (one constant
// ratio), tensor-zero, transposed; sign-flip or constant-scale for the whole
// gradient when every tensor shows the same ratio.
#include "fd_internal.hpp"

#include <gradcheck/engine/format.hpp>

#include <cmath>
#include <optional>

namespace gradcheck::detail {
namespace {

// A normwise fit this close is the pattern, not chance (finite differences
// carry ~1e-9 relative; every bug studied is off by >= 1e-3).
constexpr double fit_tolerance = 1e-4;

bool decided(const FdEntry& e) {
  return (e.verdict == FdVerdict::agree || e.verdict == FdVerdict::disagree) && std::isfinite(e.numeric) &&
         std::isfinite(e.analytic);
}

// analytic ≈ c · numeric: the ratio c and the normwise residual.
std::optional<double> fitted_ratio(const FdTensor& t) {
  double ar = 0, rr = 0, aa = 0;
  for (const FdEntry& e : t.entries) {
    if (!decided(e)) continue;
    ar += e.analytic * e.numeric;
    rr += e.numeric * e.numeric;
    aa += e.analytic * e.analytic;
  }
  if (!(rr > 0) || !(aa > 0)) return std::nullopt;
  const double c = ar / rr;
  double res = 0;
  for (const FdEntry& e : t.entries)
    if (decided(e)) res += (e.analytic - c * e.numeric) * (e.analytic - c * e.numeric);
  if (std::sqrt(res / aa) > fit_tolerance) return std::nullopt;
  return c;
}

bool all_zero(const FdTensor& t) {
  if (t.entries.size() != t.size) return false;  // fast mode: not every entry was seen
  bool some_numeric = false;
  for (const FdEntry& e : t.entries) {
    if (e.analytic != 0) return false;
    some_numeric = some_numeric || (decided(e) && e.verdict == FdVerdict::disagree);
  }
  return some_numeric;
}

// A matrix [m, n] sent as its transpose read row-major: entry p·m + q holds
// the derivative of entry q·n + p.
bool transposed(const FdTensor& t) {
  if (t.shape.size() != 2 || t.shape[0] < 2 || t.shape[1] < 2 || t.entries.size() != t.size) return false;
  const std::size_t m = t.shape[0], n = t.shape[1];
  double res = 0, aa = 0, moved = 0;
  for (std::size_t p = 0; p < n; ++p)
    for (std::size_t q = 0; q < m; ++q) {
      const FdEntry& a = t.entries[p * m + q];
      const FdEntry& r = t.entries[q * n + p];
      if (!decided(a) || !decided(r)) return false;
      res += (a.analytic - r.numeric) * (a.analytic - r.numeric);
      moved += (a.numeric - r.numeric) * (a.numeric - r.numeric);
      aa += a.analytic * a.analytic;
    }
  return aa > 0 && std::sqrt(res / aa) <= fit_tolerance && std::sqrt(moved / aa) > fit_tolerance;
}

FdSignature scale_signature(const std::string& tensor, double c, bool whole) {
  const bool flip = std::abs(c + 1) <= fit_tolerance;
  const std::string what = whole ? "every tensor's gradient is " : tensor + "'s gradient is ";
  if (flip) return {"sign-flip", tensor, c, what + "−1 × the finite differences: the sign is flipped"};
  return {whole ? "constant-scale" : "tensor-scale", tensor, c,
          what + format_number(c) + " × the finite differences (a factor missing or applied twice)"};
}

}  // namespace

std::vector<FdSignature> fd_signatures(const std::vector<FdTensor>& tensors) {
  std::vector<FdSignature> out;
  std::optional<double> common;
  bool every_tensor_scaled = !tensors.empty();
  for (const FdTensor& t : tensors) {
    const std::optional<double> c = fitted_ratio(t);
    if (!c || std::abs(*c - 1) <= fit_tolerance) every_tensor_scaled = false;
    else if (!common) common = c;
    else if (std::abs(*c - *common) > fit_tolerance * std::abs(*common)) every_tensor_scaled = false;
  }
  if (every_tensor_scaled && common && tensors.size() > 1) return {scale_signature("", *common, true)};
  for (const FdTensor& t : tensors) {
    if (t.disagree == 0) continue;
    if (all_zero(t)) {
      out.push_back({"tensor-zero", t.name, 0, t.name + "'s gradient is all zero where the finite differences are not"});
      continue;
    }
    if (const std::optional<double> c = fitted_ratio(t); c && std::abs(*c - 1) > fit_tolerance) {
      out.push_back(scale_signature(t.name, *c, false));
      continue;
    }
    if (transposed(t))
      out.push_back({"transposed", t.name, 0,
                     t.name + "'s gradient is the finite differences' transpose (a [" + std::to_string(t.shape[1]) +
                         ", " + std::to_string(t.shape[0]) + "] matrix sent in the place of [" +
                         std::to_string(t.shape[0]) + ", " + std::to_string(t.shape[1]) + "])"});
  }
  return out;
}

}  // namespace gradcheck::detail
