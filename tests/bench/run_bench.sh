#!/usr/bin/env bash
# `make bench`: voxpipe next to its peers, measured in the same run on the same machine.
#  - features: voxpipe's front end vs torchaudio's MelSpectrogram on the same 60 s of audio;
#  - model: QuartzNet 15x5 and 5x5 with the same random weights (written by our PyTorch definition,
#    exported to ONNX by ../shared/anchors/make_tiny_quartznet.py --nemo), voxpipe vs ONNX Runtime
#    (npm onnxruntime-node), one thread each, 10 s and 60 s inputs, plus streaming chunks;
#  - OpenBLAS sgemm GFLOP/s on this machine for scale.
# The ONNX Runtime part needs ../shared/anchors, node and npm (skipped with a note otherwise).
set -uo pipefail
top_srcdir=${VOX_TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${VOX_TOP_BUILDDIR:-$top_srcdir}
PY=${PYTHON_TORCH:-/usr/bin/python3}
work=${VOX_BENCH_DIR:-$top_builddir/tests/tmp/bench}
mkdir -p "$work"
export VOXPIPE_MODEL_PATH=$top_builddir/models/.libs LD_LIBRARY_PATH=$top_builddir/core/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
VP=$top_builddir/apps/.libs/voxpipe
[ -x "$VP" ] || VP=$top_builddir/apps/voxpipe
measure() {
echo "== voxpipe bench, $(date -u +%FT%TZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "   OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset (OpenBLAS picks the kernel)}"

for arch in 15x5 5x5; do
  [ -f "$work/qn$arch.nemo" ] || "$PY" "$top_srcdir/models/quartznet/quartznet.py" "$work/qn$arch.nemo" --arch $arch --seed 1
done

# features vs torchaudio
"$PY" - "$work" <<'PYEOF'
import sys, time, torch, torchaudio
torch.set_num_threads(1)
x = torch.randn(60 * 16000) * 0.05
mel = torchaudio.transforms.MelSpectrogram(sample_rate=16000, n_fft=512, win_length=320, hop_length=160, n_mels=64,
                                           window_fn=lambda n: torch.hann_window(n, periodic=False), norm="slaney",
                                           mel_scale="slaney", center=True, pad_mode="constant")
def run():
    y = torch.cat([x[:1], x[1:] - 0.97 * x[:-1]])
    return torch.log(mel(y) + 2 ** -24)
run()
ts = []
for _ in range(5):
    t0 = time.perf_counter(); run(); ts.append(time.perf_counter() - t0)
ts.sort()
print("RESULT torchaudio_features seconds=60 median_ms=%.3f xrt=%.1f" % (ts[2] * 1e3, 60 / ts[2]))
PYEOF
"$VP" bench -m "$work/qn15x5.nemo" --seconds 60 --repeat 5 | grep 'RESULT voxpipe_features\|RESULT sgemm'

anchors=$top_srcdir/../shared/anchors
have_ort=0
if [ -d "$anchors" ] && command -v node >/dev/null && command -v npm >/dev/null; then
  if [ ! -d "$work/anchors/node_modules/onnxruntime-node" ]; then
    rm -rf "$work/anchors" && cp -r "$anchors" "$work/anchors" &&
      (cd "$work/anchors" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --ignore-scripts --no-audit --no-fund >/dev/null 2>&1)
  fi
  [ -d "$work/anchors/node_modules/onnxruntime-node" ] && have_ort=1
fi
[ $have_ort = 1 ] || echo "NOTE: ONNX Runtime not measured (needs ../shared/anchors, node, npm)"

for arch in 15x5 5x5; do
  if [ $have_ort = 1 ] && [ ! -f "$work/ort$arch/model.onnx" ]; then
    "$PY" "$work/anchors/make_tiny_quartznet.py" "$work/ort$arch" --arch $arch --nemo "$work/qn$arch.nemo" >/dev/null
  fi
  # Rounds of voxpipe then ONNX Runtime, back to back: on a shared VM the speed drifts by 30-40 %
  # within minutes, so each ratio pairs runs of the same minute and the summary gives all rounds.
  for sec in 10 60; do
    rep=$([ $sec = 60 ] && echo 1 || echo 4)
    for round in 1 2 3; do
      "$VP" bench -m "$work/qn$arch.nemo" --seconds $sec --repeat $rep |
        sed -n "s/^RESULT voxpipe_model/RESULT voxpipe_model model=$arch round=$round/p"
      if [ $have_ort = 1 ]; then
        (cd "$work/anchors" && node ort_bench.js "$work/ort$arch" --seconds $sec --repeat $rep --threads 1) |
          sed -n "s/^RESULT ort_bench/RESULT ort_model model=$arch round=$round/p"
      fi
    done
  done
done
# streaming compute against whole-input compute of the same model (issue goal: <= 1.15x): voxpipe
# bench pairs each streamed pass with a whole-input pass in the same process (see cmd_bench.c)
for m in "5x5:$work/qn5x5.nemo" "default:$top_srcdir/share/models/quartznet-stream-en.nemo" \
         "lowlatency:$top_srcdir/share/models/quartznet-lowlatency-en.nemo"; do
  for chunk in 8 16 32; do  # 80 / 160 / 320 ms of features per call
    "$VP" bench -m "${m#*:}" --seconds 60 --repeat 7 --chunk $chunk |
      sed -n "s/^RESULT voxpipe_model/RESULT voxpipe_stream model=${m%%:*}/p"
  done
done
# the default model on 2 threads (each convolution's rows split between them), streamed and whole
"$VP" bench -m "$top_srcdir/share/models/quartznet-stream-en.nemo" --seconds 60 --repeat 7 --chunk 16 \
  --threads 2 | sed -n "s/^RESULT voxpipe_model/RESULT voxpipe_stream model=default-2-threads/p"
}

