#!/usr/bin/env bash
# npm run bench: throughput, latency and memory of every stage beside the reference
# tools (not part of npm test). Installs what is missing, starts the servers it uses,
# runs bench/src/main.ts, which prints the table and writes bench/results/<iso>.json
# and latest.json. Sizes: BENCH_SCALE=quick (default, ~2 min) | full (<= 15 min);
# sections: BENCH_SECTIONS=publish,aligner,windower,backfill,live,archiver,reprocess,pull. See docs/BENCHMARKS.md.
#
# BENCH_STACK=own (default): a stack of its own (Kafka, Redis, S3; data in
#   .data/bench, ports 47092/47093/47379/47000), started like the local stack and
#   stopped and wiped at the end (BENCH_KEEP_STACK=1 keeps it). The tests read the
#   shared raw topics from the beginning; millions of bench records there would slow
#   every later test run for a week of retention.
# BENCH_STACK=shared: the developer's local stack (started if down, as npm test does).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# Node 24 first on PATH (installed from the npm registry when the machine lacks it).
# shellcheck source=node-runtime.sh
source scripts/node-runtime.sh
perpflow_ensure_node || { echo "could not put Node $PERPFLOW_NODE_VERSION on PATH: see the message above"; exit 1; }
bash scripts/setup.sh >/dev/null || { echo "setup failed: run npm run setup to see why"; exit 1; }

kind=${BENCH_STACK:-own}
if [ "$kind" = own ]; then
  export PERPFLOW_DATA_DIR="${BENCH_DATA_DIR:-$ROOT/.data/bench}"
  export KAFKA_PORT=${BENCH_KAFKA_PORT:-47092} KAFKA_CONTROLLER_PORT=${BENCH_KAFKA_CONTROLLER_PORT:-47093}
  export REDIS_PORT=${BENCH_REDIS_PORT:-47379} S3_PORT=${BENCH_S3_PORT:-47000}
  export KAFKA_PARTITIONS=12 KAFKA_HEAP=${BENCH_KAFKA_HEAP:-1g}
  # Milliseconds the S3 server waits before answering each object request (S3 itself takes
  # tens of milliseconds for small objects; the local server on loopback a few).
  export S3_SERVER_LATENCY_MS=${BENCH_S3_LATENCY_MS:-0}
  servers=(kafka redis s3)
  bash infra/local/stack.sh up "${servers[@]}" || { echo "the bench stack did not come up: see the log named above"; exit 1; }
  stop_own() {
    [ "${BENCH_KEEP_STACK:-0}" = 1 ] && return
    bash infra/local/stack.sh down "${servers[@]}" >/dev/null
    rm -rf "$PERPFLOW_DATA_DIR/kafka" "$PERPFLOW_DATA_DIR/redis" "$PERPFLOW_DATA_DIR/s3"
  }
  trap stop_own EXIT
elif [ "$kind" = shared ]; then
  bash infra/local/stack.sh up || { echo "the local stack did not come up: see the log named above"; exit 1; }
else
  echo "BENCH_STACK: \"$kind\" is not own or shared"
  exit 2
fi
set -a
# shellcheck disable=SC1090
source <(bash infra/local/stack.sh env)
set +a
export BENCH_STACK_KIND=$kind
# The services, reprocess workers and CLIs the bench starts run from their build, as the
# image runs them (test/src/harness.ts entryArgs; the bench's own in-process sections still
# run through tsx). BENCH_FROM_SOURCE=1 runs them through tsx instead, to compare.
if [ "${BENCH_FROM_SOURCE:-0}" = 1 ]; then
  echo "bench: BENCH_FROM_SOURCE=1: services, workers and CLIs run their TypeScript through tsx"
elif npx turbo run build --env-mode=loose --output-logs=errors-only -- --noCheck; then
  export PERPFLOW_RUN_BUILT=1
else
  echo "npm run build failed (see above): the bench measures the TypeScript sources through tsx instead"
fi
(cd bench && node --conditions=@perpflow/source --import tsx src/main.ts)
