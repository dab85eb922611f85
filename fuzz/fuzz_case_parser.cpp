// libFuzzer target: gradcheck::parse_case (strict JSON cases).
// Run through fuzz/run.sh; the checks are in fuzz/oracles.hpp.
#include "oracles.hpp"

#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string violation = gradcheck::fuzz::case_parser_violation(data, size);
  if (!violation.empty()) {
    std::fprintf(stderr, "fuzz_case_parser: %s\n", violation.c_str());
    std::abort();  // libFuzzer saves the input as a crash artifact
  }
  return 0;
}