measure 2>&1 | tee "$work/bench.log"
echo "== summary (ratios > 1: voxpipe faster)"
awk '
  # sorted copy of the n values in a (1-based) as "v1 v2 ...", and their median
  function sorted(a, n,   i, j, t, b, out) {
    for (i = 1; i <= n; i++) b[i] = a[i]
    for (i = 2; i <= n; i++) { t = b[i]; for (j = i - 1; j >= 1 && b[j] > t; j--) b[j + 1] = b[j]; b[j + 1] = t }
    out = ""; for (i = 1; i <= n; i++) out = out sprintf("%s%.2f", i > 1 ? " " : "", b[i])
    med = n % 2 ? b[(n + 1) / 2] : (b[n / 2] + b[n / 2 + 1]) / 2
    return out
  }
  /^RESULT/ { delete kv; for (i = 3; i <= NF; i++) { split($i, a, "="); kv[a[1]] = a[2] } }
  /^RESULT torchaudio_features/ { ta = kv["xrt"] }
  /^RESULT voxpipe_features/ { vf = kv["xrt"] }
  /^RESULT sgemm/ { gemm = kv["gflops"] }
  /^RESULT voxpipe_model/ {
    key = kv["model"] " " kv["T"]; vr[key, kv["round"]] = kv["rtf"]; vg[key, kv["round"]] = kv["gflops"]
    if (!(key in seen)) { seen[key] = 1; order[++n] = key }
    rounds[key] = kv["round"]
  }
  /^RESULT ort_model/ { orr[kv["model"] " " (kv["T"] + 1), kv["round"]] = kv["rtf"] }
  /^RESULT voxpipe_stream/ {
    sorder[++ns] = kv["model"] " " kv["chunk"]
    sline[ns] = sprintf("RTF %.5f, compute %.2fx whole-input (median of paired passes; fastest passes %.2fx), " \
      "%.2f ms per chunk (worst %.2f)", kv["rtf"], kv["stream_ratio"], kv["stream_ratio_best"],
      kv["chunk_mean_ms"], kv["chunk_worst_ms"])
  }
  END {
    if (ta) printf "features: voxpipe %.0fx real time, torchaudio %.0fx: ratio %.2f\n", vf, ta, vf / ta
    for (i = 1; i <= n; i++) {
      k = order[i]; split(k, p, " "); m = rounds[k]
      for (r = 1; r <= m; r++) { x[r] = vr[k, r]; g[r] = vg[k, r] }
      sorted(x, m); vmed = med; sorted(g, m); gmed = med
      printf "QuartzNet %s, %d s, 1 thread: voxpipe RTF %.4f (%.1f GFLOP/s, sgemm %.1f)", p[1], (p[2] - 1) / 100, vmed, gmed, gemm
      if (orr[k, 1]) {
        for (r = 1; r <= m; r++) { y[r] = orr[k, r]; q[r] = orr[k, r] / vr[k, r] }
        sorted(y, m); omed = med; list = sorted(q, m)
        printf ", ONNX Runtime RTF %.4f: voxpipe %.2fx ONNX Runtime speed (rounds: %s)", omed, med, list
      }
      printf " (medians of %d rounds)\n", m
    }
    for (i = 1; i <= ns; i++) {
      split(sorder[i], p, " ")
      printf "streaming %s, chunks of %d frames (%d ms): %s\n", p[1], p[2], p[2] * 10, sline[i]
    }
  }' "$work/bench.log"
