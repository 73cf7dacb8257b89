#!/usr/bin/env bash
# npm test: install what is missing, start the local stack, then run every test:
# type-check and lint of every workspace, unit tests, integration tests against
# the real servers, end-to-end tests, the fault suite, the Python loader's pytest suite.
# Ends with one line: "N passed, N failed".
# The servers this run started are stopped at its end (PERPFLOW_KEEP_STACK=1 keeps them);
# those already up before it are left running, and it says which.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RESULTS="$ROOT/.data/test-results"
started=$(date +%s)
status=0
# Each step's heading says how long the one before it took: where the suite's time goes.
step_started=$started
step_name=""
step() {
  local now
  now=$(date +%s)
  [ -n "$step_name" ] && printf '(%s: %s s)\n' "$step_name" "$((now - step_started))"
  step_started=$now
  step_name=$*
  printf '\n\033[1m== %s\033[0m\n' "$*"
}
fail() { echo "FAILED: $*"; status=1; }

step "setup (installs only what is missing)"
# Node 24 first on PATH (installed from the npm registry when the machine lacks it).
# shellcheck source=node-runtime.sh
source scripts/node-runtime.sh
perpflow_ensure_node || { echo "could not put Node $PERPFLOW_NODE_VERSION on PATH: see the message above"; exit 1; }
bash scripts/setup.sh || { echo "setup failed: see the messages above"; exit 1; }

rm -rf "$RESULTS" && mkdir -p "$RESULTS"
export PERPFLOW_TEST_RESULTS="$RESULTS"
# The machine's run queue, blocked tasks, I/O wait and steal every second, with the time: a
# CI once saw every Kafka broker on the machine answer nothing for ~20 s at once, and the
# brokers' logs could not say why. Stopped at the end of the run.
vmstat -t -w 1 >"$RESULTS/vmstat.log" 2>&1 &
vmstat_pid=$!

step "build every workspace (the tests run the services, CLIs and stack tools from it); the unit tests start beside it"
# Unit tests (every workspace) use no server and no build: they start now and run beside the
# build, the stack's start and the integration tests (they mostly wait: alone 96 s of wall
# time for 86 CPU-s). Their output is kept and printed once the integration tests are done.
# --continue: one failing workspace must not stop the others, or their tests would go
# uncounted (a CI run once summed 308 tests because turbo stopped 17 of 19 tasks).
# exchange-ingest's unit tests start at once on their own: they are the longest (alone ~55 s,
# most of it venue-live waiting for minute closes, 22 CPU-s), and turbo, which has no
# priorities, started them ~80 s in, so the step waited ~35 s for them at half the CPU idle
# (fresh CI of b4d4e6a). The other workspaces run through turbo, two at a time.
(cd services/exchange-ingest && npm run --silent test 2>&1 | sed 's/^/@perpflow\/exchange-ingest:test: /') \
  >"$RESULTS/unit-ingest.log" 2>&1 &
unit_ingest_pid=$!
npx turbo run test --concurrency=2 --continue --env-mode=loose --output-logs=full \
  --filter='!@perpflow/exchange-ingest' >"$RESULTS/unit.log" 2>&1 &
unit_pid=$!
# A service, CLI or stack tool started through tsx costs ~1 CPU-s more than its build
# (windower to a config error: 1.55–1.77 against 0.63–0.64 CPU-s), and a run starts ~250 of
# them, plus ~120 Kafka readiness probes, on a machine the suite kept ~95 % busy. The test
# files themselves still run their TypeScript through tsx. PERPFLOW_RUN_BUILT=1 is read by
# test/src/harness.ts (entryArgs), infra/local/stack.sh (local_tool) and the reprocess CLI.
# --noCheck: emit only (the same JavaScript; TypeScript 7, every workspace alone: 8.9 against
# 14.7 s of wall time; TypeScript 5.9 took 30 s for 57 CPU-s without the check): the
# type-check step below checks every workspace, tests included, and counts its failures.
if npx turbo run build --env-mode=loose --output-logs=errors-only -- --noCheck; then
  export PERPFLOW_RUN_BUILT=1
else
  fail "npm run build: see the errors above (the tests run the TypeScript sources instead)"
fi

