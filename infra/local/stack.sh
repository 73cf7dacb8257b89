#!/usr/bin/env bash
# The local stack of real servers on loopback: Kafka (KRaft, Maven Central jars),
# Redis (AOF), an S3-compatible server (s3rver), Prometheus, Alertmanager.
#
#   npm run stack -- up [server...]     start what is not running; wait until each answers
#   npm run stack -- down [server...]   stop what this stack started (pid files in <data>/run)
#   npm run stack -- status             server, state, port, pid, log; exit 1 unless all are up
#   npm run stack -- env                connection settings as KEY=value lines
#   npm run stack -- logs [server]      the end of one log, or of every log
#   npm run stack -- start|stop|restart <server>
#   npm run stack -- reload prometheus|alertmanager   rewrite the runtime config copy, POST /-/reload
#
# Servers: kafka redis s3 prometheus alertmanager. Ports and folders: stack.env.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
PERPFLOW_ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=stack.env
source "$HERE/stack.env"
DATA="$PERPFLOW_DATA_DIR"
LOGS="$DATA/logs"
RUN="$DATA/run"
SERVERS=(kafka redis s3 prometheus alertmanager)
KAFKA_VERSION=${KAFKA_VERSION:-$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$HERE/kafka/pom.xml")}
KAFKA_LIBS="${PERPFLOW_KAFKA_CACHE:-$HERE/.cache/kafka-$KAFKA_VERSION}/libs"

say() { printf 'stack: %s\n' "$*"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
is_server() { local s; for s in "${SERVERS[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }
log_of() { echo "$LOGS/$1.log"; }

port_of() {
  case $1 in
    kafka) echo "$KAFKA_PORT" ;; redis) echo "$REDIS_PORT" ;; s3) echo "$S3_PORT" ;;
    prometheus) echo "$PROMETHEUS_PORT" ;; alertmanager) echo "$ALERTMANAGER_PORT" ;;
  esac
}
# Every port a server binds: port_of's, and Kafka's controller listener.
ports_of() {
  case $1 in
    kafka) echo "$KAFKA_PORT $KAFKA_CONTROLLER_PORT" ;;
    *) port_of "$1" ;;
  esac
}

# A word of the command line that identifies our process, so that a recycled pid
# is never taken for one of ours (down must stop only what the stack started).
signature_of() {
  case $1 in
    kafka) echo kafka.Kafka ;; redis) echo redis-server ;; s3) echo 's3-server\.[tj]s' ;;
    prometheus) echo prometheus ;; alertmanager) echo alertmanager ;;
  esac
}

pid_of() { [ -s "$RUN/$1.pid" ] && tr -d '[:space:]' <"$RUN/$1.pid"; }
# A live pid whose command line is empty counts too: the launcher in the middle of its exec
# into the server. The kernel shows /proc/<pid>/cmdline empty for a moment while it loads the
# new program (read without pause, 27 of 50 launches here showed it at least once); a
# fresh-clone CI run, its machine 0 % idle, polled S3's restart right then and called it
# exited (the message showed the server's full command line, read a moment later).
alive() {
  local p cmd
  p=$(pid_of "$1") || return 1
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null || return 1
  cmd=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)
  [ -z "$cmd" ] || grep -q -- "$(signature_of "$1")" <<<"$cmd"
}
# Which check of `alive` failed: for a start-up failure's message.
why_not_alive() {
  local p cmd
  p=$(pid_of "$1") || { echo "no pid in $RUN/$1.pid"; return; }
  kill -0 "$p" 2>/dev/null || { echo "pid $p is gone"; return; }
  cmd=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-200)
  echo "pid $p runs '${cmd:-<empty cmdline>}', without $(signature_of "$1")"
}
# local_tool NAME: node's arguments that run infra/local/src/NAME.ts from the repository root:
# its build (infra/local/dist/NAME.js) when PERPFLOW_RUN_BUILT=1 (npm test builds first), the
# source through tsx otherwise. The probe runs once per readiness poll: tsx costs ~1 CPU-s a start.
local_tool() {
  if [ "${PERPFLOW_RUN_BUILT:-}" = 1 ] && [ -f "$PERPFLOW_ROOT/infra/local/dist/$1.js" ]; then
    echo "infra/local/dist/$1.js"
  else
    echo "--import tsx infra/local/src/$1.ts"
  fi
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

answers() {
  case $1 in
    # shellcheck disable=SC2046 # local_tool's words are node's arguments
    kafka) (cd "$PERPFLOW_ROOT" && node $(local_tool kafka-probe) "127.0.0.1:$KAFKA_PORT" 2000) >/dev/null 2>&1 ;;
    redis) [ "$(timeout 5 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] ;;
    s3) curl -fsS -o /dev/null -m 2 -I "http://127.0.0.1:$S3_PORT/$S3_BUCKET" 2>/dev/null ;;
    prometheus) curl -fsS -o /dev/null -m 2 "http://127.0.0.1:$PROMETHEUS_PORT/-/ready" 2>/dev/null ;;
    alertmanager) curl -fsS -o /dev/null -m 2 "http://127.0.0.1:$ALERTMANAGER_PORT/-/ready" 2>/dev/null ;;
  esac
}

