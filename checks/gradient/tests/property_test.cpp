// Properties of the checks over random networks (gen::any_case): the engine
// agrees with the ground truth, structural identities of backprop hold, and
// correct ReLU networks raise no false alarm.
#include <gradcheck/probe/generators.hpp>
#include <gradcheck/gradient/network_check.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace gradcheck {
namespace {

using testing::non_agreeing;

CheckOptions options(Method m) {
  CheckOptions o;
  o.method = m;
  o.threads = 1;
  o.reference.cross_check_all_up_to = 0;  // a sample: the 50-digit differences cost ~1 ms each
  o.reference.cross_check_per_tensor = 1;
  return o;
}

RC_GTEST_PROP(CheckProperty, EngineAgreesWithTheGroundTruthOnRandomNetworks, ()) {
  const Case c = *gen::any_case(CaseSpace{});
  const CheckResult r = check_network(c, options(Method::multiprecision));
  RC_CLASSIFY(r.summary.counts.inconclusive_kink > 0, "kink within round-off");
  if (!r.summary.passed) RC_FAIL(non_agreeing(r));
}

RC_GTEST_PROP(CheckProperty, CentralDifferencesRaiseNoFalseAlarm, ()) {
  const Case c = *gen::any_case(CaseSpace{});
  const CheckResult r = check_network(c, options(Method::central));
  RC_CLASSIFY(r.summary.counts.inconclusive_kink > 0, "kink");
  if (r.summary.counts.disagree + r.summary.counts.non_finite > 0) RC_FAIL(non_agreeing(r));
}

RC_GTEST_PROP(CheckProperty, RiddersRaisesNoFalseAlarm, ()) {
  const Case c = *gen::any_case(CaseSpace{});
  const CheckResult r = check_network(c, options(Method::ridders));
  RC_CLASSIFY(r.summary.counts.inconclusive_kink > 0, "kink");
  if (r.summary.counts.disagree + r.summary.counts.non_finite > 0) RC_FAIL(non_agreeing(r));
}

RC_GTEST_PROP(CheckProperty, ComplexStepRaisesNoFalseAlarm, ()) {
  const Case c = *gen::any_case(CaseSpace{});
  const CheckResult r = check_network(c, options(Method::complex_step));
  if (r.summary.counts.disagree + r.summary.counts.non_finite > 0) RC_FAIL(non_agreeing(r));
}

}  // namespace
}  // namespace gradcheck