step "local stack up"
# Servers already up before this run are left as they were; the ones this run starts are
# stopped at its end unless PERPFLOW_KEEP_STACK=1.
already_up=$(bash infra/local/stack.sh status 2>/dev/null | awk '$2 == "up" { print $1 }' | xargs)
bash infra/local/stack.sh up || {
  echo "the local stack did not come up: see the log named above"
  kill "$unit_pid" "$unit_ingest_pid" "$vmstat_pid" 2>/dev/null
  exit 1
}
set -a
# shellcheck disable=SC1090
source <(bash infra/local/stack.sh env)
set +a

step "integration tests against the real servers (the unit tests still run beside them)"
# Three files at a time, after the two that restart the stack's broker and Redis (--first in
# test:integration): alone 73 s of wall time against 107 s one file at a time.
(cd test && PERPFLOW_TEST_SUFFIX=-integration npm run --silent test:integration) || fail "integration tests"
wait "$unit_pid" || fail "unit tests"
wait "$unit_ingest_pid" || fail "unit tests (exchange-ingest)"
printf '\n-- unit tests (every workspace), run beside the integration tests:\n'
cat "$RESULTS/unit.log" "$RESULTS/unit-ingest.log"

# The fault suite stops and starts Kafka, Redis and S3, so its files get stacks of their own
# (other ports and data dirs) and run beside the end-to-end files, which mostly wait on
# servers: pipeline-faults on kafka redis s3 (ports 44xxx, .data/faults-stack), and
# archiver-faults, which stops S3 under the archiver, then backfill-kill (an ingest SIGKILL
# at a job's completion), on kafka redis s3 (ports 45xxx, .data/faults-archiver-stack), so
# the two lanes run at once instead of one after the other (alone: 75 + 25 s beside 400 s).
# Their output is printed once the end-to-end step is done.
# faults_env NAME: every setting of that stack, exported. Its restarts (stack.sh start kafka)
# read the ports from the environment, and a controller port left at its default would be
# the main stack's.
faults_env() {
  if [ "$1" = archiver ]; then
    export PERPFLOW_DATA_DIR="$ROOT/.data/faults-archiver-stack" KAFKA_PORT=${FAULTS_ARCHIVER_KAFKA_PORT:-45092} \
      KAFKA_CONTROLLER_PORT=${FAULTS_ARCHIVER_KAFKA_CONTROLLER_PORT:-45093} \
      REDIS_PORT=${FAULTS_ARCHIVER_REDIS_PORT:-45379} S3_PORT=${FAULTS_ARCHIVER_S3_PORT:-45000} \
      PROMETHEUS_PORT=${FAULTS_ARCHIVER_PROMETHEUS_PORT:-45090} \
      ALERTMANAGER_PORT=${FAULTS_ARCHIVER_ALERTMANAGER_PORT:-45094}
  else
    export PERPFLOW_DATA_DIR="$ROOT/.data/faults-stack" KAFKA_PORT=${FAULTS_KAFKA_PORT:-44092} \
      KAFKA_CONTROLLER_PORT=${FAULTS_KAFKA_CONTROLLER_PORT:-44093} REDIS_PORT=${FAULTS_REDIS_PORT:-44379} \
      S3_PORT=${FAULTS_S3_PORT:-44000} PROMETHEUS_PORT=${FAULTS_PROMETHEUS_PORT:-44090} \
      ALERTMANAGER_PORT=${FAULTS_ALERTMANAGER_PORT:-44094}
  fi
  set -a
  # shellcheck disable=SC1090
  source <(bash infra/local/stack.sh env)
  set +a
}
# NAME SERVERS: its stack up, then its file in the background; its pid in faults_pids.
faults_pids=()
faults_names=()
faults_servers=()
start_faults() {
  local name=$1 servers=$2
  step "fault suite's $name lane: its own stack up ($servers)"
  if (faults_env "$name" && bash infra/local/stack.sh up $servers); then
    (faults_env "$name" && cd test && PERPFLOW_TEST_SUFFIX="-faults-$name" npm run --silent "test:faults:$name") \
      >"$RESULTS/faults-$name.log" 2>&1 &
    faults_pids+=("$!")
    faults_names+=("$name")
    faults_servers+=("$servers")
  else
    fail "the $name fault file's stack did not come up: see the log named above"
  fi
}
if grep -q '"test:faults"' test/package.json; then
  start_faults pipeline "kafka redis s3"
  start_faults archiver "kafka redis s3"