# Runs a server in its own session (Ctrl-C in the caller's terminal does not reach it),
# output appended to its log, and records the pid of the server process itself.
spawn() { # server command...
  local s=$1
  shift
  # A line per start, so a log's tail shows whether this instance wrote anything yet.
  echo "--- stack.sh: starting $s at $(date -u +%FT%T.%3NZ)" >>"$(log_of "$s")"
  # 9>&-: the server must not inherit the lock of this script (it would hold it forever).
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$RUN/$s.pid" "$@" >>"$(log_of "$s")" 2>&1 </dev/null 9>&- &
  # Until the wrapper has written its pid, `alive` cannot see the server: wait for the file.
  # 1 s was too short on a loaded machine (a fresh-clone CI run beside another stack's Kafka
  # start: redis came up, but wait_ready found no pid file and called it exited).
  for _ in $(seq 1 500); do [ -s "$RUN/$s.pid" ] && return 0; sleep 0.02; done
  say "$s: its launcher wrote no pid file to $RUN/$s.pid within 10 s"
  return 1
}

start_kafka() {
  [ -f "$KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar" ] || { say "kafka: jars missing in $KAFKA_LIBS: run npm run setup"; return 1; }
  command -v java >/dev/null || { say "kafka: java missing: run npm run setup"; return 1; }
  local dir="$DATA/kafka"
  mkdir -p "$dir/data"
  cat >"$dir/server.properties" <<EOF
# Written by infra/local/stack.sh on every start; edit stack.sh or stack.env instead.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
num.partitions=$KAFKA_PARTITIONS
# Off: topics are created explicitly (services' ensureTopics, tests), never by a typo.
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
group.initial.rebalance.delay.ms=0
# The controller fences a broker whose heartbeats stop for this long (default 9 s). Here
# they share one JVM on a 2-core machine: starved by a test load, the broker was fenced,
# resigned as every group's coordinator and dropped a commit in flight. 30 s was not enough
# either: a fresh-clone CI (five end-to-end files and two fault stacks at once) saw a broker
# heartbeat go 18.7 s without an answer and the fence came 14 s later, then "not the correct
# coordinator" and leader elections for every group and partition. The only broker being
# fenced never helps a one-node stack, so the bound is far: 120 s.
broker.session.timeout.ms=120000
# Threads for a 2-core machine (Kafka's defaults are for a server: 8 request handlers,
# 3 network threads, 10 background threads). A CI here runs four brokers beside ~20 Node
# processes, and the scheduler shares the CPU per thread: vmstat saw a run queue of 38
# threads at the median and 215 at the 90th percentile (2 CPUs), most of them the brokers'
# request handlers and purgatory reapers, and once every broker answered nothing for ~20 s
# ("controller event queue overloaded"). Fewer threads: requests wait in the broker's queue
# instead of in the machine's run queue.
num.io.threads=2
num.network.threads=2
background.threads=2
log.retention.hours=168
log.segment.bytes=134217728
message.max.bytes=2097152
EOF
  local cp="$KAFKA_LIBS/*" log4j="-Dlog4j.configuration=file:$HERE/kafka/log4j.properties"
  if [ ! -f "$dir/data/meta.properties" ]; then
    # First start: format the storage with a new cluster id (kept in meta.properties).
    local id
    id=$(java -cp "$cp" "$log4j" kafka.tools.StorageTool random-uuid 2>>"$(log_of kafka)" | tail -1)
    java -cp "$cp" "$log4j" kafka.tools.StorageTool format -t "$id" -c "$dir/server.properties" \
      >>"$(log_of kafka)" 2>&1 || { say "kafka: storage format failed; its log: $(log_of kafka)"; return 1; }
    say "kafka: formatted $dir/data (cluster id $id)"
  fi
  spawn kafka java -Xms128m -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    "$log4j" -cp "$cp" kafka.Kafka "$dir/server.properties"
}

