#!/usr/bin/env bash
# Makes <repo>/.venv (git-ignored) with pinned pyarrow and pandas, for the Parquet read-back
# test and the README's dataset snippets (test/e2e/windower-readme-snippets.test.ts), and
# boto3 and pytest for the Python loader (clients/python, its tests run by npm test).
# The pins below are the ones clients/python/requirements-dev.txt lists (its tests check that).
# Idempotent: exits fast, without network, when the venv already has these versions.
# Fails loudly otherwise.
set -euo pipefail
PYARROW_VERSION=21.0.0
PANDAS_VERSION=2.2.3
BOTO3_VERSION=1.44.8
PYTEST_VERSION=9.2.0
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
venv="$repo/.venv"
py="$venv/bin/python"
have_all() {
  [[ -x "$py" ]] && "$py" -c "
import sys, pyarrow, pandas, boto3, pytest
sys.exit(pyarrow.__version__ != '$PYARROW_VERSION' or pandas.__version__ != '$PANDAS_VERSION'
         or boto3.__version__ != '$BOTO3_VERSION' or pytest.__version__ != '$PYTEST_VERSION')" 2>/dev/null
}
have_all && exit 0
# Several test runs may start at once: one creates, the others wait.
exec 9>/tmp/perpflow-pyarrow-venv.lock
flock 9
have_all && exit 0
# A venv left half-made (a run killed while ensurepip ran) has a python but no pip: remake it.
if [[ -x "$py" ]] && ! "$py" -m pip --version >/dev/null 2>&1; then rm -rf "$venv"; fi
[[ -x "$py" ]] || python3 -m venv "$venv"
"$py" -m pip install --quiet --disable-pip-version-check "pyarrow==$PYARROW_VERSION" "pandas==$PANDAS_VERSION" \
  "boto3==$BOTO3_VERSION" "pytest==$PYTEST_VERSION" >&2
"$py" -c "import pyarrow, boto3, pytest; print('pyarrow', pyarrow.__version__, 'boto3', boto3.__version__, 'pytest', pytest.__version__)" >&2
