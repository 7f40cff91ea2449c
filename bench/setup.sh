#!/usr/bin/env bash
# Installs the peers of bench/hello_bench.py and bench/http_bench.py, and
# what bench/file_bench.py and bench/idle_rss.py need. Idempotent:
# a second run only checks, and installs whatever is missing.
#
#   apt (system-wide, services not started): wrk, nginx, h2o (when the apt
#       sources have it)
#   bench/.peers/py37    Python 3.7 venv (from pyenv) with japronto, which
#                        only ships wheels for old Pythons
#   bench/.peers/py311   Python 3.11 venv with uvloop, httptools, granian
#   bench/.peers/may_minihttp-target
#                        the may_minihttp peer (bench/peers/may_minihttp),
#                        built --release in its own target dir
#
# A peer that cannot be installed is reported and skipped; http_bench.py
# skips servers whose files are missing. bench/.peers/ is git-ignored.
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PEERS="$BENCH/.peers"
mkdir -p "$PEERS"

JAPRONTO_PINS=(japronto==0.1.2)
PY311_PINS=(uvloop==0.23.0 httptools==0.9.0 granian==2.8.9)

say() { printf '== %s\n' "$*"; }
warn() { printf 'setup.sh: %s\n' "$*" >&2; }
skipped=()

# ------------------------------------------------------------------ apt
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else warn "need root for: $*"; return 1
    fi
}

apt_candidate() {
    apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2 }'
}

apt_pkgs=()
command -v wrk >/dev/null || apt_pkgs+=(wrk)
command -v nginx >/dev/null || apt_pkgs+=(nginx)
command -v taskset >/dev/null || apt_pkgs+=(util-linux)
want_h2o=0
command -v h2o >/dev/null || want_h2o=1

if [ ${#apt_pkgs[@]} -gt 0 ] || [ $want_h2o -eq 1 ]; then
    say "apt-get update"
    as_root apt-get update -qq
    if [ $want_h2o -eq 1 ]; then
        cand="$(apt_candidate h2o)"
        if [ -n "$cand" ] && [ "$cand" != "(none)" ]; then
            apt_pkgs+=(h2o)
        else
            warn "h2o is not in this system's apt sources: skipping it"
            skipped+=(h2o)
        fi
    fi
fi

if [ ${#apt_pkgs[@]} -gt 0 ]; then
    say "apt-get install ${apt_pkgs[*]}"
    # Packaged daemons (nginx, h2o) must not start on their default ports:
    # a policy-rc.d that denies every start is put in place for the install
    # unless the system already has one.
    added_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        as_root sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'
        added_policy=1
    fi
    rc=0
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${apt_pkgs[@]}" || rc=$?
    if [ $added_policy -eq 1 ]; then as_root rm -f /usr/sbin/policy-rc.d; fi
    [ $rc -eq 0 ] || { warn "apt-get install failed ($rc)"; exit $rc; }
else
    say "apt: wrk, nginx, h2o, taskset already installed"
fi

# ------------------------------------------------------------------ japronto
py37=""
for cand in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.7.*/bin/python3.7; do
    [ -x "$cand" ] && py37="$cand"
done
[ -n "$py37" ] || py37="$(command -v python3.7 || true)"
if [ -z "$py37" ]; then
    warn "no Python 3.7 (pyenv or PATH): skipping japronto"
    skipped+=(japronto)
else
    if [ ! -x "$PEERS/py37/bin/python" ]; then
        say "venv $PEERS/py37 from $py37"
        "$py37" -m venv "$PEERS/py37"
    fi
    say "pip (py37): ${JAPRONTO_PINS[*]}"
    "$PEERS/py37/bin/python" -m pip install -q --disable-pip-version-check "${JAPRONTO_PINS[@]}"
    "$PEERS/py37/bin/python" -c 'import japronto'
fi

# ------------------------------------------------------------------ uvloop, httptools, granian
py311=""
for cand in python3.11 python3; do
    p="$(command -v "$cand" || true)"
    if [ -n "$p" ] && "$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
        py311="$p"; break
    fi
done
if [ -z "$py311" ]; then
    warn "no Python 3.11: skipping uvloop_httptools and granian"
    skipped+=(uvloop_httptools granian)
else
    if [ ! -x "$PEERS/py311/bin/python" ]; then
        say "venv $PEERS/py311 from $py311"
        "$py311" -m venv "$PEERS/py311"
    fi
    say "pip (py311): ${PY311_PINS[*]}"
    "$PEERS/py311/bin/python" -m pip install -q --disable-pip-version-check "${PY311_PINS[@]}"
    "$PEERS/py311/bin/python" -c 'import uvloop, httptools, granian'
fi

# ------------------------------------------------------------------ may_minihttp
if ! command -v cargo >/dev/null; then
    warn "no cargo: skipping may_minihttp"
    skipped+=(may_minihttp)
else
    say "cargo build --release (bench/peers/may_minihttp)"
    (cd "$BENCH/peers/may_minihttp" &&
        CARGO_TARGET_DIR="$PEERS/may_minihttp-target" cargo build --release --locked --quiet)
fi

# ------------------------------------------------------------------ summary
say "servers (python3 bench/http_bench.py --list)"
python3 "$BENCH/http_bench.py" --list
if [ ${#skipped[@]} -gt 0 ]; then
    warn "skipped: ${skipped[*]}"
fi
