#!/bin/sh
# Part of `make check`: a short run of every libFuzzer target (FUZZ_SECONDS, default 30 each).
# Skips (77) without clang; `make fuzz` runs longer sessions.
FUZZ_SECONDS=${FUZZ_SECONDS:-30} exec "${SHELL:-/bin/sh}" "$(dirname "$0")/run_fuzz.sh"
