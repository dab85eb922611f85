#include "huge_pages.hpp"

#include <gradcheck/engine/huge_pages.hpp>

#include <cstdlib>

#if defined(__GLIBC__)
#include <malloc.h>
#include <unistd.h>
#endif

namespace gradcheck::cli {

void heap_on_huge_pages() {
#if defined(__GLIBC__) && defined(M_TOP_PAD)
  constexpr std::size_t step = std::size_t{64} << 20;
  // Order matters: with the pad set, the allocation below grows the heap by
  // a whole step, and with trimming off that step is never given back (a
  // range given back and grown again would lose the advice). One arena: a
  // thread's own arena would be fresh mmap'd memory, off the huge pages (the
  // 50-digit reference runs its passes on two threads).
  if (!mallopt(M_TOP_PAD, static_cast<int>(step)) || !mallopt(M_TRIM_THRESHOLD, static_cast<int>(2 * step)) ||
      !mallopt(M_MMAP_THRESHOLD, static_cast<int>(step / 2)) || !mallopt(M_ARENA_MAX, 1))
    return;
  void* grow = std::malloc(std::size_t{1} << 20);
  if (grow == nullptr) return;
  char* const begin = static_cast<char*>(grow);
  char* const end = static_cast<char*>(::sbrk(0));
  if (end > begin) advise_huge_pages(begin, static_cast<std::size_t>(end - begin));
  std::free(grow);
#endif
}

}  // namespace gradcheck::cli
