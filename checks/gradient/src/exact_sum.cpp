#include <gradcheck/gradient/detail/exact_sum.hpp>

#include <gradcheck/gradient/detail/internal.hpp>

#include <boost/multiprecision/cpp_int.hpp>

#include <vector>

namespace gradcheck::detail {

namespace {

using Big = cpp_bin_float_50;
using boost::multiprecision::uint256_t;
constexpr std::int64_t kDigitMask = 0xffffffff;

}  // namespace

void ExactSum::normalise() {
  pending_ = 0;
  if (high_ < 0) return;
  std::int64_t carry = 0;
  for (int k = low_; k < high_; ++k) {
    const std::int64_t v = digits_[k] + carry;
    carry = v >> 32;  // floor(v / 2^32): the digit left is v mod 2^32
    digits_[k] = v & kDigitMask;
  }
  digits_[high_] += carry;
  // The top digit keeps the sign; past 2^32 it carries on upwards.
  while (high_ + 1 < kDigits && (digits_[high_] > kDigitMask || digits_[high_] < -kDigitMask)) {
    const std::int64_t v = digits_[high_];
    digits_[high_] = v & kDigitMask;
    digits_[++high_] += v >> 32;
  }
}

void ExactSum::clear() {
  for (int k = low_; k <= high_; ++k) digits_[k] = 0;
  low_ = kDigits;
  high_ = -1;
  pending_ = 0;
}

Big ExactSum::take() {
  normalise();
  bool negative = false;
  if (high_ >= 0 && digits_[high_] < 0) {  // |sum|: negate every digit, carry again
    negative = true;
    for (int k = low_; k <= high_; ++k) digits_[k] = -digits_[k];
    normalise();
  }
  int top = high_;
  while (top >= low_ && digits_[top] == 0) --top;
  if (top < low_) {
    clear();
    return Big(0);
  }
  // The top eight digits as one 256-bit integer (225 bits or more of the sum,
  // beyond the 168 of 50 digits), rounded once.
  uint256_t m = 0;
  const int last = std::max(top - 7, 0);
  for (int k = top; k >= last; --k) {
    m <<= 32;
    if (k >= low_) m |= static_cast<std::uint64_t>(digits_[k]);
  }
  Big sum = ldexp(Big(m), 32 * last - 1074);
  clear();
  if (negative) sum.backend().negate();
  return sum;
}

bool split_exactly(const Big& v, std::array<double, 4>& parts) {
  Big rest = v;
  for (double& p : parts) {
    p = static_cast<double>(rest);
    if (!std::isfinite(p)) return false;
    rest -= p;  // exact: rest and p agree in their leading bits
  }
  return rest == 0;
}

namespace {

// B's entries as exact sums of up to four doubles (a double B: one each).
struct Planes {
  std::vector<std::array<double, 4>> parts;  // column-major, B's shape
  std::vector<char> exact;                   // false: the entry needs more than four doubles
  int count = 1;
};

Planes planes_of(const Matrix<double>* B, const Matrix<Big>* B50) {
  Planes p;
  const Index n = B ? B->size() : B50->size();
  p.parts.assign(static_cast<std::size_t>(n), {0, 0, 0, 0});
  p.exact.assign(static_cast<std::size_t>(n), 1);
  if (B) {
    for (Index i = 0; i < n; ++i) p.parts[static_cast<std::size_t>(i)][0] = B->data()[i];
    return p;
  }
  p.count = 4;
  for (Index i = 0; i < n; ++i)
    p.exact[static_cast<std::size_t>(i)] = split_exactly(B50->data()[i], p.parts[static_cast<std::size_t>(i)]);
  return p;
}

// Σ_k a(k) B(k, c) + bias exactly, into `sum`; false when a product leaves double's range.
bool exact_entry(const double* a, Index inner, const Planes& planes, Index c, const double* bias, ExactSum& sum) {
  if (bias) sum.add(*bias);
  for (Index k = 0; k < inner; ++k) {
    if (a[k] == 0) continue;
    const auto at = static_cast<std::size_t>(c * inner + k);
    if (!planes.exact[at]) return false;
    for (int s = 0; s < planes.count; ++s)
      if (!sum.add_product(a[k], planes.parts[at][static_cast<std::size_t>(s)])) return false;
  }
  return true;
}

// The same entry with 50-digit multiply-adds.
Big big_entry(const double* a, Index inner, const Matrix<double>* B, const Matrix<Big>* B50, Index c,
              const double* bias) {
  Big sum = bias ? Big(*bias) : Big(0);
  for (Index k = 0; k < inner; ++k) sum += Big(a[k]) * (B ? Big((*B)(k, c)) : (*B50)(k, c));
  return sum;
}

}  // namespace

Matrix<Big> exact_product(const Matrix<double>& A, const Matrix<double>* B, const Matrix<Big>* B50,
                          const Vector<double>* bias, unsigned threads) {
  const Index rows = A.rows(), inner = A.cols(), cols = B ? B->cols() : B50->cols();
  const Matrix<double> At = A.transpose();  // row r of A, contiguous
  const Planes planes = planes_of(B, B50);
  Matrix<Big> out(rows, cols);
  parallel_for(
      static_cast<std::size_t>(cols), threads,
      [&](std::size_t col, unsigned) {
        const auto c = static_cast<Index>(col);
        ExactSum sum;
        for (Index r = 0; r < rows; ++r) {
          const double* a = At.col(r).data();
          const double* b = bias ? &(*bias)(r) : nullptr;
          if (exact_entry(a, inner, planes, c, b, sum)) {
            out(r, c) = sum.take();
          } else {
            sum.clear();
            out(r, c) = big_entry(a, inner, B, B50, c, b);
          }
        }
      },
      1);
  return out;
}

}  // namespace gradcheck::detail
