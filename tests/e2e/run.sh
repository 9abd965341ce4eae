#!/usr/bin/env bash
# The end-to-end suite in one command: builds the gateway and the fake provider, installs the npm clients from
# package-lock.json (npm ci) when they are missing or stale, and runs the tests with node's test runner, which ends
# with "# pass N" and "# fail M". Extra arguments go to node --test (e.g. --test-name-pattern=claude).
#
# Everything listens on 127.0.0.1. As root, where network namespaces are available, the tests run in a namespace
# of their own with only a loopback interface, so no client can reach anything but the gateway and the fake.
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
configuration=${QLAUD_E2E_CONFIGURATION:-Release}
export QLAUD_E2E_CONFIGURATION=$configuration

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "node or npm is not on PATH; installing them from Debian packages" >&2
  apt-get update >&2 && apt-get install -y nodejs npm >&2
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
if [ "${QLAUD_E2E_SKIP_BUILD:-}" != 1 ]; then
  dotnet build "$root/samples/Qlaud.Server" -c "$configuration" --nologo -v quiet
  dotnet build "$root/tests/Shared/Qlaud.FakeProvider" -c "$configuration" --nologo -v quiet
fi

# npm ci only when node_modules is not what the lock file says (npm writes its own copy of the lock there).
if ! node -e '
  const a = require("./package-lock.json").packages, b = require("./node_modules/.package-lock.json").packages;
  for (const [k, v] of Object.entries(b)) if (!a[k] || a[k].version !== v.version) process.exit(1);
  for (const [k, v] of Object.entries(a)) if (k && !v.optional && !b[k]) process.exit(1);' 2>/dev/null; then
  npm ci --no-audit --no-fund
fi

# The Claude Code package puts its native binary in place with a postinstall script; run it if npm did not.
if ! node_modules/.bin/claude --version >/dev/null 2>&1; then
  (cd node_modules/@anthropic-ai/claude-code && node install.cjs)
fi

run=(node --test --test-concurrency=1 --test-timeout=300000 --test-reporter=tap "$@" test/)
if [ "$(id -u)" = 0 ] && [ "${QLAUD_E2E_NETNS:-1}" = 1 ] && command -v unshare >/dev/null 2>&1 && command -v ip >/dev/null 2>&1 \
  && unshare --net true 2>/dev/null; then
  exec unshare --net -- bash -c 'ip link set lo up && exec "$@"' bash "${run[@]}"
fi
exec "${run[@]}"
