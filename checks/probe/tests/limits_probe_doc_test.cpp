// docs/limits.md's table of the probe's bounds against ProbeOptions: the page
// must show the defaults and hard caps the code has (the other tables are
// checked in reports/tests/limits_doc_test.cpp).
#include <gradcheck/probe/probe.hpp>
#include <gradcheck/probe/subprocess.hpp>
#include <gradcheck/engine/case_format.hpp>
#include <gradcheck/engine/errors.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "../../../tests/limits_page.hpp"

namespace gradcheck {
namespace {

using testing::limits_page::row_naming;
using testing::limits_page::with_commas;

void expect_row_says(const std::string& code, const std::string& text) {
  const std::string row = row_naming(code);
  EXPECT_NE(row, "") << "docs/limits.md has no row naming `" << code << "`";
  EXPECT_NE(row.find(text), std::string::npos) << "expected \"" << text << "\" in: " << row;
}

TEST(LimitsPage, ShowsTheDefaultsOfTheProbeBounds) {
  const ProbeOptions o;
  expect_row_says("ProbeOptions::max_reply_bytes", "| " + std::to_string(o.max_reply_bytes >> 20) + " MiB (" +
                                                       with_commas(o.max_reply_bytes) + " bytes) |");
  expect_row_says("ProbeOptions::max_reply_bytes", "`--max-reply-bytes BYTES`");
  expect_row_says("ProbeOptions::max_reply_bytes", "limit of " + std::to_string(o.max_reply_bytes) + " bytes; killed");
  EXPECT_EQ(o.max_reply_bytes, LineProcessOptions{}.max_line_bytes);
  EXPECT_EQ(o.max_reply_bytes, max_json_bytes) << "the page says every line the cap lets through can be parsed";

  expect_row_says("ProbeOptions::timeout",
                  "| " + std::to_string(o.timeout.count() / 1000) + " s (" + with_commas(o.timeout.count()) + " ms) |");
  expect_row_says("ProbeOptions::timeout", "no reply within " + std::to_string(o.timeout.count()) + " ms; killed");
  expect_row_says("ProbeOptions::timeout", "`--timeout SECONDS`");

  expect_row_says("ProbeOptions::startup_timeout", "| " + std::to_string(o.startup_timeout.count() / 1000) + " s (" +
                                                       with_commas(o.startup_timeout.count()) + " ms)");
  expect_row_says("ProbeOptions::startup_timeout",
                  "no reply within " + std::to_string(o.startup_timeout.count()) + " ms; killed");
  expect_row_says("ProbeOptions::startup_timeout", "`--startup-timeout SECONDS`");

  expect_row_says("ProbeOptions::cases",
                  "| " + std::to_string(o.cases) + " (at most " + with_commas(probe_max_cases) + ", `probe_max_cases`) |");
  expect_row_says("ProbeOptions::cases", "`--cases N`");

  expect_row_says("ProbeOptions::max_shrink_steps", "| " + with_commas(o.max_shrink_steps) + " replies (at most " +
                                                        with_commas(probe_max_shrink_steps) +
                                                        ", `probe_max_shrink_steps`) |");
  expect_row_says("ProbeOptions::max_shrink_steps", "`--max-shrink-steps K`");

  expect_row_says("ProbeOptions::max_failures", "| " + std::to_string(o.max_failures) + " |");
  expect_row_says("ProbeOptions::max_failures", "`--max-failures N`");
}

// The caps the page states are enforced: one past each is refused.
TEST(LimitsPage, TheProbeRefusesOptionsPastItsCaps) {
  ProbeOptions o;
  o.cases = probe_max_cases + 1;
  EXPECT_THROW(probe({"/bin/true"}, o), InputError);
  o = ProbeOptions{};
  o.max_shrink_steps = probe_max_shrink_steps + 1;
  EXPECT_THROW(probe({"/bin/true"}, o), InputError);
}

}  // namespace
}  // namespace gradcheck
