#pragma once
// Tests that keep docs/limits.md in step with the limits in the code (the
// reports' and the probe's): the table row that names a constant, and a count
// written the way the page writes it.
//
//   EXPECT_NE(limits_page::row_naming("max_reply_bytes").find(limits_page::with_commas(67108864)), npos);

#include <fstream>
#include <string>

namespace gradcheck::testing::limits_page {

// The table row of docs/limits.md that names `code` (in backticks), or "" when none does.
inline std::string row_naming(const std::string& code) {
  std::ifstream in(std::string(GRADCHECK_SOURCE_DIR) + "/docs/limits.md");
  for (std::string l; std::getline(in, l);)
    if (l.rfind("| ", 0) == 0 && l.find("`" + code + "`") != std::string::npos) return l;
  return "";
}

// 67108864 -> "67,108,864"
inline std::string with_commas(unsigned long long n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<std::size_t>(i), ",");
  return s;
}

}  // namespace gradcheck::testing::limits_page
