"""voxpipe(1): the manual page `make` writes from the program's own help (apps/voxpipe-man.sh) has a
section for every command, names every option the commands' --help texts name, shows the installed
data paths whatever the builder's environment, and renders without groff warnings (where groff is
installed)."""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import testlib as T  # noqa: E402

page_path = os.path.join(T.BUILDDIR, "apps", "voxpipe.1")
T.check(os.path.isfile(page_path), "make wrote apps/voxpipe.1")
page = open(page_path).read() if os.path.isfile(page_path) else ""

version = T.run([T.VOXPIPE, "--version"]).stdout.strip().split()[-1]
T.check(re.search(r'^\.TH VOXPIPE 1 "" "voxpipe %s"' % re.escape(version), page, re.M) is not None,
        "title line carries the program's version (%s)" % version)

top = T.run([T.VOXPIPE, "--help"]).stdout
commands = re.findall(r"^  ([a-z]+) ", top.split("commands:")[1].split("\n\n")[0], re.M)
T.check(len(commands) >= 8, "commands listed by voxpipe --help: %s" % commands)
for cmd in commands:
    text = T.run([T.VOXPIPE, cmd, "--help"]).stdout
    section = page.split(".SS %s\n" % cmd, 1)[1].split(".SS ", 1)[0] if ".SS %s\n" % cmd in page else ""
    options = sorted(set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text)))
    missing = [o for o in options if o.replace("-", "\\-") not in section]
    T.check(section and not missing, "voxpipe %s: a section naming its %d options (missing: %s)"
            % (cmd, len(options), missing))

# the page is made from what the installed program would print, not from a developer's overrides
script = os.path.join(T.SRCDIR, "apps", "voxpipe-man.sh")
env = dict(T.env(), VOXPIPE_DATA_DIR="/nonexistent-data-dir")
p = subprocess.run(["sh", script, T.VOXPIPE], capture_output=True, text=True, env=env)
T.check(p.returncode == 0 and "/nonexistent-data-dir" not in p.stdout and ".SS transcribe" in p.stdout,
        "with VOXPIPE_DATA_DIR set the page still names the installed data directory (exit %d)" % p.returncode)

if shutil.which("groff"):
    g = subprocess.run(["groff", "-man", "-ww", "-z", page_path], capture_output=True, text=True)
    T.check(g.returncode == 0 and not g.stderr.strip(), "groff -man -ww: no warnings %s" % g.stderr.strip()[:300])
    out = subprocess.run(["groff", "-man", "-Tutf8", page_path], capture_output=True, text=True).stdout
    T.check("--threads" in re.sub(r".\x08", "", out), "rendered options copy as typed (ASCII minus signs)")
else:
    print("(groff not installed: rendering not checked)")

# denoise takes -t as the other commands do (the page lists it)
p = T.run([T.VOXPIPE, "denoise", "-t", "0", "in.wav", "out.wav"], check=False)
T.check(p.returncode == 2 and "--threads must be 1 to 256" in p.stderr,
        "voxpipe denoise -t 0: the thread count is checked (exit %d, %s)" % (p.returncode, p.stderr.strip()))
T.finish()
