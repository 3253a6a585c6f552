#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-19, ASan + UBSan) into ./build-fuzz, replays the kept
# crash inputs of tests/fuzz/regressions/<target>/, then runs each target for N seconds (niced)
# over a working copy of its seed corpus, tests/fuzz/corpus/<target>/, kept in
# build-fuzz/corpus/<target>/ so that the repository's seeds stay small and curated.
#
#   tools/fuzz.sh [--seconds N] [target...]     (default: 60 s each, every target)
#
# Prints one summary line per target (seconds, executions, coverage, corpus size, crashes) and
# appends it to build-fuzz/fuzz-runs.tsv. New crash inputs land in build-fuzz/artifacts/<target>/.
# Exits non-zero if a regression input or the run crashes, leaks, times out or runs out of memory.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --seconds=*) seconds="${1#*=}"; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
all=(fuzz_packet_policy fuzz_config fuzz_cli_grammar fuzz_control fuzz_decision_feed)
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

# The largest input worth trying: several packets; a rules file; a command line; a few requests;
# a few answers of a CrowdSec LAPI.
max_len_of() {
  case "$1" in
    fuzz_packet_policy) echo 8192 ;;
    fuzz_config) echo 16384 ;;
    fuzz_cli_grammar) echo 1024 ;;
    fuzz_control) echo 16384 ;;
    fuzz_decision_feed) echo 65536 ;;
    *) echo "fuzz.sh: unknown target $1" >&2; exit 2 ;;
  esac
}
for t in "${targets[@]}"; do max_len_of "$t" >/dev/null; done

command -v clang++-19 >/dev/null || { echo "fuzz.sh: clang++-19 missing (tools/deps.sh)" >&2; exit 2; }
out=build-fuzz
# -O1 and asserts on: the sanitizers see more with less inlining, and an assert is an invariant.
# Line tables only: what a crash report needs, at less compile time than full debug info.
cmake -S . -B "$out" -G Ninja -DPORTWALL_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++-19 \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" >/dev/null
nice -n 10 cmake --build "$out" --target "${targets[@]}" -j "$(nproc)"

[ -x /usr/bin/llvm-symbolizer ] && export ASAN_SYMBOLIZER_PATH="${ASAN_SYMBOLIZER_PATH:-/usr/bin/llvm-symbolizer}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
failed=0
summary=()
for t in "${targets[@]}"; do
  bin="$out/$t"
  max_len=$(max_len_of "$t")
  common=(-max_len="$max_len" -rss_limit_mb=2048 -timeout=10)

  # Every crash found and fixed so far must stay fixed.
  regressions=(tests/fuzz/regressions/"$t"/*)
  if [ -e "${regressions[0]}" ]; then
    # Whole: libFuzzer cuts a file input to -max_len (the deep-nesting request is 1 MB).
    if ! nice -n 10 "$bin" "${common[@]}" -max_len=2097152 "${regressions[@]}" \
      >"$out/$t.regressions.log" 2>&1; then
      echo "fuzz: $t: a regression input fails again; see $out/$t.regressions.log" >&2
      tail -n 30 "$out/$t.regressions.log" >&2
      failed=1
    fi
  fi

  corpus="$out/corpus/$t"
  artifacts="$out/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  cp -n tests/fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
  dict=()
  [ -f "tests/fuzz/dict/$t.dict" ] && dict=(-dict="tests/fuzz/dict/$t.dict")
  before=$(find "$artifacts" -type f | wc -l)
  log="$out/$t.log"
  status=0
  nice -n 10 "$bin" "${common[@]}" "${dict[@]}" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1 || status=$?
  after=$(find "$artifacts" -type f | wc -l)
  crashes=$((after - before))
  if [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ]; then crashes=1; fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1 || true)
  files=$(find "$corpus" -type f | wc -l)
  line="$t ${seconds}s execs=${execs:-0} cov=$(echo "$cov" | awk '{print $2}') ft=$(echo "$cov" | awk '{print $4}') corpus=$files crashes=$crashes"
  summary+=("$line")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "$seconds" "${execs:-0}" \
    "$(echo "$cov" | awk '{print $2}')" "$(echo "$cov" | awk '{print $4}')" "$files" "$crashes" \
    >>"$out/fuzz-runs.tsv"
  if [ "$crashes" -ne 0 ]; then
    echo "fuzz: $t found a problem; inputs in $artifacts/, log $log:" >&2
    grep -E 'ERROR|invariant|SUMMARY|Test unit written|==[0-9]+==' "$log" | head -n 20 >&2 || true
    failed=1
  fi
done

for line in "${summary[@]}"; do echo "fuzz: $line"; done
exit "$failed"
