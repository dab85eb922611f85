#pragma once
// Tests that keep a document in step with the code: the field names a page
// lists in the first column of its tables, to compare with the keys to_json
// writes (docs/report-schema.md, docs/verify.md). A field added to the code
// without its line in the page fails the test, and back.
//
//   const auto names = gradcheck::testing::documented_fields("docs/report-schema.md", "### `entries[]`");
//
// Conventions of the pages: every backticked name in a row's first cell counts
// (`a`, `b` for two fields); `a.b` then `.c` in the same cell stands for a.c.

#include <algorithm>
#include <fstream>
#include <set>
#include <string>
#include <vector>

namespace gradcheck::testing {

// The names in the first column of the tables under every heading that starts
// with `heading`, up to the next heading. `page` is relative to the source tree.
inline std::set<std::string> documented_fields(const std::string& page, const std::string& heading) {
  std::ifstream in(std::string(GRADCHECK_SOURCE_DIR) + "/" + page);
  std::set<std::string> names;
  bool inside = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("#", 0) == 0) {
      inside = line.rfind(heading, 0) == 0;
      continue;
    }
    if (!inside || line.rfind("| `", 0) != 0) continue;
    const std::string cell = line.substr(1, line.find('|', 1) - 1);
    std::string previous;
    for (std::size_t pos = cell.find('`'); pos != std::string::npos; pos = cell.find('`', pos + 1)) {
      const std::size_t end = cell.find('`', pos + 1);
      std::string name = cell.substr(pos + 1, end - pos - 1);
      if (!name.empty() && name[0] == '.') name = previous.substr(0, previous.rfind('.')) + name;
      names.insert(name);
      previous = name;
      pos = end;
    }
  }
  return names;
}

// The rows of the tables under `heading` (up to the next heading), each as its
// cells with surrounding spaces and backticks removed; the header and the
// separator row left out.
inline std::vector<std::vector<std::string>> documented_rows(const std::string& page, const std::string& heading) {
  std::ifstream in(std::string(GRADCHECK_SOURCE_DIR) + "/" + page);
  std::vector<std::vector<std::string>> rows;
  bool inside = false, header = true;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("#", 0) == 0) {
      inside = line.rfind(heading, 0) == 0;
      header = true;
      continue;
    }
    if (!inside || line.rfind("|", 0) != 0) continue;
    if (line.rfind("|---", 0) == 0) {
      header = false;
      continue;
    }
    if (header) continue;
    std::vector<std::string> cells;
    for (std::size_t pos = 1, end; (end = line.find('|', pos)) != std::string::npos; pos = end + 1) {
      std::string cell = line.substr(pos, end - pos);
      cell.erase(std::remove(cell.begin(), cell.end(), '`'), cell.end());
      const std::size_t a = cell.find_first_not_of(' '), b = cell.find_last_not_of(' ');
      cells.push_back(a == std::string::npos ? "" : cell.substr(a, b - a + 1));
    }
    rows.push_back(std::move(cells));
  }
  return rows;
}

}  // namespace gradcheck::testing
