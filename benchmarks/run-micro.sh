#!/usr/bin/env bash
# Runs the BenchmarkDotNet suite with BenchmarkDotNet's short job and copies the GitHub-markdown result tables to
# benchmarks/results/micro-<Class>.md. Usage: benchmarks/run-micro.sh [filter] [more BenchmarkDotNet arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
filter="${1:-*}"
shift || true
artifacts="$(mktemp -d)"
trap 'rm -rf "$artifacts"' EXIT

dotnet run -c Release --project benchmarks/Qlaud.Benchmarks -- --filter "$filter" --job short --artifacts "$artifacts" "$@"

for report in "$artifacts"/results/*-report-github.md; do
  [ -e "$report" ] || continue
  name="$(basename "$report" -report-github.md)"
  cp "$report" "benchmarks/results/micro-${name#Qlaud.Benchmarks.}.md"
  echo "wrote benchmarks/results/micro-${name#Qlaud.Benchmarks.}.md"
done
