#!/usr/bin/env bash
# Benchmarks (figures in their output, never in tests):
#   bash scripts/bench.sh export [N] [--events]   N profiles through the API of a LocalHost on Azurite, against the floor
#                                                 and (without --events) against DuckDB doing the same exports
#   bash scripts/bench.sh ingest                  peak RSS of 4 concurrent 256 MB bodies and of gzip bombs
#   bash scripts/bench.sh schedule [M]            an every-minute schedule for M minutes: one job per due time, within 2 s
#   bash scripts/bench.sh scaleout [N]            two LocalHosts on one task hub share the shards of one export
#   bash scripts/bench.sh stitched [N]            N people of 1-4 identities: graph build, pdg export against none
#   bash scripts/bench.sh small                   a one-segment export of 1,000 profiles (median of 10, POST to SUCCEEDED),
#                                                 then 10 tenants x 5 concurrent ones over 5,000 profiles each
#   bash scripts/bench.sh pql [N]                 PQL evaluation rate (no storage)
#   bash scripts/bench.sh engines [N]             Parquet.Net, ParquetSharp and DuckDB decoding one fragment file (no storage)
#   bash scripts/bench.sh linecost                ingestion's work on one line of each dataset: parse, checks, split (no storage)
#   BENCH_KEEP=1 bash scripts/bench.sh export N   keeps the store; then the floors alone on it (whole store, one segment,
#                                                 segment evaluation reading every member and its own, over events too
#                                                 on a store kept with --events), R times each:
#   BENCH_STORE=… bash scripts/bench.sh floors [R]
#   BENCH_STORE=… bash scripts/bench.sh floors R segment   the one-segment floor alone, R times
#   BENCH_STORE=… bash scripts/bench.sh exports R [whole]   the one-segment (whole-store) export through a host's API, R times
#     (BENCH_FLOOR_FIELDS and BENCH_FLOOR_SEGMENT change its fields, * for all, and its segment, none for no filter;
#     BENCH_ALLOC=1 lists the floors' allocations by type, as the runtime samples them, and their collections by reason;
#     each round prints the methods the JIT compiled during it and its compile time: the first rounds still compile)
# Starts its own Azurite (with its access log, a line a request, to count Table, Blob and Queue requests) on free ports
# and the LocalHost(s), and stops them. BENCH_AZURITE_DEBUG=1 adds its debug log (about twenty lines a request, bodies
# included: each request's steps and time, at a cost to the emulator, which shares the cores); BENCH_AZURITE_QUIET=1
# (floors and exports only, which count none) starts it with neither. Logs stay in the folder it prints.
# BENCH_AZURITE_MEMORY=1 keeps Azurite's data in its memory (--inMemoryPersistence) instead of files: what the
# emulator's disk costs (no BENCH_KEEP then).
# ExportJobs__LocalCacheBytes=0 runs the hosts and the floors without local copies of fragment files (every read
# fetched from the emulator, as before they were built); the floors print how many files their copies served.
# ExportJobs__PartRows and ExportJobs__PartBytes set the size of the parts the hosts and the floors write.
# BENCH_GC_TRACE=1 (export) traces the host's collections, allocations and compilations (an EventPipe session on its
# process) and prints, phase by phase, its collections, its heap's generations, where its large-object allocations were
# made and the methods it compiled, by tier and namespace.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
ensure_tools
mode=${1:-export}
shift || true
dotnet build bench/ExportJobs.Benchmarks/ExportJobs.Benchmarks.csproj -c Release --nologo -v quiet
if [ "$mode" = pql ] || [ "$mode" = engines ] || [ "$mode" = linecost ]; then
  exec dotnet bench/ExportJobs.Benchmarks/bin/Release/net10.0/ExportJobs.Benchmarks.dll "$mode" "$@"
fi
dotnet build src/ExportJobs.LocalHost/ExportJobs.LocalHost.csproj -c Release --nologo -v quiet
# The hosts and the floors (run in this process) alike.
export_host_runtime_env

