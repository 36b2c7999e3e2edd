#!/usr/bin/env bash
# `make check-sanitize`: the whole test suite a second time, on a build with AddressSanitizer and
# UndefinedBehaviorSanitizer (gcc), failing on any report.
#
# The sources (tracked and new files of this git checkout) are mirrored into build-sanitize/ and
# configured there, so the normal build beside them is untouched; later runs copy only what changed
# and rebuild incrementally. Every test runs as in `make check` except that valgrind is off (it
# cannot run ASan binaries), the fuzz targets (ASan builds already) and the soak are left out.
# Uninstrumented programs that load our instrumented libraries (gst-launch-1.0, gst-inspect-1.0 and
# GStreamer's plugin scanner) get the ASan runtime preloaded by tests/testlib.py, with leak
# detection off for them (GLib's one-time allocations; our leaks are caught in our own programs).
set -euo pipefail
top=${VOX_TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
build=${VOX_SANITIZE_DIR:-$top/build-sanitize}
flags="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
git -C "$top" rev-parse --git-dir >/dev/null 2>&1 || {
  echo "check-sanitize mirrors a git checkout's files; this tree is not one" >&2
  exit 1
}
mkdir -p "$build"
(cd "$top" && git ls-files -z --cached --others --exclude-standard) | (cd "$top" && xargs -0 cp -u --parents -t "$build")
cd "$build"
if [ ! -f Makefile ]; then
  ./autogen.sh >/dev/null 2>&1 || { echo "check-sanitize: autogen.sh failed in $build" >&2; exit 1; }
  ./configure -q CC=gcc CFLAGS="$flags" LDFLAGS="-fsanitize=address,undefined"
fi
make -j2 >/dev/null
# all Python tests but the soak (RSS means nothing under ASan, whose quarantine keeps freed memory)
tests=$(sed -n '/^PY_TESTS = /,/^$/p' tests/Makefile.am | grep -o '[a-z_/]*\.py' | grep -v test_soak | tr '\n' ' ')
export VOX_VALGRIND=0 VOX_SHARED_DIR="$top/../shared" VOX_SANITIZE_PRELOAD="$(gcc -print-file-name=libasan.so)"
export VOX_SANITIZE=1 ASAN_OPTIONS=detect_leaks=1:exitcode=86 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS="suppressions=$top/tests/lsan.supp:print_suppressions=0"
make -j2 check TESTS="$tests"
