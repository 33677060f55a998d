#!/usr/bin/env bash
# Run the whole test suite against real registries started by the tests themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v docker-registry >/dev/null 2>&1 || ! command -v htpasswd >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq docker-registry apache2-utils >/dev/null
fi
python3 -m pip install -q --root-user-action=ignore -e '.[test]'
exec python3 -m pytest "$@"
