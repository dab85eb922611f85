#include <gradcheck/reports/document.hpp>
#include <gradcheck/reports/format.hpp>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cmath>

namespace gradcheck::reports {
namespace {

TEST(FormatNumber, WritesShortestSignificantDigitsAndNamesNonFiniteValues) {
  EXPECT_EQ(format_number(0.11470326), "0.114703");
  EXPECT_EQ(format_number(-0.0351261147127841, 9), "-0.0351261147");
  EXPECT_EQ(format_number(1.2e-9, 3), "1.2e-09");
  EXPECT_EQ(format_number(3), "3");
  EXPECT_EQ(format_number(std::nan("")), "NaN");
  EXPECT_EQ(format_number(HUGE_VAL), "inf");
  EXPECT_EQ(format_number(-HUGE_VAL), "-inf");
}

TEST(Worst, OrdersStatusesAndVerdictsFromBestToWorst) {
  EXPECT_EQ(worst(Status::pass, Status::notes), Status::notes);
  EXPECT_EQ(worst(Status::fail, Status::notes), Status::fail);
  EXPECT_EQ(worst(Status::fail, Status::error), Status::error);
  EXPECT_EQ(worst(Verdict::agree, Verdict::inconclusive_kink), Verdict::inconclusive_kink);
  EXPECT_EQ(worst(Verdict::disagree, Verdict::inconclusive_kink), Verdict::disagree);
  EXPECT_EQ(worst(Verdict::disagree, Verdict::non_finite), Verdict::non_finite);
  EXPECT_EQ(worst(Verdict::none, Verdict::agree), Verdict::agree);
}

TEST(MaxPool, LeavesASmallHeatmapAlone) {
  Heatmap h(3, 4);
  h.values = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  const Heatmap p = max_pool(h, 3, 4);
  EXPECT_EQ(p.values, h.values);
  EXPECT_EQ(pooled_caption(h, p), "");
}

TEST(MaxPool, TakesBlockMaximaWorstVerdictsAndRangeLabels) {
  Heatmap h(4, 6);
  for (std::size_t r = 0; r < 4; ++r)
    for (std::size_t c = 0; c < 6; ++c) h.value(r, c) = static_cast<double>(10 * r + c);
  h.verdicts.assign(24, Verdict::agree);
  h.verdicts[1 * 6 + 4] = Verdict::disagree;   // block (0, 2) of 2 × 2 blocks of 2 × 3
  h.verdicts[3 * 6 + 0] = Verdict::inconclusive_kink;  // block (1, 0)
  h.value(2, 5) = std::nan("");                // block (1, 1)
  const Heatmap p = max_pool(h, 2, 2);
  ASSERT_EQ(p.rows, 2u);
  ASSERT_EQ(p.cols, 2u);
  EXPECT_EQ(p.value(0, 0), 12);  // rows 0-1, cols 0-2
  EXPECT_EQ(p.value(0, 1), 15);
  EXPECT_EQ(p.value(1, 0), 32);
  EXPECT_TRUE(std::isnan(p.value(1, 1)));
  EXPECT_EQ(p.verdict(0, 0), Verdict::agree);
  EXPECT_EQ(p.verdict(0, 1), Verdict::disagree);
  EXPECT_EQ(p.verdict(1, 0), Verdict::inconclusive_kink);
  EXPECT_EQ(p.row_labels, (std::vector<std::string>{"0\u20131", "2\u20133"}));
  EXPECT_EQ(p.col_labels, (std::vector<std::string>{"0\u20132", "3\u20135"}));
  EXPECT_EQ(pooled_caption(h, p),
            "Downsampled: each cell is the maximum over a block of up to 2 \u00d7 3 entries (4 \u00d7 6 shown as 2 \u00d7 2); "
            "the cell's verdict is the worst in its block.");
}

// Every entry lands in exactly one block, and each block shows its maximum: the worst
// entry of a big matrix can never disappear from the picture.
RC_GTEST_PROP(MaxPool, EveryBlockShowsTheMaximumOfTheEntriesItCovers, ()) {
  const auto rows = *rc::gen::inRange<std::size_t>(1, 70);
  const auto cols = *rc::gen::inRange<std::size_t>(1, 120);
  const auto max_rows = *rc::gen::inRange<std::size_t>(1, 20);
  const auto max_cols = *rc::gen::inRange<std::size_t>(1, 20);
  Heatmap h(rows, cols);
  const auto values = *rc::gen::container<std::vector<int>>(rows * cols, rc::gen::inRange(-1000, 1000));
  for (std::size_t i = 0; i < values.size(); ++i) h.values[i] = values[i];
  const Heatmap p = max_pool(h, max_rows, max_cols);
  RC_ASSERT(p.rows == std::min(rows, max_rows));
  RC_ASSERT(p.cols == std::min(cols, max_cols));
  // Recover each entry's block from the labels' ranges by brute force.
  std::vector<double> block_max(p.rows * p.cols, -HUGE_VAL);
  std::vector<int> covered(rows * cols, 0);
  std::size_t r0 = 0;
  for (std::size_t i = 0; i < p.rows; ++i) {
    const std::size_t r1 = (i + 1) * rows / p.rows;
    std::size_t c0 = 0;
    for (std::size_t j = 0; j < p.cols; ++j) {
      const std::size_t c1 = (j + 1) * cols / p.cols;
      RC_ASSERT(r1 > r0);
      RC_ASSERT(c1 > c0);
      for (std::size_t r = r0; r < r1; ++r)
        for (std::size_t c = c0; c < c1; ++c) {
          ++covered[r * cols + c];
          block_max[i * p.cols + j] = std::max(block_max[i * p.cols + j], h.value(r, c));
        }
      c0 = c1;
    }
    r0 = r1;
  }
  RC_ASSERT(std::all_of(covered.begin(), covered.end(), [](int n) { return n == 1; }));
  RC_ASSERT(block_max == p.values);
  RC_ASSERT(*std::max_element(p.values.begin(), p.values.end()) == *std::max_element(h.values.begin(), h.values.end()));
}

}  // namespace
}  // namespace gradcheck::reports
