# Compiler flags applied to gradcheck's own targets (never propagated to consumers).
add_library(gradcheck_warnings INTERFACE)
target_compile_options(gradcheck_warnings INTERFACE -Wall -Wextra -Wpedantic)
if(GRADCHECK_WERROR)
  target_compile_options(gradcheck_warnings INTERFACE -Werror)
endif()
if(GRADCHECK_CPU STREQUAL "native")
  # GCC 12 reports false "(may be) used uninitialized" warnings about `__Y`
  # inside its own AVX-512 intrinsics (avx512fintrin.h, _mm512_undefined_pd)
  # once Eigen inlines them under -march=native. The default build, which CI
  # runs with -Werror, keeps both warnings.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(gradcheck_warnings INTERFACE -Wno-maybe-uninitialized -Wno-uninitialized)
  endif()
endif()
if(GRADCHECK_SANITIZE)
  target_compile_options(gradcheck_warnings INTERFACE -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_link_options(gradcheck_warnings INTERFACE -fsanitize=address,undefined)
endif()
