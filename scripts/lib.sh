#!/usr/bin/env bash
# Shared by the scripts: tool checks, an Azurite of our own, the hosts' runtime environment.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
AZURITE_KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

ensure_tools() {
  command -v dotnet >/dev/null || { echo "dotnet (the .NET 10 SDK) is required" >&2; exit 1; }
  command -v npm >/dev/null || { echo "node and npm are required (Azurite comes from npm)" >&2; exit 1; }
  if [ ! -x "$ROOT/node_modules/.bin/azurite" ]; then
    echo "Installing Azurite (pinned in package.json)..."
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# The browser the console's tests drive: Debian's Chromium (Playwright's own browser download cannot be reached here).
ensure_chromium() {
  [ -x /usr/bin/chromium ] && return
  echo "Installing Chromium (Debian package)..."
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null \
    || { echo "could not install chromium (apt-get install chromium)" >&2; exit 1; }
}

# The hosts' runtime settings that have no runtimeconfig.json name (src/HostRuntime.props holds the others), exported
# for the LocalHost and the benchmark's own process as the Function App has them in its app settings: from
# local.settings.sample.json, which says why.
export_host_runtime_env() {
  DOTNET_GCgen0size=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["Values"]["DOTNET_GCgen0size"])' "$ROOT/local.settings.sample.json")
  export DOTNET_GCgen0size
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A run of three free consecutive ports at or above $1.
free_port_base() {
  local p=$1
  while ! (port_free "$p" && port_free $((p + 1)) && port_free $((p + 2))); do p=$((p + 3)); done
  echo "$p"
}

connection_string() {
  local base=$1
  echo "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$AZURITE_KEY;BlobEndpoint=http://127.0.0.1:$base/devstoreaccount1;QueueEndpoint=http://127.0.0.1:$((base + 1))/devstoreaccount1;TableEndpoint=http://127.0.0.1:$((base + 2))/devstoreaccount1;"
}

# start_azurite BASE_PORT DATA_DIR LOG [EXTRA ARGS…]: starts Azurite in the background, sets AZURITE_PID, waits until it listens.
# DATA_DIR "memory": its data in its own memory (--inMemoryPersistence), lost when it stops.
# AZURITE_ACCESS_LOG=1: its access log (a line a request) goes to LOG too.
start_azurite() {
  local base=$1 dir=$2 log=$3 where=() silent=(--silent)
  shift 3
  if [ "$dir" = memory ]; then where=(--inMemoryPersistence); else mkdir -p "$dir"; where=(--location "$dir"); fi
  if [ -n "${AZURITE_ACCESS_LOG:-}" ]; then silent=(); fi
  "$ROOT/node_modules/.bin/azurite" "${silent[@]}" --skipApiVersionCheck --loose --disableTelemetry "${where[@]}" "$@" \
    --blobHost 127.0.0.1 --queueHost 127.0.0.1 --tableHost 127.0.0.1 \
    --blobPort "$base" --queuePort $((base + 1)) --tablePort $((base + 2)) >"$log" 2>&1 &
  AZURITE_PID=$!
  local deadline=$((SECONDS + 60))
  until ! port_free "$base" && ! port_free $((base + 1)) && ! port_free $((base + 2)); do
    if [ $SECONDS -gt $deadline ] || ! kill -0 "$AZURITE_PID" 2>/dev/null; then
      echo "Azurite did not start; its log:" >&2; cat "$log" >&2; exit 1
    fi
    sleep 0.2
  done
}
