#pragma once
// advise_huge_pages(p, n): asks for 2 MiB pages over the whole 2 MiB blocks
// of [p, p + n), before anything is written there. A fresh page costs a
// fault on a virtual machine (about 5 µs), and 47 MB is 11,500 of them in
// 4 KiB pages, 23 in 2 MiB ones. Best effort: transparent huge pages in
// "madvise" mode; nothing otherwise, and nothing a result depends on.
// Used by the IDX reader's buffers and by the command line's heap
// (cli/huge_pages.hpp; figures in bench/README.md#whole-processes).
#include <cstddef>

namespace gradcheck {

void advise_huge_pages(void* p, std::size_t n);

}  // namespace gradcheck
