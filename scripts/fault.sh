#!/usr/bin/env bash
# Fault script: N cycles of "start an export, inject a fault at a random point", each checked against an undisturbed
# run of the same export.
#   kill9:   kill -9 the LocalHost and start it again. Prints "K of N resumed with identical output".
#   azurite: stop Azurite for a few seconds and start it again. Every job must end SUCCEEDED (identical) or FAILED with
#            errors[], never stay PROCESSING. Prints "K of N ended (S succeeded identical, F failed with errors)".
# Usage: bash scripts/fault.sh [kill9|azurite] [N=10] [PROFILES=60000]
# The host runs with the shipped Durable Task settings (a dead host's messages and partition leases come back after
# 30 s), so each kill9 cycle also prints how long after the restart the job ended; the target is 60 s.
# Not part of scripts/test.sh: a cycle takes up to a minute.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
ensure_tools
MODE=${1:-kill9}
N=${2:-10}
PROFILES=${3:-60000}
case "$MODE" in kill9|azurite) ;; *) echo "mode is kill9 or azurite" >&2; exit 2;; esac

WORK="$(mktemp -d)"
BASE=$(free_port_base 20400)
start_azurite "$BASE" "$WORK/azurite" "$WORK/azurite.log"
PORT=$(free_port_base 20500)
HOST_PID=""
cleanup() {
  [ -n "$HOST_PID" ] && { kill -9 "$HOST_PID" 2>/dev/null || true; }
  kill "$AZURITE_PID" 2>/dev/null || true; wait "$AZURITE_PID" 2>/dev/null || true; rm -rf "$WORK" 2>/dev/null || true
}
trap cleanup EXIT

dotnet build src/ExportJobs.LocalHost/ExportJobs.LocalHost.csproj -c Release --nologo -v quiet
export_host_runtime_env
STORAGE="$(connection_string "$BASE")"
start_host() {
  AzureWebJobsStorage="$STORAGE" ExportJobs__StorageConnection="$STORAGE" ExportJobs__NamePrefix=fault \
  ExportJobs__ShardCount=32 ExportJobs__MaxParallelShards=2 ExportJobs__ShardAttempts=5 \
  DurableTask__HubName=faulthub \
  ExportJobs__Watchdog__StalledAfterSeconds=60 ExportJobs__Watchdog__StuckNewAfterSeconds=30 \
  LocalHost__DevKeyPath="$WORK/dev.pem" \
  dotnet src/ExportJobs.LocalHost/bin/Release/net10.0/ExportJobs.LocalHost.dll --urls "http://127.0.0.1:$PORT" >>"$WORK/host.log" 2>&1 &
  HOST_PID=$!
  local deadline=$((SECONDS + 60))
  until curl -s -o /dev/null "http://127.0.0.1:$PORT/dev/token?org=x" -X POST; do
    [ $SECONDS -gt $deadline ] && { echo "the LocalHost did not start" >&2; tail -50 "$WORK/host.log" >&2; exit 1; }
    sleep 0.2
  done
}
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

start_host
B="http://127.0.0.1:$PORT/data/core/ups"
ORG=FAULTORG@AdobeOrg
TOKEN=$(curl -s -X POST "http://127.0.0.1:$PORT/dev/token?org=$ORG&minutes=600" | json 'd["access_token"]')
H=(-H "Authorization: Bearer $TOKEN" -H 'x-api-key: local-client' -H "x-gw-ims-org-id: $ORG" -H 'x-sandbox-name: prod')
PROFILE_DS=$(curl -s "${H[@]}" -H 'Content-Type: application/json' -X POST $B/datasets -d '{"name":"p","schema":{"name":"_xdm.context.profile"},"profileEnabled":true}' | json 'd["id"]')
OUT=$(curl -s "${H[@]}" -H 'Content-Type: application/json' -X POST $B/datasets -d '{"name":"o","schema":{"name":"_xdm.context.profile"}}' | json 'd["id"]')
python3 -c "
import json
for i in range($PROFILES):
    print(json.dumps({'identityMap': {'ecid': [{'id': str(i)}]}, 'personalEmail': {'address': 'p%d@example.com' % i},
                      'loyalty': {'points': i}, 'segmentMembership': {'ups': {'s1': {'status': 'realized' if i % 3 else 'exited'}}}}))" \
  | curl -s "${H[@]}" -H 'Content-Type: application/x-ndjson' -X POST $B/datasets/$PROFILE_DS/batches --data-binary @- | json '"ingested", d["recordsAccepted"], "profiles"'

