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
# fuzz_model's plugins: built with the same sanitizers (coverage without libFuzzer's main), their core
# symbols taken from the target program (-rdynamic)
plugin_flags="-shared -fPIC ${flags/-fsanitize=fuzzer,/-fsanitize=fuzzer-no-link,}"
build_plugins() {
  mkdir -p "$work/plugins" && rm -f "$work/plugins"/*.so
  $CC $plugin_flags -o "$work/plugins/quartznet.so" "$top_srcdir/models/quartznet/quartznet.c" &&
    $CC $plugin_flags -o "$work/plugins/marblenet.so" "$top_srcdir/models/marblenet/marblenet.c" &&
    $CC $plugin_flags -o "$work/plugins/frcrn.so" "$top_srcdir"/models/frcrn/frcrn*.c
}
status=0
for t in checkpoint pickle config audio arpa model; do
  bin=$work/fuzz_$t
  extra=
  if [ $t = model ]; then
    build_plugins || { echo "FAIL build fuzz_model's plugins"; status=1; continue; }
    extra=-rdynamic
  fi
  $CC $flags $extra -o "$bin" "$top_srcdir/tests/fuzz/fuzz_$t.c" $core $libs || { echo "FAIL build fuzz_$t"; status=1; continue; }
  mkdir -p "$work/corpus-$t" "$work/crashes-$t"
  echo "== fuzz_$t for $seconds s"
  # fuzz_model reads its weights and plugins from these; no other plugin directory is searched first
  if env -u VOXPIPE_MODEL_PATH VOX_FUZZ_WEIGHTS="$work/seeds/model-weights" VOX_FUZZ_PLUGINS="$work/plugins" \
      LSAN_OPTIONS="suppressions=$top_srcdir/tests/lsan.supp:print_suppressions=0" \
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
