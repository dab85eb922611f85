// fd_serve.hpp, the C++ side of `gradcheck fd`'s protocol (docs/fd.md): the
// loss requests it reads without a document, point by point, and the errors it
// answers instead of crashing.
#include <gradcheck/probe/fd_serve.hpp>

#include <gtest/gtest.h>

#include <sstream>
#include <string>

namespace gradcheck::serve {
namespace {

// Two parameters, W (2 × 2) and b (2); the loss is a weighted sum of every
// value, so each value's contribution can be read from the answer.
std::vector<Parameter> parameters() { return {{"W", {2, 2}, {1, 2, 3, 4}}, {"b", {2}, {10, 20}}}; }

double weighted(const Values& v) {
  return v[0][0] + 2 * v[0][1] + 3 * v[0][2] + 4 * v[0][3] + 100 * v[1][0] + 1000 * v[1][1];
}

nlohmann::json serve_lines(const std::string& lines) {
  std::istringstream in(lines);
  std::ostringstream out;
  const auto gradient = [](const Values& v, Values& g) {
    g[0] = {1, 2, 3, 4};
    g[1] = {100, 1000};
    return weighted(v);
  };
  EXPECT_EQ(fd_serve(parameters(), weighted, gradient, in, out), 0);
  nlohmann::json replies = nlohmann::json::array();
  std::istringstream back(out.str());
  for (std::string line; std::getline(back, line);) replies.push_back(nlohmann::json::parse(line));
  return replies;
}

TEST(FdServe, EachPointStartsFromTheDescribedValues) {
  const double base = 1 + 4 + 9 + 16 + 1000 + 20000;
  const auto r = serve_lines(
      R"({"request":"loss","points":[{"shifts":[{"param":"W","index":3,"delta":0.5}]},)"
      R"({"shifts":[{"param":"b","index":1,"delta":-1},{"param":"W","index":0,"delta":2}]},)"
      R"({"direction":{"b":[1,-1]},"step":0.25},{}]})"
      "\n");
  ASSERT_EQ(r.size(), 1U);
  const auto& losses = r[0].at("losses");
  ASSERT_EQ(losses.size(), 4U);
  EXPECT_DOUBLE_EQ(losses[0].get<double>(), base + 4 * 0.5);
  EXPECT_DOUBLE_EQ(losses[1].get<double>(), base - 1000 + 2);
  EXPECT_DOUBLE_EQ(losses[2].get<double>(), base + 0.25 * (100 - 1000));
  EXPECT_DOUBLE_EQ(losses[3].get<double>(), base);
}

TEST(FdServe, KeysTheProtocolDoesNotNameAreSkippedWhole) {
  const auto r = serve_lines(
      R"({"id":{"points":[{"shifts":[]}]},"request":"loss","points":[{"note":[{"step":9}],)"
      R"("shifts":[{"param":"W","index":0,"delta":1,"why":{"index":7}}]}]})"
      "\n");
  ASSERT_EQ(r.size(), 1U);
  ASSERT_EQ(r[0].at("losses").size(), 1U);
  EXPECT_DOUBLE_EQ(r[0]["losses"][0].get<double>(), 1 + 4 + 9 + 16 + 1000 + 20000 + 1);
}

TEST(FdServe, AMalformedRequestGetsAnErrorLineAndTheNextIsStillAnswered) {
  const auto r = serve_lines(
      "{\"request\":\"loss\",\"points\":[{\"shifts\":[{\"param\":\"V\",\"index\":0,\"delta\":1}]}]}\n"
      "{\"request\":\"loss\",\"points\":[{\"shifts\":[{\"param\":\"W\",\"delta\":1}]}]}\n"
      "{\"request\":\"loss\",\"points\":[{\"shifts\":[{\"param\":\"W\",\"index\":-1,\"delta\":1}]}]}\n"
      "{\"request\":\"loss\",\"points\":[{\"shifts\":[{\"param\":\"W\",\"index\":4,\"delta\":1}]}]}\n"
      "{\"request\":\"loss\",\"points\":[{\"direction\":{\"W\":[1,1,1,1]}}]}\n"
      "{\"request\":\"loss\"}\n"
      "{\"request\":\"loss\",\"points\":[\n"
      "{\"request\":\"gradient\"}\n"
      "{\"request\":\"loss\",\"points\":[{\"shifts\":[{\"param\":\"W\",\"index\":0,\"delta\":5},"
      "{\"param\":\"W\",\"index\":9,\"delta\":1}]}]}\n"
      "{\"request\":\"loss\",\"points\":[{}]}\n");
  ASSERT_EQ(r.size(), 10U);
  EXPECT_NE(r[0].at("error").get<std::string>().find("unknown parameter 'V'"), std::string::npos) << r[0];
  EXPECT_NE(r[1].at("error").get<std::string>().find("needs 'param', 'index' and 'delta'"), std::string::npos) << r[1];
  EXPECT_NE(r[2].at("error").get<std::string>().find("non-negative integer"), std::string::npos) << r[2];
  EXPECT_TRUE(r[3].contains("error")) << r[3];  // index 4 of a 4-entry tensor
  EXPECT_NE(r[4].at("error").get<std::string>().find("needs a 'step'"), std::string::npos) << r[4];
  EXPECT_NE(r[5].at("error").get<std::string>().find("needs 'points'"), std::string::npos) << r[5];
  EXPECT_NE(r[6].at("error").get<std::string>().find("parse error"), std::string::npos) << r[6];
  EXPECT_EQ(r[7].at("gradient").at("b"), nlohmann::json::array({100, 1000})) << r[7];
  // A point refused half-way leaves nothing moved: the next point is the described values.
  EXPECT_NE(r[8].at("error").get<std::string>().find("index 9 of 'W'"), std::string::npos) << r[8];
  EXPECT_DOUBLE_EQ(r[9].at("losses")[0].get<double>(), 1 + 4 + 9 + 16 + 1000 + 20000) << r[9];
}

}  // namespace
}  // namespace gradcheck::serve
