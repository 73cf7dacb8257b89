#!/usr/bin/env bash
# Builds the real `docker compose` CLI plugin from its Go module (the Go module proxy
# serves it; no other download) and installs it as $DOCKER_CONFIG/cli-plugins/docker-compose
# (default ~/.docker), so that `docker compose config` works with the docker client alone.
# Not part of scripts/setup.sh: measured here at 6 min 47 s and a 96 MB binary on a cold
# module cache; setup builds the small infra/docker/compose-config instead (same loader).
#   bash infra/docker/install-compose-plugin.sh [version]     # default v2.40.3
set -euo pipefail
version=${1:-v2.40.3}
dest=${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins
command -v go >/dev/null || { echo "install-compose-plugin: needs Go" >&2; exit 1; }
work=$(mktemp -d /tmp/compose-plugin.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
# `go install module@version` refuses modules whose go.mod has exclude directives, as
# docker/compose's has: build it from a wrapper module that repeats them.
mod=$(go mod download -json "github.com/docker/compose/v2@$version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
printf 'module perpflow.local/compose-plugin\n\ngo 1.24\n\nrequire github.com/docker/compose/v2 %s\n' "$version" >go.mod
awk '/^exclude \(/{on=1} on{print} on&&/^\)/{on=0}' "$mod" >>go.mod
printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/docker/compose/v2/cmd"\n' >tools.go
GOFLAGS=-mod=mod go mod tidy
mkdir -p "$dest"
GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$version" \
  -o "$dest/docker-compose" github.com/docker/compose/v2/cmd
echo "install-compose-plugin: $("$dest/docker-compose" version) -> $dest/docker-compose"
