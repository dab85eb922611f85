#pragma once
// Simpler cases than a counterexample, for the probe's shrinker (docs/probe.md,
// "The minimal counterexample"): what a person reads and pastes into a test.
// Each stage proposes candidates, most valuable first; every candidate is a
// valid case (shapes, a softmax of at least 2 units, targets valid for the loss).
//
//   layers   one layer fewer (the first, a hidden one, or the output layer)
//   batch    one sample alone, then one sample fewer
//   units    one unit or one input feature fewer (unit j of layers l and l + 1 together where W_{l+1} is square)
//   round    every value at once rounded to 1, then 2 significant digits
//   values   a cross-entropy target made one-hot; one value at a time: 0, ±1,
//            ±0.5, 1 then 2 significant digits
#include <gradcheck/engine/case.hpp>

#include <vector>

namespace gradcheck::detail {

enum class ShrinkStage { layers, batch, units, round, values };
inline constexpr ShrinkStage shrink_stages[] = {ShrinkStage::layers, ShrinkStage::batch, ShrinkStage::units,
                                                ShrinkStage::round, ShrinkStage::values};

std::vector<Case> simpler_cases(const Case& c, ShrinkStage stage);

// x rounded to `digits` significant digits (0 stays 0, non-finite stays).
double round_significant(double x, int digits);

// How many significant digits x needs (at most 17): 0.5 → 1, 431 → 3, 0.123 → 3.
int significant_digits(double x);

}  // namespace gradcheck::detail
