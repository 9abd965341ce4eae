#!/usr/bin/env bash
# Packs Qlaud.Core, Qlaud.AspNetCore, Qlaud.Connectors and Qlaud.Embeddings.Local into a temporary folder, checks what each
# package holds (its README, a symbols package, dependencies on the other Qlaud packages, no runtimeconfig.json under lib/),
# then restores, builds and runs tests/PackageConsumer against that folder (package references, not project references)
# with a NuGet packages folder of its own, so no Qlaud package cached earlier under the same version can stand in.
# The last line is "package consumer: passed" or "package consumer: failed: <reason>"; the exit status says the same.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=$SECONDS

log="$work/log"
fail() {
  [ -s "$log" ] && grep -v 'warning NU1603' "$log" | tail -40 >&2
  echo "package consumer: failed: $*"
  exit 1
}

if ! command -v unzip >/dev/null 2>&1; then
  echo "unzip is not on PATH; installing it from Debian packages" >&2
  (apt-get update && apt-get install -y unzip) >&2 || fail "unzip is missing and could not be installed"
fi

packages="$work/consumer/packages"
mkdir -p "$packages"
projects=(Qlaud.Core Qlaud.Connectors Qlaud.AspNetCore Qlaud.Embeddings.Local)
# One dotnet pack over a solution filter of the four projects: one restore and one build graph instead of four.
slnf="$work/packages.slnf"
{
  printf '{"solution":{"path":"%s","projects":[' "$root/Qlaud.sln"
  sep=
  for p in "${projects[@]}"; do printf '%s"src/%s/%s.csproj"' "$sep" "$p" "$p"; sep=,; done
  printf ']}}\n'
} >"$slnf"
dotnet pack "$slnf" -c Release -p:PackageOutputPath="$packages" --nologo -v quiet >"$log" 2>&1 || fail "dotnet pack"

pack_s=$((SECONDS - start))
core=$(cd "$packages" && ls Qlaud.Core.*.nupkg)
version=${core#Qlaud.Core.}
version=${version%.nupkg}
[ -n "$version" ] || fail "no Qlaud.Core package in the pack output"

for p in "${projects[@]}"; do
  nupkg="$packages/$p.$version.nupkg"
  [ -f "$nupkg" ] || fail "$p $version was not packed"
  [ -f "$packages/$p.$version.snupkg" ] || fail "$p has no symbols package"
  listing=$(unzip -Z1 "$nupkg") || fail "$nupkg is not a zip"
  grep -qx 'README.md' <<<"$listing" || fail "$p has no README.md"
  grep -qx "lib/net10.0/$p.dll" <<<"$listing" || fail "$p has no lib/net10.0/$p.dll"
  ! grep -q '^lib/.*runtimeconfig\.json$' <<<"$listing" || fail "$p has a runtimeconfig.json under lib/"
  nuspec=$(unzip -p "$nupkg" "$p.nuspec")
  grep -q '<readme>README.md</readme>' <<<"$nuspec" || fail "$p's nuspec names no readme"
  grep -q '<tags>' <<<"$nuspec" || fail "$p's nuspec has no tags"
done
for dep in "Qlaud.AspNetCore:Qlaud.Core" "Qlaud.AspNetCore:Qlaud.Connectors" "Qlaud.Connectors:Qlaud.Core" "Qlaud.Embeddings.Local:Qlaud.Core"; do
  p=${dep%%:*}
  d=${dep#*:}
  unzip -p "$packages/$p.$version.nupkg" "$p.nuspec" | grep -q "<dependency id=\"$d\" version=\"$version\"" \
    || fail "$p does not depend on $d $version"
done

cp tests/PackageConsumer/Program.cs tests/PackageConsumer/PackageConsumer.csproj tests/PackageConsumer/nuget.config \
  tests/PackageConsumer/Directory.Build.props tests/PackageConsumer/Directory.Build.targets "$work/consumer/"
export NUGET_PACKAGES="$work/nuget-packages"
cd "$work/consumer"
dotnet build -c Release -p:QlaudVersion="$version" --nologo -v quiet >"$log" 2>&1 || fail "the consumer app does not restore or build against the packages"

build_s=$((SECONDS - start - pack_s))
# The Qlaud packages the app was built with are the ones packed above, extracted into this run's packages folder.
for p in "${projects[@]}"; do
  id=$(tr '[:upper:]' '[:lower:]' <<<"$p")
  extracted="$NUGET_PACKAGES/$id/$version/$id.$version.nupkg"
  [ -f "$extracted" ] || fail "$p $version was not restored into this run's packages folder"
  cmp -s "$extracted" "$packages/$p.$version.nupkg" || fail "the restored $p is not the one packed"
done

timeout 120 dotnet bin/Release/net10.0/PackageConsumer.dll
status=$?
[ "$status" -eq 0 ] || { : >"$log"; fail "the consumer app exited $status"; }
cd "$root"
echo "package consumer: passed ($version; $((SECONDS - start)) s: pack $pack_s s, consumer restore and build $build_s s, run $((SECONDS - start - pack_s - build_s)) s)"
