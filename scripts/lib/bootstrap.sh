# Sourced by scripts/run, scripts/test and scripts/bench: makes a fresh machine ready.
# - a virtualenv in .venv with the pinned Python dependencies (requirements.lock)
# - the Debian tools the suite drives (sipp, promtool, sox, baresip) when missing
# - PostgreSQL running when it is installed but stopped
# Idempotent and quiet when everything is already there.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3

log() { printf '[bootstrap] %s\n' "$*" >&2; }

ensure_venv() {
  local stamp="$VENV/.e911-installed"
  local want
  want="$(cat "$ROOT/requirements.lock" "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return
  fi
  if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating $VENV with $PY"
    "$PY" -m venv "$VENV"
  fi
  log "installing Python dependencies (pinned by requirements.lock)"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip 2>&1 \
    | grep -v '^WARNING: Location' || true
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    -c "$ROOT/requirements.lock" -e "$ROOT[dev]" 2>&1 | grep -v '^WARNING: Location' || true
  "$VENV/bin/python" -c "import pjsua2, router" >/dev/null
  echo "$want" > "$stamp"
}

APT_UPDATED=0
apt_install() {
  # apt_install COMMAND PACKAGE...: install PACKAGEs when COMMAND is not on PATH.
  local cmd="$1"; shift
  command -v "$cmd" >/dev/null 2>&1 && return
  if [[ "$(id -u)" != 0 ]]; then
    log "$cmd is missing and we are not root: install $* yourself"; return 1
  fi
  if [[ $APT_UPDATED == 0 ]]; then
    log "apt-get update"; DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    APT_UPDATED=1
  fi
  log "installing Debian package(s): $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_debian_tools() {
  apt_install sipp sip-tester
  apt_install promtool prometheus
  apt_install sox sox
  apt_install baresip baresip
  apt_install kamailio kamailio
}

ensure_postgres() {
  # Start the local PostgreSQL cluster when it is installed but not accepting connections.
  command -v pg_isready >/dev/null 2>&1 || return 0
  pg_isready -q -h 127.0.0.1 -p 5432 && return 0
  if command -v pg_ctlcluster >/dev/null 2>&1 && [[ -d /etc/postgresql ]]; then
    local version
    version="$(ls /etc/postgresql | sort -V | tail -n1)"
    log "starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  fi
}
