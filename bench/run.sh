#!/usr/bin/env bash
# The epoch benchmark side by side: gradcheck, PyTorch float64 and
# vectorised NumPy, each also with OpenBLAS forced to its SkylakeX kernel and on
# the reference BLAS (as Debian installs them without recommends), on one
# epoch of [784, 30, 10] sigmoid / quadratic / N(0,1) / mini-batch 10 / η = 3.0
# over Fashion-MNIST's 60,000 training images, one run per seed, then a table of
# medians, speed ratios and every seed's test accuracy. Then Google Benchmark's
# timings of a step and an epoch.
#
#   bench/run.sh BUILD_DIR [--seeds 1,2,3,4,5] [--limit N] [--data DIR] [--no-peers] [--no-gbench]
#
# BUILD_DIR holds a build with -DGRADCHECK_NATIVE=ON (./bootstrap.sh bench makes
# build-bench and calls this). Peers run with /usr/bin/python3 (Debian's torch and
# numpy) when it can import them; a missing peer is reported, not fatal.
# Implementations run one after another, never at the same time.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

usage() { sed -n '2,15p' "$0" >&2; exit 2; }
[ $# -ge 1 ] || usage
build=$1; shift
seeds=1,2,3,4,5 limit=0 data=/usr/share/datasets/fashion-mnist peers=1 gbench=1
while [ $# -gt 0 ]; do
  case "$1" in
    --seeds) seeds=$2; shift 2 ;;
    --limit) limit=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --no-peers) peers=0; shift ;;
    --no-gbench) gbench=0; shift ;;
    *) usage ;;
  esac
done

epoch_bin=$build/bench/gradcheck_epoch
bench_bin=$build/bench/gradcheck_bench
[ -x "$epoch_bin" ] || { echo "run.sh: $epoch_bin not found (build with -DGRADCHECK_BUILD_BENCH=ON)" >&2; exit 2; }
if ! grep -q 'GRADCHECK_NATIVE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
  echo "run.sh: note: $build was not configured with -DGRADCHECK_NATIVE=ON; gradcheck runs without AVX" >&2
fi

py=/usr/bin/python3
results=$(mktemp)
trap 'rm -f "$results"' EXIT

echo "== machine"
echo "cpu:      $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') ($(nproc) cores)"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min; other work on the machine slows every column)"
echo "blas:     libblas.so.3 -> $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || echo '?')"
# The reference BLAS (libblas3) is what torch and numpy run on when Debian's
# packages are installed without recommends; with OpenBLAS installed it is
# still there and LD_LIBRARY_PATH selects it for the *-refblas rows.
refblas=
multiarch=/usr/lib/x86_64-linux-gnu
if [ -e "$multiarch/blas/libblas.so.3" ] && [ -e "$multiarch/lapack/liblapack.so.3" ] &&
   [ "$(readlink -f "$multiarch/libblas.so.3")" != "$(readlink -f "$multiarch/blas/libblas.so.3")" ]; then
  refblas=$multiarch/blas:$multiarch/lapack
fi
echo "seeds:    $seeds   limit: ${limit} (0 = all 60,000)"
echo "refblas:  ${refblas:-"(libblas.so.3 is the reference BLAS already, or it is missing: no *-refblas rows)"}"
echo

run() {  # run NAME ENV... -- COMMAND...
  local name=$1; shift
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  echo "== $name" >&2
  if env "${envs[@]+"${envs[@]}"}" "$@" | tee -a "$results" | sed 's/^RESULT /  /' >&2; then :; else
    echo "  ($name failed; left out of the table)" >&2
  fi
}

