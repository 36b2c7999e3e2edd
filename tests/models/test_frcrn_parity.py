#!/usr/bin/python3
"""FRCRN plugin vs the PyTorch definition (models/frcrn/frcrn.py, the released checkpoint's keys):
enhanced waveform SNR >= 60 dB against PyTorch on 3 noisy inputs with random weights, at the
released width (128, SE pooling over the whole input) and at a small streaming width (cumulative
SE pooling), where any chunking gives the offline result; both checkpoint layouts (ModelScope
pytorch_model.bin + configuration.json, ClearerVoice {'model': ...} with module. prefixes and alias
keys); malformed checkpoints and configurations refused with a message, under valgrind."""
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import testlib as T  # noqa: E402

T.need_torch()
import numpy as np  # noqa: E402
import scipy.io.wavfile  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.join(T.SRCDIR, "models", "frcrn"))
import frcrn as FR  # noqa: E402

d = T.tmpdir()
rate, x = scipy.io.wavfile.read(os.path.join(T.SRCDIR, "share", "samples", "sample-en.wav"))
speech = x.astype(np.float32) / 32768.0
rng = np.random.default_rng(5)


def noisy(start, n, snr_db):
    s = speech[start:start + n]
    w = rng.standard_normal(n).astype(np.float32)
    return (s + w * np.sqrt(np.mean(s ** 2) / (np.mean(w ** 2) * 10 ** (snr_db / 10)))).astype(np.float32)


inputs = [("speech + white noise 0 dB, 1.3 s", noisy(8000, 640 + 320 * 63, 0)),
          ("speech + white noise 10 dB, 0.9 s", noisy(30000, 640 + 320 * 43, 10)),
          ("speech + noise 5 dB, odd length", noisy(50000, 14001, 5))]


def snr(ref, out):
    return 10 * np.log10(np.sum(ref ** 2) / max(np.sum((ref - out) ** 2), 1e-30))


def run_c(model, sig, chunk):
    inp, out = os.path.join(d, "in.f32"), os.path.join(d, "out.f32")
    T.write_f32(inp, sig)
    p = T.run([T.TOOL, "enhance", model, inp, out, str(chunk)], check=False)
    return (T.read_f32(out), p.stdout) if p.returncode == 0 else (None, p.stderr.strip())


def reference(model, sig):
    """PyTorch output for the plugin's convention: zeros complete the last window, output cut to the input."""
    n = len(sig)
    padded = max(640, n if (n - 640) % 320 == 0 else n + 320 - (n - 640) % 320)
    with torch.no_grad():
        y = model.double()(torch.from_numpy(np.pad(sig, (0, padded - n)).astype(np.float64))[None])[0].numpy()
    return y[:n]


for width, pooling in ((128, "global"), (16, "cumulative")):
    mdir = os.path.join(d, "w%d" % width)
    model = FR.randomize(FR.FRCRN(width, pooling), 11 + width)
    FR.save_modelscope(mdir, model)
    for name, sig in inputs:
        ref = reference(model, sig)
        chunks = (100000,) if pooling == "global" else (100000, 1, 320, 777)
        outs = []
        for chunk in chunks:
            out, msg = run_c(mdir, sig, chunk)
            if out is None:
                T.check(False, "width %d / %s / chunk %d: run (%s)" % (width, name, chunk, msg))
                continue
            outs.append(out)
            T.check(len(out) == len(sig) and snr(ref, out) >= 60,
                    "width %d (%s SE) / %s / chunks of %d samples: SNR vs PyTorch %.1f dB >= 60" %
                    (width, pooling, name, chunk, snr(ref, out) if len(out) == len(sig) else -1))
        if len(outs) > 1:
            dev = max(float(np.abs(o - outs[0]).max()) for o in outs[1:])
            T.check(dev <= 1e-4 * max(1.0, float(np.abs(outs[0]).max())),
                    "width %d / %s: streamed in 1, 320, 777 samples == whole input (max diff %.1e)" % (width, name, dev))
    model.float()

# latency as reported
_, info = run_c(os.path.join(d, "w16"), inputs[1][1], 100000)
T.check("latency 5120" in info and "full_context 0" in info,
        "cumulative-SE model reports 5120 samples (320 ms) of latency, streamable: %r" % info)
