#!/usr/bin/env bash
# Makes <repo>/.cache/drift-venv (git-ignored) with pinned numpy and scipy, for
# regenerating packages/drift/fixtures/statistics.json (`npm run fixture -w @perpflow/drift`).
# The tests read the committed fixture; they do not need Python.
# Idempotent: exits fast when the venv already has these versions.
set -euo pipefail
NUMPY_VERSION=2.1.3
SCIPY_VERSION=1.14.1
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
venv="$repo/.cache/drift-venv"
py="$venv/bin/python"
check() {
  [[ -x "$py" ]] && "$py" -c "import numpy, scipy, sys; sys.exit(not (numpy.__version__ == '$NUMPY_VERSION' and scipy.__version__ == '$SCIPY_VERSION'))" 2>/dev/null
}
check && exit 0
exec 9>/tmp/perpflow-drift-venv.lock
flock 9
check && exit 0
mkdir -p "$repo/.cache"
[[ -x "$py" ]] || python3 -m venv "$venv"
"$py" -m pip install --quiet --disable-pip-version-check "numpy==$NUMPY_VERSION" "scipy==$SCIPY_VERSION" >&2
"$py" -c "import numpy, scipy; print('numpy', numpy.__version__, 'scipy', scipy.__version__)" >&2
