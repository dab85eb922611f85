#!/usr/bin/env bash
# Writes every runnable C++ example of docs/*.md (a ```cpp block containing
# "int main(") to OUT_DIR/<doc>_<n>.cpp, so the consumer project compiles and
# runs them against the installed package: the docs cannot drift from the code.
# Usage: extract_examples.sh DOCS_DIR OUT_DIR
set -euo pipefail
docs=$1 out=$2
mkdir -p "$out"
rm -f "$out"/*.cpp
for md in "$docs"/*.md; do
  name=$(basename "$md" .md | tr -c 'A-Za-z0-9_\n' '_')
  awk -v out="$out" -v name="$name" '
    /^```cpp[[:space:]]*$/ { inblock = 1; buf = ""; next }
    /^```/ && inblock { inblock = 0; if (buf ~ /int main\(/) { n++; f = out "/" name "_" n ".cpp"; printf "%s", buf > f; close(f) } next }
    inblock { buf = buf $0 "\n" }
  ' "$md"
done
ls "$out"
