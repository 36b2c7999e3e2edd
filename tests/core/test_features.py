#!/usr/bin/python3
"""Log-mel features vs torchaudio (an independent implementation of the same STFT/mel maths),
and streaming (any piece size) == whole signal. Needs python3-torch, python3-torchaudio."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import testlib as T  # noqa: E402

T.need_torch()
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchaudio  # noqa: E402


def reference(x):
    """NeMo's log-mel (no normalization) computed with torchaudio's transforms."""
    x = torch.from_numpy(x.astype(np.float64))  # float64: the reference must be more exact than us
    if len(x) > 1:
        x = torch.cat([x[:1], x[1:] - 0.97 * x[:-1]])
    spec = torchaudio.transforms.Spectrogram(
        n_fft=512, win_length=320, hop_length=160, power=2.0, center=True, pad_mode="constant",
        window_fn=lambda n: torch.hann_window(n, periodic=False, dtype=torch.float64))(x)
    torch.set_default_dtype(torch.float64)  # torchaudio builds the filterbank in the default dtype
    fb = torchaudio.functional.melscale_fbanks(257, 0.0, 8000.0, 64, 16000, norm="slaney", mel_scale="slaney")
    torch.set_default_dtype(torch.float32)
    mel = torch.matmul(fb.T, spec)
    return torch.log(mel + 2.0 ** -24).numpy()


def signals():
    rng = np.random.default_rng(7)
    t = np.arange(48123) / 16000.0
    yield "sine 440 Hz", 0.5 * np.sin(2 * np.pi * 440 * t)
    yield "white noise", 0.1 * rng.standard_normal(16037)
    yield "chirp", 0.3 * np.sin(2 * np.pi * (100 + 3000 * t[:32000]) * t[:32000])
    yield "one hop", 0.2 * rng.standard_normal(160)
    yield "shorter than a window", 0.2 * rng.standard_normal(100)
    yield "one sample", np.array([0.5])
    yield "silence + click", np.concatenate([np.zeros(8000), [0.9], np.zeros(7999)])


d = T.tmpdir()
for name, x in signals():
    x = x.astype(np.float32)
    inp = os.path.join(d, "x.f32")
    T.write_f32(inp, x)
    T.run([T.TOOL, "features", inp, os.path.join(d, "whole.f32")])
    ours = T.read_f32(os.path.join(d, "whole.f32")).reshape(64, -1)
    ref = reference(x)
    T.check(ours.shape == ref.shape, "%s: %d frames (torchaudio %d)" % (name, ours.shape[1], ref.shape[1]))
    if ours.shape == ref.shape:
        diff = float(np.abs(ours - ref).max())
        T.check(diff <= 1e-4, "%s (%d samples): max |log-mel - torchaudio| = %.2e <= 1e-4" % (name, len(x), diff))
    for chunk in (1, 7, 160, 1000, 4097):
        T.run([T.TOOL, "features", inp, os.path.join(d, "chunk.f32"), str(chunk)])
        st = T.read_f32(os.path.join(d, "chunk.f32")).reshape(64, -1)
        T.check(st.shape == ours.shape and np.array_equal(st, ours),
                "%s: streaming in %d-sample pieces equals the whole signal frame for frame" % (name, chunk))

def reference_mfcc(x):
    """NeMo's AudioToMFCCPreprocessor (MarbleNet: 25 ms window) is torchaudio.transforms.MFCC."""
    torch.set_default_dtype(torch.float64)
    mfcc = torchaudio.transforms.MFCC(sample_rate=16000, n_mfcc=64, dct_type=2, norm="ortho", log_mels=True,
                                      melkwargs=dict(f_min=0.0, f_max=None, n_mels=64, n_fft=512, win_length=400,
                                                     hop_length=160, window_fn=torch.hann_window))
    out = mfcc(torch.from_numpy(x.astype(np.float64))).numpy()
    torch.set_default_dtype(torch.float32)
    return out


for name, x in signals():
    if len(x) < 300:
        continue  # torchaudio's reflect padding needs more than n_fft/2 samples
    x = x.astype(np.float32)
    inp = os.path.join(d, "x.f32")
    T.write_f32(inp, x)
    T.run([T.TOOL, "features", inp, os.path.join(d, "mfcc.f32"), "0", "mfcc"])
    ours = T.read_f32(os.path.join(d, "mfcc.f32")).reshape(64, -1)
    ref = reference_mfcc(x)
    diff = float(np.abs(ours - ref).max()) if ours.shape == ref.shape else float("inf")
    T.check(diff <= 1e-3, "%s: MFCC vs torchaudio.transforms.MFCC: %d frames, max diff %.2e <= 1e-3"
            % (name, ours.shape[1], diff))
    for chunk in (1, 333, 4097):
        T.run([T.TOOL, "features", inp, os.path.join(d, "mfcc_c.f32"), str(chunk), "mfcc"])
        st = T.read_f32(os.path.join(d, "mfcc_c.f32")).reshape(64, -1)
        T.check(np.array_equal(st, ours), "%s: MFCC streamed in %d-sample pieces equals the whole signal" % (name, chunk))
T.finish()
