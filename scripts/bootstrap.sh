#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv with Python >= 3.12.
# Mesa 3.5 needs Python 3.12+; on these machines `python3` is 3.11, so look for 3.12/3.13
# on PATH and in pyenv's versions folder. Idempotent: a second call only checks the stamp.
#
#   scripts/bootstrap.sh         what the baseline needs (`make baseline`): no optional extra
#   scripts/bootstrap.sh app     and the app's extra (`make app`)
#   scripts/bootstrap.sh test    and the test tools with every extra (`make test`), at the
#                                exact versions of requirements-lock.txt (pip constraints:
#                                they pin versions and add no package; scripts/lock.py)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv
case "${1:-base}" in
    base) spec="." ;;
    app) spec=".[app]" ;;
    test) spec=".[test,app,discover,notebooks,cluster]" ;;
    *) echo "error: scripts/bootstrap.sh takes no argument, 'app' or 'test', not '$1'" >&2; exit 2 ;;
esac
digest=$(sha1sum pyproject.toml | cut -c1-12)
stamp="$venv/.installed-$digest-${1:-base}"
constraints=()
if [ "${1:-base}" = test ] && [ -f requirements-lock.txt ]; then
    constraints=(-c requirements-lock.txt)  # a new lock installs again, as a new pyproject does
    stamp="$stamp-$(sha1sum requirements-lock.txt | cut -c1-12)"
fi
# an install with more extras includes the baseline's: any stamp of this pyproject will do
if [ -x "$venv/bin/python" ] && { [ -f "$stamp" ] || { [ "${1:-base}" = base ] \
        && compgen -G "$venv/.installed-$digest-*" >/dev/null; }; }; then
    exit 0
fi
find_python() {
    local candidate
    for candidate in python3.13 python3.12 python3; do
        if command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
            command -v "$candidate"; return 0
        fi
    done
    for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3 /usr/bin/python3.1[2-9]; do
        if [ -x "$candidate" ]; then echo "$candidate"; return 0; fi
    done
    return 1
}
if [ ! -x "$venv/bin/python" ]; then
    py=$(find_python) || { echo "error: Python 3.12 or newer not found (Mesa 3.5 needs it); install python3.12 and retry" >&2; exit 2; }
    echo "creating $venv with $py" >&2
    "$py" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip >&2
echo "installing $spec into $venv" >&2
"$venv/bin/python" -m pip install --quiet "${constraints[@]}" -e "$spec" >&2
find "$venv" -maxdepth 1 -name '.installed-*' ! -name ".installed-$digest-*" -delete
touch "$stamp"
# Compile the model now (two to three minutes on two cores, once per version of the sources), so that the first
# `sim run` measures the model's speed and not the compiler's (sim.api.compile_model).
echo "compiling the model for this machine (two to three minutes)..." >&2
"$venv/bin/python" -c 'from sim.api import compile_model as c; s = c(); print("compiled in %.0f s" % s if s else "compiled code already cached")' >&2
