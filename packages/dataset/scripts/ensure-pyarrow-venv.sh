#!/usr/bin/env bash
# Makes <repo>/.venv (git-ignored) with pinned pyarrow and pandas, for the Parquet read-back
# test and the README's dataset snippets (test/e2e/windower-readme-snippets.test.ts), and
# boto3 and pytest for the Python loader (clients/python, its tests run by npm test).
# The pins below are the ones clients/python/requirements-dev.txt lists (its tests check that).
# Idempotent: exits fast, without network, when the venv already has these versions.
# Fails loudly otherwise.
#
# The venv itself is made once per machine, in $PERPFLOW_CACHE_DIR (default
# ~/.cache/perpflow) under a name decided by the pins and the Python, and <repo>/.venv is a
# link to it: a fresh clone takes ~1 s here (the version check) instead of the ~24 s of
# making a venv and unpacking the wheels from pip's cache, as npm ci takes its packages from
# npm's cache and Kafka its jars from ~/.m2. A <repo>/.venv that is a directory with these
# versions is used as it is.
set -euo pipefail
PYARROW_VERSION=21.0.0
PANDAS_VERSION=2.2.3
BOTO3_VERSION=1.44.8
PYTEST_VERSION=9.2.0
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
venv="$repo/.venv"
# have_all PYTHON: that interpreter imports the pinned versions.
have_all() {
  [[ -x "$1" ]] && "$1" -c "
import sys, pyarrow, pandas, boto3, pytest
sys.exit(pyarrow.__version__ != '$PYARROW_VERSION' or pandas.__version__ != '$PANDAS_VERSION'
         or boto3.__version__ != '$BOTO3_VERSION' or pytest.__version__ != '$PYTEST_VERSION')" 2>/dev/null
}
have_all "$venv/bin/python" && exit 0
command -v python3 >/dev/null || { echo "ensure-pyarrow-venv: python3 is not on PATH (setup installs it with apt)" >&2; exit 1; }
cache="${PERPFLOW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/perpflow}"
key=$(printf '%s\n' "$(python3 -VV)" "$(command -v python3)" "pyarrow==$PYARROW_VERSION" "pandas==$PANDAS_VERSION" \
  "boto3==$BOTO3_VERSION" "pytest==$PYTEST_VERSION" | sha256sum | cut -c1-16)
shared="$cache/venv-$key"
mkdir -p "$cache"
# Several test runs (or clones) may start at once: one creates, the others wait.
exec 9>"$cache/venv.lock"
flock 9
if ! have_all "$shared/bin/python"; then
  # Half-made (a run killed while pip ran) or never made: make it anew.
  rm -rf "$shared"
  python3 -m venv "$shared"
  "$shared/bin/python" -m pip install --quiet --disable-pip-version-check "pyarrow==$PYARROW_VERSION" \
    "pandas==$PANDAS_VERSION" "boto3==$BOTO3_VERSION" "pytest==$PYTEST_VERSION" >&2
  have_all "$shared/bin/python" || { echo "ensure-pyarrow-venv: $shared lacks the pinned versions after pip install" >&2; exit 1; }
fi
# <repo>/.venv without the pinned versions (an old directory, a link to another pin set): replaced.
rm -rf "$venv"
ln -s "$shared" "$venv"
"$venv/bin/python" -c "import pyarrow, boto3, pytest; print('pyarrow', pyarrow.__version__, 'boto3', boto3.__version__, 'pytest', pytest.__version__, 'in', '$shared')" >&2