PAYLOAD='{"fields":"personalEmail.address,loyalty.points","filter":{"segments":[{"segmentId":"s1"}]},"destination":{"datasetId":"'$OUT'"},"schema":{"name":"_xdm.context.profile"}}'
create_job() { curl -s "${H[@]}" -H 'Content-Type: application/json' -X POST $B/export/jobs -d "$PAYLOAD" | json 'd["id"]'; }
wait_job() {  # prints the final status
  local deadline=$((SECONDS + 240)) status=""
  while [ $SECONDS -lt $deadline ]; do
    status=$(curl -s "${H[@]}" $B/export/jobs/$1 | json 'd.get("status","")' 2>/dev/null || true)
    case "$status" in SUCCEEDED|FAILED|CANCELLED) echo "$status"; return;; esac
    sleep 1
  done
  echo "STUCK:$status"
}
digest() {  # a digest of the batch's rows, whatever their split into files
  local dir="$WORK/out-$1" batch
  batch=$(curl -s "${H[@]}" $B/export/jobs/$1 | json 'd["destination"]["batchId"]')
  mkdir -p "$dir"
  for f in $(curl -s "${H[@]}" $B/datasets/$OUT/batches/$batch/files | json '" ".join(f["name"] for f in d["files"] if f["name"].endswith(".parquet"))'); do
    curl -s "${H[@]}" -o "$dir/$f" $B/datasets/$OUT/batches/$batch/files/$f
  done
  node scripts/duckdb.mjs "select count(*) as n, md5(string_agg(personalEmail.address || ':' || loyalty.points, ',' order by personalEmail.address)) as digest from read_parquet('$dir/*.parquet')"
}

REFERENCE_JOB=$(create_job)
echo "reference job $REFERENCE_JOB: $(wait_job "$REFERENCE_JOB")"
REFERENCE=$(digest "$REFERENCE_JOB")
echo "reference output: $REFERENCE"

resumed=0; succeeded=0; failed=0
for cycle in $(seq 1 "$N"); do
  job=$(create_job)
  delay=$(python3 -c "import random; print(round(random.uniform(0.3, 3.0), 2))")
  sleep "$delay"
  at_kill=$(curl -s "${H[@]}" $B/export/jobs/$job | json 'd["status"] + " " + str(d.get("metrics", {}).get("progress", {}).get("shardsDone", 0)) + " shards done"')
  if [ "$MODE" = kill9 ]; then
    kill -9 "$HOST_PID"; wait "$HOST_PID" 2>/dev/null || true
    start_host
    restarted=$(date +%s.%N)
  else
    # A graceful stop, as an outage: kill -9 would lose writes Azurite has acknowledged (its store saves on exit),
    # which no real storage account does.
    kill -TERM "$AZURITE_PID"; wait "$AZURITE_PID" 2>/dev/null || true
    sleep 5
    start_azurite "$BASE" "$WORK/azurite" "$WORK/azurite.log"
  fi
  status=$(wait_job "$job")
  after=$(python3 -c "print(round($(date +%s.%N) - ${restarted:-0}, 1))")
  result="$status"
  if [ "$status" = SUCCEEDED ]; then
    output=$(digest "$job")
    if [ "$output" = "$REFERENCE" ]; then
      succeeded=$((succeeded + 1)); result="SUCCEEDED, identical"
      if [ "$MODE" = kill9 ]; then
        result="$result, ended ${after}s after the restart"
        python3 -c "import sys; sys.exit(0 if $after <= 60 else 1)" && resumed=$((resumed + 1)) || result="$result (over 60 s)"
      else resumed=$((resumed + 1)); fi
    else result="SUCCEEDED, DIFFERENT: $output"; fi
  elif [ "$status" = FAILED ]; then
    errors=$(curl -s "${H[@]}" $B/export/jobs/$job | json '"; ".join(e["code"] + ": " + e["msg"][:120] for e in d.get("errors", []))')
    [ -n "$errors" ] && failed=$((failed + 1))
    result="FAILED: $errors"
  fi
  echo "cycle $cycle: $MODE after ${delay}s ($at_kill), job $job: $result"
done
if [ "$MODE" = kill9 ]; then
  echo "$resumed of $N resumed with identical output within 60 s of the restart"
  [ "$resumed" -eq "$N" ]
else
  echo "$((succeeded + failed)) of $N ended ($succeeded succeeded identical, $failed failed with errors)"
  [ $((succeeded + failed)) -eq "$N" ]
fi
