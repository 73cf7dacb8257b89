#!/usr/bin/env bash
# npm test: install what is missing, start the local stack, then run every test:
# type-check and lint of every workspace, unit tests, integration tests against
# the real servers, end-to-end tests, the fault suite. Ends with one line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RESULTS="$ROOT/.data/test-results"
started=$(date +%s)
status=0
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fail() { echo "FAILED: $*"; status=1; }

step "setup (installs only what is missing)"
bash scripts/setup.sh || { echo "setup failed: see the messages above"; exit 1; }

step "local stack up"
bash infra/local/stack.sh up || { echo "the local stack did not come up: see the log named above"; exit 1; }
set -a
# shellcheck disable=SC1090
source <(bash infra/local/stack.sh env)
set +a

rm -rf "$RESULTS" && mkdir -p "$RESULTS"
export PERPFLOW_TEST_RESULTS="$RESULTS"

step "type-check and lint every workspace"
npx turbo run typecheck lint --env-mode=loose --output-logs=errors-only || fail "typecheck/lint"
npx biome check scripts || fail "lint of scripts/"

step "unit tests (every workspace)"
npx turbo run test --concurrency=2 --env-mode=loose --output-logs=full || fail "unit tests"

step "integration tests against the real servers"
(cd test && PERPFLOW_TEST_SUFFIX=-integration npm run --silent test:integration) || fail "integration tests"

if grep -q '"test:e2e"' test/package.json; then
  step "end-to-end tests"
  (cd test && PERPFLOW_TEST_SUFFIX=-e2e npm run --silent test:e2e) || fail "end-to-end tests"
fi

if grep -q '"test:faults"' test/package.json; then
  step "fault suite (SIGKILLs, exchange faults, poison records; table in .data/test-results/faults-table.json)"
  (cd test && PERPFLOW_TEST_SUFFIX=-faults npm run --silent test:faults) || fail "fault suite"
fi

step "summary"
node scripts/test-summary.mjs "$RESULTS" || status=1
echo "wall time: $(( $(date +%s) - started )) s"
exit $status
