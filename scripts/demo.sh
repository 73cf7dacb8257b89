#!/usr/bin/env bash
# npm run demo: install what is missing, start the local stack (Kafka, Redis, S3,
# Prometheus, Alertmanager), the exchange simulator and every service against it,
# start a small backfill so data flows at once, and show the live status view. Part
# way through, the simulator stalls one symbol's candles until Alertmanager holds a
# FeedStale alert for it, then lets them flow again, so the alert fires and resolves.
# At the end: this run's data-quality report (.data/report.html) and the commands that
# read this run's data. Ctrl-C stops the services it started.
#   DEMO_SYMBOLS=20        symbols the simulator lists and ingest follows
#   DEMO_DURATION_S=0      stop by itself after N seconds (0 = until Ctrl-C); with a stall,
#                          it runs on past N until FeedStale has fired and resolved (at most
#                          N + 300 s), since the stall takes 130-190 s to fire by where in
#                          the minute it begins
#   DEMO_KEEP_STACK=1      leave Kafka/Redis/S3/Prometheus/Alertmanager running afterwards
#                          (asked at the end when interactive; default: stopped, data kept)
#   DEMO_STALL_SYMBOL=ETH/USDT:USDT  the symbol whose candles stall ('' = no stall)
#   DEMO_STALL_AFTER_S=20  seconds after start before the stall
#   DEMO_LIQUIDATION_BURSTS_PER_HOUR=300  the simulator's liquidation bursts per symbol
#                          per hour (its default, 1, shows none in a few minutes; at 60,
#                          BTC and ETH together had none in 2.25 % of 2-minute spans)
#   PROMETHEUS_RULE_FOR=10s  every alert rule's `for:` and `keep_firing_for:` in the
#                          demo's Prometheus (the rules in infra/prometheus say 1m and more)
#   PERPFLOW_RUN_BUILT=1   run the services and the backfill CLI from their build (after
#                          npm run build), as the image does; default: their TypeScript via tsx
# Ports: infra/local/stack.env (KAFKA_PORT, …, *_METRICS_PORT); SIM_PORT (default
# SIM_METRICS_PORT, 39200) serves both venues, the fault API and the simulator's /metrics.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PERPFLOW_ROOT=$ROOT
# shellcheck source=../infra/local/stack.env
source infra/local/stack.env
export SIM_METRICS_PORT="${SIM_PORT:-$SIM_METRICS_PORT}"
export PROMETHEUS_RULE_FOR="${PROMETHEUS_RULE_FOR:-10s}"
DATA="$PERPFLOW_DATA_DIR"
LOGS="$DATA/logs"; RUN="$DATA/run"
mkdir -p "$LOGS" "$RUN"
SYMBOLS="${DEMO_SYMBOLS:-20}"
DURATION="${DEMO_DURATION_S:-0}"
STALL_SYMBOL="${DEMO_STALL_SYMBOL-ETH/USDT:USDT}"
STALL_AFTER="${DEMO_STALL_AFTER_S:-20}"
S3_PREFIX=demo
RUN_ID="demo-$(date +%s)"
STARTED_MS=$(( $(date +%s) * 1000 ))

# Node 24 first on PATH (installed from the npm registry when the machine lacks it).
# shellcheck source=node-runtime.sh
source scripts/node-runtime.sh
perpflow_ensure_node || { echo "could not put Node $PERPFLOW_NODE_VERSION on PATH: see the message above"; exit 1; }
bash scripts/setup.sh || { echo "setup failed: see the messages above"; exit 1; }
bash infra/local/stack.sh up || { echo "the local stack did not come up: see the log it names"; exit 1; }
# A stack that was already up gets this run's scrape ports and rule `for:` too.
bash infra/local/stack.sh reload prometheus >/dev/null || echo "prometheus did not reload its config: see $LOGS/prometheus.log"
set -a; source <(bash infra/local/stack.sh env); set +a

