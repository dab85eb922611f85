#include <gradcheck/engine/version.hpp>
namespace gradcheck {
const char* version() noexcept { return GRADCHECK_VERSION_STRING; }
}  // namespace gradcheck
