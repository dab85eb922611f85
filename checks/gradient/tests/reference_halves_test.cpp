// The 50-digit reference over two threads (ReferenceOptions::halves_from): each
// thread runs half of the samples and the halves are joined. A join that
// swapped the halves, dropped the mean's division or its share of a batch sum
// would move values by far more than the rounding to double these tests allow.
#include <gradcheck/probe/generators.hpp>
#include <gradcheck/gradient/reference.hpp>
#include <gradcheck/engine/case_format.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cmath>
#include <limits>
#include <sstream>
#include <string>

namespace gradcheck {
namespace {

// Equal, or one rounding apart: the halves add the batch in another order,
// which moves a 50-digit value by about 1e-49 of itself, and so its rounding
// to double only when it lies that close to a midpoint between two doubles.
bool same_double(double a, double b) {
  if (a == b || (std::isnan(a) && std::isnan(b))) return true;
  return std::nextafter(a, b) == b;
}

// The first entry where the two matrices differ by more than one rounding, or "".
std::string first_difference(const std::string& what, const Matrix<double>& one, const Matrix<double>& halves) {
  if (one.rows() != halves.rows() || one.cols() != halves.cols()) return what + ": shapes differ";
  for (Index j = 0; j < one.cols(); ++j)
    for (Index i = 0; i < one.rows(); ++i)
      if (!same_double(one(i, j), halves(i, j))) {
        std::ostringstream os;
        os.precision(17);
        os << what << "(" << i << "," << j << "): one thread " << one(i, j) << ", halves " << halves(i, j);
        return os.str();
      }
  return "";
}

std::string compare_references(const Reference& one, const Reference& halves) {
  if (!same_double(one.loss, halves.loss)) return "loss differs";
  if (one.kinks.size() != halves.kinks.size()) return "kinks differ";
  if (one.tensors.size() != halves.tensors.size()) return "tensors differ";
  std::string d = first_difference("outputs", one.outputs, halves.outputs);
  if (d.empty()) d = first_difference("output_delta", one.output_delta, halves.output_delta);
  for (std::size_t k = 0; k < one.tensors.size() && d.empty(); ++k)
    d = first_difference("tensor " + std::to_string(k), one.tensors[k].value, halves.tensors[k].value);
  return d;
}

ReferenceOptions halves(bool split) {
  ReferenceOptions o;
  o.input_gradients = true;
  o.cross_check_all_up_to = 0;  // the cross-check does not depend on the split: keep it short
  o.cross_check_per_tensor = 1;
  o.halves_from = split ? 0 : std::numeric_limits<Index>::max();
  return o;
}

RC_GTEST_PROP(ReferenceHalves, TwoThreadsGiveOneThreadsValuesOnRandomNetworks, ()) {
  CaseSpace space;
  space.min_batch = 2;
  space.layer_types = {LayerKind::dense, LayerKind::conv2d, LayerKind::max_pool, LayerKind::avg_pool};
  const Case c = *gen::any_case(space);
  const std::string d = compare_references(reference_gradients(c, halves(false)), reference_gradients(c, halves(true)));
  if (!d.empty()) RC_FAIL(case_to_json(c, -1) + "\n" + d);
}

TEST(ReferenceHalves, AnOddBatchOfAMeanLossSplitsUnevenlyAndStillAgrees) {
  Case c = testing::case_321();
  c.inputs = Matrix<double>(3, 3);
  c.inputs << 0, 0.5, -1.25, 0.5, 1, 2, 1, -0.75, 0.125;
  c.targets = Matrix<double>(1, 3);
  c.targets << 1, 0, 0.5;
  ASSERT_EQ(c.network.reduction, Reduction::mean);
  const Reference one = reference_gradients(c, halves(false));
  const Reference two = reference_gradients(c, halves(true));
  EXPECT_EQ(compare_references(one, two), "");
  // Not a vacuous comparison: the gradients are there and not zero.
  ASSERT_EQ(two.tensors.size(), 5u);  // W0, b0, W1, b1, inputs
  EXPECT_GT(two.tensors[0].value.cwiseAbs().maxCoeff(), 1e-3);
  EXPECT_EQ(two.tensors[4].value.cols(), 3);
}

}  // namespace
}  // namespace gradcheck
