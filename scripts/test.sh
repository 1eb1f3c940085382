#!/usr/bin/env bash
# The whole test suite: installs Chromium when it is missing (the console's tests drive it), compiles the Bicep (no
# linter warning allowed), starts an Azurite of its own on free ports, builds, publishes the Function App (its
# functions.metadata must be the built one, which a test compares with the code), runs every test project, stops
# Azurite. The console's tests leave their screenshots in artifacts/console/.
# Prints "tests: N passed, N failed" last.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
ensure_tools
ensure_chromium
bash scripts/check-infra.sh

WORK="$(mktemp -d)"
BASE=$(free_port_base 20100)
start_azurite "$BASE" "$WORK/azurite" "$WORK/azurite.log"
# Wait for Azurite to exit before removing its folder (it may still be writing), and never let cleanup change the result.
trap 'kill "$AZURITE_PID" 2>/dev/null || true; wait "$AZURITE_PID" 2>/dev/null || true; rm -rf "$WORK" 2>/dev/null || true' EXIT
export EXPORTJOBS_TEST_STORAGE="$(connection_string "$BASE")"
echo "Azurite listening on 127.0.0.1:$BASE-$((BASE + 2))"

dotnet build ExportFunctions.sln -c Release --nologo -v quiet

echo "Publishing the Function App..."
dotnet publish src/ExportJobs.Functions/ExportJobs.Functions.csproj -c Release --no-build --nologo -v quiet -o "$WORK/publish"
# The published functions.metadata must be the one the build generated, which FunctionMetadataTests compares with the code.
cmp -s "$WORK/publish/functions.metadata" src/ExportJobs.Functions/bin/Release/net10.0/functions.metadata \
  || { echo "the published functions.metadata differs from the built one" >&2; exit 1; }

set +e
dotnet test ExportFunctions.sln -c Release --no-build --nologo 2>&1 | tee "$WORK/test.log"
status=${PIPESTATUS[0]}
set -e
passed=$(grep -oE 'Passed: +[0-9]+' "$WORK/test.log" | awk '{s+=$2} END {print s+0}')
failed=$(grep -oE 'Failed: +[0-9]+' "$WORK/test.log" | awk '{s+=$2} END {print s+0}')
echo "tests: $passed passed, $failed failed"
exit "$status"
