#!/usr/bin/env bash
# Pulse bootstrap: Python 3.12 venv from requirements/dev.lock + the Debian
# binaries the private dev/test services need (postgresql, redis-server and,
# with --browser, chromium). Idempotent, quiet, fast when there is nothing to do.
#
# Usage: bash scripts/bootstrap.sh [--browser]
set -euo pipefail

cd "$(dirname "$0")/.."

BROWSER=0
for arg in "$@"; do
    case "$arg" in
        --browser) BROWSER=1 ;;
        -h | --help)
            echo "usage: bash scripts/bootstrap.sh [--browser]"
            exit 0
            ;;
        *)
            echo "bootstrap: unknown argument: $arg" >&2
            exit 2
            ;;
    esac
done

VENV=.venv
LOCK=requirements/dev.lock
STAMP="$VENV/.lock-stamp"

say() { echo "bootstrap: $*"; }
die() {
    echo "bootstrap: ERROR: $*" >&2
    exit 1
}

is_py312() {
    # A pyenv shim may exist on PATH and still fail ("command not found"), so run it.
    [ -x "$1" ] || command -v "$1" >/dev/null 2>&1 || return 1
    "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 12) else 1)' >/dev/null 2>&1
}

find_python() {
    local cand
    if is_py312 python3.12; then
        command -v python3.12
        return 0
    fi
    # Newest 3.12.x from pyenv (PYENV_ROOT or ~/.pyenv).
    for cand in $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12 \
        "$HOME"/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null | sort -V -r); do
        if is_py312 "$cand"; then
            echo "$cand"
            return 0
        fi
    done
    return 1
}

# ---------------------------------------------------------------- Python venv
if ! is_py312 "$VENV/bin/python"; then
    PY312="$(find_python)" || die "Python 3.12 not found. Looked for 'python3.12' on PATH and \
${PYENV_ROOT:-$HOME/.pyenv}/versions/3.12*/bin/python3.12. Install Python 3.12 (e.g. 'pyenv install 3.12') and re-run."
    if [ -e "$VENV" ]; then
        say "removing $VENV (its python is not 3.12 or is broken)"
        rm -rf "$VENV"
    fi
    "$PY312" -m venv "$VENV"
    say "created $VENV with $("$VENV/bin/python" -V 2>&1) ($PY312)"
fi

[ -f "$LOCK" ] || die "$LOCK not found"
LOCK_SHA="$(sha256sum "$LOCK" | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$LOCK_SHA" ]; then
    PIP_LOG="$(mktemp)"
    trap 'rm -f "$PIP_LOG"' EXIT
    start=$SECONDS
    if ! PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/python" -m pip install --no-input -q \
        --require-hashes -r "$LOCK" >"$PIP_LOG" 2>&1; then
        cat "$PIP_LOG" >&2
        die "pip install --require-hashes -r $LOCK failed"
    fi
    echo "$LOCK_SHA" >"$STAMP"
    say "installed $LOCK into $VENV ($((SECONDS - start))s)"
fi

# ------------------------------------------------------------ Debian packages
MISSING=()
if [ -z "${DATABASE_URL:-}" ]; then
    have_pg=0
    for d in /usr/lib/postgresql/*/bin; do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
            have_pg=1
        fi
    done
    [ "$have_pg" = 1 ] || MISSING+=(postgresql)
fi
if [ -z "${REDIS_URL:-}" ] && ! [ -x /usr/bin/redis-server ] && ! command -v redis-server >/dev/null 2>&1; then
    MISSING+=(redis-server)
fi
if [ "$BROWSER" = 1 ] && ! [ -x /usr/bin/chromium ]; then
    MISSING+=(chromium)
fi
# The test suite's real push agent: collectd with write_http (needs libyajl2 for JSON).
if [ "$BROWSER" = 1 ]; then
    [ -x /usr/sbin/collectd ] || MISSING+=(collectd-core)
    ls /usr/lib/x86_64-linux-gnu/libyajl.so.2* >/dev/null 2>&1 \
        || ls /usr/lib/*/libyajl.so.2* >/dev/null 2>&1 || MISSING+=(libyajl2)
fi
# The test suite's real Prometheus server, which scrapes /metrics.
if [ "$BROWSER" = 1 ] && ! [ -x /usr/bin/prometheus ]; then
    MISSING+=(prometheus)
fi
# npm installs the browser libraries (htmx) from package-lock.json.
if ! command -v npm >/dev/null 2>&1; then
    command -v node >/dev/null 2>&1 || MISSING+=(nodejs)
    MISSING+=(npm)
fi

if [ "${#MISSING[@]}" -gt 0 ]; then
    APT_CMD="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${MISSING[*]}"
    if [ "$(id -u)" != 0 ]; then
        echo "bootstrap: missing Debian packages: ${MISSING[*]}. Run as root:" >&2
        echo "  $APT_CMD" >&2
        exit 1
    fi
    # We run our own private postgres under .run/: don't let the package create and start
    # a 'main' cluster (a drop-in, not the dpkg conffile, so no dpkg prompt).
    if [[ " ${MISSING[*]} " == *" postgresql "* ]]; then
        mkdir -p /etc/postgresql-common/createcluster.d
        echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/pulse.conf
    fi
    APT_LOG="$(mktemp)"
    start=$SECONDS
    export DEBIAN_FRONTEND=noninteractive
    if ! { apt-get update -qq && apt-get install -y -q --no-install-recommends \
        -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "${MISSING[@]}"; } </dev/null >"$APT_LOG" 2>&1; then
        tail -n 40 "$APT_LOG" >&2
        rm -f "$APT_LOG"
        die "apt-get install ${MISSING[*]} failed"
    fi
    rm -f "$APT_LOG"
    say "installed Debian packages: ${MISSING[*]} ($((SECONDS - start))s)"
fi

# ------------------------------------------------------------ browser libraries
NPM_STAMP="node_modules/.lock-stamp"
NPM_SHA="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ "$(cat "$NPM_STAMP" 2>/dev/null || true)" != "$NPM_SHA" ]; then
    start=$SECONDS
    NPM_LOG="$(mktemp)"
    if ! npm ci --omit=dev --no-audit --no-fund --ignore-scripts >"$NPM_LOG" 2>&1; then
        cat "$NPM_LOG" >&2
        rm -f "$NPM_LOG"
        die "npm ci failed"
    fi
    rm -f "$NPM_LOG"
    echo "$NPM_SHA" >"$NPM_STAMP"
    say "installed browser libraries from package-lock.json ($((SECONDS - start))s)"
fi
