# GRADCHECK_CPU -> GRADCHECK_CPU_FLAGS, the instruction-set flags of every
# gradcheck target and of every project that links one (README.md#the-instruction-set).
#   auto      AVX2 + FMA (-mavx2 -mfma) when the compiler takes them and the
#             machine configuring the build runs them; the baseline otherwise
#   portable  the compiler's baseline (x86-64: SSE2), for a binary that runs anywhere
#   native    -march=native (every extension of this CPU, AVX-512 included)
# The flags are PUBLIC on gradcheck::engine, so an installed gradcheck passes
# them on: Eigen's alignment (16 or 32 bytes) must agree on both sides of a call.
# -ffp-contract=off keeps a*b+c two roundings, as in the portable build: the
# compiler may not fuse them into one FMA, so every verdict and report digit is
# the same in every build (Eigen's own GEMM kernels still use FMA; README.md#the-instruction-set).
include(CheckCXXSourceRuns)
include(CMakePushCheckState)
if(GRADCHECK_NATIVE)
  set(GRADCHECK_CPU native CACHE STRING "" FORCE)
endif()
set(GRADCHECK_CPU_FLAGS "")
if(GRADCHECK_CPU STREQUAL "native")
  set(GRADCHECK_CPU_FLAGS -march=native -ffp-contract=off)
elseif(GRADCHECK_CPU STREQUAL "auto")
  if(NOT CMAKE_CROSSCOMPILING AND CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
    cmake_push_check_state(RESET)
    set(CMAKE_REQUIRED_FLAGS "-mavx2 -mfma")
    set(CMAKE_REQUIRED_QUIET ON)
    check_cxx_source_runs([[
      #include <immintrin.h>
      int main() {
        if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 1;
        volatile double x = 1.5;
        __m256d v = _mm256_fmadd_pd(_mm256_set1_pd(x), _mm256_set1_pd(x), _mm256_set1_pd(x));
        return _mm256_cvtsd_f64(v) == 3.75 ? 0 : 1;
      }]] GRADCHECK_HAVE_AVX2_FMA)
    cmake_pop_check_state()
    if(GRADCHECK_HAVE_AVX2_FMA)
      set(GRADCHECK_CPU_FLAGS -mavx2 -mfma -ffp-contract=off)
    endif()
  endif()
elseif(NOT GRADCHECK_CPU STREQUAL "portable")
  message(FATAL_ERROR "GRADCHECK_CPU is '${GRADCHECK_CPU}': expected auto, portable or native")
endif()
if(GRADCHECK_CPU_FLAGS)
  message(STATUS "gradcheck: GRADCHECK_CPU=${GRADCHECK_CPU}: ${GRADCHECK_CPU_FLAGS}")
else()
  message(STATUS "gradcheck: GRADCHECK_CPU=${GRADCHECK_CPU}: the compiler's baseline instruction set")
endif()
