#!/usr/bin/env bash
# Microbenchmarks of portwall's pure code (Google Benchmark): parse, conntrack lookup/insert
# and bytes per flow at 10^3/10^5/10^6 flows, classification at 10/10^3/10^5 rules and with a
# 10^6-entry address set. Figures only: nothing here passes or fails.
#   tools/bench/micro.sh [--benchmark_* options]
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/deps.sh
tools/build.sh >/dev/null
exec build/micro_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true "$@"
