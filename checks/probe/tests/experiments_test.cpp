// Experiments on a minimal counterexample (src/experiments.hpp), with a
// program simulated in-process: what each experiment sends and concludes.
#include "../src/experiments.hpp"
#include "../../verify/tests/verify_test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace gradcheck {
namespace {

using testing::engine_reply;
using testing::make_case;

// A program whose gradients are doubled whenever samples 0 and 1 of `m`
// are in the same batch, and right otherwise.
struct PairBug {
  const Case& m;
  int asked = 0;
  std::optional<VerifyResult> operator()(const Case& c) {
    ++asked;
    Reply r = engine_reply(c);
    const auto has = [&](Index s) {
      for (Index k = 0; k < c.batch_size(); ++k)
        if (c.inputs.col(k) == m.inputs.col(s)) return true;
      return false;
    };
    if (has(0) && has(1))
      for (LayerGradient& g : r.layers) g.weights *= 2, g.biases *= 2;
    return verify_reply(c, r);
  }
};

TEST(Experiments, PairsNameTheSamplesThatOnlyGoWrongTogether) {
  const Case m = make_case({2, 3, 2}, {Activation::tanh, Activation::sigmoid}, Loss::quadratic, Reduction::mean, 3, 5);
  PairBug program{m};
  VerifyResult v = *program(m);
  ASSERT_EQ(v.status, VerifyStatus::diverge);
  ASSERT_TRUE(v.cause.has_value());
  const int before = program.asked;
  detail::run_experiments(m, v, std::ref(program), [] { return false; });
  const auto& ex = v.cause->experiments;
  ASSERT_GE(ex.size(), 2u);
  EXPECT_EQ(ex[0].name, "samples-alone");
  EXPECT_EQ(ex[0].finding.rfind("each sample alone gets a correct reply", 0), 0u) << ex[0].finding;
  EXPECT_EQ(ex[1].name, "sample-pairs");
  EXPECT_EQ(ex[1].cases_sent, 3);
  EXPECT_EQ(ex[1].finding, "the pairs (0, 1) diverge, (0, 2), (1, 2) agree");
  int sent = 0;
  for (const Experiment& e : ex) sent += e.cases_sent;
  EXPECT_EQ(program.asked - before, sent);  // every case sent is counted
}

TEST(Experiments, NoneRunOnceTheRunIsInterrupted) {
  const Case m = make_case({2, 3, 2}, {Activation::tanh, Activation::sigmoid}, Loss::quadratic, Reduction::mean, 3, 5);
  PairBug program{m};
  VerifyResult v = *program(m);
  detail::run_experiments(m, v, std::ref(program), [] { return true; });
  EXPECT_TRUE(v.cause->experiments.empty());
  EXPECT_EQ(program.asked, 1);
}

}  // namespace
}  // namespace gradcheck
