#!/bin/sh
# expect.sh CODE PATTERN COMMAND...: runs COMMAND, prints its output, and succeeds when it
# exits with CODE and its output has a line matching the extended regular expression
# PATTERN. ctest uses it for the example programs (examples/CMakeLists.txt).
code=$1 pattern=$2
shift 2
out=$("$@" 2>&1)
rc=$?
printf '%s\n' "$out"
[ "$rc" -eq "$code" ] || { echo "expect.sh: exit $rc, expected $code" >&2; exit 1; }
printf '%s\n' "$out" | grep -Eq -- "$pattern" || { echo "expect.sh: no line matches: $pattern" >&2; exit 1; }
