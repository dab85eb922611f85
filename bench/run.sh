#!/usr/bin/env bash
# The epoch benchmark side by side: gradcheck, PyTorch float64 and
# vectorised NumPy, each also with OpenBLAS forced to its SkylakeX kernel and on
# the reference BLAS (as Debian installs them without recommends), on one
# epoch of [784, 30, 10] sigmoid / quadratic / N(0,1) / mini-batch 10 / η = 3.0
# over Fashion-MNIST's 60,000 training images, one run per seed, then a table of
# medians, speed ratios and every seed's test accuracy. Then Google Benchmark's
# timings of a step and an epoch, the gradient checks against
# torch.autograd.gradcheck, and the whole processes: `gradcheck train`, `check`
# and `verify` as a user types them (GNU time: wall and peak memory) against the
# PyTorch scripts that do the same work (bench/README.md#whole-processes).
# Then LeNet-5 (issue 15): one epoch of c6k5p2-m2-c16k5-m2-120-84-10, relu,
# softmax + cross-entropy, Glorot, mini-batch 32, η 0.1, float64, gradcheck and
# PyTorch starting from the same parameters on the same batches
# (bench/README.md#lenet-5-epoch), one run per seed of --lenet-seeds.
#
#   bench/run.sh BUILD_DIR [--seeds 1,2,3,4,5] [--lenet-seeds 1,2,3] [--limit N] [--data DIR]
#                [--no-peers] [--no-gbench] [--no-lenet] [--lenet-only]
#
# BUILD_DIR holds a Release build as the README's commands make it (GRADCHECK_CPU
# auto: AVX2 + FMA where the machine has them; ./bootstrap.sh bench builds `build`
# and calls this), or any other (-DGRADCHECK_CPU=native, portable) to compare.
# Peers run with /usr/bin/python3 (Debian's torch and numpy) when it can import
# them; a missing peer is reported, not fatal.
# Implementations run one after another, never at the same time.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

usage() { sed -n '2,23p' "$0" >&2; exit 2; }
[ $# -ge 1 ] || usage
build=$1; shift
seeds=1,2,3,4,5 lenet_seeds=1,2,3 limit=0 data=/usr/share/datasets/fashion-mnist peers=1 gbench=1 lenet=1 dense=1
while [ $# -gt 0 ]; do
  case "$1" in
    --seeds) seeds=$2; shift 2 ;;
    --lenet-seeds) lenet_seeds=$2; shift 2 ;;
    --no-lenet) lenet=0; shift ;;
    --lenet-only) dense=0 gbench=0; shift ;;  # LeNet-5's rows alone
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
cpu=$(sed -n 's/^GRADCHECK_CPU:STRING=//p' "$build/CMakeCache.txt" 2>/dev/null)
avx=$(sed -n 's/^GRADCHECK_HAVE_AVX2_FMA:INTERNAL=//p' "$build/CMakeCache.txt" 2>/dev/null)
echo "gradcheck build: $build, GRADCHECK_CPU=${cpu:-unknown}$([ "$cpu" = auto ] && echo " (AVX2 + FMA: ${avx:-no})")"

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

