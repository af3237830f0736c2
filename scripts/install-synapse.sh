#!/usr/bin/env bash
# Installs the pinned Synapse used by the integration tests into a project-local venv.
# Idempotent: a second run only checks the installed version (one python start, well under 1 s).
set -euo pipefail

SYNAPSE_VERSION="1.163.2"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-synapse"
PY="$VENV/bin/python"

die() { echo "install-synapse: ERROR: $*" >&2; exit 1; }

installed_version() {
  # Import the Rust extension too: a venv with a broken/missing wheel must not count as installed.
  # Read the version from the dist metadata: synapse.__version__ gets " (b=<branch>,<sha>)" appended
  # because the venv lives inside this project's git work tree (Synapse runs `git` next to its package).
  "$PY" -c 'import synapse, synapse.synapse_rust, importlib.metadata as m; print(m.version("matrix-synapse"))' 2>/dev/null || true
}

if [[ -x "$PY" && "$(installed_version)" == "$SYNAPSE_VERSION" ]]; then
  echo "install-synapse: matrix-synapse $SYNAPSE_VERSION already installed in $VENV"
  exit 0
fi

command -v python3 >/dev/null || die "python3 not found on PATH (need CPython >= 3.10)"
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
  || die "python3 is $(python3 -V 2>&1); Synapse $SYNAPSE_VERSION needs >= 3.10"

start=$(date +%s)
if [[ ! -x "$PY" ]]; then
  echo "install-synapse: creating venv $VENV"
  python3 -m venv "$VENV" \
    || die "python3 -m venv failed (on Debian: apt-get install python3-venv)"
fi

echo "install-synapse: installing matrix-synapse==$SYNAPSE_VERSION (wheels only)"
# --only-binary: never fall back to an sdist build (Synapse's Rust extension would need cargo + crates.io).
"$PY" -m pip install --quiet --disable-pip-version-check --only-binary=:all: \
  "matrix-synapse==$SYNAPSE_VERSION" \
  || die "pip install matrix-synapse==$SYNAPSE_VERSION failed (no matching wheel for $(python3 -V 2>&1) / $(uname -m)? no access to PyPI?)"

got="$(installed_version)"
[[ "$got" == "$SYNAPSE_VERSION" ]] \
  || die "after install, 'import synapse, synapse.synapse_rust' reports '${got:-<import failed>}', expected $SYNAPSE_VERSION"

# Synapse requires SQLite >= 3.37.2 (its docs say 3.40+); check the one this python links against.
"$PY" -c 'import sqlite3, sys; sys.exit(0 if sqlite3.sqlite_version_info >= (3, 37, 2) else 1)' \
  || die "python's SQLite is $("$PY" -c 'import sqlite3; print(sqlite3.sqlite_version)'); Synapse needs >= 3.37.2"

echo "install-synapse: matrix-synapse $got installed in $(( $(date +%s) - start )) s"
