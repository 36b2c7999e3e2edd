"""Helpers for voxpipe's Python tests (run by `make check` with /usr/bin/python3).

Exit codes follow automake: 0 pass, 1 fail, 77 skip (e.g. torch or ../shared absent)."""
import os
import subprocess
import sys
import tempfile

import numpy as np

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("VOX_TOP_SRCDIR", os.path.dirname(HERE))
BUILDDIR = os.environ.get("VOX_TOP_BUILDDIR", SRCDIR)
TOOL = os.path.join(BUILDDIR, "tests", "voxtest_tool")
VOXPIPE = os.path.join(BUILDDIR, "apps", "voxpipe")
SHARED = os.environ.get("VOX_SHARED_DIR") or os.path.join(SRCDIR, "..", "shared")
sys.path.insert(0, os.path.join(SRCDIR, "models", "common"))
sys.path.insert(0, os.path.join(SRCDIR, "models", "quartznet"))

failures = []


def need_torch():
    try:
        import torch  # noqa: F401
        import torchaudio  # noqa: F401
    except ImportError:
        print("SKIP: PyTorch/torchaudio not available (Debian python3-torch python3-torchaudio)")
        sys.exit(SKIP)


def tmpdir():
    base = os.path.join(BUILDDIR, "tests", "tmp")
    os.makedirs(base, exist_ok=True)
    return tempfile.mkdtemp(dir=base)


def env():
    e = dict(os.environ)
    e["VOXPIPE_MODEL_PATH"] = os.path.join(BUILDDIR, "models", ".libs")
    e["VOXPIPE_DATA_DIR"] = os.path.join(SRCDIR, "share")
    return e


def run(args, check=True, **kw):
    p = subprocess.run(args, capture_output=True, text=True, env=env(), **kw)
    if check and p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr.strip()))
    return p


_vg = None


def has_valgrind():
    global _vg
    if _vg is None:
        _vg = subprocess.run(["sh", "-c", "command -v valgrind"], capture_output=True).returncode == 0
    return _vg


def libtool_exec(path):
    """The real binary behind a libtool wrapper (so valgrind checks our code, not the shell)."""
    real = os.path.join(os.path.dirname(path), ".libs", os.path.basename(path))
    lt = os.path.join(os.path.dirname(path), ".libs", "lt-" + os.path.basename(path))
    for cand in (lt, real):
        if os.path.exists(cand):
            return cand
    return path


def run_checked(args, **kw):
    """Runs under valgrind (memcheck, leaks) when available: a crash, memory error or leak fails."""
    e = env()
    e["LD_LIBRARY_PATH"] = os.path.join(BUILDDIR, "core", ".libs") + ":" + e.get("LD_LIBRARY_PATH", "")
    if has_valgrind() and os.environ.get("VOX_VALGRIND", "1") != "0":
        # the kernels without fused multiply-adds: valgrind runs each one through a helper call
        e["VOXPIPE_ISA"] = "avx"
        args = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
                "--suppressions=" + os.path.join(SRCDIR, "tests", "valgrind.supp"), "--errors-for-leak-kinds=definite,indirect",
                "--show-leak-kinds=definite,indirect", libtool_exec(args[0])] + list(args[1:])
    return subprocess.run(args, capture_output=True, text=True, env=e, **kw)


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def finish():
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    sys.exit(0)


def write_f32(path, x):
    np.asarray(x, dtype=np.float32).tofile(path)


def read_f32(path):
    return np.fromfile(path, dtype=np.float32)


def gst_env(d):
    """Environment for gst-launch-1.0 / gst-inspect-1.0 with the uninstalled voxpipe plugin and a
    private registry; exits with SKIP when the plugin was not built or the tools are missing."""
    import shutil
    plugin = os.path.join(BUILDDIR, "plugins", ".libs", "libgstvoxpipe.so")
    if not os.path.exists(plugin) or not shutil.which("gst-launch-1.0"):
        print("SKIP: GStreamer plugin not built or gst-launch-1.0 missing (gstreamer1.0-tools)")
        sys.exit(SKIP)
    e = dict(env(), GST_PLUGIN_PATH=os.path.dirname(plugin), GST_REGISTRY=os.path.join(d, "registry.bin"))
    if os.environ.get("VOX_SANITIZE_PRELOAD"):
        # `make check-sanitize`: the plugin is an ASan build and gst-launch-1.0 is not; the runtime must
        # come first. Leaks are not checked in GStreamer's programs (GLib's one-time allocations).
        e["LD_PRELOAD"] = os.environ["VOX_SANITIZE_PRELOAD"]
        e["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    return e


def tiny_sentences(d, n=8):
    """Writes d/sentences.txt for models/common/corpus.py --sentences: n short sentences, the first two
    of the held-out kind (corpus.is_held_out_text, by hash), so every split gets some. Returns its path."""
    sys.path.insert(0, os.path.join(SRCDIR, "models", "common"))
    import corpus
    words = "the cat sat on a mat seven green apples fell down turn left at old mill".split()
    cands = list(dict.fromkeys(" ".join(words[(i * k) % len(words)] for k in (1, 3, 5, 7)) for i in range(400)))
    held = [c for c in cands if corpus.is_held_out_text(c)][:2]
    path = os.path.join(d, "sentences.txt")
    with open(path, "w") as f:
        f.write("".join("%s\n" % c for c in held + [c for c in cands if c not in held][:n - 2]))
    return path
