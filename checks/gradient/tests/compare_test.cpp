// The comparison rule of compare.hpp, entry by entry, and summarize().
#include <gradcheck/gradient/compare.hpp>
#include <gradcheck/gradient/result.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace gradcheck {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(CompareRule, VerdictNamesAreTheDocumentedStrings) {
  EXPECT_STREQ(to_string(Verdict::agree), "agree");
  EXPECT_STREQ(to_string(Verdict::disagree), "disagree");
  EXPECT_STREQ(to_string(Verdict::inconclusive_kink), "inconclusive-kink");
  EXPECT_STREQ(to_string(Verdict::non_finite), "non-finite");
  for (Verdict v : all_verdicts) EXPECT_EQ(parse_verdict(to_string(v)), v);
  EXPECT_FALSE(parse_verdict("ok").has_value());
}

TEST(CompareRule, RelativeErrorUsesTheEntryAboveTheFloorAndTheFloorBelowIt) {
  const Tolerances tol;
  const double floor = tensor_floor(2.0, tol);  // η · 2 = 2e-6
  EXPECT_DOUBLE_EQ(floor, 2e-6);
  EXPECT_NEAR(compare(1.001, 1.0, 0, 0, floor, tol).relative_error, 1e-3, 1e-15);  // 1.001 is inexact
  // An entry far below the tensor's scale is measured against the floor, not itself.
  EXPECT_NEAR(compare(1e-12 + 2e-16, 1e-12, 0, 0, floor, tol).relative_error, 1e-10, 1e-14);
}

TEST(CompareRule, RoundOffOfASmallEntryAgreesButTheSameRelativeErrorOnALargeOneDoesNot) {
  const Tolerances tol;
  const double floor = tensor_floor(1.0, tol);
  // 1e-12 absolute on an entry of 1e-9: 0.1 % of the entry, 1e-12 of the tensor: round-off.
  EXPECT_EQ(compare(1e-9 + 1e-15, 1e-9, 0, 0, floor, tol).verdict, Verdict::agree);
  // 0.1 % on the tensor's largest entry is a real difference.
  EXPECT_EQ(compare(1.001, 1.0, 0, 0, floor, tol).verdict, Verdict::disagree);
}

TEST(CompareRule, ErrorEstimatesWidenTheToleranceByKappa) {
  const Tolerances tol;
  const double floor = tensor_floor(1.0, tol);
  EXPECT_EQ(compare(1.0 + 3e-6, 1.0, 0, 0, floor, tol).verdict, Verdict::disagree);
  EXPECT_EQ(compare(1.0 + 3e-6, 1.0, 1e-6, 0, floor, tol).verdict, Verdict::agree);  // κ = 4
  EXPECT_EQ(compare(1.0 + 3e-6, 1.0, 0.5e-6, 0, floor, tol).verdict, Verdict::disagree);
  EXPECT_EQ(compare(1.0 + 3e-6, 1.0, 0, 3.5e-6, floor, tol).verdict, Verdict::agree);  // κ_a = 1
  EXPECT_DOUBLE_EQ(compare(1.0, 1.0, 1e-6, 2e-6, floor, tol).tolerance, 1e-290 + 1e-8 + 4e-6 + 2e-6);
}

TEST(CompareRule, NonFiniteValuesEqualOnlyThemselves) {
  const Tolerances tol;
  EXPECT_EQ(compare(kNaN, kNaN, 0, 0, 1, tol).verdict, Verdict::agree);
  EXPECT_EQ(compare(kInf, kInf, 0, 0, 1, tol).verdict, Verdict::agree);
  EXPECT_EQ(compare(-kInf, -kInf, 0, 0, 1, tol).verdict, Verdict::agree);
  EXPECT_EQ(compare(kInf, -kInf, 0, 0, 1, tol).verdict, Verdict::non_finite);
  EXPECT_EQ(compare(kNaN, 1.0, 0, 0, 1, tol).verdict, Verdict::non_finite);
  EXPECT_EQ(compare(1.0, kInf, 0, 0, 1, tol).verdict, Verdict::non_finite);
  EXPECT_EQ(compare(kNaN, kInf, 0, 0, 1, tol).verdict, Verdict::non_finite);
  // A reference whose error estimate is not finite cannot vouch for anything.
  EXPECT_EQ(compare(1.0, 1.0, kInf, 0, 1, tol).verdict, Verdict::non_finite);
}

