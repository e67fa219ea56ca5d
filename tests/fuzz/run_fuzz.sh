#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time: run_fuzz.sh TARGET SEEDS_DIR WORK_DIR SECONDS [libFuzzer flags].
# New inputs go to WORK_DIR (the committed seeds stay untouched); a crash leaves its input in WORK_DIR/crash-* and
# fails the run.
set -euo pipefail
target=$1 seeds=$2 work=$3 seconds=$4
shift 4
mkdir -p "$work/corpus"
# -timeout: an input may make every instruction of its 100,000 a store into the next one (self-modifying code: each
# retranslates a block, on both backends), several seconds under ASan on a loaded machine: a hang is far longer.
exec "$target" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=60 -print_final_stats=1 \
    -artifact_prefix="$work/" "$@" "$work/corpus" "$seeds"