run gradcheck -- "$epoch_bin" --data "$data" --seeds "$seeds" --limit "$limit"
# One peer: its script run with the BLAS as installed, with OpenBLAS told to use
# its SkylakeX kernels, and with the reference BLAS when one was found.
peer() {  # peer NAME MODULE SCRIPT PACKAGE
  local name=$1 module=$2 script=$3 package=$4
  if ! "$py" -c "import $module" 2>/dev/null; then
    echo "$name:    not importable by $py (Debian package $package); skipped"
    return
  fi
  local args=(--data "$data" --seeds "$seeds" --limit "$limit")
  run "$name" -- "$py" "$here/peers/$script" "${args[@]}" --impl "$name"
  run "$name-skylakex" OPENBLAS_CORETYPE=SkylakeX -- "$py" "$here/peers/$script" "${args[@]}" --impl "$name-skylakex"
  if [ -n "$refblas" ]; then
    run "$name-refblas" LD_LIBRARY_PATH="$refblas" -- "$py" "$here/peers/$script" "${args[@]}" --impl "$name-refblas"
  fi
}
if [ "$peers" = 1 ]; then
  if "$py" -c 'import torch' 2>/dev/null; then
    echo "torch:    $("$py" -c 'import torch; print(torch.__version__, "threads", torch.get_num_threads())')"
  fi
  peer torch torch epoch_torch.py python3-torch
  peer numpy numpy epoch_numpy.py python3-numpy
fi

echo
echo "== one epoch, medians over seeds $seeds (training loop only; wall = elapsed, cpu = process CPU time)"
awk '
  function median(list,   n, a, i, j, t) {
    n = split(list, a, " ")
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  /^RESULT / {
    delete f
    for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
    impl = f["impl"]
    if (!(impl in wall)) order[++n] = impl
    wall[impl] = wall[impl] " " f["seconds"]
    cpu[impl] = cpu[impl] " " f["cpu"]
    accs[impl] = accs[impl] " " f["accuracy"]
    flag = (f["accuracy"] + 0 < 0.2) ? "*" : ""
    seedacc[impl] = seedacc[impl] sprintf(" %s:%s%s", f["seed"], f["accuracy"], flag)
    if (flag != "") stalled = 1
  }
  END {
    if (!("gradcheck" in wall)) { print "no gradcheck result"; exit 1 }
    ours_w = median(wall["gradcheck"]); ours_c = median(cpu["gradcheck"])
    printf "%-15s %8s %8s %8s %8s %9s  %s\n", "implementation", "wall s", "ratio", "cpu s", "ratio", "accuracy", "accuracy per seed"
    for (k = 1; k <= n; k++) {
      impl = order[k]; w = median(wall[impl]); c = median(cpu[impl])
      printf "%-15s %8.3f %7.1fx %8.3f %7.1fx %9.4f %s\n", impl, w, w / ours_w, c, c / ours_c, median(accs[impl]), seedacc[impl]
    }
    print "ratio: that implementation'"'"'s median time / gradcheck'"'"'s (above 1: gradcheck is faster)"
    print "accuracy: median test accuracy after the epoch, then seed:accuracy"
    if (stalled) print "* a seed that stalled near 10 % (N(0,1) sigmoid units start saturated; it happens in every implementation)"
  }' "$results"

if [ "$gbench" = 1 ] && [ -x "$bench_bin" ]; then
  echo
  echo "== Google Benchmark (allocs/step: heap allocations per training step)"
  "$bench_bin" --benchmark_min_time=0.2
fi

check_bin=$build/bench/gradcheck_check_bench
if [ -x "$check_bin" ]; then
  echo
  echo "== gradient checks: [784,30,10] sigmoid/quadratic, batch 10, all 23,860 parameters"
  echo "load:     $(cut -d' ' -f1-3 /proc/loadavg)"
  check_case=$(mktemp --suffix=.json)
  "$check_bin" --case-out "$check_case" --repeat 7
  if [ "$peers" = 1 ] && "$py" -c 'import torch' 2>/dev/null; then
    "$py" "$here/peers/gradcheck_torch.py" "$check_case" --repeat 3
    if [ -n "$refblas" ]; then
      echo "  torch.autograd.gradcheck on the reference BLAS (as Debian installs python3-torch without recommends):"
      LD_LIBRARY_PATH="$refblas" "$py" "$here/peers/gradcheck_torch.py" "$check_case" --repeat 3 | sed 's/^/  /'
    fi
  else
    echo "  (torch not importable by $py: torch.autograd.gradcheck left out)"
  fi
  rm -f "$check_case"
fi
