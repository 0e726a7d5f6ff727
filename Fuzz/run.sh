#!/usr/bin/env bash
# libFuzzer targets for the parts of StreamJournal that read hostile bytes (issue 8):
#
#   journal-file  an arbitrary file opened read-only, verified, repaired (dry run), dumped and
#                 read stream by stream; per input bits, also opened for writing (recovery) and
#                 repaired for real, on copies
#   http-request  the HTTP/1.1 request parser, fed whole, split, and byte by byte
#   sse           the SSE parser, fed whole, split, and byte by byte; SSEEncoder round trips
#
# Usage:
#   Fuzz/run.sh [SECONDS] [TARGET...]   build, then run each target SECONDS (default 60) over
#                                       its corpus; exit non-zero on any crash, timeout or leak
#   Fuzz/run.sh --merge [TARGET...]     minimize Fuzz/corpus/TARGET (-merge=1) together with
#                                       the new inputs earlier runs found; commit the result
#   Fuzz/run.sh --seeds                 regenerate the journal-file seeds with the library
#   Fuzz/run.sh --build [TARGET...]     build only
#
# Targets are built with swiftc directly (SwiftPM cannot link a libFuzzer main): the library
# sources a target needs are compiled into the same module as the target, with Address
# Sanitizer (leak checks on) and libFuzzer's coverage. Everything built or found goes under
# .build/fuzz/: new corpus entries to .build/fuzz/found/TARGET, crashing inputs to
# .build/fuzz/artifacts/TARGET. Copy a crashing input, once fixed, into Fuzz/corpus/TARGET
# as crash-WHAT (merges keep such files by name).
# To reproduce one: .build/fuzz/bin/TARGET path/to/input
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/.build/fuzz
all_targets=(journal-file http-request sse)
# The journal target's scratch files: in memory when possible, removed even after a crash.
scratch=$(mktemp -d /dev/shm/sj-fuzz-run.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export SJ_FUZZ_SCRATCH=$scratch

sources() {
    case $1 in
        journal-file)
            find Sources/Journal -name '*.swift' | sort
            echo Fuzz/JournalFileFuzz.swift
            ;;
        http-request)
            for file in HTTPLimits HTTPParseError HTTPRequest HTTPRequestParser RequestTarget; do
                echo "Sources/JournalServer/HTTP/$file.swift"
            done
            echo Sources/Journal/DecimalNumber.swift
            echo Fuzz/HTTPRequestParserFuzz.swift
            ;;
        sse)
            for file in SSEParser SSEEvent SSEEncoder Base64; do echo "Sources/Journal/SSE/$file.swift"; done
            echo Fuzz/SSEParserFuzz.swift
            ;;
        *)
            echo "unknown target $1 (targets: ${all_targets[*]})" >&2
            exit 2
            ;;
    esac
}

# Largest input: journal files need room for two 128-byte header slots and a few records
# (compact mode), or two full 4 KiB slots (raw mode).
max_len() { case $1 in journal-file) echo 32768 ;; *) echo 8192 ;; esac; }

# -O for the parsers, whose speed is all in the Swift code. The journal target spends its
# time in file I/O and the kernel, and its -O build of the whole library takes minutes on
# 2 cores, so it is built -Onone (measured: similar executions per second).
optimization() { case $1 in journal-file) echo -Onone ;; *) echo -O ;; esac; }

