# Shared by scripts/demo.sh, scripts/test.sh and .ci/run (sourced, from the repository root).
# mplat runs from a project-local virtual environment, .venv, so the scripts work with any
# Python >= 3.11, including a distribution's own python3 that refuses `pip install`
# (PEP 668, "externally-managed-environment", as on Debian 12).

# apt_install PACKAGE...: install Debian packages, with sudo when not root.
apt_install() {
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "need root or sudo to install: $*" >&2; return 1; }
    sudo="sudo"
  fi
  command -v apt-get >/dev/null 2>&1 || { echo "please install: $*" >&2; return 1; }
  echo "== installing $* with apt-get"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

# ensure_venv [test]: make .venv hold this checkout installed in editable mode (with the test
# extras when asked), then put .venv/bin first on PATH. Reuses .venv when it was made by the
# same python3 for this directory and installed from the current pyproject.toml.
ensure_venv() {
  local want="${1:-base}" py="${PYTHON:-python3}" venv="$PWD/.venv"
  command -v "$py" >/dev/null 2>&1 || { echo "$py not found; mplat needs Python >= 3.11" >&2; return 1; }
  if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "mplat needs Python >= 3.11; $py is $("$py" -V 2>&1)" >&2
    return 1
  fi
  # Which interpreter and where: a venv is tied to both (absolute paths in its scripts).
  local origin
  origin="$("$py" -c 'import os, sys; print(os.path.realpath(sys.executable), sys.version.split()[0])') $venv"
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c '' 2>/dev/null \
    || [ "$(cat "$venv/.mplat-origin" 2>/dev/null)" != "$origin" ]; then
    if ! "$py" -c 'import ensurepip, venv' 2>/dev/null; then
      apt_install python3-venv  # Debian ships venv's pip bootstrap separately
    fi
    local verb="creating"
    [ -e "$venv" ] && verb="re-creating (made by another python or elsewhere)"
    echo "== $verb $venv with $("$py" -V 2>&1)"
    "$py" -m venv --clear "$venv"
    echo "$origin" >"$venv/.mplat-origin"
  fi
  # Reinstall only when pyproject.toml (dependencies, entry points) changed or more extras are
  # needed: the editable install picks up source changes by itself.
  local hash installed
  hash="$(sha256sum pyproject.toml | cut -d' ' -f1)"
  installed="$(cat "$venv/.mplat-installed" 2>/dev/null || true)"
  if [ "$installed" != "$hash test" ] && [ "$installed" != "$hash $want" ]; then
    local target="."
    [ "$want" = "test" ] && target=".[test]"
    echo "== installing mplat ($target) into .venv"
    rm -f "$venv/.mplat-installed"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -e "$target"
    echo "$hash $want" >"$venv/.mplat-installed"
  fi
  export VIRTUAL_ENV="$venv"
  export PATH="$venv/bin:$PATH"
}
