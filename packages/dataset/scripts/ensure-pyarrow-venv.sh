#!/usr/bin/env bash
# Makes <repo>/.venv (git-ignored) with pinned pyarrow and pandas, for the Parquet read-back
# test and the README's dataset snippets (test/e2e/windower-readme-snippets.test.ts).
# Idempotent: exits fast when the venv already has this pyarrow. Fails loudly otherwise.
set -euo pipefail
PYARROW_VERSION=21.0.0
PANDAS_VERSION=2.2.3
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
venv="$repo/.venv"
py="$venv/bin/python"
if [[ -x "$py" ]] && "$py" -c "import pyarrow, pandas, sys; sys.exit(pyarrow.__version__ != '$PYARROW_VERSION' or pandas.__version__ != '$PANDAS_VERSION')" 2>/dev/null; then
  exit 0
fi
# Several test runs may start at once: one creates, the others wait.
exec 9>/tmp/perpflow-pyarrow-venv.lock
flock 9
if [[ -x "$py" ]] && "$py" -c "import pyarrow, pandas, sys; sys.exit(pyarrow.__version__ != '$PYARROW_VERSION' or pandas.__version__ != '$PANDAS_VERSION')" 2>/dev/null; then
  exit 0
fi
# A venv left half-made (a run killed while ensurepip ran) has a python but no pip: remake it.
if [[ -x "$py" ]] && ! "$py" -m pip --version >/dev/null 2>&1; then rm -rf "$venv"; fi
[[ -x "$py" ]] || python3 -m venv "$venv"
"$py" -m pip install --quiet --disable-pip-version-check "pyarrow==$PYARROW_VERSION" "pandas==$PANDAS_VERSION" >&2
"$py" -c "import pyarrow; print('pyarrow', pyarrow.__version__)" >&2
