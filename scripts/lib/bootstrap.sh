# Sourced by scripts/run, scripts/test, scripts/bench and scripts/load: makes a fresh Debian 12
# machine ready, saying what it does, and stops at the first failure with one line saying what
# failed and what to do (the tools' own output goes to var/bootstrap.log).
# - .venv with every Python package of requirements.lock (pip-compile --generate-hashes:
#   runtime, the `demo` extra and the `dev` extra), installed with --require-hashes, and the
#   project itself (editable)
# - the Debian packages a script drives (apt_packages), waiting for another apt/dpkg run to
#   let go of the dpkg lock (up to 10 minutes) instead of failing on it
# - PostgreSQL for the tests: installed, started and accepting postgres@127.0.0.1/test
# Idempotent, and quiet when everything is already there.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.venv"
LOCK="$ROOT/requirements.lock"
PY="${PYTHON:-python3.11}"
BOOT_LOG="${E911_BOOTSTRAP_LOG:-$ROOT/var/bootstrap.log}"
APT_LOCK_WAIT=(-o DPkg::Lock::Timeout=600)
# What each script installs (the README says the same).
# kamailio-utils-modules: http_client, the front's way to hand registrations to the API.
# rtpengine-daemon: `rtpengine`, the front's announcement player (E911_ANNOUNCE_PATH=front).
# kamailio-python3-modules: app_python3, the front's own decisions (E911_FRONT_DECISIONS=python).
RUN_PACKAGES=(python3.11-venv sip-tester kamailio kamailio-utils-modules rtpengine-daemon
  kamailio-python3-modules)
# kamailio-presence-modules: pua_reginfo, for the PBX the registration tests run.
TEST_PACKAGES=(python3.11-venv sip-tester kamailio kamailio-utils-modules rtpengine-daemon
  kamailio-python3-modules kamailio-presence-modules sox baresip prometheus openssl postgresql)
TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:5432/test"  # tests/support/postgres.py POSTGRES_URL

log() { printf '[bootstrap] %s\n' "$*" >&2; }

fail() {  # fail WHAT TODO: the one line, then stop
  printf '[bootstrap] FAILED: %s. %s\n' "$1" "$2" >&2
  exit 1
}

run_logged() {  # run_logged WHAT TODO COMMAND...: COMMAND's output goes to var/bootstrap.log
  local what="$1" todo="$2"
  shift 2
  mkdir -p "$(dirname "$BOOT_LOG")"
  printf '\n== %s: %s\n' "$(date -u +%FT%TZ)" "$*" >>"$BOOT_LOG"
  if ! "$@" >>"$BOOT_LOG" 2>&1; then
    tail -n 12 "$BOOT_LOG" | sed 's/^/  | /' >&2
    fail "$what" "$todo (whole output: $BOOT_LOG)"
  fi
}

ensure_venv() {  # ensure_venv: .venv holds exactly requirements.lock and the project
  local stamp="$VENV/.e911-installed" want
  want="$(cat "$LOCK" "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return
  fi
  command -v "$PY" >/dev/null 2>&1 \
    || fail "$PY is not installed" "install Python 3.11 (Debian 12: apt-get install python3.11) or set PYTHON"
  if ! "$PY" -c "import ensurepip, venv" >/dev/null 2>&1; then
    apt_packages python3.11-venv
  fi
  if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating $VENV with $PY"
    run_logged "creating the virtualenv $VENV" "check that $PY -m venv works, remove $VENV and run again" \
      "$PY" -m venv "$VENV"
  fi
  log "installing the Python packages of requirements.lock (hashes checked) into .venv"
  run_logged "pip install --require-hashes -r requirements.lock" \
    "check the network to PyPI; if the lock changed, run: pip-compile as its header says" \
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --require-hashes -r "$LOCK"
  log "installing the project into .venv (editable)"
  run_logged "pip install -e ." "read the error above; pyproject.toml may be broken" \
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps \
    --no-build-isolation -e "$ROOT"
  run_logged "importing pjsua2 and the router" "remove .venv and run the script again" \
    "$VENV/bin/python" -c "import pjsua2, router"
  echo "$want" >"$stamp"
}

