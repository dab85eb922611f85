// `gradcheck probe --layer-types ...` on examples/python/cnn.py: the correct
// program agrees on every conv case; each of its --bug variants exits 1 with
// its signature on a minimal counterexample that is still a conv case where
// the bug needs one, described readably, and that `gradcheck verify` replays.
#include "run_gradcheck.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace gradcheck::testing;  // run_gradcheck.hpp

const std::string cnn = std::string(GRADCHECK_SOURCE_DIR) + "/examples/python/cnn.py";

std::string test_name() {
  std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::replace(name.begin(), name.end(), '/', '-');
  return name;
}

struct TempDir : ScopedTempDir {
  TempDir() : ScopedTempDir("cnn-probe-" + test_name()) {}
};

// The correct example over 200 conv cases is a ctest row of its own
// (probe_cnn_example_agrees_on_200_conv_cases, examples/CMakeLists.txt).

struct ConvBug {
  const char* bug;
  const char* signature;  // the minimal counterexample's only divergence signature
  const char* cause;      // a fragment of its cause line
  bool stays_conv;        // the minimal case keeps a conv2d layer
  const char* layer_types = "dense,conv2d,max_pool,avg_pool";
  const char* cases = "20";
};

void PrintTo(const ConvBug& b, std::ostream* os) { *os << b.bug; }

class CnnProbeBug : public ::testing::TestWithParam<ConvBug> {};

TEST_P(CnnProbeBug, ExitsOneWithItsSignatureOnAMinimalConvCaseThatVerifyReplays) {
  const ConvBug& b = GetParam();
  TempDir t;
  const fs::path save = t.path / "save", report = t.path / "report";
  const RunResult r = run_gradcheck_in({"probe", "--cases", b.cases, "--seed", "1", "--layer-types", b.layer_types, "--save",
                                        save.string(), "--report", report.string(), "--", "python3", cnn, "--bug",
                                        b.bug},
                                       t.path);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("DIVERGENCE on case"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(std::string("    - ") + b.signature + ": "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(b.cause), std::string::npos) << r.out;

  const auto j = nlohmann::json::parse(read_text(report / "report.json"));
  const auto& cx = j["results"][0]["counterexample"];
  ASSERT_TRUE(cx.is_object());
  std::vector<std::string> kinds;
  for (const auto& s : cx["signatures"])
    if (s["severity"] == "divergence") kinds.push_back(s["kind"]);
  EXPECT_EQ(kinds, std::vector<std::string>{b.signature}) << cx["signatures"].dump(1);
  const auto& minimal = cx["minimal_case"]["network"];
  const bool conv = std::any_of(minimal["layers"].begin(), minimal["layers"].end(),
                                [](const auto& l) { return l.value("type", "dense") == "conv2d"; });
  EXPECT_EQ(conv, b.stays_conv) << minimal.dump();
  if (b.stays_conv) {
    EXPECT_TRUE(minimal.contains("input_shape"));
    // The text names the conv layer's geometry: "conv2d 1×2 kernel, 1 -> 1 channels, stride 1, padding 0".
    EXPECT_NE(r.out.find("kernel, "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(" channels, stride "), std::string::npos) << r.out;
  }

  const RunResult v = run_gradcheck_in(
      {"verify", (save / "counterexample.case.json").string(), (save / "counterexample.reply.json").string()}, t.path);
  EXPECT_EQ(v.exit_code, 1) << v.out << v.err;
  EXPECT_NE(v.out.find(std::string("  - ") + b.signature + ": "), std::string::npos) << v.out;
}

INSTANTIATE_TEST_SUITE_P(
    EveryBugOfTheCnnExample, CnnProbeBug,
    ::testing::Values(
        ConvBug{"flip-dw", "kernel-flipped", "turned 180°", true},
        // verify reads this one as the kernels flipped in the forward and the
        // backward alike: on the shapes the seed draws the two readings give the same reply.
        ConvBug{"flip-dx", "kernel-flipped", "turned 180°", true},
        ConvBug{"stride-one", "stride-ignored", "as if the stride were 1", true},
        ConvBug{"no-padding", "backward-padding", "ignores the padding", true},
        // Needs two conv layers, the second with as many input as output channels
        // (2 or more): case 33 of seed 1 without pooling.
        ConvBug{"channels-swapped", "channels-swapped", "W[i][o] where W[o][i] belongs", true, "dense,conv2d", "40"},
        ConvBug{"pool-to-all", "max-pool-routing", "sent to every entry of the window", true},
        // Drawn ties: every entry of the window ties, so "every tie" is "every entry".
        ConvBug{"pool-to-ties", "max-pool-routing", "sent to every", true},
        ConvBug{"pool-averaged", "max-pool-routing", "averaged over the window", true},
        ConvBug{"avg-undivided", "avg-pool-undivided", "not divided by the window's size", true},
        ConvBug{"bias-one-position", "conv-bias-unsummed", "at the first output position only", true},
        ConvBug{"bias-mean", "conv-bias-unsummed", "the mean of δ over the output positions", true},
        ConvBug{"sign", "sign-flip", "the sign is flipped", false}),
    [](const ::testing::TestParamInfo<ConvBug>& i) {
      std::string n = i.param.bug;
      std::replace(n.begin(), n.end(), '-', '_');
      return n;
    });

TEST(CnnProbe, TheLayerTypesOptionRefusesUnknownKindsAndAListWithoutDense) {
  TempDir t;
  RunResult r = run_gradcheck_in({"probe", "--layer-types", "dense,lstm", "--", "python3", cnn}, t.path);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "gradcheck: command line: --layer-types: unknown value 'lstm' (one of dense, conv2d, max_pool, "
                   "avg_pool)\n");
  r = run_gradcheck_in({"probe", "--layer-types", "conv2d,max_pool", "--", "python3", cnn}, t.path);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "gradcheck: command line: --layer-types: must include dense (the output layer of a case is dense)\n");
  EXPECT_TRUE(r.out.empty());
}

}  // namespace
