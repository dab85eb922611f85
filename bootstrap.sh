#!/usr/bin/env bash
# One entry point for a fresh Debian bookworm machine (run as root, or with sudo):
#   ./bootstrap.sh fixtures [ARGS...]  install what is missing, build the CLI alone (Release), run the fixtures report
#   ./bootstrap.sh test                install, build everything in the same folder, run every test through ctest
#   ./bootstrap.sh sanitize            install, build with ASan + UBSan, run every test through ctest
#   ./bootstrap.sh bench               install, build as `test` does, run the benchmarks side by side
#   ./bootstrap.sh fuzz [SECONDS]      install clang + libFuzzer, run each fuzz target SECONDS (default 60)
# Nothing is downloaded except Debian packages.
set -euo pipefail
cd "$(dirname "$0")"

packages=(cmake make g++ ccache pkg-config libgtest-dev libgmock-dev librapidcheck-dev libboost-dev
          libeigen3-dev nlohmann-json3-dev libcli11-dev zlib1g-dev libdeflate-dev libbenchmark-dev
          dataset-fashion-mnist python3)  # python3: the probe tests run examples/python
extra=()
case "${1:-}" in
  test) extra=(chromium) ;;   # the HTML report is loaded in headless Chromium (reports/tests)
  bench) extra=(python3-torch python3-numpy libopenblas0-pthread time) ;;  # OpenBLAS: what libtorch recommends; GNU time: whole-process rows
  fuzz) extra=(clang libclang-rt-14-dev) ;;   # libFuzzer and the sanitizer runtimes are clang's
esac

install_missing() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "bootstrap: installing ${missing[*]}" >&2
  local sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

jobs=$(nproc 2>/dev/null || echo 2)
# ccache keeps compiled objects between builds and between clones on this
# machine (CI's clean clone reuses what an earlier build compiled).
# Paths below this folder are hashed relative to it, so a clone elsewhere hits.
# Looked up when configuring, after install_missing: on a fresh machine ccache
# is one of the packages it installs, and the first build is the one to cache.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
configure() {  # configure DIR [cmake options...]
  local dir=$1; shift
  local launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" "$@" >/dev/null
}
build() {  # build DIR [cmake options...]: configure, then build every target
  configure "$@"
  cmake --build "$1" -j"$jobs"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  fixtures)
    install_missing "${packages[@]}"
    # The main job needs the CLI alone: no tests, no benchmarks. Same folder
    # and options as `test`, so either reuses what the other compiled.
    configure build -DGRADCHECK_WERROR=ON
    cmake --build build -j"$jobs" --target gradcheck
    exec ./build/cli/gradcheck fixtures "$@"
    ;;
  test)
    install_missing "${packages[@]}" "${extra[@]}"
    build build -DGRADCHECK_WERROR=ON
    ctest --test-dir build --output-on-failure -j"$jobs" "$@"
    ;;
  sanitize)
    install_missing "${packages[@]}"
    # -O1 -g1, as the sanitizers' authors advise: line tables for the stack
    # traces, and a third of -O2 -g's compile time on the template-heavy
    # tests (docs/ci.md). No benchmarks: nothing runs them under the sanitizers.
    # The portable instruction set: `test` runs the AVX2 build, so CI runs both.
    build build-asan -DGRADCHECK_WERROR=ON -DGRADCHECK_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DGRADCHECK_BUILD_BENCH=OFF -DGRADCHECK_CPU=portable
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
      ctest --test-dir build-asan --output-on-failure -j"$jobs" "$@"
    ;;
  bench)
    install_missing "${packages[@]}" "${extra[@]}"
    # The build a user gets (GRADCHECK_CPU=auto), in the folder `test` uses.
    build build -DGRADCHECK_WERROR=ON
    exec ./bench/run.sh build "$@"
    ;;
  fuzz)
    install_missing "${packages[@]}" "${extra[@]}"
    exec ./fuzz/run.sh "$@"
    ;;
  *)
    sed -n '2,9p' "$0" >&2
    exit 2
    ;;
esac
