#!/usr/bin/python3
"""MarbleNet / MatchboxNet plugin vs the PyTorch definition (models/marblenet/marblenet.py, NeMo's keys
and its torchaudio MFCC front end): class probabilities within 1e-4 on random-weight models, whole input
and streamed in chunks."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import testlib as T  # noqa: E402

T.need_torch()
import numpy as np  # noqa: E402
import scipy.io.wavfile  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

sys.path.insert(0, os.path.join(T.SRCDIR, "models", "marblenet"))
import marblenet as M  # noqa: E402
from nemo_conv import save_nemo  # noqa: E402

d = T.tmpdir()
rate, x = scipy.io.wavfile.read(os.path.join(T.SRCDIR, "share", "samples", "sample-en.wav"))
speech = x.astype(np.float32) / 32768.0
rng = np.random.default_rng(4)
clips = [("speech 0.63 s", speech[8000:8000 + 10080]), ("speech 1 s", speech[20000:36000]),
         ("noise 0.8 s", (0.05 * rng.standard_normal(12800)).astype(np.float32)),
         ("speech 2.3 s odd length", speech[3000:3000 + 36789])]

for arch in ("marblenet", "matchboxnet"):
    torch.manual_seed(3)
    model = M.EncDecClassificationModel(M.model_config(arch))
    with torch.no_grad():  # BN statistics from the clips' features, scales < 1 (see quartznet.randomize)
        for m in model.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.momentum = None
                m.reset_running_stats()
                m.weight.uniform_(0.6, 0.9)
                m.bias.uniform_(-0.1, 0.1)
        model.train()
        for _, c in clips:
            model(torch.from_numpy(c)[None], torch.tensor([len(c)]))
        model.eval()
    path = os.path.join(d, arch + ".nemo")
    save_nemo(path, model, model.config_yaml())
    ref_model = model.double()
    for name, c in clips:
        with torch.no_grad():
            ref = torch.softmax(ref_model(torch.from_numpy(c.astype(np.float64))[None], torch.tensor([len(c)])), -1)[0].numpy()
        inp = os.path.join(d, "in.f32")
        T.write_f32(inp, c)
        for chunk in (100000, 7):
            out = os.path.join(d, "out.f32")
            p = T.run([T.TOOL, "logits", path, inp, out, "1", str(chunk)], check=False)
            if p.returncode:
                T.check(False, "%s / %s: run (%s)" % (arch, name, p.stderr.strip()))
                continue
            logits = T.read_f32(out)
            prob = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
            diff = float(np.abs(prob - ref).max()) if prob.shape == ref.shape else float("inf")
            T.check(diff <= 1e-4, "%s / %s / chunks of %d frames: max |p - PyTorch| = %.1e <= 1e-4 (%d classes)"
                    % (arch, name, chunk, diff, len(ref)))
p = T.run([T.VOXPIPE, "info", path], check=False)
T.check(p.returncode == 0 and "marblenet" in p.stdout and "classification" in p.stdout, "voxpipe info on MatchboxNet")
# voxpipe vad end to end: a MarbleNet whose decoder bias says "speech" everywhere gives one segment over
# the whole file in every format; one that says "background" gives none
SAMPLE = os.path.join(T.SRCDIR, "share", "samples", "sample-en.wav")
for bias, expect in ((10.0, 1), (-10.0, 0)):
    torch.manual_seed(3)
    vm = M.EncDecClassificationModel(M.model_config("marblenet")).eval()
    with torch.no_grad():
        vm.decoder.decoder_layers[0].weight.zero_()
        vm.decoder.decoder_layers[0].bias.copy_(torch.tensor([0.0, bias]))
    vpath = os.path.join(d, "vad%d.nemo" % expect)
    save_nemo(vpath, vm, vm.config_yaml())
    outs = {f: (T.run_checked if f == "json" else lambda a: T.run(a, check=False))(
        [T.VOXPIPE, "vad", "-m", vpath, "-f", f, SAMPLE] + (["--shift-ms", "40"] if f == "json" else []))
        for f in ("text", "json", "rttm", "tsv")}
    ok = all(p.returncode == 0 for p in outs.values())
    segs = [line.split() for line in outs["text"].stdout.splitlines()]
    ok = ok and len(segs) == expect and (not expect or (float(segs[0][0]) == 0.0 and abs(float(segs[0][1]) - 5.32) < 0.02))
    js = json.loads(outs["json"].stdout)
    ok = ok and len(js["segments"]) == expect and abs(js["duration"] - 5.32) < 0.05 and 0 < js["processing_time"] < 60
    ok = ok and all(line.startswith("SPEAKER sample-en 1 0.000 ") and line.endswith("speech <NA> <NA>")
                    for line in outs["rttm"].stdout.splitlines()) and len(outs["rttm"].stdout.splitlines()) == expect
    T.check(ok, "voxpipe vad (text/json/rttm/tsv; json under valgrind): %d segment(s) as the model says, "
            "json with duration and processing_time" % expect)
    if expect:
        p = T.run([T.VOXPIPE, "vad", "-m", vpath, SAMPLE, os.path.join(d, "nope.wav"), SAMPLE], check=False)
        T.check(p.returncode == 1 and p.stdout.splitlines() == [SAMPLE + ": " + outs["text"].stdout.strip()] * 2,
                "voxpipe vad, several files (one missing): each text line starts with its file's name: %r" %
                p.stdout[:160])
# voxpipe commands: a MatchboxNet biased to "yes" hears one merged "yes"; biased to "unknown", nothing
for word, expect in (("yes", 1), ("unknown", 0)):
    torch.manual_seed(3)
    cm = M.EncDecClassificationModel(M.model_config("matchboxnet")).eval()
    with torch.no_grad():
        cm.decoder.decoder_layers[0].weight.zero_()
        bias = torch.zeros(len(M.COMMAND_LABELS))
        bias[M.COMMAND_LABELS.index(word)] = 10.0
        cm.decoder.decoder_layers[0].bias.copy_(bias)
    cpath = os.path.join(d, "cmd_%s.nemo" % word)
    save_nemo(cpath, cm, cm.config_yaml())
    pj = T.run_checked([T.VOXPIPE, "commands", "-m", cpath, "-f", "json", "--shift-ms", "500", SAMPLE])
    rows = [json.loads(line) for line in pj.stdout.splitlines()]
    T.check(pj.returncode == 0 and len(rows) == expect and all(r["command"] == word and r["start"] == 0.0 and
                                                                r["score"] > 0.99 for r in rows),
            "voxpipe commands (json, under valgrind): %d detection(s) of '%s'" % (expect, word))
    if expect:
        one = T.run([T.VOXPIPE, "commands", "-m", cpath, "--shift-ms", "500", SAMPLE], check=False).stdout.strip()
        p = T.run([T.VOXPIPE, "commands", "-m", cpath, "--shift-ms", "500", SAMPLE, SAMPLE], check=False)
        T.check(p.returncode == 0 and one.split()[2:3] == [word] and p.stdout.splitlines() == [SAMPLE + ": " + one] * 2,
                "voxpipe commands, several files: each text line starts with its file's name: %r" % p.stdout[:160])
p = T.run([T.VOXPIPE, "vad", "-m", path, SAMPLE], check=False)
T.check(p.returncode == 1 and "not a VAD model" in p.stderr, "a command model given to vad: clean error")

# the bundled command model on words spoken by a held-out voice, each clip shorter than the 1 s
# window (classified centred in silence)
import subprocess  # noqa: E402
bundled = os.path.join(T.SRCDIR, "share", "models", "matchboxnet-commands.nemo")
if os.path.exists(bundled) and subprocess.run(["sh", "-c", "command -v espeak-ng"], capture_output=True).returncode == 0:
    right = 0
    words = ["yes", "no", "stop", "go", "left", "right", "seven", "three"]
    for w in words:
        clip = os.path.join(d, "w_%s.wav" % w)
        subprocess.run(["espeak-ng", "-v", "en-us+m6", "-w", clip, w], check=True)
        p = T.run([T.VOXPIPE, "commands", "--threshold", "0", clip], check=False)
        said = [line.split()[2] for line in p.stdout.splitlines()]
        right += said[:1] == [w]
    T.check(right >= 6, "bundled command model: %d of %d words of a held-out voice recognised" % (right, len(words)))
T.finish()
