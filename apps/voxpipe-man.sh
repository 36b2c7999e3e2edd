#!/bin/sh
# Writes the voxpipe(1) manual page (roff) on standard output from the built program's own help:
# `voxpipe --help` and every command's `--help`, so the page cannot drift from what the program
# accepts. Run by `make` (apps/Makefile.am):  voxpipe-man.sh ./voxpipe > voxpipe.1
set -eu
prog=$1
# the help texts name the installed data directory, not a developer's override
unset VOXPIPE_DATA_DIR VOXPIPE_MODEL_PATH

# Text as roff takes it literally: backslashes, minus signs (options must copy and paste as typed)
# and lines starting with a control character.
literal() {
  sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"
}

version=$("$prog" --version | sed 's/^voxpipe //')
commands=$("$prog" --help | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z]*\) .*/\1/p')
[ -n "$commands" ] || { echo "voxpipe-man.sh: no commands in '$prog --help'" >&2; exit 1; }

cat <<EOF
.TH VOXPIPE 1 "" "voxpipe $version" "User Commands"
.SH NAME
voxpipe \\- speech recognition, voice activity detection, command words and speech enhancement
with NeMo\\-style models, no Python at run time
.SH SYNOPSIS
.B voxpipe
.I COMMAND
.RI [ OPTIONS ]
.RI [ FILE ...]
.SH DESCRIPTION
.nf
EOF
"$prog" --help | literal
echo ".fi"
echo ".SH COMMANDS"
for cmd in $commands; do
  echo ".SS $cmd"
  echo ".nf"
  "$prog" "$cmd" --help | literal
  echo ".fi"
done
cat <<'EOF'
.SH ENVIRONMENT
.TP
.B VOXPIPE_MODEL_PATH
Colon\-separated directories searched for model plugins before the installed ones.
.TP
.B VOXPIPE_DATA_DIR
Directory holding the bundled models (its models/ subdirectory) instead of the installed one.
.TP
.B VOXPIPE_ISA
fma, avx or sse2: use the convolution kernels of that instruction set although the CPU has a
better one (the best the CPU has is chosen otherwise).
.TP
.B OPENBLAS_CORETYPE
OpenBLAS's kernel choice; voxpipe reports it in
.B voxpipe bench
output.
.TP
.B TMPDIR
Where
.B voxpipe denoise
writes its output before it is complete when OUT is not a regular file.
.SH EXIT STATUS
0 on success; 1 when the work failed (the message on standard error names the file, model or
option at fault); 2 for a usage error.
.SH SEE ALSO
.BR gst\-inspect\-1.0 (1)
voxasr, voxvad, voxkws and voxdenoise: the same models as GStreamer elements.
EOF
