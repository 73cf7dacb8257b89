#!/usr/bin/env bash
# Makes <repo>/.venv (git-ignored) with a pinned pyarrow, for the Parquet read-back test.
# Idempotent: exits fast when the venv already has this pyarrow. Fails loudly otherwise.
set -euo pipefail
PYARROW_VERSION=21.0.0
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
venv="$repo/.venv"
py="$venv/bin/python"
if [[ -x "$py" ]] && "$py" -c "import pyarrow, sys; sys.exit(pyarrow.__version__ != '$PYARROW_VERSION')" 2>/dev/null; then
  exit 0
fi
# Several test runs may start at once: one creates, the others wait.
exec 9>/tmp/perpflow-pyarrow-venv.lock
flock 9
if [[ -x "$py" ]] && "$py" -c "import pyarrow, sys; sys.exit(pyarrow.__version__ != '$PYARROW_VERSION')" 2>/dev/null; then
  exit 0
fi
[[ -x "$py" ]] || python3 -m venv "$venv"
"$py" -m pip install --quiet --disable-pip-version-check "pyarrow==$PYARROW_VERSION" >&2
"$py" -c "import pyarrow; print('pyarrow', pyarrow.__version__)" >&2