_, info = run_c(os.path.join(d, "w128"), inputs[1][1], 100000)
T.check("full_context 1" in info, "released-style model (global SE) reports whole-input processing")

# ClearerVoice layout: {'model': state_dict} with module. prefixes and the alias keys; same output
small = FR.load_modelscope(os.path.join(d, "w16"))
sd = {"module." + k: v for k, v in small.state_dict().items()}
for k in list(sd):
    for canon, alias in (("encoder", "encoders."), ("decoder", "decoders."), ("fsmn_enc", "fsmn_enc."),
                         ("se_layer_enc", "se_layers_enc.")):
        part = k.split(".")[2] if k.count(".") > 2 else ""
        if part.startswith(canon) and part[len(canon):].isdigit():
            sd[k.replace("." + part + ".", "." + alias + part[len(canon):] + ".")] = sd[k]
cv_dir = os.path.join(d, "clearervoice")
os.makedirs(cv_dir)
cv = os.path.join(cv_dir, "last_best_checkpoint.pt")
torch.save({"model": sd, "optimizer": {}, "epoch": 3}, cv)
shutil.copy(os.path.join(d, "w16", "configuration.json"), cv_dir)
a, _ = run_c(os.path.join(d, "w16", "pytorch_model.bin"), inputs[0][1], 100000)
b, msg = run_c(cv, inputs[0][1], 100000)
T.check(a is not None and b is not None and np.array_equal(a, b),
        "ClearerVoice checkpoint (model wrapper, module. prefix, %d alias keys) == ModelScope directory %s" %
        (len(sd) - len(small.state_dict()), "" if b is not None else msg))


def bad_model(tag, mutate_sd=None, config=None):
    bd = os.path.join(d, "bad-" + tag)
    os.makedirs(bd)
    s = dict(small.state_dict())
    if mutate_sd:
        mutate_sd(s)
    torch.save(s, os.path.join(bd, "pytorch_model.bin"))
    cfg = small.configuration()
    if config:
        cfg["model"].update(config)
    with open(os.path.join(bd, "configuration.json"), "w") as f:
        json.dump(cfg, f)
    return bd


cases = [
    ("missing tensor", bad_model("missing", lambda s: s.pop("unet2.decoder3.bn.bn_im.running_var")),
     "unet2.decoder3.bn.bn_im.running_var"),
    ("wrong shape", bad_model("shape", lambda s: s.__setitem__("unet.fsmn.fsmn_re_L2.conv1.weight", torch.zeros(16, 1, 19, 1))),
     "conv1.weight"),
    ("other STFT", bad_model("stft", config={"win_len": 512}), "win_len"),
    ("unknown SE pooling", bad_model("pool", config={"se_pooling": "attention"}), "se_pooling"),
    ("width mismatch", bad_model("width", config={"width": 32}), "width"),
]
trunc_dir = os.path.join(d, "bad-truncated")
os.makedirs(trunc_dir)
raw = open(os.path.join(d, "w16", "pytorch_model.bin"), "rb").read()
open(os.path.join(trunc_dir, "pytorch_model.bin"), "wb").write(raw[: len(raw) // 2])
cases.append(("truncated weights", trunc_dir, ""))
wav = os.path.join(d, "in.wav")
scipy.io.wavfile.write(wav, 16000, (inputs[1][1] * 32767).astype(np.int16))
for what, path, needle in cases:
    out = os.path.join(d, "out-%s.wav" % what.replace(" ", "-"))
    p = T.run_checked([T.VOXPIPE, "denoise", "-m", path, wav, out])
    T.check(p.returncode == 1 and needle in p.stderr and not os.path.exists(out),
            "%s: refused with a message naming it, no output file, no memory errors (rc %d: %s)" %
            (what, p.returncode, p.stderr.strip()[:160]))
# OpenBLAS must run single-threaded once a model is loaded (FRCRN calls it directly): its own
# threads busy-wait, and beside one busy process `voxpipe denoise` once took 43 s instead of 7 s
p = T.run([T.TOOL, "blas-threads", os.path.join(T.SRCDIR, "share", "models", "frcrn-se-16k")], check=False)
T.check(p.returncode == 0 and p.stdout.strip() == "blas-threads 1",
        "after loading FRCRN, OpenBLAS runs one thread (%s)" % (p.stdout.strip() or p.stderr.strip()))
T.finish()
