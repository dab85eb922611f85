// Property: on random networks the double-precision backward pass agrees with
// central differences of the loss computed in 50 significant digits, to 1e-9
// relative plus the reference's own resolution (a few ulps of the 50-digit loss
// over the step: it decides for entries 1e-24 and smaller, which do occur).
#include "case_spaces.hpp"

#include <gradcheck/probe/generators.hpp>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <limits>

namespace gradcheck {
namespace {

using Big = cpp_bin_float_50;
using testing::unit_space;

// Signs of the pre-activations of every kinked (relu/leaky_relu) unit.
std::vector<int> kink_signs(const Network<Big>& net, const ForwardPass<Big>& fp) {
  std::vector<int> signs;
  for (std::size_t l = 0; l < net.layers.size(); ++l)
    if (has_kink(net.layers[l].activation))
      for (Index k = 0; k < fp.z[l].size(); ++k) signs.push_back(fp.z[l].data()[k] > 0 ? 1 : fp.z[l].data()[k] < 0 ? -1 : 0);
  return signs;
}

RC_GTEST_PROP(EngineProperty, DoubleBackwardAgreesWithFiftyDigitCentralDifferences, ()) {
  const Case c = *gen::any_case(unit_space(4, 5));
  const auto g = gradients(c.network, c.inputs, c.targets);

  const Network<Big> big = c.network.cast<Big>();
  const Matrix<Big> x = c.inputs.cast<Big>(), y = c.targets.cast<Big>();
  const Big h("1e-20"), eps = std::numeric_limits<Big>::epsilon();
  auto loss_at = [&](const Network<Big>& n, std::vector<int>* signs) {
    const auto fp = forward(n, x);
    if (signs) *signs = kink_signs(n, fp);
    return loss(n, fp, y);
  };

  // One pass over every parameter: perturb, difference, compare.
  int compared = 0, skipped_at_kink = 0;
  for (std::size_t l = 0; l < big.layers.size(); ++l) {
    for (int tensor = 0; tensor < 2; ++tensor) {
      const Index n = tensor == 0 ? big.layers[l].weights.size() : big.layers[l].biases.size();
      const double* analytic = tensor == 0 ? g.weights[l].data() : g.biases[l].data();
      double scale = 0;  // "absolute near zero": errors are relative to the tensor's largest entry below 1e-6 of it
      for (Index k = 0; k < n; ++k) scale = std::max(scale, std::abs(analytic[k]));
      for (Index k = 0; k < n; ++k) {
        Network<Big> plus = big, minus = big;
        Big* p = tensor == 0 ? plus.layers[l].weights.data() : plus.layers[l].biases.data();
        Big* m = tensor == 0 ? minus.layers[l].weights.data() : minus.layers[l].biases.data();
        p[k] += h;
        m[k] -= h;
        std::vector<int> sp, sm;
        const Big lp = loss_at(plus, &sp), lm = loss_at(minus, &sm);
        const Big numeric = (lp - lm) / (2 * h);
        if (sp != sm) {  // the stencil straddles a relu kink: the derivative is not defined there
          ++skipped_at_kink;
          continue;
        }
        const double r = static_cast<double>(numeric);
        const double resolution = static_cast<double>(64 * eps * (abs(lp) + abs(lm)) / (2 * h));
        const double err = std::max(std::abs(analytic[k] - r) - resolution, 0.0) /
                           std::max(std::abs(r), 1e-6 * scale + 1e-300);
        ++compared;
        RC_ASSERT(err <= 1e-9);
      }
    }
  }
  RC_CLASSIFY(skipped_at_kink > 0, "some entries at a relu kink");
  RC_ASSERT(compared > 0);
}

}  // namespace
}  // namespace gradcheck
