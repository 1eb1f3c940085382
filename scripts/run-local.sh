#!/usr/bin/env bash
# Runs the service locally: Azurite on its default ports (data kept in .azurite/), then the LocalHost on
# http://127.0.0.1:7071/data/core/ups. Ctrl+C stops both.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
ensure_tools

if port_free 10000; then
  start_azurite 10000 "$ROOT/.azurite" "$ROOT/.azurite/azurite.log"
  trap 'kill "$AZURITE_PID" 2>/dev/null || true' EXIT
  echo "Azurite started on 127.0.0.1:10000-10002 (data in .azurite/)."
else
  echo "Something already listens on 127.0.0.1:10000; using it as Azurite."
fi

dotnet build src/ExportJobs.LocalHost/ExportJobs.LocalHost.csproj -c Release --nologo -v quiet
export_host_runtime_env
# The host runs at the machine's own processor count: its Durable Task concurrency is configured (DurableTask:*), and a
# raised DOTNET_PROCESSOR_COUNT only made the shared array pool keep arrays for processors that are not there
# (docs/performance.md).
dotnet src/ExportJobs.LocalHost/bin/Release/net10.0/ExportJobs.LocalHost.dll "$@"
