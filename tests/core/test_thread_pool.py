#!/usr/bin/python3
"""The convolution thread pool (core/src/thread_pool.c): tests/core/thread_pool_stress.c drives its
lock-free hand-over, its sleeping and waking, and freeing pools with workers spinning or asleep,
checking every loop; built here as is and under ThreadSanitizer (gcc), which fails on any race."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import testlib as T  # noqa: E402

src = os.path.join(T.SRCDIR, "core", "src")
sources = [os.path.join(T.SRCDIR, "tests", "core", "thread_pool_stress.c"), os.path.join(src, "thread_pool.c")]
d = T.tmpdir()
cc = os.environ.get("CC", "gcc")


def build(name, flags):
    exe = os.path.join(d, name)
    p = subprocess.run([cc, "-std=c11", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-pthread", "-I" + src,
                        "-I" + os.path.join(T.SRCDIR, "core", "include")] + flags + sources + ["-o", exe],
                       capture_output=True, text=True)
    return exe if p.returncode == 0 else None, p.stderr


def stress(exe, threads, loops, env=None):
    p = subprocess.run([exe, str(threads), str(loops)], capture_output=True, text=True, timeout=300, env=env)
    return p.returncode == 0 and p.stdout.startswith("ok"), (p.stdout + p.stderr).strip()[-2000:]


# under `make check-sanitize` the plain build gets the suite's ASan + UBSan too
exe, msg = build("thread_pool_stress", ["-fsanitize=address,undefined"] if os.environ.get("VOX_SANITIZE") == "1" else [])
T.check(exe is not None, "stress program builds" + ("" if exe else ": " + msg))
if exe:
    for threads, loops in ((2, 20000), (3, 6000), (1, 2000)):
        ok, out = stress(exe, threads, loops)
        T.check(ok, "%d thread(s), %d loops: every part ran once per loop with its loop's arguments (%s)"
                % (threads, loops, out.splitlines()[-1] if out else "no output"))

# ThreadSanitizer: gcc's libtsan (libtsan2, which gcc depends on in Debian); not with ASan preloaded
tsan, msg = build("thread_pool_stress_tsan", ["-fsanitize=thread"])
if not tsan:
    print("SKIP ThreadSanitizer build failed: " + msg.strip()[:300])
else:
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    env["TSAN_OPTIONS"] = "halt_on_error=1:exitcode=66"
    for threads, loops in ((2, 10000), (4, 3000)):
        ok, out = stress(tsan, threads, loops, env)
        T.check(ok and "WARNING: ThreadSanitizer" not in out,
                "ThreadSanitizer, %d threads, %d loops: no race reported (%s)" % (threads, loops, out.splitlines()[-1] if out else ""))
T.finish()