TEST(CompareRule, AllZeroTensorAcceptsZeroAndRejectsAVisibleValue) {
  const Tolerances tol;
  const double zeros[] = {0.0, 0.0};
  const double floor = tensor_floor_of(zeros, tol);
  EXPECT_EQ(floor, absolute_floor);
  EXPECT_EQ(compare(0.0, 0.0, 0, 0, floor, tol).verdict, Verdict::agree);
  EXPECT_EQ(compare(1e-30, 0.0, 0, 0, floor, tol).verdict, Verdict::disagree);
  EXPECT_EQ(compare(1e-30, 0.0, 1e-30, 0, floor, tol).verdict, Verdict::agree);
}

TEST(CompareRule, FixedToleranceIsTorchsAllclose) {
  const Tolerances tol = Tolerances::fixed(1e-5, 1e-3);
  EXPECT_TRUE(tol.is_fixed());
  EXPECT_FALSE(Tolerances{}.is_fixed());
  const double floor = tensor_floor(1.0, tol);
  EXPECT_EQ(compare(1e-5 * 0.9, 0.0, 1.0, 1.0, floor, tol).verdict, Verdict::agree);  // estimates ignored
  EXPECT_EQ(compare(2e-5, 0.0, 0, 0, floor, tol).verdict, Verdict::disagree);
  EXPECT_EQ(compare(100.09, 100.0, 0, 0, floor, tol).verdict, Verdict::agree);      // 1e-5 + 0.1
  EXPECT_EQ(compare(100.2, 100.0, 0, 0, floor, tol).verdict, Verdict::disagree);
}

Entry entry(int layer, TensorKind t, Index row, double rel, Verdict v) {
  Entry e;
  e.layer = layer;
  e.tensor = t;
  e.row = row;
  e.relative_error = rel;
  e.verdict = v;
  return e;
}

TEST(Summarize, CountsVerdictsPerTensorAndFindsTheWorstEntry) {
  CheckResult r;
  r.entries.push_back(entry(0, TensorKind::weights, 0, 1e-12, Verdict::agree));
  r.entries.push_back(entry(0, TensorKind::weights, 1, 0.5, Verdict::disagree));
  r.entries.push_back(entry(1, TensorKind::biases, 0, 2.0, Verdict::inconclusive_kink));
  summarize(r);
  EXPECT_FALSE(r.summary.passed);
  EXPECT_EQ(r.summary.counts.agree, 1u);
  EXPECT_EQ(r.summary.counts.disagree, 1u);
  EXPECT_EQ(r.summary.counts.inconclusive_kink, 1u);
  EXPECT_EQ(r.summary.entries_checked, 3);
  ASSERT_TRUE(r.summary.worst.has_value());
  EXPECT_EQ(r.summary.worst->layer, 1);  // largest e, whatever its verdict
  ASSERT_EQ(r.tensors.size(), 2u);
  EXPECT_FALSE(r.tensors[0].passed);
  EXPECT_EQ(r.tensors[0].worst_row, 1);
  EXPECT_TRUE(r.tensors[1].passed);  // inconclusive-kink does not fail
}

TEST(Summarize, PassesOnlyWithoutDisagreementNonFiniteOrFindings) {
  CheckResult r;
  r.entries.push_back(entry(0, TensorKind::weights, 0, 1e-12, Verdict::agree));
  r.entries.push_back(entry(0, TensorKind::biases, 0, 0, Verdict::inconclusive_kink));
  summarize(r);
  EXPECT_TRUE(r.summary.passed);
  r.findings.push_back({FindingKind::shape_mismatch, 0, TensorKind::biases, "claimed biases of layer 0 have 3 entries, expected 2"});
  summarize(r);
  EXPECT_FALSE(r.summary.passed);
  EXPECT_TRUE(r.tensors[1].shape_mismatch);
  r.findings.clear();
  r.entries.push_back(entry(0, TensorKind::biases, 1, kNaN, Verdict::non_finite));
  summarize(r);
  EXPECT_FALSE(r.summary.passed);
  EXPECT_EQ(r.summary.worst->verdict, Verdict::non_finite);
}

}  // namespace
}  // namespace gradcheck
