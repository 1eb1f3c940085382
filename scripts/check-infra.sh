#!/usr/bin/env bash
# Compiles infra/main.bicep and infra/main.bicepparam with the Bicep CLI (from NuGet, version pinned in
# infra/tools/BicepCli.csproj) and fails on any error or linter warning; then checks that every setting of
# local.settings.sample.json has its app setting in main.bicep. Called by scripts/test.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

dotnet restore infra/tools/BicepCli.csproj --nologo -v quiet >/dev/null
version=$(sed -n 's/.*Azure.Bicep.CommandLine.linux-x64" Version="\[\([0-9.]*\)\]".*/\1/p' infra/tools/BicepCli.csproj)
packages=$(dotnet nuget locals global-packages -l | sed 's/^global-packages: //')
bicep="$packages/azure.bicep.commandline.linux-x64/$version/tools/bicep"
chmod +x "$bicep"

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
report="$out/report.txt"
status=0
{ "$bicep" lint infra/main.bicep && "$bicep" build infra/main.bicep --outdir "$out" && "$bicep" build-params infra/main.bicepparam --outfile "$out/main.parameters.json"; } >"$report" 2>&1 || status=$?
if [ "$status" -ne 0 ] || grep -qE 'Warning|Error' "$report"; then
  echo "infra/main.bicep does not compile cleanly (Bicep $version):" >&2
  cat "$report" >&2
  exit 1
fi

python3 - <<'PY'
import json, re, sys
values = json.load(open("local.settings.sample.json"))["Values"]
bicep = open("infra/main.bicep").read()
missing = []
for key in values:
    # Indexed and per-organisation settings are generated from array and object parameters.
    stem = re.sub(r"(__[^_]+@[^_]+)?__\d+$", "__", key)
    if stem not in bicep:
        missing.append(key)
if missing:
    sys.exit("main.bicep has no app setting for: " + ", ".join(missing))
print(f"infra: main.bicep and main.bicepparam compile with no warning; all {len(values)} settings of local.settings.sample.json are set")
PY
