#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (-fsanitize=fuzzer,address,undefined)
# and runs each for a bounded time, starting from the committed seeds.
#
#   fuzz/run.sh [SECONDS [TARGET...]] [-- LIBFUZZER_ARGS...]
#     SECONDS   per target (default 60): libFuzzer's -max_total_time
#     TARGET    fuzz_case_parser, fuzz_reply_parser, fuzz_idx_reader (default: all three)
#   Environment: GRADCHECK_FUZZ_BUILD (build directory, default build-fuzz),
#                CXX (default clang++), NICE (default 10: the fuzzer yields to other work).
#
# Exits 1 when any target crashes, leaks, times out, runs out of memory, trips a
# sanitizer or an oracle (fuzz/oracles.hpp); the input is then saved under
# $GRADCHECK_FUZZ_BUILD/artifacts/<target>/ and the command to replay it printed.
# New inputs the fuzzer finds go to $GRADCHECK_FUZZ_BUILD/corpus/<target>/, never
# into the repository's fuzz/corpus/ (see docs/fuzzing.md for turning a finding
# into a regression test).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
targets=()
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; extra=("$@"); break ;;
    [0-9]*) seconds=$1 ;;
    fuzz_*) targets+=("$1") ;;
    *) sed -n '2,16p' "$0" >&2; exit 2 ;;
  esac
  shift
done
[ ${#targets[@]} -eq 0 ] && targets=(fuzz_case_parser fuzz_reply_parser fuzz_idx_reader)

build=${GRADCHECK_FUZZ_BUILD:-build-fuzz}
cxx=${CXX:-clang++}
case "$cxx" in *clang*) ;; *) cxx=clang++ ;; esac  # libFuzzer is clang's
nice_level=${NICE:-10}

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)  # see bootstrap.sh
cmake -S . -B "$build" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGRADCHECK_FUZZ=ON "${launcher[@]}" \
  -DGRADCHECK_WERROR=ON -DGRADCHECK_BUILD_TESTS=OFF -DGRADCHECK_BUILD_BENCH=OFF -DGRADCHECK_CPU=portable >/dev/null
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" --target "${targets[@]}"

dict_of() { case "$1" in fuzz_idx_reader) echo fuzz/idx.dict ;; *) echo fuzz/case.dict ;; esac; }

# Leaks are failures (LeakSanitizer runs at exit and after each input with -detect_leaks).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=0
summary=()
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t" artifacts="$build/artifacts/$t" log="$build/logs/$t.log"
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  rm -f "$artifacts"/*
  echo "fuzz: $t for ${seconds} s (log: $log)" >&2
  rc=0
  nice -n "$nice_level" "$build/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -dict="$(dict_of "$t")" -print_final_stats=1 -artifact_prefix="$artifacts/" \
    "${extra[@]}" "$corpus" "fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  new=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -1)
  cov=$(grep -o "cov: [0-9]*" "$log" | tail -1 | cut -d" " -f2 || true)
  found=$(find "$artifacts" -type f | head -1 || true)
  outcome=ok
  if [ "$rc" -ne 0 ] || [ -n "$found" ] ||
     grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log"; then
    outcome="FAILED (exit $rc)"
    failed=1
    echo "---- $t: last lines of $log" >&2
    tail -40 "$log" >&2
    [ -n "$found" ] && echo "---- replay: $build/fuzz/$t $found" >&2
  fi
  summary+=("$(printf '%-18s %12s runs %6s s  cov %6s  new inputs %5s  %s' "$t" "${runs:-?}" "$seconds" \
    "${cov:-?}" "${new:-?}" "$outcome")")
done

echo "fuzz summary:" >&2
printf '  %s\n' "${summary[@]}" >&2
exit "$failed"
