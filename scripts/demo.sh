#!/usr/bin/env bash
# npm run demo: install what is missing, start the local stack, the exchange
# simulator and every service against it, start a small backfill so data flows at
# once, and show the live status view. Ctrl-C stops the services it started.
#   DEMO_SYMBOLS=20        symbols the simulator lists and ingest follows
#   DEMO_DURATION_S=0      stop by itself after N seconds (0 = until Ctrl-C)
#   DEMO_KEEP_STACK=1      leave Kafka/Redis/S3/Prometheus running afterwards
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DATA="${PERPFLOW_DATA_DIR:-$ROOT/.data}"
LOGS="$DATA/logs"; RUN="$DATA/run"
mkdir -p "$LOGS" "$RUN"
SYMBOLS="${DEMO_SYMBOLS:-20}"
DURATION="${DEMO_DURATION_S:-0}"

bash scripts/setup.sh || { echo "setup failed: see the messages above"; exit 1; }
bash infra/local/stack.sh up || { echo "the local stack did not come up: see the log it names"; exit 1; }
set -a; source <(bash infra/local/stack.sh env); set +a

pids=()
start() { # name workspace env...
  local name=$1 ws=$2; shift 2
  echo "starting $name (log: $LOGS/$name.log)"
  ( cd "$ROOT/$ws" && exec env "$@" node --conditions=@perpflow/source --import tsx src/main.ts ) >>"$LOGS/$name.log" 2>&1 &
  pids+=($!); echo $! >"$RUN/$name.pid"
}
stop_all() {
  trap - INT TERM EXIT
  echo; echo "stopping services: ${pids[*]:-none}"
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for _ in $(seq 1 50); do alive=0; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done; [ $alive = 0 ] && break; sleep 0.2; done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  if [ "${DEMO_KEEP_STACK:-0}" != 1 ]; then bash infra/local/stack.sh down; else echo "stack left running: npm run stack -- down stops it"; fi
  exit 0
}
trap stop_all INT TERM EXIT

SIM_URL="http://127.0.0.1:${SIM_PORT:-39200}"
[ -f services/exchange-sim/src/main.ts ] && start exchange-sim services/exchange-sim PORT="${SIM_PORT:-39200}" SYMBOLS="$SYMBOLS" SEED=42
for _ in $(seq 1 50); do curl -fsS "$SIM_URL/fapi.binance.com/fapi/v1/ping" >/dev/null 2>&1 && break; sleep 0.2; done
[ -f services/exchange-ingest/src/main.ts ] && start exchange-ingest services/exchange-ingest \
  INGEST_EXCHANGES=binanceusdm,bybit INGEST_ENDPOINTS="binanceusdm=$SIM_URL,bybit=$SIM_URL" INGEST_SYMBOL_LIMIT="$SYMBOLS"
[ -f services/aligner/src/main.ts ] && start aligner services/aligner ALIGNER_GROUP_ID="demo-aligner-$(date +%s)" ALIGNER_FROM_BEGINNING=false
[ -f services/windower/src/main.ts ] && start windower services/windower WINDOWER_GROUP_ID="demo-windower-$(date +%s)" WINDOWER_FROM_BEGINNING=false S3_PREFIX="demo"

# A small backfill of the last 6 hours for three symbols, so bars flow at once.
if [ -f services/exchange-ingest/src/cli.ts ]; then
  now_ms=$(( $(date +%s) * 1000 )); from_ms=$(( (now_ms / 3600000 - 6) * 3600000 ))
  (cd services/exchange-ingest && node --conditions=@perpflow/source --import tsx src/cli.ts start --id "demo-$(date +%s)" \
     --exchange binanceusdm --symbols BTC/USDT:USDT,ETH/USDT:USDT,SOL/USDT:USDT --from "$from_ms" --to "$now_ms") >>"$LOGS/backfill.log" 2>&1 \
     || echo "backfill not started: see $LOGS/backfill.log"
fi

if [ "$DURATION" -gt 0 ]; then
  npx tsx scripts/status.ts --for-s "$DURATION" --interval-ms 5000
else
  npx tsx scripts/status.ts
fi
