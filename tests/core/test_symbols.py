#!/usr/bin/python3
"""ABI hygiene: libvoxpipe exports only vox_* symbols, each model plugin only its entry point; the plugin
search passes over libraries that are not plugins (not ELF, no entry point, the entry name defined as data)."""
import glob
import os
import shutil
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

# stray libraries on the plugin path: the loader called whatever the entry name pointed to, so a
# library defining it as data crashed every command (SIGSEGV)
d = T.tmpdir()
with open(os.path.join(d, "data.c"), "w") as f:
    f.write("int vox_model_plugin_entry = 5;\n")
with open(os.path.join(d, "none.c"), "w") as f:
    f.write("int unrelated(void) { return 1; }\n")
built = all(subprocess.run(["cc", "-shared", "-fPIC", "-o", os.path.join(d, n + ".so"), os.path.join(d, n + ".c")]).returncode == 0
            for n in ("data", "none"))
with open(os.path.join(d, "text.so"), "w") as f:
    f.write("not a shared object\n")
e = T.env()
e["VOXPIPE_MODEL_PATH"] = d + ":" + e["VOXPIPE_MODEL_PATH"]
p = subprocess.run([T.VOXPIPE, "plugins"], capture_output=True, text=True, env=e)
q = subprocess.run([T.VOXPIPE, "transcribe", os.path.join(T.SRCDIR, "share", "samples", "sample-en.wav")],
                   capture_output=True, text=True, env=e)
T.check(built and p.returncode == 0 and "quartznet" in p.stdout and d not in p.stdout and q.returncode == 0 and q.stdout.strip(),
        "a data symbol named like the entry point, a library without it and a text file on the plugin path: "
        "passed over (plugins exit %d, transcribe exit %d)" % (p.returncode, q.returncode))

# a directory with many stray .so files and, last by name, a real plugin: all of it is read (the loader
# read the first 256 names in directory order, so the plugin was found or not by the file system's hash)
many = os.path.join(d, "many")
os.makedirs(many)
for i in range(1000):
    with open(os.path.join(many, "stray%04d.so" % i), "w") as f:
        f.write("not a shared object\n")
real = os.path.join(T.BUILDDIR, "models", ".libs", "quartznet.so")
shutil.copy(real, os.path.join(many, "zz-quartznet.so"))
e = T.env()
e["VOXPIPE_MODEL_PATH"] = many
p = subprocess.run([T.VOXPIPE, "plugins"], capture_output=True, text=True, env=e)
T.check(p.returncode == 0 and os.path.join(many, "zz-quartznet.so") in p.stdout,
        "1000 stray .so files before a plugin in one directory: the plugin is found (%s)" %
        (p.stdout + p.stderr).strip()[:160])
T.finish()