APT_UPDATED=0
apt_packages() {  # apt_packages PACKAGE...: install the Debian packages not installed yet
  local missing=() package
  command -v dpkg-query >/dev/null 2>&1 \
    || fail "this is not a Debian system (no dpkg-query)" "install these yourself: $*"
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$package")
  done
  [[ ${#missing[@]} == 0 ]] && return
  [[ "$(id -u)" == 0 ]] \
    || fail "Debian packages missing: ${missing[*]}" "run as root, or: sudo apt-get install ${missing[*]}"
  if [[ $APT_UPDATED == 0 ]]; then
    log "apt-get update (waits up to 10 min if another apt or dpkg run holds the lock)"
    run_logged "apt-get update" "check the network and /etc/apt/sources.list, then run again" \
      env DEBIAN_FRONTEND=noninteractive apt-get "${APT_LOCK_WAIT[@]}" update -q
    APT_UPDATED=1
  fi
  log "installing Debian packages: ${missing[*]} (waits up to 10 min for the dpkg lock)"
  run_logged "apt-get install ${missing[*]}" \
    "if another apt run held the lock longer, run again when it ends; else read the apt error" \
    env DEBIAN_FRONTEND=noninteractive apt-get "${APT_LOCK_WAIT[@]}" install -y -q \
    --no-install-recommends "${missing[@]}"
}

ensure_debian_tools() {  # ensure_debian_tools: what the test suite drives
  apt_packages "${TEST_PACKAGES[@]}"
}

postgres_answers() {
  "$VENV/bin/python" - "$TEST_POSTGRES_URL" >/dev/null 2>&1 <<'EOF'
import sys

import psycopg

with psycopg.connect(sys.argv[1], connect_timeout=3) as conn:
    conn.execute("SELECT 1")
EOF
}

ensure_postgres() {  # ensure_postgres: the tests' server answers postgres@127.0.0.1:5432/test
  postgres_answers && return
  apt_packages postgresql
  local version
  version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)"
  if [[ -z "$version" ]]; then
    version="$(ls /usr/lib/postgresql | sort -V | tail -n1)"
    log "creating the PostgreSQL $version cluster 'main'"
    run_logged "pg_createcluster $version main" "read the error above" \
      pg_createcluster "$version" main
  fi
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    log "starting PostgreSQL $version"
    run_logged "starting PostgreSQL $version (pg_ctlcluster)" \
      "read /var/log/postgresql/postgresql-$version-main.log; is port 5432 taken?" \
      pg_ctlcluster --skip-systemctl-redirect "$version" main start
  fi
  postgres_answers && return
  # A fresh cluster: no `test` database, and password login on 127.0.0.1. The tests log in
  # as postgres without a password from loopback only (they create and drop databases and
  # schemas: test machines only).
  local hba="/etc/postgresql/$version/main/pg_hba.conf"
  if ! grep -q "^host all postgres 127.0.0.1/32 trust" "$hba"; then
    log "letting postgres log in from 127.0.0.1 without a password, for the tests ($hba)"
    sed -i '1i host all postgres 127.0.0.1/32 trust  # e911-router tests (scripts/lib/bootstrap.sh)' "$hba"
    run_logged "reloading PostgreSQL" "read the error above" \
      pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  fi
  if ! runuser -u postgres -- psql -tAc "SELECT 1 FROM pg_database WHERE datname = 'test'" \
      | grep -q 1; then
    log "creating the PostgreSQL database 'test'"
    run_logged "createdb test" "read the error above" runuser -u postgres -- createdb test
  fi
  postgres_answers \
    || fail "PostgreSQL does not accept $TEST_POSTGRES_URL" \
            "make the server on 127.0.0.1:5432 let postgres into database test (see var/bootstrap.log)"
}
