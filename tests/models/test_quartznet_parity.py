#!/usr/bin/python3
"""QuartzNet plugin vs the PyTorch definition (models/quartznet/quartznet.py, NeMo's layout and
keys) on random-weight .nemo files: logits, greedy transcripts and token times, 1 and 2 threads,
and streamed (any chunk size) == whole input. The reference runs in float64."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import testlib as T  # noqa: E402

T.need_torch()
import numpy as np  # noqa: E402
import scipy.io.wavfile  # noqa: E402
import torch  # noqa: E402
import quartznet as Q  # noqa: E402
from nemo_conv import save_nemo  # noqa: E402

# fixed statistics (NeMo normalize: {fixed_mean, fixed_std}), as the bundled model uses
FIXED = {"fixed_mean": [round(-10 + 0.1 * i, 3) for i in range(64)], "fixed_std": [round(3 + 0.02 * i, 3) for i in range(64)]}
# the CPU runs the AVX-512 kernels by default (vox_kernel_isa picks them where avx512f is present)
AVX512 = " avx512f" in open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else False
ARCHS = [("tiny", "per_feature"), ("odd", "per_feature"), ("jasperish", "per_feature"), ("stream-small", FIXED), ("stream", "NA"),
         ("5x5", "per_feature"), ("15x5", "per_feature")]
if os.environ.get("VOX_QUICK"):
    ARCHS = ARCHS[:4]


def audio_inputs():
    rate, x = scipy.io.wavfile.read(os.path.join(T.SRCDIR, "share", "samples", "sample-en.wav"))
    yield "sample-en.wav", (x.astype(np.float32) / 32768.0)[:70001]
    rng = np.random.default_rng(3)
    t = np.arange(23457) / 16000.0
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
    yield "modulated tones", (0.2 * env * (np.sin(2 * np.pi * 300 * t) + np.sin(2 * np.pi * 1200 * t))).astype(np.float32)
    if os.environ.get("VOX_QUICK"):
        return
    yield "noise bursts", (0.1 * rng.standard_normal(31111) * (np.arange(31111) % 8000 < 4000)).astype(np.float32)


def greedy(lp, labels):
    ids = lp.argmax(-1)
    out, times, prev = [], [], -1
    for t, i in enumerate(ids):
        if i != prev and i != len(labels):
            out.append(labels[i])
            times.append(t)
        prev = i
    return "".join(out), times


d = T.tmpdir()
inputs = list(audio_inputs())
for arch, norm in ARCHS:
    torch.manual_seed(1)
    model = Q.randomize(Q.EncDecCTCModel(Q.model_config(arch, normalize=norm)), seed=11,
                        calib_audio=[x for _, x in inputs])
    path = os.path.join(d, "%s.nemo" % arch)
    save_nemo(path, model, model.config_yaml(), gzip=(arch == "tiny"))
    ref_model = model.double().eval()
    for name, x in inputs:
        inp = os.path.join(d, "in.f32")
        T.write_f32(inp, x)
        with torch.no_grad():
            lp, ln = ref_model(torch.from_numpy(x.astype(np.float64))[None], torch.tensor([len(x)]))
        ref = lp[0, : int(ln[0])].numpy()
        outs = {}
        big = arch in ("5x5", "15x5")
        for threads in (1, 2):
            # "7,300,3": a stream that grows its buffers mid-stream (past its first 64-frame pieces)
            for chunk in (((16, "7,300,3", 100000) if big else (1, 2, 7, 16, 50, "7,300,3", 100000)) if threads == 1
                          else (100000, 7)):
                out = os.path.join(d, "out.f32")
                T.run([T.TOOL, "logits", path, inp, out, str(threads), str(chunk)])
                outs[(threads, chunk)] = T.read_f32(out).reshape(-1, ref.shape[1])
        whole = outs[(1, 100000)]
        ok_shape = whole.shape == ref.shape
        T.check(ok_shape, "%s / %s: %d output frames (PyTorch %d)" % (arch, name, whole.shape[0], ref.shape[0]))
        if not ok_shape:
            continue
        diff = float(np.abs(whole - ref).max())
        T.check(diff <= 1e-3, "%s / %s: max |logits - PyTorch| = %.2e <= 1e-3" % (arch, name, diff))
        t_c, times_c = greedy(whole, Q.LABELS)
        t_r, times_r = greedy(ref, Q.LABELS)
        T.check(t_c == t_r and times_c == times_r,
                "%s / %s: greedy transcript and token frames equal PyTorch's (%d tokens)" % (arch, name, len(t_r)))
        if isinstance(norm, dict):  # the whole path: file -> vox_asr (fixed statistics) -> greedy text
            wav = os.path.join(d, "in.wav")
            scipy.io.wavfile.write(wav, 16000, (np.clip(x, -1, 1) * 32767).astype(np.int16))
            with torch.no_grad():
                xq = scipy.io.wavfile.read(wav)[1].astype(np.float64) / 32768.0
                lq, lnq = ref_model(torch.from_numpy(xq)[None], torch.tensor([len(xq)]))
            want = " ".join(greedy(lq[0, : int(lnq[0])].numpy(), Q.LABELS)[0].split())
            got = T.run([T.VOXPIPE, "transcribe", "-m", path, wav]).stdout.strip()
            T.check(got == want, "%s / %s: voxpipe transcribe (fixed feature statistics) = PyTorch greedy: %r"
                    % (arch, name, got[:60]))
        for key, o in outs.items():
            if key == (1, 100000):
                continue
            sd = float(np.abs(o - whole).max()) if o.shape == whole.shape else float("inf")
            T.check(sd <= 1e-4, "%s / %s: threads %d, chunks of %s frames: max diff to whole input %.1e <= 1e-4"
                    % (arch, name, key[0], key[1], sd))
        if name != inputs[0][0]:
            continue
        # the kernels built for the lower instruction sets (VOXPIPE_ISA), whole and streamed; on an
        # AVX-512 CPU the default run took its own tiles (two weight blocks, 512-bit), so the FMA
        # ones are checked here too
        for isa in (("fma",) if AVX512 else ()) + ("avx", "sse2"):
            got = {}
            for chunk in (100000, 7):
                out = os.path.join(d, "out.f32")
                p = subprocess.run([T.TOOL, "logits", path, inp, out, "1", str(chunk)], capture_output=True,
                                   text=True, env=dict(T.env(), VOXPIPE_ISA=isa))
                got[chunk] = T.read_f32(out).reshape(-1, ref.shape[1]) if p.returncode == 0 else None
            ok = all(g is not None and g.shape == ref.shape for g in got.values())
            dr = float(np.abs(got[100000] - ref).max()) if ok else float("inf")
            ds = float(np.abs(got[7] - got[100000]).max()) if ok else float("inf")
            T.check(dr <= 1e-3 and ds <= 1e-4, "%s / %s: VOXPIPE_ISA=%s kernels: max |logits - PyTorch| = %.2e, "
                    "chunks of 7 vs whole %.1e" % (arch, name, isa, dr, ds))
# the kernels in use are named, and VOXPIPE_ISA can only lower the choice
for want, shown in (("sse2", "isa=sse2"), ("avx1024", "isa=")):
    p = subprocess.run([T.VOXPIPE, "bench", "-m", os.path.join(d, "tiny.nemo"), "--seconds", "1", "--repeat", "1"],
                       capture_output=True, text=True, env=dict(T.env(), VOXPIPE_ISA=want))
    T.check(p.returncode == 0 and shown in p.stdout and "isa=avx1024" not in p.stdout,
            "voxpipe bench with VOXPIPE_ISA=%s reports %s" % (want, re.findall(r"isa=\w+", p.stdout)))
# bench options: a chunk longer than the input took memory for the chunk (SIGSEGV at 2e9 frames); a
# value out of range is a usage error naming the option (it said "out-of-range option")
p = subprocess.run([T.VOXPIPE, "bench", "-m", os.path.join(d, "tiny.nemo"), "--seconds", "1", "--repeat", "1",
                    "--chunk", "2000000000"], capture_output=True, text=True, env=T.env())
T.check(p.returncode == 0 and "chunk=2000000000" in p.stdout and "T=101 " in p.stdout,
        "voxpipe bench --chunk 2000000000 runs the input in one call: exit %d %s" % (p.returncode, p.stderr[-100:]))
# streamed passes paired with whole-input passes in the same process: both ratios reported
p = subprocess.run([T.VOXPIPE, "bench", "-m", os.path.join(d, "tiny.nemo"), "--seconds", "2", "--repeat", "3",
                    "--chunk", "8"], capture_output=True, text=True, env=T.env())
r = dict(re.findall(r"(stream_ratio(?:_best)?)=([0-9.]+)", p.stdout))
T.check(p.returncode == 0 and len(r) == 2 and all(0.05 < float(v) < 50 for v in r.values()) and
        "each streamed pass paired with a whole-input pass" in p.stdout,
        "voxpipe bench --chunk 8 reports streamed / whole-input time: %s" % r)
for args, what in ((["--chunk", "-1"], "--chunk takes"), (["--seconds", "0"], "--seconds takes"),
                   (["--repeat", "2x"], "--repeat takes"), (["--threads", "0"], "--threads must be")):
    p = subprocess.run([T.VOXPIPE, "bench", "-m", os.path.join(d, "tiny.nemo")] + args, capture_output=True,
                       text=True, env=T.env())
    T.check(p.returncode == 2 and what in p.stderr and not p.stdout,
            "voxpipe bench %s: usage error naming it: %s" % (" ".join(args), p.stderr.strip()))
# one model, several independent streams in parallel threads (and reused after reset)
torch.manual_seed(2)
model = Q.randomize(Q.EncDecCTCModel(Q.model_config("stream", normalize="NA")), seed=12)
path = os.path.join(d, "stream_par.nemo")
save_nemo(path, model, model.config_yaml())
# 1.5 s: valgrind emulates each fused multiply-add of the kernels in a helper call (minutes for more)
T.write_f32(os.path.join(d, "par.f32"), inputs[0][1][:24000])
p = T.run_checked([T.TOOL, "parallel", path, os.path.join(d, "par.f32"), "4"])
T.check(p.returncode == 0 and "identical" in p.stdout, "4 streams of one model in parallel threads give the "
        "single-stream transcript, under valgrind memcheck: " + (p.stdout + p.stderr).strip()[:100])
T.finish()
