#pragma once
// What fd.cpp, fd_program.cpp and fd_signatures.cpp share (not installed).
#include <gradcheck/probe/fd.hpp>

#include <vector>

namespace gradcheck::detail {

// Thrown by a loss callback that was interrupted (SIGINT): fd_check returns
// the result marked interrupted, with no entry reported as decided.
struct FdInterrupted {};

// Patterns across the tensors' entries (docs/fd.md#signatures).
std::vector<FdSignature> fd_signatures(const std::vector<FdTensor>& tensors);

}  // namespace gradcheck::detail
