#pragma once
// Rng: a seeded random number generator whose every output is the same on every
// platform, compiler and standard library, so that a seed names one network
// initialisation and one training run everywhere.
//
// Why not <random>: std::mt19937_64's bits are fixed by the standard, but
// std::normal_distribution, std::uniform_real_distribution and std::shuffle are
// not: libstdc++, libc++ and MSVC turn the same bits into different numbers.
// Everything here is written out instead:
//   bits      xoshiro256** (Blackman & Vigna, 2018), its state filled from the
//             seed by splitmix64, as its authors recommend;
//   uniform() the top 53 bits of one draw times 2^-53: a double in [0, 1);
//   below(n)  Lemire's multiply-and-reject: exactly uniform on [0, n);
//   normal()  Marsaglia's polar method (pairs; the second value is kept);
//   shuffle() Fisher–Yates from the back, with below().
// Bits, uniform(), below() and shuffle() are integer arithmetic or exact in
// IEEE double: bitwise identical everywhere. normal() also calls std::log and
// std::sqrt; sqrt is correctly rounded by IEEE 754, log is correctly rounded in
// glibc (and within 1 ulp in every libm we know of), so normals agree bitwise on
// glibc and to the last bit or so elsewhere. The tests pin the first values of
// seed 42 (engine/tests/random_test.cpp) and the published xoshiro256** and
// splitmix64 reference outputs.
//
// How to use:
//   gradcheck::Rng rng(42);
//   double u = rng.uniform();            // [0, 1)
//   double x = rng.normal();             // N(0, 1)
//   std::uint64_t k = rng.below(10);     // 0..9, unbiased
//   rng.shuffle(order.begin(), order.end());
// Rng is also a UniformRandomBitGenerator, should you need one.

#include <gradcheck/engine/errors.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <utility>

namespace gradcheck {

namespace detail {

// splitmix64 (Vigna): one step of the seed sequence.
inline std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

inline std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// High 64 bits of a 64 × 64-bit product, in portable arithmetic (no __int128).
inline std::uint64_t mul_high(std::uint64_t a, std::uint64_t b) {
  const std::uint64_t a_lo = a & 0xffffffffULL, a_hi = a >> 32;
  const std::uint64_t b_lo = b & 0xffffffffULL, b_hi = b >> 32;
  const std::uint64_t lo_lo = a_lo * b_lo, hi_lo = a_hi * b_lo;
  const std::uint64_t lo_hi = a_lo * b_hi, hi_hi = a_hi * b_hi;
  const std::uint64_t cross = (lo_lo >> 32) + (hi_lo & 0xffffffffULL) + lo_hi;
  return hi_hi + (hi_lo >> 32) + (cross >> 32);
}

}  // namespace detail

class Rng {
 public:
  using result_type = std::uint64_t;
  using State = std::array<std::uint64_t, 4>;

  explicit Rng(std::uint64_t seed = 0) {
    std::uint64_t sm = seed;
    for (auto& word : s_) word = detail::splitmix64(sm);
  }

  // A generator in exactly this state (for the published reference vectors and
  // for saving/restoring a run). An all-zero state is a fixed point: refused.
  static Rng from_state(const State& state) {
    if (state == State{0, 0, 0, 0})
      throw InputError("", "state", "is all zero (xoshiro256** would return 0 forever)");
    Rng r;
    r.s_ = state;
    return r;
  }
  const State& state() const { return s_; }

  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return std::numeric_limits<result_type>::max(); }

  // xoshiro256**: the next 64 random bits.
  result_type operator()() {
    const std::uint64_t result = detail::rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = detail::rotl(s_[3], 45);
    return result;
  }

  // Uniform on [0, 1) on the grid k · 2^-53 (every double there equally likely).
  double uniform() { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }

  // Uniform on [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

  // Exactly uniform on {0, …, n − 1} (Lemire 2019: multiply, reject the biased
  // low region). n = 0 returns 0.
  std::uint64_t below(std::uint64_t n) {
    if (n == 0) return 0;
    std::uint64_t x = (*this)();
    std::uint64_t low = x * n;
    if (low < n) {
      const std::uint64_t threshold = (0 - n) % n;  // 2^64 mod n
      while (low < threshold) {
        x = (*this)();
        low = x * n;
      }
    }
    return detail::mul_high(x, n);
  }

  // Standard normal N(0, 1), Marsaglia's polar method. Values come in pairs; the
  // second of a pair is returned by the next call.
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u, v, s;
    do {
      u = 2.0 * uniform() - 1.0;
      v = 2.0 * uniform() - 1.0;
      s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    const double f = std::sqrt(-2.0 * std::log(s) / s);
    spare_ = v * f;
    has_spare_ = true;
    return u * f;
  }

  // N(mean, stddev²).
  double normal(double mean, double stddev) { return mean + stddev * normal(); }

  // Fisher–Yates: every permutation of [first, last) equally likely.
  template <class RandomIt>
  void shuffle(RandomIt first, RandomIt last) {
    using std::swap;
    const auto n = static_cast<std::uint64_t>(std::distance(first, last));
    for (std::uint64_t i = n; i > 1; --i) {
      const std::uint64_t j = below(i);
      swap(first[static_cast<std::ptrdiff_t>(i - 1)], first[static_cast<std::ptrdiff_t>(j)]);
    }
  }

 private:
  State s_{};
  double spare_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace gradcheck
