// Input sanity, before training: what the data looks like, and the mistakes
// that can be read off it (signed bytes, unscaled values, constant features).
#include "watch_detail.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gradcheck::watch {
namespace {

using detail::num;
using detail::percent;

// The byte grids tried, in order: b/255 (the usual pixel scaling), b/256, b.
constexpr std::array<double, 3> grid_scales = {1.0 / 255.0, 1.0 / 256.0, 1.0};

const char* scale_name(double scale) {
  if (scale == grid_scales[0]) return "/255";
  if (scale == grid_scales[1]) return "/256";
  return "";
}

// Whether every finite value is k·scale for an integer k in [−128, 255].
bool fits_grid(const Matrix<double>& x, double scale, int& kmin, int& kmax) {
  kmin = 1 << 30;
  kmax = -(1 << 30);
  for (Index i = 0; i < x.size(); ++i) {
    const double v = x.data()[i];
    if (!std::isfinite(v)) continue;
    const double k = std::nearbyint(v / scale);
    if (k < -128 || k > 255 || std::fabs(v - k * scale) > 1e-9) return false;
    kmin = std::min(kmin, static_cast<int>(k));
    kmax = std::max(kmax, static_cast<int>(k));
  }
  return kmin <= kmax;
}

// fits_grid for finite values in [lo, hi], in one branch-free (vectorised) pass:
// k = v/scale rounded by adding and subtracting 1.5·2⁵² (exact for |k| < 2⁵¹,
// and k outside [−128, 255] is refused from lo and hi first, rounding being
// monotone), so the loop only ORs the off-grid tests.
bool fits_grid_finite(const Matrix<double>& x, double lo, double hi, double scale, int& kmin, int& kmax) {
  const double klo = std::nearbyint(lo / scale), khi = std::nearbyint(hi / scale);
  if (!(klo >= -128 && khi <= 255)) return false;
  constexpr double magic = 6755399441055744.0;  // 1.5·2⁵²
  const Eigen::Map<const Eigen::ArrayXd> v(x.data(), x.size());
  const double off = (v - (((v * (1 / scale) + magic) - magic) * scale)).abs().maxCoeff();
  kmin = static_cast<int>(klo);
  kmax = static_cast<int>(khi);
  return off <= 1e-9;
}

// The first grid that every finite value fits (on_grid false if none).
// `finite`: every value is, and s.min / s.max are known: the vectorised pass.
ByteGrid grid_fit(const Matrix<double>& x, const InputSanity& s, bool finite) {
  ByteGrid g;
  for (double scale : grid_scales) {
    int kmin = 0, kmax = 0;
    if (!(finite ? fits_grid_finite(x, s.min, s.max, scale, kmin, kmax) : fits_grid(x, scale, kmin, kmax))) continue;
    g.on_grid = true;
    g.scale = scale;
    g.min_byte = kmin;
    g.max_byte = kmax;
    break;
  }
  return g;
}

// Only a grid of signed bytes gets the masses and the histogram.
bool needs_masses(const ByteGrid& g) { return g.on_grid && g.min_byte < 0 && g.max_byte <= 127; }

// Where a value on g's grid counts: k + 128.
std::size_t grid_slot(const ByteGrid& g, double v) {
  return static_cast<std::size_t>(static_cast<int>(std::nearbyint(v / g.scale)) + 128);
}

// g's masses and histogram from the count of each k + 128 (k = −128…127).
void grid_masses(ByteGrid& g, std::vector<double> counts) {
  double n = 0;
  for (double c : counts) n += c;
  for (double& c : counts) c /= n;
  const auto mass = [&](int from, int to) {  // k in [from, to]
    double m = 0;
    for (int k = from; k <= to; ++k) m += counts[static_cast<std::size_t>(k + 128)];
    return m;
  };
  g.low_edge = mass(-128, -113);
  g.high_edge = mass(112, 127);
  g.below_zero = mass(-16, -1);
  g.above_zero = mass(0, 15);
  g.histogram = std::move(counts);
}

ByteGrid byte_grid(const Matrix<double>& x, const InputSanity& s, bool finite) {
  ByteGrid g = grid_fit(x, s, finite);
  if (!needs_masses(g)) return g;
  std::vector<double> counts(256, 0.0);
  for (Index i = 0; i < x.size(); ++i)
    if (std::isfinite(x.data()[i])) counts[grid_slot(g, x.data()[i])] += 1;
  grid_masses(g, std::move(counts));
  return g;
}

double ratio(double a, double b) {
  const double lo = std::min(a, b), hi = std::max(a, b);
  return lo > 0 ? hi / lo : (hi > 0 ? INFINITY : 1.0);
}

// What the value scan finds besides InputSanity's fields: the checks need these too.
struct Scan {
  Index finite = 0;                           // finite values
  Index first_bad_feature = -1, first_bad_sample = -1;  // where the first non-finite value is
};

// Over every value: min, max, mean, the fraction negative and the count of non-finite.
Scan value_statistics(const Matrix<double>& x, InputSanity& s) {
  Scan scan;
  double lo = INFINITY, hi = -INFINITY, sum = 0;
  Index negative = 0;
  for (Index i = 0; i < x.size(); ++i) {
    const double v = x.data()[i];
    if (!std::isfinite(v)) {
      if (scan.first_bad_sample < 0) {
        scan.first_bad_feature = i % x.rows();
        scan.first_bad_sample = i / x.rows();
      }
      ++s.non_finite;
      continue;
    }
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    sum += v;
    negative += v < 0 ? 1 : 0;
    ++scan.finite;
  }
  if (scan.finite > 0) {
    s.min = lo;
    s.max = hi;
    s.mean = sum / static_cast<double>(scan.finite);
    s.fraction_negative = static_cast<double>(negative) / static_cast<double>(scan.finite);
  }
  return scan;
}

// Whether every value is finite, in one vectorised pass (Eigen's allFinite()
// walks element by element): v·0 is 0 for a finite v and NaN for the others.
bool all_finite(const Matrix<double>& x) {
  return !std::isnan((Eigen::Map<const Eigen::ArrayXd>(x.data(), x.size()) * 0.0).sum());
}

// Per feature, over its finite values: the least and the largest (lo > hi when
// it has none).
struct FeatureRanges {
  std::vector<double> lo, hi;
};

// Along the rows, skipping non-finite values: for inputs that have some.
FeatureRanges feature_ranges(const Matrix<double>& x) {
  FeatureRanges r{std::vector<double>(static_cast<std::size_t>(x.rows()), INFINITY),
                  std::vector<double>(static_cast<std::size_t>(x.rows()), -INFINITY)};
  for (Index f = 0; f < x.rows(); ++f)
    for (Index c = 0; c < x.cols(); ++c) {
      const double v = x(f, c);
      if (!std::isfinite(v)) continue;
      r.lo[static_cast<std::size_t>(f)] = std::min(r.lo[static_cast<std::size_t>(f)], v);
      r.hi[static_cast<std::size_t>(f)] = std::max(r.hi[static_cast<std::size_t>(f)], v);
    }
  return r;
}

// Down the columns (the storage order), for finite inputs: one vectorised pass.
// Walking along the rows made check_inputs 28 % of `gradcheck train`.
FeatureRanges finite_feature_ranges(const Matrix<double>& x) {
  const std::size_t rows = static_cast<std::size_t>(x.rows());
  FeatureRanges r{std::vector<double>(x.data(), x.data() + rows), std::vector<double>(x.data(), x.data() + rows)};
  double* lo = r.lo.data();
  double* hi = r.hi.data();
  for (Index c = 1; c < x.cols(); ++c) {
    const double* column = x.data() + c * x.rows();
    for (std::size_t f = 0; f < rows; ++f) {
      lo[f] = std::min(lo[f], column[f]);
      hi[f] = std::max(hi[f], column[f]);
    }
  }
  return r;
}

// Per feature: constant or not, and its scale max |x|.
void feature_statistics(const FeatureRanges& r, InputSanity& s) {
  std::vector<double> scales;
  for (std::size_t k = 0; k < r.lo.size(); ++k) {
    const Index f = static_cast<Index>(k);
    const double fmin = r.lo[k], fmax = r.hi[k];
    if (fmin == fmax) {
      if (s.first_constant_feature < 0) s.first_constant_feature = f;
      ++s.constant_features;
      continue;
    }
    if (fmin > fmax) continue;  // no finite value at all
    const double scale = std::max(std::fabs(fmin), std::fabs(fmax));
    scales.push_back(scale);
    if (!(scale <= s.largest_feature_scale)) {
      s.largest_feature_scale = scale;
      s.largest_scale_feature = f;
    }
  }
  if (!scales.empty()) {
    auto mid = scales.begin() + static_cast<std::ptrdiff_t>(scales.size() / 2);
    std::nth_element(scales.begin(), mid, scales.end());
    s.median_feature_scale = *mid;
  }
}

// value_statistics for finite inputs: min and max from the feature ranges, the
// negatives counted in a vectorised pass, the sum in storage order as there.
Scan finite_value_statistics(const Matrix<double>& x, const FeatureRanges& r, InputSanity& s) {
  const double* p = x.data();
  Index negative = 0;
  for (Index i = 0; i < x.size(); ++i) negative += p[i] < 0 ? 1 : 0;
  double sum = 0;
  for (Index i = 0; i < x.size(); ++i) sum += p[i];
  s.min = *std::min_element(r.lo.begin(), r.lo.end());
  s.max = *std::max_element(r.hi.begin(), r.hi.end());
  s.mean = sum / static_cast<double>(x.size());
  s.fraction_negative = static_cast<double>(negative) / static_cast<double>(x.size());
  Scan scan;
  scan.finite = x.size();
  return scan;
}

// Whether the byte grid shows the signed-byte signature (see check_inputs in watch.hpp).
bool signed_bytes_signature(const ByteGrid& g, const InputOptions& o) {
  return g.on_grid && g.min_byte < 0 && g.min_byte >= -128 && g.max_byte <= 127 && g.low_edge >= o.edge_fraction &&
         g.high_edge >= o.edge_fraction && ratio(g.low_edge, g.high_edge) <= o.wrap_continuity &&
         ratio(g.below_zero, g.above_zero) >= o.zero_jump;
}

Finding finding(Kind kind, Severity severity, std::string message, std::string fix, std::vector<Evidence> evidence) {
  Finding f;
  f.kind = kind;
  f.severity = severity;
  f.message = std::move(message);
  f.fix = std::move(fix);
  f.evidence = std::move(evidence);
  return f;
}

// A check reads the inputs and their statistics, and says what it finds, if anything.
using InputCheck = std::optional<Finding> (*)(const FeatureRanges& r, const InputSanity& s,
                                              const InputOptions& o, const Scan& scan);

std::optional<Finding> check_non_finite(const FeatureRanges&, const InputSanity& s, const InputOptions&,
                                        const Scan& scan) {
  if (s.non_finite <= 0) return std::nullopt;
  const Index feature = scan.first_bad_feature, sample = scan.first_bad_sample;
  return finding(Kind::non_finite_inputs, Severity::error,
                 std::to_string(s.non_finite) + " input values are NaN or infinite (the first: feature " +
                     std::to_string(feature) + " of sample " + std::to_string(sample) + ")",
                 "clean or impute them before training: every gradient they touch becomes NaN",
                 {{"non-finite values", static_cast<double>(s.non_finite)},
                  {"first: feature", static_cast<double>(feature)},
                  {"first: sample", static_cast<double>(sample)}});
}

std::optional<Finding> check_signed_bytes(const FeatureRanges&, const InputSanity& s, const InputOptions&,
                                          const Scan&) {
  if (!s.signed_bytes) return std::nullopt;
  const ByteGrid& g = s.bytes;
  const bool pixels = g.scale != 1.0;
  const std::string half = pixels ? "0.5" : "128";
  std::string message = "pixel bytes were read as signed char: " + percent(s.fraction_negative) +
                        " of values are negative, none is ≥ " + half + " (a jump at −" + half +
                        ": the values stop abruptly at −128" + scale_name(g.scale) + " and 127" +
                        scale_name(g.scale) + ", with " + percent(g.low_edge) + " and " + percent(g.high_edge) +
                        " of them within 16 steps of each end: one distribution wrapped at ±" + half +
                        "; and they jump at 0: " + percent(g.below_zero) + " just below, " +
                        percent(g.above_zero) + " just above); read them as unsigned char";
  return finding(Kind::signed_bytes, Severity::error, std::move(message),
                 "read them as unsigned char (std::uint8_t, numpy uint8, idx::ByteReading::unsigned_bytes), or map "
                 "each negative byte b to b + 256 before scaling",
                 {{"fraction of values < 0", s.fraction_negative},
                  {"min", s.min},
                  {"max", s.max},
                  {"smallest byte (value / scale)", static_cast<double>(g.min_byte)},
                  {"largest byte (value / scale)", static_cast<double>(g.max_byte)},
                  {"mass at bytes −128…−113 (just above −0.5)", g.low_edge},
                  {"mass at bytes 112…127 (just below +0.5)", g.high_edge},
                  {"mass at bytes −16…−1 (unsigned 240…255)", g.below_zero},
                  {"mass at bytes 0…15", g.above_zero}});
}

std::optional<Finding> check_unscaled(const FeatureRanges&, const InputSanity& s, const InputOptions& o,
                                      const Scan& scan) {
  if (!(scan.finite > 0 && std::max(std::fabs(s.min), std::fabs(s.max)) > o.unscaled_max)) return std::nullopt;
  const ByteGrid& g = s.bytes;
  const bool raw_bytes = g.on_grid && g.scale == 1.0 && g.min_byte >= 0;
  if (raw_bytes)
    return finding(Kind::unscaled_inputs, Severity::warning,
                   "inputs look like raw bytes: every value is an integer in 0…" + std::to_string(g.max_byte) +
                       " (mean " + num(s.mean) + "), where pixel intensities in [0, 1] belong",
                   "divide the pixel bytes by 255", {{"min", s.min}, {"max", s.max}, {"mean", s.mean}});
  return finding(Kind::unscaled_inputs, Severity::warning,
                 "inputs are not scaled: values reach " + num(std::fabs(s.min) > std::fabs(s.max) ? s.min : s.max) +
                     " (mean " + num(s.mean) + "); sigmoid and tanh units saturate on such inputs",
                 "standardise every feature (subtract its mean, divide by its standard deviation) or scale to [0, 1]",
                 {{"min", s.min}, {"max", s.max}, {"mean", s.mean}});
}

std::optional<Finding> check_feature_scales(const FeatureRanges& r, const InputSanity& s, const InputOptions& o,
                                            const Scan&) {
  if (!(s.median_feature_scale > 0 && s.largest_feature_scale > o.scale_ratio * s.median_feature_scale))
    return std::nullopt;
  Index wild = 0;
  for (std::size_t f = 0; f < r.lo.size(); ++f) {
    const double scale = r.lo[f] <= r.hi[f] ? std::max(std::fabs(r.lo[f]), std::fabs(r.hi[f])) : 0.0;  // max |x|
    wild += scale > o.scale_ratio * s.median_feature_scale ? 1 : 0;
  }
  return finding(Kind::feature_scales, Severity::warning,
                 "features differ wildly in scale: feature " + std::to_string(s.largest_scale_feature) + " reaches " +
                     num(s.largest_feature_scale) + ", " +
                     num(s.largest_feature_scale / s.median_feature_scale, 3) + " × the median feature's " +
                     num(s.median_feature_scale) + " (" + std::to_string(wild) + " features beyond " +
                     num(o.scale_ratio, 3) + " ×); one learning rate cannot suit them all",
                 "standardise every feature (subtract its mean, divide by its standard deviation)",
                 {{"largest feature scale (max |x|)", s.largest_feature_scale},
                  {"its feature", static_cast<double>(s.largest_scale_feature)},
                  {"median feature scale", s.median_feature_scale},
                  {"features beyond the ratio", static_cast<double>(wild)}});
}

std::optional<Finding> check_constant_features(const FeatureRanges& r, const InputSanity& s, const InputOptions&,
                                               const Scan&) {
  if (!(s.constant_features > 0 && s.samples > 1)) return std::nullopt;  // with one sample every feature is constant
  const Index f = s.first_constant_feature;
  return finding(Kind::constant_features, Severity::info,
                 std::to_string(s.constant_features) + " of " + std::to_string(s.features) +
                     " features are constant over the " + std::to_string(s.samples) + " samples (feature " +
                     std::to_string(f) + " is " + num(r.lo[static_cast<std::size_t>(f)]) + " everywhere): they carry no information",
                 "harmless for training (their weights only see a constant); drop them, or guard the division by "
                 "their zero standard deviation when standardising",
                 {{"constant features", static_cast<double>(s.constant_features)},
                  {"features", static_cast<double>(s.features)},
                  {"first constant feature", static_cast<double>(f)}});
}

// The checks, in the order their findings appear.
constexpr std::array<InputCheck, 5> input_checks = {check_non_finite, check_signed_bytes, check_unscaled,
                                                    check_feature_scales, check_constant_features};

// ---------------------------------------------------------------------------
// Inputs kept as bytes (Dataset::bytes): every statistic from how often each
// byte occurs over all features, and which bytes occur in each feature,
// without decoding the inputs.

struct ByteCounts {
  std::vector<std::uint64_t> present;  // features × 4 words: bit k of feature f set when byte k occurs in it
  std::array<double, 256> total{};     // how often each byte occurs, over every feature

