#pragma once
// The spaces of random cases that the property tests draw from (gradcheck::probe's
// generators, RapidCheck): for the suites that link gradcheck::probe (the
// engine's, the gradient checks', verify's), which include this file by its
// relative path.
//
//   const Case c = *gen::any_case(testing::unit_space(4, 5));
#include <gradcheck/probe/generators.hpp>

namespace gradcheck::testing {

// Every activation, loss and reduction at unit magnitude only (weights, biases
// and inputs within ±2), with at most `max_layers` layers, `max_batch` samples
// and `max_width` units a layer (the other bounds: CaseSpace's defaults).
inline CaseSpace unit_space(int max_layers = CaseSpace{}.max_layers, int max_batch = CaseSpace{}.max_batch,
                            int max_width = CaseSpace{}.max_width) {
  CaseSpace space;
  space.magnitudes = {Magnitude::unit};
  space.max_layers = max_layers;
  space.max_batch = max_batch;
  space.max_width = max_width;
  return space;
}

}  // namespace gradcheck::testing
