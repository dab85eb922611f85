#include "huge_pages.hpp"

#include <cstdint>
#include <cstdlib>

#if defined(__GLIBC__) && __has_include(<sys/mman.h>)
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace gradcheck::cli {

void heap_on_huge_pages() {
#if defined(__GLIBC__) && defined(MADV_HUGEPAGE) && defined(M_TOP_PAD)
  constexpr std::size_t step = std::size_t{64} << 20;
  constexpr std::uintptr_t huge = std::uintptr_t{1} << 21;
  // Order matters: with the pad set, the allocation below grows the heap by
  // a whole step, and with trimming off that step is never given back (a
  // range given back and grown again would lose the advice).
  // One arena: a thread's own arena would be fresh mmap'd memory, off the
  // huge pages (the 50-digit reference runs its passes on two threads).
  if (!mallopt(M_TOP_PAD, static_cast<int>(step)) || !mallopt(M_TRIM_THRESHOLD, static_cast<int>(2 * step)) ||
      !mallopt(M_MMAP_THRESHOLD, static_cast<int>(step / 2)) || !mallopt(M_ARENA_MAX, 1))
    return;
  void* grow = std::malloc(std::size_t{1} << 20);
  if (grow == nullptr) return;
  const auto begin = (reinterpret_cast<std::uintptr_t>(grow) + huge - 1) & ~(huge - 1);
  const auto end = reinterpret_cast<std::uintptr_t>(::sbrk(0)) & ~(huge - 1);
  if (end > begin) (void)::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
  std::free(grow);
#endif
}

}  // namespace gradcheck::cli
