#!/usr/bin/env bash
# Run the whole test suite against real registries started by the tests themselves.
# Arguments go to pytest (`bash scripts/test.sh -k e2e -x`).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

missing=()
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)  # peers-interop tests copy lists with it
[ "${#missing[@]}" -eq 0 ] || apt_install "${missing[@]}"
ensure_venv test
exec python -m pytest "$@"
