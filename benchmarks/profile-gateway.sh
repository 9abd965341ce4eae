#!/bin/bash
# CPU profile of Qlaud.Server (metering on, many end-user keys) under the load benchmark's baselines run.
#   dotnet tool restore
#   [PROFILE=c1] benchmarks/profile-gateway.sh [out-dir] [extra LoadBench arguments]
# Starts `Qlaud.LoadBench --baselines --profile $PROFILE (default c64) --mix nonstream --repeat 1`, waits for the pre-warm to end, then
# samples the metering-on gateway's managed stacks with `dotnet-trace collect --profile dotnet-sampled-thread-time` for
# the measured run and converts the trace to speedscope. `benchmarks/profile-top.py` turns that into a top-N of the
# samples of running threads (stacks that end in a wait are left out), so the profile covers only the busy turns.
set -eu
cd "$(dirname "$0")/.."
OUT=${1:-$(mktemp -d)}; shift || true
mkdir -p "$OUT"
DURATION=${DURATION:-20}
PROFILE=${PROFILE:-c64}
dotnet run -c Release --project benchmarks/Qlaud.LoadBench -- --baselines --profile "$PROFILE" --mix nonstream \
  --repeat 1 --duration "$DURATION" --results "$OUT" "$@" 2>&1 | tee "$OUT/loadbench.log" &
BENCH=$!
for _ in $(seq 600); do grep -q "pre-warming" "$OUT/loadbench.log" 2>/dev/null && break; sleep 1; done
GW=
for pid in $(pgrep -f 'Qlaud.Server.dll'); do
  tr '\0' '\n' </proc/$pid/environ | grep -q '^Qlaud__Metering__Enabled=false$' || GW=$pid
done
[ -n "$GW" ] || { echo "no metering-on Qlaud.Server found" >&2; wait $BENCH; exit 1; }
sleep 10   # the pre-warm (8 s by default)
# Five targets take turns until each had DURATION seconds; the trace must end (and its rundown, which names the methods,
# be written) before the load benchmark stops the gateway.
SECS=$(( 5 * DURATION - 15 ))
dotnet dotnet-trace collect -p "$GW" --profile dotnet-sampled-thread-time --providers 'Microsoft-Windows-DotNETRuntime:0x18:5' --duration "00:00:$(printf %02d $((SECS / 60))):$(printf %02d $((SECS % 60)))" \
  -o "$OUT/gateway.nettrace" >"$OUT/trace.log" 2>&1 || true
wait $BENCH || true
dotnet dotnet-trace convert --format Speedscope "$OUT/gateway.nettrace" -o "$OUT/gateway" >/dev/null
python3 benchmarks/profile-top.py "$OUT/gateway.speedscope.json" > "$OUT/top.md"
echo "profile: $OUT/top.md"
