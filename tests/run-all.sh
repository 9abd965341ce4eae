#!/usr/bin/env bash
# All tests, the README's test command: the .NET test projects (unit, contract over real HTTP with the official SDKs), then
# the package consumer (tests/package-consumer.sh: the packed packages in a NuGet user's app), then the end-to-end suite
# (tests/e2e: the real npm clients against Qlaud.Server). Installs what it needs (the .NET SDK, Node.js, Chromium,
# PostgreSQL and bubblewrap from Debian packages when missing, the npm clients with npm ci) and prints "N passed, M failed" over all of them;
# exits non-zero on any failure. .ci/run runs it.
set -uo pipefail
cd "$(dirname "$0")/.."

if ! command -v dotnet >/dev/null 2>&1; then
  echo "dotnet is not on PATH; installing the .NET SDK from Debian packages" >&2
  (apt-get update && apt-get install -y dotnet-sdk-10.0) >&2 || { echo "0 passed, 1 failed"; exit 1; }
fi

# Debian tools some tests drive: headless Chromium (the connect page in a browser), PostgreSQL 15's server binaries (the
# storage tests on PostgreSQL start a throwaway server) and bubblewrap (the code_execution builtin's local sandbox). Installed
# when missing; the tests say what is missing otherwise.
missing=()
[ -x /usr/bin/chromium ] || [ -x /usr/bin/chromium-browser ] || missing+=(chromium)
command -v initdb >/dev/null 2>&1 || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
command -v python3 >/dev/null 2>&1 || missing+=(python3) # the local (stdio) MCP server of the connector tests
[ -x /usr/bin/bwrap ] || missing+=(bubblewrap)
if [ "${#missing[@]}" -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} from Debian packages" >&2
  (apt-get update && apt-get install -y "${missing[@]}") >&2 || echo "could not install ${missing[*]}; the tests that need them will fail" >&2
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# The .NET test projects (restore and build included). Each test project ends with one summary line,
# "Passed!  - Failed: F, Passed: P, Skipped: S, Total: T, ..." (or "Failed!  - ..."): the totals come from those.
dotnet test Qlaud.sln -c Release --blame-hang-timeout 10m 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

passed=0
failed=0
summaries=0
while read -r f p; do
  failed=$((failed + f))
  passed=$((passed + p))
  summaries=$((summaries + 1))
done < <(sed -n 's/^\(Passed\|Failed\)! *- Failed: *\([0-9]*\), Passed: *\([0-9]*\),.*/\2 \3/p' "$log")

# Every test project in the solution must have reported, so a project that failed to build or run cannot go unnoticed.
expected=$(dotnet sln Qlaud.sln list | grep -c '\.Tests\.csproj$')
if [ "$summaries" -ne "$expected" ]; then
  echo "expected results from $expected test projects, found $summaries" >&2
  [ "$failed" -gt 0 ] || failed=1
  status=1
fi

# The package consumer, one test: packs the four packages into a temporary folder and builds and runs tests/PackageConsumer
# against them (package references, not project references), so a broken package fails the run.
timeout 10m bash tests/package-consumer.sh 2>&1 | tee "$log"
if [ "${PIPESTATUS[0]}" -eq 0 ] && tail -1 "$log" | grep -q '^package consumer: passed'; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
  status=1
fi

# The end-to-end suite: the real npm clients (Claude Code, the Anthropic and OpenAI SDKs, the Vercel AI SDK, LangChain)
# against Qlaud.Server in front of the fake provider. tests/e2e/run.sh builds what it needs, installs the clients with
# npm ci from the committed lock file and runs node's test runner, whose TAP output ends with "# pass N" and "# fail M".
e2e_log=$(mktemp)
trap 'rm -f "$log" "$e2e_log"' EXIT
timeout 30m bash tests/e2e/run.sh 2>&1 | tee "$e2e_log"
e2e_status=${PIPESTATUS[0]}
e2e_passed=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$e2e_log" | tail -1)
e2e_failed=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$e2e_log" | tail -1)
if [ -z "$e2e_passed" ] || [ -z "$e2e_failed" ]; then
  echo "the end-to-end suite printed no '# pass N' / '# fail M' lines (exit $e2e_status)" >&2
  e2e_passed=${e2e_passed:-0}
  e2e_failed=${e2e_failed:-0}
  [ "$e2e_failed" -gt 0 ] || e2e_failed=1
fi
if [ "$e2e_status" -ne 0 ] && [ "$e2e_failed" -eq 0 ]; then
  echo "the end-to-end suite exited $e2e_status with no failed test" >&2
  e2e_failed=1
fi
passed=$((passed + e2e_passed))
failed=$((failed + e2e_failed))
[ "$e2e_status" -eq 0 ] || status=1

echo "$passed passed, $failed failed"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ]; then
  exit 1
fi
exit 0
