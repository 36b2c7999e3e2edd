#!/usr/bin/python3
"""ABI hygiene: libvoxpipe exports only vox_* symbols, each model plugin only its entry point."""
import glob
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import testlib as T  # noqa: E402


def exported(path):
    out = subprocess.run(["nm", "-D", "--defined-only", path], capture_output=True, text=True).stdout
    return sorted({line.split()[-1] for line in out.splitlines() if line.split()[-2] in "TDBRVWiu"})


libs = glob.glob(os.path.join(T.BUILDDIR, "core", ".libs", "libvoxpipe.so.*.*.*"))
T.check(len(libs) == 1, "libvoxpipe.so built")
if libs:
    syms = exported(libs[0])
    bad = [s for s in syms if not s.startswith("vox_")]
    T.check(not bad and len(syms) > 50, "libvoxpipe exports %d symbols, all vox_*%s" % (len(syms), (": " + ", ".join(bad[:5])) if bad else ""))
for so in glob.glob(os.path.join(T.BUILDDIR, "models", ".libs", "*.so")):
    syms = exported(so)
    T.check(syms == ["vox_model_plugin_entry"], "%s exports only vox_model_plugin_entry (%s)" % (os.path.basename(so), syms[:4]))
T.finish()
