// examples/python/cnn.py, the stdlib convolutional example, against `gradcheck
// verify` on the two conv example cases: its correct replies agree, and each of
// its --bug variants is a divergence whose cause names that bug — or agrees
// where the case cannot show it (a stride of 1, no avg pool, no exact tie).
#include "run_gradcheck.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace gradcheck {
namespace {

namespace fs = std::filesystem;
using testing::run_gradcheck;

const std::string source = GRADCHECK_SOURCE_DIR;

struct Expectation {
  const char* bug;   // "" for the correct program
  const char* name;  // conv-small or conv-strided
  int exit_code;
  const char* cause;  // a fragment of the cause line; "" when it agrees
};

// The reply of cnn.py to the case, written to a file beside it.
fs::path reply_of(const std::string& bug, const std::string& name, const fs::path& dir) {
  const fs::path reply = dir / (name + (bug.empty() ? "" : "-" + bug) + ".json");
  const std::string cmd = "python3 " + source + "/examples/python/cnn.py --case " + source + "/examples/cases/" +
                          name + ".json" + (bug.empty() ? "" : " --bug " + bug) + " > " + reply.string();
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  return reply;
}

TEST(CnnExample, VerifyAgreesWithItAndNamesEachOfItsBugs) {
  const Expectation table[] = {
      {"", "conv-small", 0, ""},
      {"", "conv-strided", 0, ""},
      {"flip-dw", "conv-small", 1, "dW of the conv2d layers is turned 180°"},
      {"flip-dx", "conv-strided", 1, "where the kernel turned 180° belongs"},
      {"flip-dx", "conv-small", 0, ""},  // its only conv layer is the first: dX is not reported
      {"stride-one", "conv-strided", 1, "as if the stride were 1"},
      {"stride-one", "conv-small", 0, ""},  // stride 1
      {"no-padding", "conv-strided", 1, "ignores the padding"},
      {"channels-swapped", "conv-strided", 1, "scattered through W[i][o] where W[o][i] belongs"},
      {"pool-to-all", "conv-small", 1, "sent to every entry of the window"},
      {"pool-averaged", "conv-strided", 1, "is averaged over the window"},
      {"pool-to-ties", "conv-strided", 0, ""},  // no window holds an exact tie
      {"avg-undivided", "conv-strided", 1, "not divided by the window's size"},
      {"bias-one-position", "conv-strided", 1, "at the first output position only"},
      {"bias-mean", "conv-small", 1, "the mean of δ over the output positions"},
      {"sign", "conv-strided", 1, "the sign is flipped"},
  };
  const fs::path dir = fs::temp_directory_path() / ("gradcheck-cnn-example-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  for (const Expectation& e : table) {
    const fs::path reply = reply_of(e.bug, e.name, dir);
    const auto r = run_gradcheck({"verify", source + "/examples/cases/" + e.name + ".json", reply.string()});
    const std::string what = std::string(e.bug[0] ? e.bug : "correct") + " on " + e.name;
    EXPECT_EQ(r.exit_code, e.exit_code) << what << "\n" << r.out << r.err;
    const auto lines = r.lines();
    if (e.exit_code == 0) {
      EXPECT_TRUE(r.has_line_starting("AGREE:")) << what << "\n" << r.out;
    } else {
      ASSERT_GE(lines.size(), 2u) << what;
      EXPECT_EQ(lines[1].rfind("cause: ", 0), 0u) << what << "\n" << r.out;
      EXPECT_NE(lines[1].find(e.cause), std::string::npos) << what << "\n" << lines[1];
    }
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace gradcheck
