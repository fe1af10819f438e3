#!/usr/bin/env bash
# Run the compiled test files with node's test runner: the spec report on the terminal, and a closing
# "N passed, N failed" line read from a TAP copy of the same run.
set -uo pipefail
tap=$(mktemp)
trap 'rm -f "$tap"' EXIT
node --test --test-concurrency="${TEST_CONCURRENCY:-2}" \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tap" "$@"
status=$?
pass=$(grep -E '^# pass ' "$tap" | tail -1 | awk '{print $3}')
fail=$(grep -E '^# fail ' "$tap" | tail -1 | awk '{print $3}')
skip=$(grep -E '^# skipped ' "$tap" | tail -1 | awk '{print $3}')
echo "${pass:-0} passed, ${fail:-0} failed, ${skip:-0} skipped"
exit $status