start_redis() {
  command -v redis-server >/dev/null || { say "redis: redis-server missing: run npm run setup"; return 1; }
  mkdir -p "$DATA/redis"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$DATA/redis" \
    --appendonly yes --appendfsync "$REDIS_APPENDFSYNC" --save "" \
    --daemonize yes --pidfile "$RUN/redis.pid" --logfile "$(log_of redis)" </dev/null >>"$(log_of redis)" 2>&1 9>&-
}

start_s3() {
  mkdir -p "$DATA/s3"
  # shellcheck disable=SC2046 # local_tool's words are node's arguments
  (cd "$PERPFLOW_ROOT" && spawn s3 node --openssl-legacy-provider $(local_tool s3-server) \
    "$S3_PORT" "$DATA/s3" "$S3_BUCKET")
}

# The runtime copy of infra/prometheus/prometheus.yml: same file, stack.env's values.
write_prometheus_config() {
  local dir="$DATA/prometheus" t json=""
  mkdir -p "$dir/data" "$dir/targets"
  local rules="$PERPFLOW_ROOT/infra/prometheus/rules"
  if [ -n "$PROMETHEUS_RULE_FOR" ]; then # a copy of the rules whose `for:` and `keep_firing_for:` are shortened (the demo)
    rm -rf "$dir/rules"; mkdir -p "$dir/rules"
    for f in "$rules"/*.yml; do sed -e "s#^\( *for:\) .*#\1 $PROMETHEUS_RULE_FOR#" -e "s#^\( *keep_firing_for:\) .*#\1 $PROMETHEUS_RULE_FOR#" "$f" >"$dir/rules/${f##*/}"; done
    rules="$dir/rules"
  fi
  sed -e "s#^\(  scrape_interval:\|  scrape_timeout:\|  evaluation_interval:\) .*#\1 $PROMETHEUS_SCRAPE_INTERVAL#" \
    -e "s#- rules/\*\.yml#- $rules/*.yml#" \
    -e "s#'targets/\*\.json'#'$dir/targets/*.json'#" \
    -e "s#'127.0.0.1:39094'#'127.0.0.1:$ALERTMANAGER_PORT'#" \
    -e "s#'127.0.0.1:39101'#'127.0.0.1:$INGEST_METRICS_PORT'#" \
    -e "s#'127.0.0.1:39102'#'127.0.0.1:$ALIGNER_METRICS_PORT'#" \
    -e "s#'127.0.0.1:39103'#'127.0.0.1:$WINDOWER_METRICS_PORT'#" \
    -e "s#'127.0.0.1:39104'#'127.0.0.1:$MONITOR_METRICS_PORT'#" \
    -e "s#'127.0.0.1:39105'#'127.0.0.1:$ARCHIVER_METRICS_PORT'#" \
    -e "s#'127.0.0.1:39200'#'127.0.0.1:$SIM_METRICS_PORT'#" \
    "$PERPFLOW_ROOT/infra/prometheus/prometheus.yml" >"$dir/prometheus.yml"
  IFS=',' read -ra targets <<<"$PROMETHEUS_EXTRA_TARGETS"
  for t in "${targets[@]}"; do [ -n "$t" ] && json="$json${json:+, }\"$t\""; done
  if [ -n "$json" ]; then echo "[{\"targets\": [$json]}]" >"$dir/targets/extra.json"; else rm -f "$dir/targets/extra.json"; fi
  promtool check config "$dir/prometheus.yml" >>"$(log_of prometheus)" 2>&1 ||
    { say "prometheus: $dir/prometheus.yml is invalid; see $(log_of prometheus)"; return 1; }
}

