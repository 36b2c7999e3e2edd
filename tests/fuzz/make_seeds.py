#!/usr/bin/python3
"""Seed corpora for the fuzz targets, made by the project's own writers: .nemo/.pt files from torch,
model configs from the PyTorch definitions, and audio files in several formats."""
import io
import os
import subprocess
import sys

out = sys.argv[1]
top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(top, "models", "common"))
sys.path.insert(0, os.path.join(top, "models", "quartznet"))
for sub in ("checkpoint", "config", "audio", "pickle", "arpa"):
    os.makedirs(os.path.join(out, sub), exist_ok=True)
import numpy as np  # noqa: E402
import scipy.io.wavfile  # noqa: E402
import torch  # noqa: E402
import quartznet as Q  # noqa: E402
from nemo_conv import save_nemo  # noqa: E402

m = Q.EncDecCTCModel(Q.model_config("tiny"))
save_nemo(os.path.join(out, "checkpoint", "tiny.nemo"), m, m.config_yaml())
save_nemo(os.path.join(out, "checkpoint", "tiny.nemo.gz"), m, m.config_yaml(), gzip=True)
b = io.BytesIO()
torch.save({"state_dict": {"a": torch.randn(3, 4).t(), "b": torch.randn(5).half()}, "epoch": 1}, b)
open(os.path.join(out, "checkpoint", "small.pt"), "wb").write(b.getvalue())
import zipfile  # noqa: E402
for name, obj in (("views", {"a": torch.randn(4, 4)[1:3, ::2], "b": torch.arange(6).view(2, 3).t()}),
                  ("nested", {"state_dict": {"w": torch.randn(3).half(), "x": torch.randn(2).bfloat16()}, "n": 3})):
    b = io.BytesIO()
    torch.save(obj, b)
    with zipfile.ZipFile(io.BytesIO(b.getvalue())) as z:
        pkl = [n for n in z.namelist() if n.endswith("data.pkl")][0]
        open(os.path.join(out, "pickle", name + ".pkl"), "wb").write(z.read(pkl))
for arch in ("tiny", "5x5", "stream"):
    open(os.path.join(out, "config", arch + ".yaml"), "w").write(Q.EncDecCTCModel(Q.model_config(arch)).config_yaml())
x = (np.sin(np.arange(4000) / 10.0) * 8000).astype(np.int16)
wav = os.path.join(out, "audio", "a.wav")
scipy.io.wavfile.write(wav, 16000, x)
for ext in ("flac", "ogg", "aiff"):
    subprocess.run(["sox", wav, os.path.join(out, "audio", "a." + ext)], check=False)
open(os.path.join(out, "arpa", "toy.arpa"), "w").write(
    "\\data\\\nngram 1=4\nngram 2=2\nngram 3=1\n\n\\1-grams:\n-1.0 <s> -0.3\n-1.0 </s>\n-0.7 a -0.2\n"
    "-0.9 b -0.1\n\n\\2-grams:\n-0.3 <s> a -0.1\n-0.2 a b\n\n\\3-grams:\n-0.1 <s> a b\n\n\\end\\\n")

# fuzz_model: weights N.ckpt (a .nemo's model_weights.ckpt) or N.bin (ModelScope), and seeds made of the
# byte N and the configuration that goes with those weights
sys.path.insert(0, os.path.join(top, "models", "marblenet"))
sys.path.insert(0, os.path.join(top, "models", "frcrn"))
import json  # noqa: E402
import marblenet as MB  # noqa: E402
import frcrn as FR  # noqa: E402
wdir = os.path.join(out, "model-weights")
os.makedirs(wdir, exist_ok=True)
os.makedirs(os.path.join(out, "model"), exist_ok=True)
models = [Q.EncDecCTCModel(Q.model_config("tiny")), Q.EncDecCTCModel(Q.model_config("tiny", normalize="NA")),
          MB.EncDecClassificationModel(MB.model_config("marblenet")),
          MB.EncDecClassificationModel(MB.model_config("matchboxnet")), FR.FRCRN(16, "cumulative")]
for i, mod in enumerate(models):
    b = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in mod.state_dict().items()}, b)
    modelscope = isinstance(mod, FR.FRCRN)
    open(os.path.join(wdir, "%d.%s" % (i, "bin" if modelscope else "ckpt")), "wb").write(b.getvalue())
    text = json.dumps(mod.configuration(), indent=2) if modelscope else mod.config_yaml()
    open(os.path.join(out, "model", "%d.cfg" % i), "wb").write(bytes([i]) + text.encode())