build_cjournal() {
    mkdir -p "$out/include/CJournal" "$out/obj"
    cat >"$out/include/CJournal/module.modulemap" <<EOF
module CJournal {
    header "$root/Sources/CJournal/include/cjournal.h"
    export *
}
EOF
    for c in Sources/CJournal/*.c; do
        clang -c -O1 -g -fsanitize=address -ISources/CJournal/include "$c" -o "$out/obj/$(basename "$c" .c).o"
    done
}

build() {
    local target=$1
    mkdir -p "$out/bin"
    local extra=()
    if [ "$target" = journal-file ]; then
        build_cjournal
        extra=(-I "$out/include" "$out"/obj/*.o)
    fi
    echo "== build $target"
    local started=$SECONDS
    # shellcheck disable=SC2046
    swiftc -sanitize=fuzzer,address -parse-as-library "$(optimization "$target")" -g -swift-version 6 -package-name StreamJournal -module-name "Fuzz_${target//-/_}" \
        $(sources "$target") "${extra[@]}" -o "$out/bin/$target" 2>&1 | { grep -v "Cannot export local symbol" || true; }
    echo "   built in $((SECONDS - started)) s"
}

run() {
    local target=$1 seconds=$2
    local found=$out/found/$target artifacts=$out/artifacts/$target log=$out/logs/$target.log
    mkdir -p "$found" "$artifacts" "$out/logs" "Fuzz/corpus/$target"
    echo "== fuzz $target for $seconds s"
    local status=0
    # New inputs go to the first directory (scratch); the committed corpus is only read.
    SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
        "$out/bin/$target" "$found" "Fuzz/corpus/$target" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -detect_leaks=1 \
        -max_len="$(max_len "$target")" -artifact_prefix="$artifacts/" -print_final_stats=1 \
        >"$log" 2>&1 || status=$?
    local execs cov
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -1)
    echo "   executions ${execs:-?}, exec/s $(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1), ${cov:-no coverage line}"
    if [ "$status" -ne 0 ]; then
        echo "   FAILED (exit $status); log: $log" >&2
        grep -E 'ERROR: |SUMMARY: |Fatal error|Test unit written to' "$log" | head -20 >&2 || true
        return 1
    fi
}

merge() {
    local target=$1 fresh=$out/merge/$1
    rm -rf "$fresh"
    mkdir -p "$fresh" "$out/found/$target"
    # A set cover on edges alone (no hit counters) keeps the committed corpus to a few dozen
    # small files per target; plain -merge=1 keeps hundreds.
    "$out/bin/$target" -merge=1 -set_cover_merge=1 -use_counters=0 -max_len="$(max_len "$target")" \
        "$fresh" "Fuzz/corpus/$target" "$out/found/$target" \
        >"$out/logs/$target.merge.log" 2>&1
    # Inputs that once crashed (crash-*, found by fuzzing; regress-*, found by review) stay
    # by name whether or not they still add coverage.
    find "Fuzz/corpus/$target" -type f \( -name 'crash-*' -o -name 'regress-*' \) -exec cp {} "$fresh/" \;
    rm -f "Fuzz/corpus/$target"/*
    cp "$fresh"/* "Fuzz/corpus/$target/"
    echo "== $target corpus: $(find "Fuzz/corpus/$target" -type f | wc -l) files, $(du -sh "Fuzz/corpus/$target" | cut -f1)"
}

seeds() {
    build_cjournal
    mkdir -p "$out/bin" "Fuzz/corpus/journal-file"
    # shellcheck disable=SC2046
    swiftc -parse-as-library -Onone -swift-version 6 -package-name StreamJournal -module-name JournalSeeds -I "$out/include" \
        $(find Sources/Journal -name '*.swift' | sort) Fuzz/Seeds/JournalSeeds.swift "$out"/obj/*.o \
        -sanitize=address -use-ld=lld -o "$out/bin/journal-seeds"
    "$out/bin/journal-seeds" "Fuzz/corpus/journal-file"
}

case ${1:-} in
    --merge)
        shift
        for target in "${@:-${all_targets[@]}}"; do
            [ -x "$out/bin/$target" ] || build "$target"
            merge "$target"
        done
        ;;
    --seeds)
        seeds
        ;;
    --build)
        shift
        for target in "${@:-${all_targets[@]}}"; do build "$target"; done
        ;;
    *)
        seconds=${1:-60}
        shift || true
        targets=("${@:-${all_targets[@]}}")
        started=$SECONDS
        for target in "${targets[@]}"; do build "$target"; done
        failed=0
        for target in "${targets[@]}"; do run "$target" "$seconds" || failed=1; done
        echo "== done in $((SECONDS - started)) s"
        exit $failed
        ;;
esac