WORK="$(mktemp -d /tmp/exportjobs-bench.XXXXXX)"
echo "Logs in $WORK"
BASE=$(free_port_base 21100)
STORE="$WORK/azurite"
AZURITE_LOG="$WORK/azurite.log"
access_log=1 debug_log=()
if [ -n "${BENCH_AZURITE_DEBUG:-}" ]; then debug_log=(--debug "$WORK/azurite-debug.log"); fi
case "$mode" in
  floors|exports)
    STORE="${BENCH_STORE:?BENCH_STORE must name the Azurite folder a BENCH_KEEP=1 run of export kept}"
    if [ -n "${BENCH_AZURITE_QUIET:-}" ]; then access_log='' debug_log=(); fi ;;
  *)
    if [ -n "${BENCH_AZURITE_QUIET:-}" ]; then echo "BENCH_AZURITE_QUIET is for floors and exports, which count no requests" >&2; exit 2; fi
    if [ -n "${BENCH_AZURITE_MEMORY:-}" ]; then STORE=memory; fi ;;
esac
AZURITE_ACCESS_LOG=$access_log start_azurite "$BASE" "$STORE" "$AZURITE_LOG" "${debug_log[@]}"
CONN="$(connection_string "$BASE")"
HOST_PIDS=()
cleanup() {
  for pid in "${HOST_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${HOST_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  kill "$AZURITE_PID" 2>/dev/null || true; wait "$AZURITE_PID" 2>/dev/null || true
  if [ -n "${BENCH_KEEP:-}" ]; then echo "Store kept: BENCH_STORE=$STORE bash scripts/bench.sh floors"; else rm -rf "$WORK/azurite"; fi
  rm -rf "$WORK/peer" 2>/dev/null || true
}
trap cleanup EXIT
if [ "$mode" = floors ]; then
  # No host: the floors run the shard work in the benchmark's process.
  BENCH_STORAGE="$CONN" BENCH_SHARDS="${BENCH_SHARDS:-16}" BENCH_API=http://127.0.0.1:9 BENCH_HOST_PID=$AZURITE_PID BENCH_AZURITE_PID=$AZURITE_PID \
    BENCH_AZURITE_LOG="$AZURITE_LOG" BENCH_AUTOCANNON=none BENCH_WORK="$WORK" BENCH_PEER=none \
    dotnet bench/ExportJobs.Benchmarks/bin/Release/net10.0/ExportJobs.Benchmarks.dll floors "$@"
  exit 0
fi
SHARDS=${BENCH_SHARDS:-16}
# In the scale-out check each host runs at most 2 shard activities at once (DurableTask:MaxConcurrentActivities, as
# maxConcurrentActivityFunctions caps an instance on Azure), so the shards one host cannot take wait in the task hub's
# work-item queue for the other.
# Otherwise the LocalHost's default, 8 (its shard reads are bounded apart: ExportJobs:MaxShardReadsPerHost, 4).
ACTIVITIES=${BENCH_ACTIVITIES:-8}
[ "$mode" = scaleout ] && ACTIVITIES=2