start_prometheus() {
  command -v prometheus >/dev/null || { say "prometheus: binary missing: run npm run setup"; return 1; }
  write_prometheus_config || return 1
  spawn prometheus prometheus --config.file="$DATA/prometheus/prometheus.yml" \
    --storage.tsdb.path="$DATA/prometheus/data" --storage.tsdb.retention.time=2d \
    --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" --web.enable-lifecycle
}

write_alertmanager_config() {
  mkdir -p "$DATA/alertmanager"
  sed -e "s#'http://127.0.0.1:39095/alerts'#'$ALERT_WEBHOOK_URL'#" \
    "$PERPFLOW_ROOT/infra/alertmanager/alertmanager.yml" >"$DATA/alertmanager/alertmanager.yml"
}

# Rewrites the runtime copy of a running server's config and asks it to reload
# (POST /-/reload): new rules, targets or routes without a restart.
reload_config() {
  local s=$1
  case $s in
    prometheus) write_prometheus_config || return 1 ;;
    alertmanager) write_alertmanager_config ;;
    *) say "reload: only prometheus and alertmanager reload their config"; return 2 ;;
  esac
  curl -fsS -m 10 -X POST "http://127.0.0.1:$(port_of "$s")/-/reload" >/dev/null ||
    { say "$s: reload refused; its log: $(log_of "$s")"; return 1; }
  say "$s: config reloaded"
}

start_alertmanager() {
  local bin dir="$DATA/alertmanager"
  bin=$(command -v prometheus-alertmanager || command -v alertmanager) ||
    { say "alertmanager: binary missing: run npm run setup"; return 1; }
  write_alertmanager_config
  # No cluster listener: a single local instance, and no gossip port to collide on.
  spawn alertmanager "$bin" --config.file="$dir/alertmanager.yml" --storage.path="$dir" \
    --web.listen-address="127.0.0.1:$ALERTMANAGER_PORT" --cluster.listen-address=
}

fail_with_log() { # server message
  say "$1 $2; its log: $(log_of "$1")"
  tail -n 15 "$(log_of "$1")" 2>/dev/null | sed 's/^/    | /'
  return 1
}