[ "$dense" = 1 ] && run gradcheck -- "$epoch_bin" --data "$data" --seeds "$seeds" --limit "$limit"
# One peer: its script run with the BLAS as installed, with OpenBLAS told to use
# its SkylakeX kernels, and with the reference BLAS when one was found.
peer() {  # peer NAME MODULE SCRIPT PACKAGE [SEEDS [MORE ARGS...]]
  local name=$1 module=$2 script=$3 package=$4 peer_seeds=${5:-$seeds}
  shift $(($# < 5 ? $# : 5))
  if ! "$py" -c "import $module" 2>/dev/null; then
    echo "$name:    not importable by $py (Debian package $package); skipped"
    return
  fi
  local args=(--data "$data" --seeds "$peer_seeds" --limit "$limit" "$@")
  run "$name" -- "$py" "$here/peers/$script" "${args[@]}" --impl "$name"
  run "$name-skylakex" OPENBLAS_CORETYPE=SkylakeX -- "$py" "$here/peers/$script" "${args[@]}" --impl "$name-skylakex"
  if [ -n "$refblas" ]; then
    run "$name-refblas" LD_LIBRARY_PATH="$refblas" -- "$py" "$here/peers/$script" "${args[@]}" --impl "$name-refblas"
  fi
}
if [ "$peers" = 1 ] && "$py" -c 'import torch' 2>/dev/null; then
  echo "torch:    $("$py" -c 'import torch; print(torch.__version__, "threads", torch.get_num_threads())')"
fi
if [ "$peers" = 1 ] && [ "$dense" = 1 ]; then
  peer torch torch epoch_torch.py python3-torch
  peer numpy numpy epoch_numpy.py python3-numpy
fi

# epoch_table FILE: the RESULT lines of FILE as a table of medians, ratios to
# gradcheck's median and each seed's test accuracy.
epoch_table() {
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
    }' "$1"
}

if [ "$dense" = 1 ]; then
  echo
  echo "== one epoch, medians over seeds $seeds (training loop only; wall = elapsed, cpu = process CPU time)"
  epoch_table "$results"
fi

if [ "$gbench" = 1 ] && [ -x "$bench_bin" ]; then
  echo
  echo "== Google Benchmark (allocs/step: heap allocations per training step)"
  "$bench_bin" --benchmark_min_time=0.2
fi

check_bin=$build/bench/gradcheck_check_bench
if [ "$dense" = 1 ] && [ -x "$check_bin" ]; then
  echo
  echo "== gradient checks: [784,30,10] sigmoid/quadratic, batch 10, all 23,860 parameters"
  echo "load:     $(cut -d' ' -f1-3 /proc/loadavg)"
  check_case=$(mktemp --suffix=.json)
  check_reply=$(mktemp --suffix=.json)
  "$check_bin" --case-out "$check_case" --reply-out "$check_reply" --repeat 7
  if [ "$peers" = 1 ] && "$py" -c 'import torch' 2>/dev/null; then
    "$py" "$here/peers/gradcheck_torch.py" "$check_case" --repeat 3
    if [ -n "$refblas" ]; then
      echo "  torch.autograd.gradcheck on the reference BLAS (as Debian installs python3-torch without recommends):"
      LD_LIBRARY_PATH="$refblas" "$py" "$here/peers/gradcheck_torch.py" "$check_case" --repeat 3 | sed 's/^/  /'
    fi
  else
    echo "  (torch not importable by $py: torch.autograd.gradcheck left out)"
  fi
fi

# Whole processes: the commands a user types, from start to exit, data loading,
# evaluation and reports included, with their peak memory (GNU time), next to
# the PyTorch script that does the same work, run just before or after it.
cli=$(cd "$build" && pwd)/cli/gradcheck  # absolute: the fixtures row runs in another directory
whole() {  # whole LABEL RUNS COMMAND...: "WHOLE label=.. seconds=<median wall> mib=<largest peak RSS>"
  local label=$1 runs=$2 walls=() peak=0 w m i
  shift 2
  local tfile
  tfile=$(mktemp)
  for ((i = 0; i < runs; i++)); do
    /usr/bin/time -o "$tfile" -f '%e %M' "$@" >/dev/null 2>&1 || echo "bench/run.sh: $label exited with status $?" >&2
    read -r w m < <(tail -n 1 "$tfile")  # GNU time writes "Command exited with non-zero status N" first
    walls+=("$w")
    [ "$m" -gt "$peak" ] && peak=$m
  done
  rm -f "$tfile"
  printf 'WHOLE label=%s seconds=%s mib=%d\n' "$label" \
    "$(printf '%s\n' "${walls[@]}" | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')" \
    $((peak / 1024))
}
if [ -x "$cli" ] && [ -x /usr/bin/time ] && [ -n "${check_case:-}" ]; then
  echo
  echo "== whole process: the command a user types, start to exit (median of 3 runs, largest peak RSS)"
  echo "load:     $(cut -d' ' -f1-3 /proc/loadavg)"
  first_seed=${seeds%%,*}
  limit_args=()
  [ "$limit" != 0 ] && limit_args=(--limit "$limit")
  whole_results=$(mktemp)
  {
    whole "gradcheck train" 3 "$cli" train --idx-images "$data/train-images-idx3-ubyte.gz" \
      --idx-labels "$data/train-labels-idx1-ubyte.gz" --test-images "$data/t10k-images-idx3-ubyte.gz" \
      --test-labels "$data/t10k-labels-idx1-ubyte.gz" --seed "$first_seed" --progress lines "${limit_args[@]}"
    whole "gradcheck check" 3 "$cli" check "$check_case"
    whole "gradcheck verify" 3 "$cli" verify "$check_case" "$check_reply"
    fixtures_dir=$(mktemp -d)
    whole "gradcheck fixtures" 1 env -C "$fixtures_dir" "$cli" fixtures
    rm -rf "$fixtures_dir"
    if [ "$peers" = 1 ] && "$py" -c 'import torch' 2>/dev/null; then
      whole "torch epoch script" 3 "$py" "$here/peers/epoch_torch.py" --data "$data" --seeds "$first_seed" "${limit_args[@]}"
      whole "torch gradcheck" 3 "$py" "$here/peers/gradcheck_torch.py" "$check_case" --once
      if [ -n "$refblas" ]; then
        whole "torch epoch script refblas" 3 env LD_LIBRARY_PATH="$refblas" "$py" "$here/peers/epoch_torch.py" \
          --data "$data" --seeds "$first_seed" "${limit_args[@]}"
        whole "torch gradcheck refblas" 3 env LD_LIBRARY_PATH="$refblas" "$py" "$here/peers/gradcheck_torch.py" \
          "$check_case" --once
      fi
    fi
  } | tee "$whole_results" | sed 's/^WHOLE /  /'
  loop=$(awk '/^RESULT impl=gradcheck /{for (i = 2; i <= NF; i++) if ($i ~ /^seconds=/) {sub("seconds=", "", $i); print $i; exit}}' "$results")
  awk -v loop="${loop:-0}" '
    { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
      label = $0; sub(/^WHOLE label=/, "", label); sub(/ seconds=.*/, "", label)
      t[label] = f["seconds"]; m[label] = f["mib"] }
    function row(what, ours, peer) {
      printf "%-44s %8.3f s %6d MiB", what, t[ours], m[ours]
      if (peer in t) printf "   %8.3f s %6d MiB   %6.1fx", t[peer], m[peer], t[peer] / t[ours]
      printf "\n"
    }
    END {
      printf "%-44s %19s   %19s   %7s\n", "command", "gradcheck", "PyTorch (blas: above)", "ratio"
      row("one epoch [784,30,10] + test set (train)", "gradcheck train", "torch epoch script")
      row("  the same, PyTorch on the reference BLAS", "gradcheck train", "torch epoch script refblas")
      row("full check, 23,860 parameters (check)", "gradcheck check", "torch gradcheck")
      row("  the same, PyTorch on the reference BLAS", "gradcheck check", "torch gradcheck refblas")
      row("verify of a correct reply to that case", "gradcheck verify", "")
      row("every fixture and its report (fixtures; 1 run)", "gradcheck fixtures", "")
      if (loop > 0) printf "train: whole process / its epoch loop (gradcheck_epoch, first seed above): %.2f\n", t["gradcheck train"] / loop
      print "ratio: PyTorch whole process / gradcheck whole process (above 1: gradcheck is faster)"
    }' "$whole_results"
  rm -f "$whole_results"
fi
rm -f "${check_case:-}" "${check_reply:-}"

# LeNet-5, one epoch (issue 15): gradcheck writes each seed's initial parameters
# and sample order (--share), every PyTorch run starts from them, so the runs
# train the same network on the same batches and their accuracies agree.
if [ "$lenet" = 1 ]; then
  echo
  echo "== LeNet-5: one epoch, c6k5p2-m2-c16k5-m2-120-84-10, relu, softmax + cross-entropy, Glorot,"
  echo "   mini-batch 32, η 0.1, float64, the same initial parameters and batches; medians over seeds $lenet_seeds"
  echo "load:     $(cut -d' ' -f1-3 /proc/loadavg)"
  share=$(mktemp -d)
  dense_results=$results
  results=$(mktemp)  # run and peer append here
  trap 'rm -rf "$dense_results" "$results" "$share"' EXIT
  run gradcheck -- "$epoch_bin" --net lenet5 --share "$share" --data "$data" --seeds "$lenet_seeds" --limit "$limit"
  [ "$peers" = 1 ] && peer torch torch epoch_lenet_torch.py python3-torch "$lenet_seeds" --share "$share"
  epoch_table "$results"
  if [ -x "$cli" ] && [ -x /usr/bin/time ]; then
    first_seed=${lenet_seeds%%,*}
    limit_args=()
    [ "$limit" != 0 ] && limit_args=(--limit "$limit")
    echo "whole process (median of 3 runs, largest peak RSS): one epoch and the test set"
    lenet_whole=$(mktemp)
    {
      whole "gradcheck train --net lenet5" 3 "$cli" train --net lenet5 --activation relu --loss cross_entropy \
        --init xavier --lr 0.1 --batch 32 --seed "$first_seed" --progress lines "${limit_args[@]}" \
        --idx-images "$data/train-images-idx3-ubyte.gz" --idx-labels "$data/train-labels-idx1-ubyte.gz" \
        --test-images "$data/t10k-images-idx3-ubyte.gz" --test-labels "$data/t10k-labels-idx1-ubyte.gz"
      if [ "$peers" = 1 ] && "$py" -c 'import torch' 2>/dev/null; then
        torch_whole=("$py" "$here/peers/epoch_lenet_torch.py" --share "$share" --data "$data" --seeds "$first_seed"
                     "${limit_args[@]}")
        whole "torch script" 3 "${torch_whole[@]}"
        if [ -n "$refblas" ]; then
          whole "torch script refblas" 3 env LD_LIBRARY_PATH="$refblas" "${torch_whole[@]}"
        fi
      fi
    } | tee "$lenet_whole" | sed 's/^WHOLE /  /'
    awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
           label = $0; sub(/^WHOLE label=/, "", label); sub(/ seconds=.*/, "", label); t[label] = f["seconds"] }
         END { ours = t["gradcheck train --net lenet5"]
               if ("torch script" in t) printf "ratio, PyTorch (blas: above) / gradcheck: %.1fx\n", t["torch script"] / ours
               if ("torch script refblas" in t) printf "ratio, PyTorch on the reference BLAS / gradcheck: %.1fx\n", t["torch script refblas"] / ours }' \
      "$lenet_whole"
    rm -f "$lenet_whole"
  fi
fi
