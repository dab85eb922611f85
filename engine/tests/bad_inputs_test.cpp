// The table of docs/bad-inputs.md, checked against the library readers: each
// row's files are written (tests/bad_inputs.hpp), read the way the row's command
// reads them, and the InputError must carry the page's message exactly. The
// same rows run through the built binary in cli/tests/bad_input_cli_test.cpp;
// rows whose message comes from a command's own checks (not a reader) are
// checked there only.
#include "../../tests/bad_inputs.hpp"

#include <gradcheck/engine/case_format.hpp>
#include <gradcheck/engine/errors.hpp>
#include <gradcheck/engine/idx.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

namespace gradcheck {
namespace {

namespace fs = std::filesystem;
using bad_inputs::Row;

// Rows refused by a command before or after its readers: the CLI test has them.
const std::set<std::string> kCommandRows = {"image-size", "absurd-net", "too-many-parameters"};

std::vector<Row> page_rows() {
  try {
    return bad_inputs::rows_of_the_page();
  } catch (const std::exception& e) {
    return {Row{"page-unreadable", {}, e.what(), -1}};  // fails in its test rather than at load time
  }
}

class InDirectory {
 public:
  explicit InDirectory(const std::string& name)
      : dir_(fs::temp_directory_path() / ("gradcheck-bad-" + name + "-" + std::to_string(::getpid()))),
        old_(fs::current_path()) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    fs::current_path(dir_);  // messages name files as the row's command does: relative
  }
  ~InDirectory() {
    fs::current_path(old_);
    fs::remove_all(dir_);
  }
  const fs::path& path() const { return dir_; }

 private:
  fs::path dir_, old_;
};

std::string option(const std::vector<std::string>& args, const std::string& name) {
  const auto it = std::find(args.begin(), args.end(), name);
  return it == args.end() || it + 1 == args.end() ? "" : *(it + 1);
}

// What the row's command reads, read with the library; "" when nothing is refused.
std::string library_message(const Row& row) {
  const auto& a = row.args;
  try {
    if (a.at(0) == "check") {
      (void)read_case(a.at(1));
    } else if (a.at(0) == "verify") {
      (void)read_case(a.at(1));
      (void)read_reply(a.at(2));
    } else if (a.at(0) == "train") {
      const std::string net = option(a, "--net");
      const int classes = std::max(2, std::stoi(net.substr(net.rfind('-') + 1)));
      (void)idx::load(option(a, "--idx-images"), option(a, "--idx-labels"), idx::ByteReading::unsigned_bytes, -1,
                      classes);
    } else {
      return "(no library reading for gradcheck " + a.at(0) + ")";
    }
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

class BadInput : public ::testing::TestWithParam<Row> {};

TEST_P(BadInput, TheLibraryRefusesItWithTheMessageOnThePage) {
  const Row& row = GetParam();
  ASSERT_NE(row.id, "page-unreadable") << row.message;
  InDirectory dir(row.id);
  bad_inputs::write_inputs(row.id, dir.path());
  // The command's own rows: the files are sound, so the readers accept them and
  // the refusal is the command's (asserted in cli/tests/bad_input_cli_test.cpp).
  EXPECT_EQ(library_message(row), kCommandRows.count(row.id) ? "" : row.message);
  // A reply file is what the implementation wrote: verify reports it (exit 1);
  // everything else on the page is the user's input (exit 2).
  EXPECT_EQ(row.exit_code, row.args.at(0) == "verify" && !kCommandRows.count(row.id) ? 1 : 2);
}

INSTANTIATE_TEST_SUITE_P(Page, BadInput, ::testing::ValuesIn(page_rows()), [](const auto& info) {
  std::string name = info.param.id;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
});

// The list of bad inputs, each a row of the page.
TEST(BadInputPage, HasARowForEveryKindOfBadInput) {
  std::set<std::string> ids;
  for (const Row& r : page_rows()) EXPECT_TRUE(ids.insert(r.id).second) << "duplicate row " << r.id;
  for (const char* id :
       {"malformed-json", "weights-not-rows", "number-as-string", "missing-field", "ragged-weights",
        "mismatched-weights", "inputs-mismatch", "unknown-activation", "unknown-loss", "softmax-hidden", "nan-weight",
        "infinity-input", "cross-entropy-target", "empty-batch", "wide-layer", "huge-file", "absurd-net",
        "too-many-parameters", "reply-not-json", "reply-missing-layers", "reply-ragged", "idx-wrong-magic",
        "idx-truncated", "idx-wrong-count", "idx-label-out-of-range", "idx-gzip-cut", "image-size"})
    EXPECT_TRUE(ids.count(id)) << "no row " << id;
}

// Every message is one line, starts with what it is about (a file or an option)
// and is never the program's own name: the CLI adds "gradcheck: ".
TEST(BadInputPage, EveryMessageIsOneLineNamingItsSource) {
  for (const Row& r : page_rows()) {
    EXPECT_EQ(r.message.find('\n'), std::string::npos) << r.id;
    EXPECT_NE(r.message.rfind("gradcheck", 0), 0U) << r.id;
    const std::string first_word = r.message.substr(0, r.message.find(": "));
    const bool names_a_file = std::find(r.args.begin(), r.args.end(), first_word) != r.args.end();
    EXPECT_TRUE(names_a_file || first_word.rfind("--", 0) == 0) << r.id << ": " << r.message;
  }
}

}  // namespace
}  // namespace gradcheck
