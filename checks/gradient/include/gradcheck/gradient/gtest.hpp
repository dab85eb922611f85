#pragma once
// GoogleTest helpers: one line checks a gradient and, on failure, prints the
// per-entry table (every entry that does not agree, then the worst one).
//
//   EXPECT_GRADIENT_MATCHES(f, grad, x);              // check_gradient, Ridders
//   ASSERT_GRADIENT_MATCHES(f, grad, x);
//   EXPECT_TRUE(gradcheck::testing::GradientMatches(f, grad, x, options));
//   EXPECT_TRUE(gradcheck::testing::Passed(check_network(c)));   // any CheckResult
//
// Link gradcheck::checks and GTest::gtest. The table here is a small
// test-support formatter; reports/ renders results for people.

#include <gradcheck/gradient/function_check.hpp>
#include <gradcheck/gradient/result.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace gradcheck::testing {

// One fixed-width line per entry; `limit` entries at most.
inline std::string format_table(const CheckResult& r, std::size_t limit = 20) {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%-5s %-8s %5s %5s %15s %15s %10s %10s %10s  %s\n", "layer", "tensor", "row", "col",
                "analytic", "numeric", "estimate", "tolerance", "rel.error", "verdict");
  out += line;
  auto row = [&](const Entry& e) {
    std::snprintf(line, sizeof line, "%-5d %-8s %5ld %5ld %15.8g %15.8g %10.3g %10.3g %10.3g  %s", e.layer,
                  to_string(e.tensor), static_cast<long>(e.row), static_cast<long>(e.col), e.analytic, e.numeric,
                  e.error_estimate, e.tolerance, e.relative_error, to_string(e.verdict));
    out += line;
    if (!e.note.empty()) out += "  (" + e.note + ")";
    out += "\n";
  };
  std::size_t shown = 0;
  for (const Entry& e : r.entries)
    if (e.verdict != Verdict::agree && shown++ < limit) row(e);
  if (shown > limit) out += "... " + std::to_string(shown - limit) + " more\n";
  for (const DirectionCheck& d : r.directions)
    if (d.verdict != Verdict::agree) {
      std::snprintf(line, sizeof line, "direction %d on %s: v·analytic %.8g, numeric %.8g, tolerance %.3g: %s\n",
                    d.index, d.whole_network ? "the whole network" : to_string(d.tensor), d.analytic, d.numeric,
                    d.tolerance, to_string(d.verdict));
      out += line;
    }
  for (const CheckFinding& f : r.findings) out += std::string(to_string(f.kind)) + ": " + f.message + "\n";
  if (r.summary.worst) {
    out += "worst entry:\n";
    row(*r.summary.worst);
  }
  std::snprintf(line, sizeof line, "%zu agree, %zu disagree, %zu inconclusive-kink, %zu non-finite (method %s)\n",
                r.summary.counts.agree, r.summary.counts.disagree, r.summary.counts.inconclusive_kink,
                r.summary.counts.non_finite, to_string(r.summary.method));
  out += line;
  return out;
}

inline ::testing::AssertionResult Passed(const CheckResult& r) {
  if (r.summary.passed) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "the gradient check failed:\n" << format_table(r);
}

template <class F, class G>
::testing::AssertionResult GradientMatches(F&& f, G&& grad, const Vector<double>& x,
                                           const FunctionCheckOptions& options = {}) {
  return Passed(check_gradient(std::forward<F>(f), std::forward<G>(grad), x, options));
}

}  // namespace gradcheck::testing

#define EXPECT_GRADIENT_MATCHES(f, grad, x) EXPECT_TRUE(::gradcheck::testing::GradientMatches((f), (grad), (x)))
#define ASSERT_GRADIENT_MATCHES(f, grad, x) ASSERT_TRUE(::gradcheck::testing::GradientMatches((f), (grad), (x)))
