#!/usr/bin/env bash
# Install what the project needs to run and test on a fresh Debian machine:
# the Mosquitto and InfluxDB binaries (Debian packages) and a Python virtualenv in .venv.
# Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need_pkgs+=(mosquitto mosquitto-clients)
command -v influxd >/dev/null 2>&1 || [ -x /usr/bin/influxd ] || need_pkgs+=(influxdb)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian packages: ${need_pkgs[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  else
    echo "setup: missing ${need_pkgs[*]} and cannot apt-get install them (not root or no apt);" \
         "make run will fall back to embedded services, integration tests will fail" >&2
  fi
fi

PY=${PYTHON:-python3.11}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $PY"
  "$PY" -m venv .venv
  .venv/bin/pip install -q --upgrade pip
fi
stamp=.venv/.installed
if [ ! -f "$stamp" ] || [ -n "$(find requirements-dev.txt requirements-face.txt */pyproject.toml -newer "$stamp" 2>/dev/null)" ]; then
  echo "setup: installing Python packages into .venv"
  .venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt 2>&1 \
    | grep -v -e "^WARNING: Location" -e "Editable installation" -e "^ *!!" -e "^ *\*\*\*" \
      -e "Please be careful" -e "name as your package" -e "with strategy" -e "^ *$" || true
  # face_recognition without its "dlib" requirement (a from-source build); the edge package
  # already brought the prebuilt dlib-bin wheel and the rest (requirements-face.txt says why).
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -r requirements-face.txt 2>&1 \
    | grep -v -e "^WARNING: Location" || true  # a failure shows in the import check below
  .venv/bin/python -c "import dlib, face_recognition" \
    || { echo "setup: face_recognition/dlib do not import" >&2; exit 1; }
  touch "$stamp"
fi