# start_host PORT LOG: a LocalHost process on the bench's Azurite and task hub; sets HOST_PID.
# BENCH_HEAP_LIMIT (bytes, hex) caps the host's GC heap (DOTNET_GCHeapHardLimit), as a container's memory limit does.
# BENCH_SHARD_GROUP_BYTES sets ExportJobs:ShardGroupBytes (0: an activity per shard, so that N = 100,000 reads as many
# shards at once as N = 1,000,000 and their peak RSS compare).
# BENCH_HOST_ENV adds settings to the hosts' environment, over the ones set here (space-separated NAME=VALUE: a GC setting to try).
# BENCH_HOST_DLL runs another build of the LocalHost (a published folder's ExportJobs.LocalHost.dll: a build option to try).
start_host() {
  local port=$1 log=$2 settings=() own=()
  [ -n "${BENCH_HEAP_LIMIT:-}" ] && settings+=("DOTNET_GCHeapHardLimit=$BENCH_HEAP_LIMIT")
  [ -n "${BENCH_SHARD_GROUP_BYTES:-}" ] && settings+=("ExportJobs__ShardGroupBytes=$BENCH_SHARD_GROUP_BYTES")
  # The small-jobs benchmark's tenants: sandboxes small and small0…small9 of the development organisation.
  # In the scale-out check every shard is an activity of its own (no grouping of small shards), for the hosts to share.
  [ "$mode" = scaleout ] && settings+=("ExportJobs__ShardGroupBytes=0")
  # The export benchmark's warm host ingests into sandbox warm, beside prod.
  { [ "$mode" = export ] || [ "$mode" = exports ]; } && settings+=("ExportJobs__Access__DefaultSandboxes__0=prod" "ExportJobs__Access__DefaultSandboxes__1=warm")
  if [ "$mode" = small ]; then
    settings+=("ExportJobs__Access__DefaultSandboxes__0=small")
    for t in 0 1 2 3 4 5 6 7 8 9; do settings+=("ExportJobs__Access__DefaultSandboxes__$((t + 1))=small$t"); done
  fi
  read -r -a own <<< "${BENCH_HOST_ENV:-}"
  env "${settings[@]}" DurableTask__MaxConcurrentActivities=$ACTIVITIES ExportJobs__StorageConnection="$CONN" AzureWebJobsStorage="$CONN" ExportJobs__ShardCount="$SHARDS" \
    Logging__Console__FormatterOptions__TimestampFormat="HH:mm:ss.fff " DurableTask__HubName=bench LocalHost__ConsoleTelemetry=false Logging__LogLevel__Default=Warning Logging__LogLevel__ExportJobs=Information \
    "${own[@]}" dotnet "${BENCH_HOST_DLL:-src/ExportJobs.LocalHost/bin/Release/net10.0/ExportJobs.LocalHost.dll}" --urls "http://127.0.0.1:$port" >"$log" 2>&1 &
  HOST_PID=$!
  HOST_PIDS+=("$HOST_PID")
  local deadline=$((SECONDS + 120)) started=$EPOCHREALTIME
  until curl -sf -o /dev/null "http://127.0.0.1:$port/data/core/ups/openapi.json"; do
    if [ $SECONDS -gt $deadline ] || ! kill -0 "$HOST_PID" 2>/dev/null; then echo "The LocalHost did not start; its log:" >&2; cat "$log" >&2; exit 1; fi
    sleep 0.1
  done
  # Its start, the ingestion warm-up included (ExportJobs:WarmUpSeconds), to its first answer.
  local warm
  warm=$(grep -h -A1 'IngestionWarmUp' "$log" | tail -1 | sed 's/^ *//' || true)
  echo "LocalHost on port $port answered $(awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $started }") s after it was started${warm:+ ($warm)}"
}

PORT_A=$(free_port_base 22100)
export BENCH_WORK="$WORK" BENCH_PEER="$ROOT/scripts/duckdb-peer.mjs"
if [ "$mode" = ingest ]; then
  # Each phase on a fresh host, so that its peak RSS is its own (a host keeps what its GC took from an earlier phase).
  for phase in plain line-bomb lines-bomb; do
    start_host "$PORT_A" "$WORK/host-$phase.log"
    BENCH_API="http://127.0.0.1:$PORT_A/data/core/ups" BENCH_HOST_PID=$HOST_PID BENCH_AZURITE_PID=$AZURITE_PID \
      BENCH_STORAGE="$CONN" BENCH_AZURITE_LOG="$AZURITE_LOG" BENCH_AUTOCANNON="$ROOT/node_modules/.bin/autocannon" \
      dotnet bench/ExportJobs.Benchmarks/bin/Release/net10.0/ExportJobs.Benchmarks.dll ingest "$phase"
    kill "$HOST_PID"; wait "$HOST_PID" 2>/dev/null || true
    HOST_PIDS=()
  done
  exit 0
fi
start_host "$PORT_A" "$WORK/host-a.log"
export BENCH_API="http://127.0.0.1:$PORT_A/data/core/ups" BENCH_HOST_PID=$HOST_PID BENCH_AZURITE_PID=$AZURITE_PID BENCH_STORAGE="$CONN" BENCH_SHARDS="$SHARDS" \
  BENCH_AZURITE_LOG="$AZURITE_LOG" BENCH_AUTOCANNON="$ROOT/node_modules/.bin/autocannon" BENCH_LOG_A="$WORK/host-a.log"
if [ "$mode" = scaleout ]; then
  PORT_B=$(free_port_base $((PORT_A + 10)))
  start_host "$PORT_B" "$WORK/host-b.log"
  export BENCH_API_B="http://127.0.0.1:$PORT_B/data/core/ups" BENCH_PID_B=$HOST_PID BENCH_LOG_B="$WORK/host-b.log"
fi
dotnet bench/ExportJobs.Benchmarks/bin/Release/net10.0/ExportJobs.Benchmarks.dll "$mode" "$@"
