#!/usr/bin/env bash
# The helloworld demo, end to end, on a throwaway local registry:
# install mplat into .venv, start Debian's docker-registry on 127.0.0.1, seed three
# single-platform images, then `mplat plan`, `mplat apply`, `mplat plan` on examples/manifests.yaml.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

command -v docker-registry >/dev/null 2>&1 || apt_install docker-registry
ensure_venv

port="${MPLAT_DEMO_PORT:-5000}"
if python -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1',$port))!=0)"; then
  echo "port $port is busy; set MPLAT_DEMO_PORT to a free port" >&2
  exit 1
fi
work="$(mktemp -d)"
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
cat >"$work/registry.yml" <<YAML
version: 0.1
log: {level: error}
storage:
  filesystem: {rootdirectory: $work/storage}
  delete: {enabled: true}
http: {addr: 127.0.0.1:$port}
YAML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
pid=$!
python - "$port" <<'PY'
import sys, time, urllib.request
for _ in range(100):  # wait for the registry to answer /v2/
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/v2/", timeout=1)
        break
    except OSError:
        time.sleep(0.1)
PY
echo "== throwaway registry on 127.0.0.1:$port; seeding acme/helloworld"
python scripts/seed_demo.py --registry "127.0.0.1:$port"
sed "s/localhost:5000/localhost:$port/g" examples/manifests.yaml >"$work/manifests.yaml"
run() { echo; echo "\$ $*"; "$@"; }
run mplat plan -f "$work/manifests.yaml"
run mplat apply -f "$work/manifests.yaml" --auto-approve
run mplat plan -f "$work/manifests.yaml" --detailed-exitcode
