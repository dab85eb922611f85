#pragma once
// Simpler cases than a counterexample, for the probe's shrinker (docs/probe.md,
// "The minimal counterexample"): what a person reads and pastes into a test.
// Each stage proposes candidates, most valuable first; every candidate is a
// valid case (shapes, a softmax of at least 2 units, targets valid for the loss;
// an image case also the engine's validate(): kernels and windows that fit,
// and its output layer dense). A dense case gets exactly the candidates it always got.
//
//   layers   one layer fewer (the first, a hidden one, or the output layer)
//   batch    one sample alone, then one sample fewer
//   image    (image cases) a conv2d or pooling layer after the first fewer; one
//            channel fewer (a conv2d layer's output, or the input's); the image
//            one row or column smaller; a kernel one row or column smaller,
//            stride 1, padding one less, a pooling window one smaller. The
//            layers after the change keep the weights of what they still read.
//   units    one unit or one input feature fewer (unit j of layers l and l + 1 together where W_{l+1} is square;
//            dense layers only)
//   round    every value at once rounded to 1, then 2 significant digits
//   values   a cross-entropy target made one-hot; one value at a time: 0, ±1,
//            ±0.5, 1 then 2 significant digits
#include <gradcheck/engine/case.hpp>

#include <vector>

namespace gradcheck::detail {

enum class ShrinkStage { layers, batch, image, units, round, values };
inline constexpr ShrinkStage shrink_stages[] = {ShrinkStage::layers, ShrinkStage::batch, ShrinkStage::image,
                                                ShrinkStage::units,  ShrinkStage::round, ShrinkStage::values};

std::vector<Case> simpler_cases(const Case& c, ShrinkStage stage);

// x rounded to `digits` significant digits (0 stays 0, non-finite stays).
double round_significant(double x, int digits);

// How many significant digits x needs (at most 17): 0.5 → 1, 431 → 3, 0.123 → 3.
int significant_digits(double x);

}  // namespace gradcheck::detail
