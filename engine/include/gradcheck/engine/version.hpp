#pragma once
namespace gradcheck {
// The library's version, "MAJOR.MINOR.PATCH" (the CMake project version).
const char* version() noexcept;
}  // namespace gradcheck
