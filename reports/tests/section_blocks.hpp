#pragma once
// Finding a section's blocks by type, for the tests of the section adapters
// (check, verify, probe, train).
//
//   const auto bars = test::blocks_of<BarChart>(section);        // in section order
//   const LineChart* loss = test::titled<LineChart>(section, "Training loss");

#include <gradcheck/reports/document.hpp>

#include <string>
#include <type_traits>
#include <variant>
#include <vector>

namespace gradcheck::reports::test {

// The blocks of type B in `s`, in the order the section shows them.
template <class B>
std::vector<const B*> blocks_of(const Section& s) {
  std::vector<const B*> out;
  for (const Block& b : s.blocks)
    if (const B* p = std::get_if<B>(&b)) out.push_back(p);
  return out;
}

// The first block of type B whose title (caption, for KeyValues and Table) is `title`,
// or nullptr.
template <class B>
const B* titled(const Section& s, const std::string& title) {
  for (const B* b : blocks_of<B>(s))
    if constexpr (std::is_same_v<B, KeyValues> || std::is_same_v<B, Table>) {
      if (b->caption == title) return b;
    } else {
      if (b->title == title) return b;
    }
  return nullptr;
}

}  // namespace gradcheck::reports::test