# Launches a server unless it is already ours and running. Returns 2 when nothing was launched.
launch() {
  local s=$1
  if alive "$s"; then return 2; fi
  rm -f "$RUN/$s.pid"
  if port_open "$(port_of "$s")"; then
    local holder cmdline
    holder=$(ss -ltnpH "sport = :$(port_of "$s")" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
    cmdline=$([ -n "$holder" ] && tr '\0' ' ' <"/proc/$holder/cmdline" 2>/dev/null | cut -c1-160 | sed 's/ *$//')
    say "$s: cannot start: port $(port_of "$s") is taken by a process this stack (data: $DATA) did not start:"
    say "    pid ${holder:-?}: ${cmdline:-unknown}"
    say "    stop it where it was started (e.g. another checkout's npm run stack -- down), or override the port (see stack.env)"
    return 1
  fi
  wait_port_released "$s" || return 1
  "start_$s" || { fail_with_log "$s" "failed to start"; return 1; }
}

# The stack's ports lie in the kernel's ephemeral range (ip_local_port_range, 32768-60999
# here), so an outgoing connection may have one as its local end, and for 60 s after it
# closes (TIME_WAIT) a server cannot bind the port (Kafka exited with "Address already in
# use" for 127.0.0.1:47092 when a bench followed another). A bind as the servers bind
# (SO_REUSEADDR, which a restarted server's own TIME_WAIT connections do not block) tells;
# while it fails, waits, saying so, for up to 90 s.
port_bindable() { # port
  node -e 'const s = require("node:net").createServer();
    s.once("error", () => process.exit(1));
    s.listen(Number(process.argv[1]), "127.0.0.1", () => s.close(() => process.exit(0)));' "$1"
}

wait_port_released() { # server
  local s=$1 port ports deadline
  ports=$(ports_of "$s")
  deadline=$(($(date +%s) + 90))
  for port in $ports; do
    wait_port_bindable "$s" "$port" "$deadline" || return 1
  done
}

wait_port_bindable() { # server port deadline
  local s=$1 port=$2 deadline=$3 said=''
  local held
  until port_bindable "$port"; do
    held=$(ss -tanH "( sport = :$port )" 2>/dev/null)
    if printf '%s\n' "$held" | grep -q '^LISTEN'; then
      say "$s: cannot start: port $port is taken by a listening process this stack did not start"
      say "    find it with: ss -ltnp '( sport = :$port )'; or override the port (see stack.env)"
      return 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      say "$s: cannot start: port $port cannot be bound after 90 s; its sockets:"
      printf '%s\n' "${held:-none}" | head -3 | sed 's/^/    /'
      say "    find their process with: ss -tanp '( sport = :$port )'; or override the port (see stack.env)"
      return 1
    fi
    # Every state of the port's sockets: an ephemeral port may be the local end of several
    # connections (to different peers), and the first listed need not be the one that blocks.
    [ -n "$said" ] || say "$s: port $port cannot be bound yet: it is the local end of a connection ($(printf '%s\n' "$held" | awk 'NF {print $1}' | sort -u | paste -sd, - | sed 's/,/, /g')); waiting for the kernel to release it (up to 90 s)"
    said=1
    sleep 0.5
  done
}

wait_ready() { # server started_ms
  local s=$1 t0=$2 timeout=30 deadline
  [ "$s" = kafka ] && timeout=90
  deadline=$(($(date +%s) + timeout))
  until answers "$s"; do
    # A pid file still empty is a launcher not yet scheduled, not a dead server.
    [ -s "$RUN/$s.pid" ] || { [ "$(date +%s)" -lt "$deadline" ] && { sleep 0.25; continue; }; }
    alive "$s" || { fail_with_log "$s" "exited during start-up ($(why_not_alive "$s"))"; return 1; }
    [ "$(date +%s)" -lt "$deadline" ] || { fail_with_log "$s" "did not answer on 127.0.0.1:$(port_of "$s") within $timeout s"; return 1; }
    sleep 0.25
  done
  say "$s up on 127.0.0.1:$(port_of "$s") (pid $(pid_of "$s"), ready in $(($(now_ms) - t0)) ms), log: $(log_of "$s")"
}

up() { # servers...
  local s rc=0 t0 launched=()
  t0=$(now_ms)
  for s in "$@"; do
    launch "$s"
    case $? in
      0) launched+=("$s") ;;
      2) if answers "$s"; then say "$s already up on 127.0.0.1:$(port_of "$s") (pid $(pid_of "$s")), log: $(log_of "$s")"; else launched+=("$s"); fi ;;
      *) rc=1 ;;
    esac
  done
  for s in "${launched[@]}"; do wait_ready "$s" "$t0" || rc=1; done
  return $rc
}

