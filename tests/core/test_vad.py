#!/usr/bin/python3
"""VAD post-processing vs a straightforward Python statement of NeMo's rules (hysteresis, padding,
min durations in both orders, overlap smoothing by mean and median) on hand-made and random
probability sequences; bad parameters rejected. The streaming VAD (vox_vad_stream) with the bundled
model gives the segments of offline `voxpipe vad`, whatever the piece size, under valgrind."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import testlib as T  # noqa: E402
import numpy as np  # noqa: E402

d = T.tmpdir()


def ref_segments(p, fs, onset, offset, pad_on, pad_off, min_on, min_off, speech_first):
    segs, speech, start = [], False, 0.0
    for i, v in enumerate(p):
        if not speech and v >= onset:
            speech, start = True, i * fs
        elif speech and v < offset:
            speech = False
            segs.append([start, i * fs])
    if speech:
        segs.append([start, len(p) * fs])
    total = len(p) * fs
    segs = [[max(0.0, s - pad_on), min(total, e + pad_off)] for s, e in segs]

    def fill(segs, gap):
        out = []
        for s, e in segs:
            if out and s - out[-1][1] < gap:
                out[-1][1] = max(out[-1][1], e)
            else:
                out.append([s, e])
        return out

    def drop(segs):
        return [x for x in segs if x[1] - x[0] >= min_on]
    segs = fill(segs, 0.0)
    return fill(drop(segs), min_off) if speech_first else drop(fill(segs, min_off))


def ours(p, *args):
    path = os.path.join(d, "p.f32")
    T.write_f32(path, p)
    r = T.run_checked([T.TOOL, "vad", path] + [str(a) for a in args])
    if r.returncode:
        return None, r.stderr.strip()
    return [[float(v) for v in line.split()] for line in r.stdout.splitlines()], ""


cases = [
    ("one burst", [0.1] * 20 + [0.9] * 30 + [0.1] * 20, (0.01, 0.5, 0.5, 0, 0, 0, 0, 1)),
    ("hysteresis keeps a dip above offset", [0.1] * 10 + [0.8] * 10 + [0.4] * 5 + [0.8] * 10 + [0.1] * 10,
     (0.01, 0.7, 0.3, 0, 0, 0, 0, 1)),
    ("padding and a short gap filled", [0.9] * 20 + [0.0] * 8 + [0.9] * 20 + [0.0] * 30,
     (0.01, 0.5, 0.5, 0.05, 0.02, 0, 0.1, 1)),
    ("short speech dropped", [0.0] * 10 + [0.9] * 3 + [0.0] * 10 + [0.9] * 40, (0.01, 0.5, 0.5, 0, 0, 0.1, 0, 1)),
    ("speech at the end", [0.0] * 10 + [0.9] * 10, (0.02, 0.5, 0.5, 0.1, 0.3, 0, 0, 0)),
]
rng = np.random.default_rng(5)
for k in range(12):
    walk = np.clip(np.cumsum(rng.normal(0, 0.15, 300)) % 1.0, 0, 1)
    cases.append(("random walk %d" % k, list(walk), (0.01, rng.uniform(0.3, 0.8), rng.uniform(0.2, 0.5),
                                                    rng.uniform(0, 0.1), rng.uniform(0, 0.1), rng.uniform(0, 0.2),
                                                    rng.uniform(0, 0.2), int(rng.integers(2)))))
for name, p, args in cases:
    p = np.asarray(p, np.float32)
    got, err = ours(p, *args)
    want = ref_segments(p, *args)
    ok = got is not None and len(got) == len(want) and all(abs(a - b) < 1e-5 for g, w in zip(got, want)
                                                           for a, b in zip(g, w))
    T.check(ok, "%s: %d segments as NeMo's rules give %s" % (name, len(want), err))
got, err = ours(np.zeros(10, np.float32), 0.01, 1.5, 0.5, 0, 0, 0, 0, 1)
T.check(got is None and "out of range" in err, "onset 1.5 refused: " + err)
# NaN passed every `< 0` test (no speech, no error); an infinite padding made infinite times
for args, what in (((0.01, "nan", 0.5, 0, 0, 0, 0, 1), "onset NaN"), ((0.01, 0.5, "nan", 0, 0, 0, 0, 1), "offset NaN"),
                   ((0.01, 0.5, 0.5, "inf", 0, 0, 0, 1), "pad-onset inf"),
                   ((0.01, 0.5, 0.5, 0, 0, "nan", 0, 1), "min-duration-on NaN"),
                   (("nan", 0.5, 0.5, 0, 0, 0, 0, 1), "frame NaN")):
    got, err = ours(np.full(10, 0.9, np.float32), *args)
    T.check(got is None and "out of range" in err, "%s refused: %s" % (what, err))

win = rng.uniform(0, 1, 40).astype(np.float32)
T.write_f32(os.path.join(d, "w.f32"), win)
for median in (0, 1):
    T.run([T.TOOL, "vad-smooth", os.path.join(d, "w.f32"), os.path.join(d, "f.f32"), "63", "10", str(median)])
    got = T.read_f32(os.path.join(d, "f.f32"))
    nf = 39 * 10 + 63
    want = np.array([(np.median if median else np.mean)([win[i] for i in range(40) if i * 10 <= f < i * 10 + 63])
                     for f in range(nf)], np.float32)
    T.check(got.shape == want.shape and np.abs(got - want).max() < 1e-6,
            "overlap smoothing (%s) of 40 windows of 63 frames shifted by 10" % ("median" if median else "mean"))
# streaming VAD = offline `voxpipe vad` (gaps filled before short speech is dropped), any piece size
import scipy.io.wavfile  # noqa: E402
vad_model = os.path.join(T.SRCDIR, "share", "models", "marblenet-vad.nemo")
# Speech from 0.39 s (the sample after 0.2 s of faint noise). Padded with half a window of silence
# at both ends as NeMo's frame VAD is, the first frames get the windows centred around them;
# unpadded, only the windows reaching into the speech covered them, and the segment started at 0.00.
rate, x = scipy.io.wavfile.read(os.path.join(T.SRCDIR, "share", "samples", "sample-en.wav"))
lead = np.random.default_rng(2).normal(0, 30, 3200).astype(np.int16)
scipy.io.wavfile.write(os.path.join(d, "lead.wav"), rate, np.concatenate([lead, x]))
first = T.run([T.VOXPIPE, "vad", "-m", vad_model, os.path.join(d, "lead.wav")]).stdout.split()
T.check(len(first) >= 2 and 0.25 <= float(first[0]) <= 0.6,
        "speech from 0.39 s: the first segment starts at %s, not at the file's start" % first[:1])
rate, x = scipy.io.wavfile.read(os.path.join(T.SRCDIR, "share", "samples", "sample-en.wav"))
x = x.astype(np.float32) / 32768.0
sig = np.concatenate([np.zeros(24000, np.float32), x, np.zeros(9000, np.float32), x[: 30000],
                      np.zeros(40000, np.float32)])
sig += np.random.default_rng(1).normal(0, 0.002, len(sig)).astype(np.float32)
T.write_f32(os.path.join(d, "sig.f32"), sig)
scipy.io.wavfile.write(os.path.join(d, "sig.wav"), 16000, (sig * 32767).astype(np.int16))
sig = T.read_f32(os.path.join(d, "sig.f32"))
for params in (("0.9", "0.8", "0", "0", "0", "0"), ("0.7", "0.5", "0.1", "0.2", "0.3", "0.4"),
               ("0.9", "0.8", "0.05", "0.05", "0", "0.8")):
    off = T.run([T.VOXPIPE, "vad", "-m", vad_model, "--onset", params[0], "--offset", params[1], "--pad-onset", params[2],
                 "--pad-offset", params[3], "--min-duration-on", params[4], "--min-duration-off", params[5],
                 "--no-filter-speech-first", os.path.join(d, "sig.wav")]).stdout.split()
    want = [float(v) for v in off]
    for chunk in ("160", "1600", "100000"):
        # one run under valgrind: it takes minutes there (a model run per 10 ms window)
        run = T.run_checked if chunk == "1600" and params[0] == "0.7" else (lambda a: T.run(a, check=False))
        p = run([T.TOOL, "vad-stream", vad_model, os.path.join(d, "sig.f32"), chunk] + list(params))
        ev = [line.split() for line in p.stdout.splitlines()]
        got = []
        for e in ev:
            got.append(float(e[1]))
        pairs_ok = all(e[0] == ("start" if i % 2 == 0 else "end") for i, e in enumerate(ev))
        ok = p.returncode == 0 and pairs_ok and len(got) == len(want) and all(abs(a - b) <= 0.011 for a, b in zip(got, want))
        T.check(ok, "streaming VAD %s, pieces of %s samples: %s = offline %s" % ("/".join(params), chunk, got, want))
T.finish()