pids=(); targets=()
# A workspace entry's node arguments (relative to the workspace): its TypeScript through tsx,
# so a fresh clone needs no build; its build when PERPFLOW_RUN_BUILT=1 (npm test sets it
# after building every workspace) and the build exists, as test/src/harness.ts entryArgs.
entry() { # workspace src/<file>.ts
  local built=${2/#src\//dist/}; built=${built%.ts}.js
  if [ "${PERPFLOW_RUN_BUILT:-0}" = 1 ] && [ -f "$ROOT/$1/$built" ]; then echo "$built"
  else echo "--conditions=@perpflow/source --import tsx $2"; fi
}
# A service's own V8 flags after the services' (SERVICE_OWN_NODE_FLAGS, packages/runtime/src/node-flags.ts).
own_flags() { # name
  case $1 in
    archiver) echo --max-semi-space-size=4 ;;
    exchange-ingest) echo --max-semi-space-size=4 ;;
  esac
}
start() { # name workspace metrics-port env...
  local name=$1 ws=$2 port=$3; shift 3
  [ -f "$ROOT/$ws/src/main.ts" ] || { echo "skipping $name: $ws/src/main.ts is missing"; return; }
  echo "starting $name on :$port (log: $LOGS/$name.log)"
  # shellcheck disable=SC2046 # own_flags' and entry's words are separate arguments
  ( cd "$ROOT/$ws" && exec env MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 "$@" node --max-semi-space-size=16 $(own_flags "$name") $(entry "$ws" src/main.ts) ) >>"$LOGS/$name.log" 2>&1 &
  pids+=($!); echo $! >"$RUN/$name.pid"
  targets+=("$name=http://127.0.0.1:$port/metrics")
}
# This run's range: the backfill's 6 hours before the start, to the next minute.
run_range() {
  from=$(date -u -d "@$(( STARTED_MS / 1000 - 6 * 3600 ))" +%Y-%m-%dT%H:00:00Z)
  to=$(date -u -d "@$(( $(date +%s) + 60 ))" +%Y-%m-%dT%H:%M:00Z)
}
# The data-quality report of this run, written while S3 is still up.
write_report() {
  local from to
  run_range
  echo "writing the data-quality report of this run (log: $LOGS/report.log)"
  S3_PREFIX=$S3_PREFIX node services/windower/bin/perpflow.mjs report --from "$from" --to "$to" --out "$DATA/report.html" \
    >>"$LOGS/report.log" 2>&1 && report_ok=1 || echo "the report was not written: see $LOGS/report.log"
}
next_steps() {
  local from to out="$DATA/pulled"
  run_range
  cat <<EOF

== Next steps: this run's data ==
Parquet on S3: s3://$S3_BUCKET/$S3_PREFIX/aligned/v1/ (the files: $DATA/s3/$S3_BUCKET/$S3_PREFIX/)
Logs: $LOGS/   Alert notifications: $LOGS/alerts.jsonl
1. Start the stack again if it is stopped (the data is kept):
   PERPFLOW_DATA_DIR=$DATA S3_PORT=$S3_PORT bash infra/local/stack.sh up s3
2. Pull bars into a folder (sha256-verified), from the repository's folder:
   cd $ROOT; set -a; source <(PERPFLOW_DATA_DIR=$DATA S3_PORT=$S3_PORT bash infra/local/stack.sh env); set +a
   S3_PREFIX=$S3_PREFIX npm run pull -- --exchange binanceusdm,bybit --symbol BTC/USDT:USDT,$STALL_SYMBOL --timeframe 1m --from $from --to $to --out $out
3. Read it with pandas (the .venv setup made):
   cd $ROOT; .venv/bin/python -c "import pyarrow.dataset as ds; df = ds.dataset('$out', format='parquet').to_table().to_pandas(); print(df.groupby('symbol').agg(bars=('close', 'count'), liquidations=('liq_count', 'sum'), with_basis=('basis', 'count')))"
4. Or with DuckDB (the duckdb CLI):
   duckdb -c "SELECT symbol, count(*) AS bars, sum(liq_count) AS liquidations, count(basis) AS with_basis FROM read_parquet('$out/**/*.parquet', hive_partitioning = false) GROUP BY symbol ORDER BY symbol"
5. The data-quality report (coverage, freshness, dead letters, drift, revisions): ${report_ok:+file://$DATA/report.html}
   To make it again (S3 up, from the repository's folder, the variables of step 2 set):
   S3_PREFIX=$S3_PREFIX npm run report -- --from $from --to $to --out $DATA/report.html
Columns and guarantees: packages/dataset/README.md; more queries: README.md, "The dataset on S3".
EOF
}
# Signals a pid only while it is still one of this script's running jobs: the pid of one
# that ended (the stall cycle ends minutes before the demo) may belong to another process by
# then (pid_max is 32768 here, and a test run starts thousands of processes).
is_job() { jobs -pr | grep -qx -- "$1"; }
signal_job() { # signal pid
  is_job "$2" && kill "-$1" "$2" 2>/dev/null
}
stop_all() {
  trap - INT TERM EXIT
  echo; echo "stopping services: ${pids[*]:-none}"
  [ -n "${stall_pid:-}" ] && signal_job TERM "$stall_pid"
  for p in "${pids[@]}"; do signal_job TERM "$p"; done
  for _ in $(seq 1 50); do alive=0; for p in "${pids[@]}"; do is_job "$p" && alive=1; done; [ $alive = 0 ] && break; sleep 0.2; done
  for p in "${pids[@]}"; do signal_job KILL "$p"; done
  write_report
  keep="${DEMO_KEEP_STACK:-}"
  if [ -z "$keep" ] && [ -t 0 ]; then read -r -t 30 -p "Keep the stack running (Kafka, Redis, S3, Prometheus, Alertmanager)? [y/N] " a && [[ $a == [yY]* ]] && keep=1; echo; fi
  if [ "$keep" != 1 ]; then bash infra/local/stack.sh down; else echo "stack left running: npm run stack -- down stops it"; fi
  next_steps
  exit 0
}
trap stop_all INT TERM EXIT

SIM_URL="http://127.0.0.1:$SIM_METRICS_PORT"
# One line per service: name, workspace, metrics port, its settings.
start exchange-sim services/exchange-sim "$SIM_METRICS_PORT" PORT="$SIM_METRICS_PORT" SYMBOLS="$SYMBOLS" SEED=42 \
  LIQUIDATION_BURSTS_PER_HOUR="${DEMO_LIQUIDATION_BURSTS_PER_HOUR:-300}"
for _ in $(seq 1 100); do curl -fsS "$SIM_URL/fapi.binance.com/fapi/v1/ping" >/dev/null 2>&1 && break; sleep 0.2; done
start exchange-ingest services/exchange-ingest "$INGEST_METRICS_PORT" METRICS_PORT="$INGEST_METRICS_PORT" \
  INGEST_EXCHANGES=binanceusdm,bybit INGEST_ENDPOINTS="binanceusdm=$SIM_URL,bybit=$SIM_URL" INGEST_SYMBOL_LIMIT="$SYMBOLS"
start aligner services/aligner "$ALIGNER_METRICS_PORT" METRICS_PORT="$ALIGNER_METRICS_PORT" ALIGNER_GROUP_ID="$RUN_ID-aligner" ALIGNER_FROM_BEGINNING=false S3_PREFIX="$S3_PREFIX"
start windower services/windower "$WINDOWER_METRICS_PORT" METRICS_PORT="$WINDOWER_METRICS_PORT" WINDOWER_GROUP_ID="$RUN_ID-windower" WINDOWER_FROM_BEGINNING=false S3_PREFIX="$S3_PREFIX"
start monitor services/monitor "$MONITOR_METRICS_PORT" METRICS_PORT="$MONITOR_METRICS_PORT" MONITOR_GROUP_ID="$RUN_ID-monitor" MONITOR_EVAL_INTERVAL_MS=10000 S3_PREFIX="$S3_PREFIX" \
  MONITOR_EXCHANGES=binanceusdm MONITOR_RECENT_WINDOW_MS=3600000 MONITOR_REFERENCE_WINDOW_MS=14400000 MONITOR_MIN_SAMPLES=30
start archiver services/archiver "$ARCHIVER_METRICS_PORT" METRICS_PORT="$ARCHIVER_METRICS_PORT" ARCHIVER_GROUP_ID="$RUN_ID-archiver" ARCHIVER_FROM_BEGINNING=false ARCHIVER_MAX_OBJECT_AGE_MS=60000 S3_PREFIX="$S3_PREFIX"

# A small backfill of the last 6 hours for three symbols, so bars flow at once.
if [ -f services/exchange-ingest/src/cli.ts ]; then
  now_ms=$(( $(date +%s) * 1000 )); from_ms=$(( (now_ms / 3600000 - 6) * 3600000 ))
  # shellcheck disable=SC2046
  (cd services/exchange-ingest && node $(entry services/exchange-ingest src/cli.ts) start --id "$RUN_ID" \
     --exchange binanceusdm --symbols BTC/USDT:USDT,ETH/USDT:USDT,SOL/USDT:USDT --from "$from_ms" --to "$now_ms") >>"$LOGS/backfill.log" 2>&1 \
     || echo "backfill not started: see $LOGS/backfill.log"
fi

# The alert cycle through the real path: simulator stall → ingest freshness → Prometheus
# FeedStale → Alertmanager → its webhook (the status view). The candles resume once the
# firing notification is received: resuming as soon as Alertmanager holds the alert could
# let it resolve within one group_interval, and Alertmanager then never notifies the firing
# (seen once: the demo showed only "resolved").
stall_cycle() {
  local venue_id=${STALL_SYMBOL%%:*}; venue_id=${venue_id//\//}
  sleep "$STALL_AFTER"
  curl -fsS -X POST -H 'content-type: application/json' -d "{\"silence\":{\"symbol\":\"$venue_id\"}}" "$SIM_URL/__sim/faults" >/dev/null ||
    { echo "demo: could not stall $STALL_SYMBOL: see $LOGS/exchange-sim.log"; return; }
  echo "demo: $(date -u +%T) the simulator stalls $STALL_SYMBOL candles; FeedStale fires once their freshness passes the SLA" >>"$LOGS/demo-events.log"
  for _ in $(seq 1 200); do
    grep -F '"status":"firing","alertname":"FeedStale"' "$LOGS/alerts.jsonl" 2>/dev/null | grep -F '"stage":"ingest"' |
      grep -F '"exchange":"binanceusdm"' | grep -qF "\"symbol\":\"$STALL_SYMBOL\"" && break
    sleep 3
  done
  curl -fsS -X POST -H 'content-type: application/json' -d "{\"unsilence\":\"$venue_id\"}" "$SIM_URL/__sim/faults" >/dev/null
  echo "demo: $(date -u +%T) FeedStale's notification is in; $STALL_SYMBOL candles flow again, so it resolves" >>"$LOGS/demo-events.log"
}
: >"$LOGS/demo-events.log"; : >"$LOGS/alerts.jsonl" # this run's events and notifications only
if [ -n "$STALL_SYMBOL" ]; then stall_cycle & stall_pid=$!; fi

export PERPFLOW_STATUS_TARGETS
PERPFLOW_STATUS_TARGETS=$(IFS=,; echo "${targets[*]}")
export PERPFLOW_STATUS_EVENTS="$LOGS/demo-events.log" PERPFLOW_STATUS_ALERT_LOG="$LOGS/alerts.jsonl"
if [ "$DURATION" -gt 0 ] && [ -n "$STALL_SYMBOL" ]; then
  npx tsx scripts/status.ts --for-s "$DURATION" --settle-alert "FeedStale stage=ingest exchange=binanceusdm symbol=$STALL_SYMBOL feed=ohlcv" --max-s $((DURATION + 300)) --interval-ms 5000
elif [ "$DURATION" -gt 0 ]; then
  npx tsx scripts/status.ts --for-s "$DURATION" --interval-ms 5000
else
  npx tsx scripts/status.ts
fi