stop_one() {
  local s=$1 p
  p=$(pid_of "$s")
  if ! alive "$s"; then
    rm -f "$RUN/$s.pid"
    say "$s not running"
    return 0
  fi
  kill -TERM "$p" 2>/dev/null
  for _ in $(seq 1 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$p" 2>/dev/null; then
    kill -KILL "$p" 2>/dev/null
    say "$s (pid $p) did not stop within 30 s: killed"
  else
    say "$s stopped (pid $p)"
  fi
  rm -f "$RUN/$s.pid"
}

servers_or_all() { if [ $# -gt 0 ]; then echo "$@"; else echo "${SERVERS[@]}"; fi; }
check_servers() { local s; for s in "$@"; do is_server "$s" || { say "unknown server '$s' (servers: ${SERVERS[*]})"; exit 2; }; done; }

mkdir -p "$LOGS" "$RUN"
cmd=${1:-status}
shift || true
case $cmd in
  up | down | start | stop | restart | reload)
    # One changer at a time (npm test, the demo and a restarting test may overlap).
    exec 9>"$RUN/.stack.lock"
    flock -w 300 9 || { say "another stack.sh $cmd has held $RUN/.stack.lock for 300 s"; exit 1; } ;;
esac
case $cmd in
  up)
    check_servers "$@"
    # shellcheck disable=SC2046
    if up $(servers_or_all "$@"); then
      say "all up. Connection settings: npm run stack -- env"
    else
      say "not all servers came up (see above)"
      exit 1
    fi ;;
  down)
    check_servers "$@"
    # Reverse order: the scrapers before what they scrape, Kafka last (it is the slowest).
    for s in alertmanager prometheus s3 redis kafka; do
      if [ $# -eq 0 ] || [[ " $* " == *" $s "* ]]; then stop_one "$s"; fi
    done ;;
  start)
    check_servers "${1:?usage: stack.sh start <server>}"
    up "$1" || exit 1 ;;
  stop)
    check_servers "${1:?usage: stack.sh stop <server>}"
    stop_one "$1" ;;
  restart)
    check_servers "${1:?usage: stack.sh restart <server>}"
    stop_one "$1"
    up "$1" || exit 1 ;;
  reload)
    check_servers "${1:?usage: stack.sh reload prometheus|alertmanager}"
    reload_config "$1" || exit 1 ;;
  status)
    rc=0
    printf '%-13s %-8s %-7s %-9s %s\n' server state port pid log
    for s in "${SERVERS[@]}"; do
      if alive "$s"; then
        if answers "$s"; then st=up; else st=starting; rc=1; fi
        p=$(pid_of "$s")
      else
        st=down p=- rc=1
      fi
      printf '%-13s %-8s %-7s %-9s %s\n' "$s" "$st" "$(port_of "$s")" "$p" "$(log_of "$s")"
    done
    exit $rc ;;
  env)
    cat <<EOF
KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
REDIS_URL=redis://127.0.0.1:$REDIS_PORT
S3_ENDPOINT=http://127.0.0.1:$S3_PORT
S3_BUCKET=$S3_BUCKET
S3_REGION=us-east-1
S3_ACCESS_KEY_ID=S3RVER
S3_SECRET_ACCESS_KEY=S3RVER
S3_FORCE_PATH_STYLE=true
PROMETHEUS_URL=http://127.0.0.1:$PROMETHEUS_PORT
PROMETHEUS_TARGETS_DIR=$DATA/prometheus/targets
ALERTMANAGER_URL=http://127.0.0.1:$ALERTMANAGER_PORT
ALERT_WEBHOOK_URL=$ALERT_WEBHOOK_URL
PERPFLOW_DATA_DIR=$DATA
EOF
    ;;
  logs)
    if [ -n "${1:-}" ]; then
      check_servers "$1"
      echo "== $1: $(log_of "$1")"
      tail -n "${STACK_LOG_LINES:-80}" "$(log_of "$1")"
    else
      for s in "${SERVERS[@]}"; do
        echo "== $s: $(log_of "$s")"
        tail -n "${STACK_LOG_LINES:-10}" "$(log_of "$s")" 2>/dev/null
      done
    fi ;;
  -h | --help | help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' ;;
  *)
    sed -n '5,11p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2 ;;
esac