fi

# Beside the end-to-end files too, at the lowest CPU priority (nice 19: they take only what
# the files leave idle, 31 % of 2 cores at four files at once): the type-check and lint of
# every workspace (alone: 26 s; the type-check 21 s for 41 CPU-s with TypeScript 7, 63 s for
# 123 CPU-s with 5.9) and the Python loader's pytest suite against the
# stack's S3 (the end-to-end files never stop that S3). Their output is printed after.
(nice -n 19 npx turbo run typecheck lint --env-mode=loose --output-logs=errors-only &&
  nice -n 19 npx biome check scripts) >"$RESULTS/typecheck.log" 2>&1 &
typecheck_pid=$!
# Counts in count-reporter.mjs's format (tests/conftest.py writes them).
py_counts="$RESULTS/python-loader.json"
(cd clients/python && PERPFLOW_COUNT_FILE="$py_counts" nice -n 19 "$ROOT/.venv/bin/python" -m pytest -q -p no:cacheprovider) \
  >"$RESULTS/python-loader.log" 2>&1 &
py_pid=$!

if grep -q '"test:e2e"' test/package.json; then
  step "end-to-end tests (beside them: the fault suite; type-check, lint and the Python loader's tests at nice 19)"
  (cd test && PERPFLOW_TEST_SUFFIX=-e2e npm run --silent test:e2e) || fail "end-to-end tests"
fi

step "type-check and lint every workspace (run beside the end-to-end files)"
wait "$typecheck_pid" || fail "typecheck/lint (turbo run typecheck lint, biome check scripts)"
cat "$RESULTS/typecheck.log"

for i in "${!faults_pids[@]}"; do
  name=${faults_names[$i]}
  step "fault suite, $name lane (SIGKILLs, exchange faults, poison records, outages; tables in .data/test-results/*faults-table.json)"
  wait "${faults_pids[$i]}" || fail "fault suite ($name file)"
  cat "$RESULTS/faults-$name.log"
  [ "${PERPFLOW_KEEP_STACK:-0}" = 1 ] || (faults_env "$name" && bash infra/local/stack.sh down ${faults_servers[$i]}) >/dev/null 2>&1 || true
done

step "python loader (clients/python: pytest against the stack's S3, run beside the end-to-end files)"
# Exit 5 (no tests collected) fails like any other non-zero exit, and a run that wrote no
# counts is counted failed.
wait "$py_pid"
py_rc=$?
cat "$RESULTS/python-loader.log"
[ $py_rc -ne 0 ] && fail "python loader tests (pytest exit $py_rc$([ $py_rc -eq 5 ] && echo ': no tests collected'))"
if [ ! -s "$py_counts" ]; then
  fail "python loader tests wrote no counts"
  printf '{"passed":0,"failed":1,"skipped":0,"todo":0,"failures":["clients/python: pytest (exit %s) wrote no counts"],"complete":true}\n' "$py_rc" >"$py_counts"
fi

step "local stack"
started_here=()
for s in kafka redis s3 prometheus alertmanager; do
  case " $already_up " in *" $s "*) ;; *) started_here+=("$s") ;; esac
done
if [ "${PERPFLOW_KEEP_STACK:-0}" = 1 ]; then
  echo "left running (PERPFLOW_KEEP_STACK=1): every server; stop them with: npm run stack -- down"
elif [ ${#started_here[@]} -gt 0 ]; then
  bash infra/local/stack.sh down "${started_here[@]}" >/dev/null 2>&1 || true
  echo "stopped what this run started: ${started_here[*]} (PERPFLOW_KEEP_STACK=1 keeps them)"
fi
[ -n "$already_up" ] && [ "${PERPFLOW_KEEP_STACK:-0}" != 1 ] &&
  echo "left running, as they were before this run: $already_up (stop them with: npm run stack -- down)"

kill "$vmstat_pid" 2>/dev/null
step "summary"
node scripts/test-summary.mjs "$RESULTS" || status=1
echo "wall time: $(( $(date +%s) - started )) s"
exit $status
