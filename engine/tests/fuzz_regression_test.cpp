// The fuzzers' corpora replayed in every ordinary build (gcc, no libFuzzer):
// each committed seed and finding under fuzz/corpus/<target>/ goes through the
// same oracle the fuzz target runs (fuzz/oracles.hpp). Then one test per
// finding, asserting the exact behaviour of the fix.
#include "../../fuzz/oracles.hpp"
#include "test_helpers.hpp"

#include <gradcheck/engine/case_format.hpp>
#include <gradcheck/engine/idx.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace gradcheck {
namespace {

namespace fs = std::filesystem;
using testing::input_error_of;

const fs::path kCorpus = fs::path(GRADCHECK_SOURCE_DIR) / "fuzz" / "corpus";

std::vector<std::uint8_t> bytes_of(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

using Oracle = std::string (*)(const std::uint8_t*, std::size_t);

// Returns how many files were replayed, so that a wrong path cannot pass silently.
std::size_t replay(const std::string& target, Oracle oracle) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(kCorpus / target))
    if (entry.is_regular_file()) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    const auto data = bytes_of(f);
    EXPECT_EQ(oracle(data.data(), data.size()), "") << target << " on " << f.filename();
  }
  return files.size();
}

TEST(FuzzRegression, EveryCaseParserSeedKeepsTheContract) {
  EXPECT_GE(replay("fuzz_case_parser", fuzz::case_parser_violation), 40U);
}

TEST(FuzzRegression, EveryReplyParserSeedKeepsTheContract) {
  EXPECT_GE(replay("fuzz_reply_parser", fuzz::reply_parser_violation), 15U);
}

TEST(FuzzRegression, EveryIdxReaderSeedKeepsTheContract) {
  EXPECT_GE(replay("fuzz_idx_reader", fuzz::idx_reader_violation), 20U);
}

// The oracles themselves must be able to fail: a few known-bad answers.
TEST(FuzzRegression, TheOraclesRejectBrokenPromises) {
  Case c;  // no layers: validate() refuses it
  EXPECT_NE(fuzz::detail::case_holds_its_promises(c), "");
  EXPECT_NE(fuzz::detail::message_violation(InputError("other.json", "", "x"), "case.json"), "");
  EXPECT_NE(fuzz::detail::message_violation(InputError("case.json", "", "two\nlines"), "case.json"), "");
  EXPECT_NE(fuzz::detail::message_violation(InputError("case.json", "", "byte \xff"), "case.json"), "");
  EXPECT_EQ(fuzz::detail::message_violation(InputError("case.json", "inputs", "has no rows"), "case.json"), "");
  EXPECT_FALSE(fuzz::detail::valid_utf8("\xc0\xaf"));      // overlong '/'
  EXPECT_FALSE(fuzz::detail::valid_utf8("\xed\xa0\x80"));  // a UTF-16 surrogate
  EXPECT_TRUE(fuzz::detail::valid_utf8("r\xc3\xa9seau \xf0\x9f\x98\x80"));
}

// Finding 1 (fuzz/corpus/fuzz_case_parser/bad-bad-utf8.json): nlohmann's syntax
// errors quote the bytes read, so a stray byte made the message itself invalid
// UTF-8. Each byte outside a well-formed sequence is now shown as <0xNN>.
TEST(FuzzRegression, ASyntaxErrorQuotesAnIllFormedByteAsItsHexValue) {
  EXPECT_EQ(input_error_of([] { (void)parse_case("{\"a\": \"sigm\xffid\"}", "case.json"); }),
            "case.json: line 1, column 12: syntax error while parsing value - invalid string: ill-formed UTF-8 "
            "byte; last read: '\"sigm<0xFF>'");
  EXPECT_EQ(input_error_of([] { (void)parse_reply("{\"layers\": [\xc3\x28]}", "reply.json"); }),
            "reply.json: line 1, column 13: syntax error while parsing value - invalid literal; last read: "
            "'\"layers\": [<0xC3>'");
}

// Finding 2 (fuzz/corpus/fuzz_idx_reader/zero-count-huge-image.idx): zero images
// of 4294967295 × 4294967295 pixels pass the byte limit (0 bytes), and images()
// multiplied rows by cols in a signed 64-bit Index: undefined behaviour, then a
// matrix of negative size. Now refused as bad input.
TEST(FuzzRegression, ZeroImagesOfAnAbsurdSizeAreRefusedNotMultipliedPastAnIndex) {
  idx::Array a;
  a.path = "f";
  a.dims = {0, 0xFFFFFFFFu, 0xFFFFFFFFu};
  EXPECT_EQ(input_error_of([&] { (void)idx::images(a); }),
            "f: header: images of 4294967295 × 4294967295 pixels exceed the limit of 1048576 features "
            "(max_layer_width, see docs/limits.md)");
  a.dims = {0, 1024, 1024};  // exactly max_layer_width pixels: an empty but usable set
  EXPECT_EQ(idx::images(a).rows(), 1024 * 1024);
  EXPECT_EQ(idx::images(a).cols(), 0);
}

}  // namespace
}  // namespace gradcheck
