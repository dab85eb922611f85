// The cause of a divergence (verify.hpp, docs/verify.md#cause) and its
// honesty rule: a mistake is THE cause only when it reproduces every compared
// entry; otherwise the closest hypothesis is stated as one, or the cause is
// not identified, with what was ruled out.
#include "verify_test_support.hpp"

#include <gradcheck/verify/mutations.hpp>

#include <gtest/gtest.h>

#include <string>

namespace gradcheck {
namespace {

using testing::catalogue;
using testing::describe;
using testing::engine_reply;
using testing::reply_of;

std::size_t compared(const VerifyResult& v) {
  return v.gradients.summary.counts.agree + v.gradients.summary.counts.disagree;
}

TEST(Cause, ACorrectReplyHasNone) {
  for (const Case& c : catalogue()) EXPECT_FALSE(verify_reply(c, engine_reply(c)).cause.has_value());
}

TEST(Cause, EveryMutationIsTheCauseAndReproducesEveryComparedEntry) {
  int tested = 0;
  for (const Case& c : catalogue())
    for (Mutation m : all_mutations) {
      if (!applies(m, c.network)) continue;
      const Reply bad = reply_of(mutated_gradients(c, m));
      const VerifyResult v = verify_reply(c, bad);
      if (v.status != VerifyStatus::diverge) continue;  // this case does not show the mutation
      ++tested;
      SCOPED_TRACE(std::string(to_string(m)) + "\n" + describe(v));
      ASSERT_TRUE(v.cause.has_value());
      EXPECT_EQ(v.cause->confidence, CauseConfidence::explains_all);
      ASSERT_TRUE(v.cause->kind.has_value());
      EXPECT_EQ(*v.cause->kind, m.kind);
      EXPECT_EQ(v.cause->explained, v.cause->compared);
      EXPECT_EQ(v.cause->compared, compared(v));
      EXPECT_TRUE(v.cause->ruled_out.empty());
    }
  EXPECT_GT(tested, 20);
}

TEST(Cause, AMistakeThatMissesOneEntryIsOnlyTheClosestHypothesis) {
  // act'(a) for act'(z) everywhere, and one more entry wrong on top: the
  // mistake reproduces every entry but that one.
  const Case c = catalogue()[1];
  Reply bad = reply_of(mutated_gradients(c, mutation::derivative_at_output_value));
  bad.layers[0].weights(0, 0) *= 1.37;
  const VerifyResult v = verify_reply(c, bad);
  ASSERT_TRUE(v.cause.has_value()) << describe(v);
  EXPECT_EQ(v.cause->confidence, CauseConfidence::closest) << v.cause->statement;
  EXPECT_EQ(v.cause->kind, BugKind::derivative_at_output_value);
  EXPECT_EQ(v.cause->explained + 1, v.cause->compared);
  EXPECT_EQ(v.cause->statement.rfind("closest hypothesis: ", 0), 0u) << v.cause->statement;
  EXPECT_NE(v.cause->statement.find("it reproduces " + std::to_string(v.cause->explained) + " of the " +
                                    std::to_string(v.cause->compared) + " compared entries, not all"),
            std::string::npos)
      << v.cause->statement;
}

TEST(Cause, ABugOutsideTheCatalogueIsNotIdentifiedAndSaysWhereAndWhatWasRuledOut) {
  // One output-layer weight gradient off by 37 %: no mistake of the catalogue gives that.
  const Case c = catalogue()[1];
  Reply bad = engine_reply(c);
  const std::size_t L = c.network.layers.size();
  bad.layers[L - 1].weights(0, 0) *= 1.37;
  const VerifyResult v = verify_reply(c, bad);
  ASSERT_TRUE(v.cause.has_value()) << describe(v);
  EXPECT_EQ(v.cause->confidence, CauseConfidence::not_identified) << v.cause->statement;
  EXPECT_FALSE(v.cause->kind.has_value());
  // Where: the localisation's finding (batch 3: dW and db of the output layer fit no one δ).
  EXPECT_EQ(v.cause->statement.rfind("not identified — the weight and bias gradients of layers[2] do not fit one δ", 0),
            0u)
      << v.cause->statement;
  EXPECT_GE(v.cause->ruled_out.size(), 8u);
  bool scale_ruled_out = false;
  for (const std::string& r : v.cause->ruled_out) scale_ruled_out = scale_ruled_out || r == "one scale for every tensor";
  EXPECT_TRUE(scale_ruled_out);
}

TEST(Cause, AMalformedReplyIsItsOwnCause) {
  const VerifyResult v = malformed_reply("line 1: expected an object");
  ASSERT_TRUE(v.cause.has_value());
  EXPECT_EQ(v.cause->statement, "the reply is not a reply: line 1: expected an object");
}

TEST(Cause, ConfidenceNamesAreTheDocumentedOnes) {
  EXPECT_STREQ(to_string(CauseConfidence::explains_all), "explains-all");
  EXPECT_STREQ(to_string(CauseConfidence::confirmed), "confirmed");
  EXPECT_STREQ(to_string(CauseConfidence::closest), "closest");
  EXPECT_STREQ(to_string(CauseConfidence::not_identified), "not-identified");
}

}  // namespace
}  // namespace gradcheck
