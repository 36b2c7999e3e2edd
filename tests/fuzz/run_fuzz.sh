#!/usr/bin/env bash
# `make fuzz`: builds each libFuzzer target with clang (-fsanitize=fuzzer,address,undefined) against the
# core sources, makes seed corpora, and runs each target for FUZZ_SECONDS (default 60). Crashes land in
# $work/crashes-<target>/ and make the run fail; turn each into a regression test.
set -uo pipefail
top_srcdir=${VOX_TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
work=${VOX_FUZZ_DIR:-$top_srcdir/tests/tmp/fuzz}
seconds=${FUZZ_SECONDS:-60}
CC=${FUZZ_CC:-clang}
command -v "$CC" >/dev/null || { echo "SKIP: $CC not installed (Debian clang libclang-rt-14-dev)"; exit 77; }
mkdir -p "$work"
# -D_GNU_SOURCE as configure.ac gives the library (qsort_r): without it clang took qsort_r as an
# implicitly declared int function
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -std=gnu11 -D_GNU_SOURCE -I$top_srcdir/core/include"
libs="$(pkg-config --cflags --libs fftw3 sndfile samplerate libarchive yaml-0.1 openblas) -lm -lpthread -ldl"
core=$(ls "$top_srcdir"/core/src/*.c)
/usr/bin/python3 "$top_srcdir/tests/fuzz/make_seeds.py" "$work/seeds" || exit 1
status=0
for t in checkpoint pickle config audio arpa; do
  bin=$work/fuzz_$t
  $CC $flags -o "$bin" "$top_srcdir/tests/fuzz/fuzz_$t.c" $core $libs || { echo "FAIL build fuzz_$t"; status=1; continue; }
  mkdir -p "$work/corpus-$t" "$work/crashes-$t"
  echo "== fuzz_$t for $seconds s"
  if LSAN_OPTIONS="suppressions=$top_srcdir/tests/lsan.supp:print_suppressions=0" \
      "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -artifact_prefix="$work/crashes-$t/" \
      "$work/corpus-$t" "$work/seeds/$t" > "$work/fuzz_$t.log" 2>&1; then
    echo "ok   fuzz_$t: $(grep -c . "$work/fuzz_$t.log") log lines, $(grep -o 'cov: [0-9]*' "$work/fuzz_$t.log" | tail -1), no crash"
  else
    echo "FAIL fuzz_$t: crash, see $work/fuzz_$t.log and $work/crashes-$t/"
    tail -30 "$work/fuzz_$t.log"
    status=1
  fi
done
exit $status
