#!/usr/bin/env bash
# Installs the build tree into a scratch prefix, then configures, builds and
# tests the consumer project against it, including every runnable example of
# docs/*.md. Usage: run.sh BUILD_DIR SCRATCH_DIR
set -euo pipefail
build=$1 scratch=$2
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$scratch"
cmake --install "$build" --prefix "$scratch/prefix" >/dev/null
source=$(cd "$here/../.." && pwd)
"$here/extract_examples.sh" "$source/docs" "$scratch/examples" >/dev/null
cmake -S "$here" -B "$scratch/build" -DCMAKE_PREFIX_PATH="$scratch/prefix" -DCMAKE_BUILD_TYPE=Release \
  -DGRADCHECK_DOC_EXAMPLES="$scratch/examples" -DGRADCHECK_SOURCE_DIR="$source" >/dev/null
cmake --build "$scratch/build" -j2 >"$scratch/build.log" 2>&1 || { tail -n 60 "$scratch/build.log"; exit 1; }
ctest --test-dir "$scratch/build" --output-on-failure