  bool occurs(std::size_t feature, std::size_t k) const { return (present[feature * 4 + k / 64] >> (k % 64)) & 1u; }
};

// One pass over the bytes, in storage order. The presence bits of 784
// features take 25 KiB (a count per feature and byte took 800 KiB, out of the
// first-level cache: count_bytes was 12 % of `gradcheck train`), and four
// interleaved totals keep a run of equal bytes (background pixels) from
// waiting on its own previous increment.
ByteCounts count_bytes(const ByteInputs<double>& b) {
  ByteCounts c;
  const std::size_t features = static_cast<std::size_t>(b.features);
  c.present.assign(features * 4, 0);
  std::uint64_t* bits = c.present.data();
  std::array<std::array<std::uint64_t, 256>, 4> lanes{};
  const auto see = [&](std::array<std::uint64_t, 256>& lane, std::size_t f, unsigned k) {
    ++lane[k];
    bits[f * 4 + k / 64] |= std::uint64_t{1} << (k % 64);
  };
  const std::uint8_t* code = b.codes.data();
  for (Index j = 0; j < b.samples; ++j, code += features) {
    std::size_t f = 0;
    for (; f + 4 <= features; f += 4)
      for (std::size_t u = 0; u < 4; ++u) see(lanes[u], f + u, code[f + u]);
    for (; f < features; ++f) see(lanes[0], f, code[f]);
  }
  for (std::size_t k = 0; k < 256; ++k)
    c.total[k] = static_cast<double>(lanes[0][k] + lanes[1][k] + lanes[2][k] + lanes[3][k]);
  return c;
}

FeatureRanges feature_ranges(const ByteInputs<double>& b, const ByteCounts& c) {
  const std::size_t features = static_cast<std::size_t>(b.features);
  FeatureRanges r{std::vector<double>(features, INFINITY), std::vector<double>(features, -INFINITY)};
  for (std::size_t f = 0; f < features; ++f)
    for (std::size_t k = 0; k < 256; ++k) {
      const double v = b.value[k];
      if (!c.occurs(f, k) || !std::isfinite(v)) continue;
      r.lo[f] = std::min(r.lo[f], v);
      r.hi[f] = std::max(r.hi[f], v);
    }
  return r;
}

// value_statistics from the counts (the sum by byte, not in storage order).
Scan value_statistics(const ByteInputs<double>& b, const ByteCounts& c, InputSanity& s) {
  Scan scan;
  double lo = INFINITY, hi = -INFINITY, sum = 0, negative = 0, finite = 0;
  for (std::size_t k = 0; k < 256; ++k) {
    const double n = c.total[k], v = b.value[k];
    if (n == 0) continue;
    if (!std::isfinite(v)) {
      s.non_finite += static_cast<Index>(n);
      continue;
    }
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    sum += n * v;
    negative += v < 0 ? n : 0;
    finite += n;
  }
  scan.finite = static_cast<Index>(finite);
  for (std::size_t i = 0; s.non_finite > 0 && scan.first_bad_sample < 0; ++i)
    if (!std::isfinite(b.value[b.codes[i]])) {
      scan.first_bad_feature = static_cast<Index>(i) % b.features;
      scan.first_bad_sample = static_cast<Index>(i) / b.features;
    }
  if (finite > 0) {
    s.min = lo;
    s.max = hi;
    s.mean = sum / finite;
    s.fraction_negative = negative / finite;
  }
  return scan;
}

ByteGrid byte_grid(const ByteInputs<double>& b, const ByteCounts& c, const InputSanity& s) {
  std::vector<std::size_t> used;  // bytes that occur, with a finite value
  for (std::size_t k = 0; k < 256; ++k)
    if (c.total[k] > 0 && std::isfinite(b.value[k])) used.push_back(k);
  Matrix<double> values(static_cast<Index>(used.size()), 1);
  for (std::size_t i = 0; i < used.size(); ++i) values(static_cast<Index>(i), 0) = b.value[used[i]];
  ByteGrid g = grid_fit(values, s, false);
  if (!needs_masses(g)) return g;
  std::vector<double> counts(256, 0.0);
  for (std::size_t k : used) counts[grid_slot(g, b.value[k])] += c.total[k];
  grid_masses(g, std::move(counts));
  return g;
}

// The statistics known, the checks in order.
void run_checks(const FeatureRanges& r, InputSanity& s, const InputOptions& o, const Scan& scan) {
  feature_statistics(r, s);
  s.signed_bytes = signed_bytes_signature(s.bytes, o);
  for (const InputCheck check : input_checks)
    if (std::optional<Finding> f = check(r, s, o, scan)) s.findings.push_back(std::move(*f));
}

}  // namespace

InputSanity check_inputs(const Matrix<double>& x, const InputOptions& o) {
  InputSanity s;
  s.samples = x.cols();
  s.features = x.rows();
  if (x.size() == 0) return s;
  const bool finite = all_finite(x);
  const FeatureRanges ranges = finite ? finite_feature_ranges(x) : feature_ranges(x);
  const Scan scan = finite ? finite_value_statistics(x, ranges, s) : value_statistics(x, s);
  s.bytes = byte_grid(x, s, finite);
  run_checks(ranges, s, o, scan);
  return s;
}

InputSanity check_inputs(const ByteInputs<double>& b, const InputOptions& o) {
  InputSanity s;
  s.samples = b.samples;
  s.features = b.features;
  if (b.samples == 0 || b.features == 0) return s;
  const ByteCounts counts = count_bytes(b);
  const FeatureRanges ranges = feature_ranges(b, counts);
  const Scan scan = value_statistics(b, counts, s);
  s.bytes = byte_grid(b, counts, s);
  run_checks(ranges, s, o, scan);
  return s;
}

}  // namespace gradcheck::watch
