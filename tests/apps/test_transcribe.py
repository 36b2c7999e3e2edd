#!/usr/bin/python3
"""`voxpipe transcribe` and `voxpipe info` end to end: output formats, NeMo manifests and shards,
bad input (missing/corrupt audio, wrong model kind, vocabulary mismatch, not a model), zero-length
audio, a 10-hour file in bounded memory, and the bundled model on the bundled sample."""
import json
import os
import re
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import testlib as T  # noqa: E402

T.need_torch()
import numpy as np  # noqa: E402
import scipy.io.wavfile  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402
import quartznet as Q  # noqa: E402
from nemo_conv import save_nemo  # noqa: E402

d = T.tmpdir()
VP = T.VOXPIPE
SAMPLE = os.path.join(T.SRCDIR, "share", "samples", "sample-en.wav")

torch.manual_seed(0)
model = Q.randomize(Q.EncDecCTCModel(Q.model_config("tiny")), seed=5)
tiny = os.path.join(d, "tiny.nemo")
save_nemo(tiny, model, model.config_yaml())


def vp(*args, checked=False):
    return (T.run_checked if checked else lambda a: T.run(a, check=False))([VP] + list(args))


# info
p = vp("info", tiny)
T.check(p.returncode == 0 and "quartznet" in p.stdout and "parameters:    63773" in p.stdout and
        "encoder.encoder.0.mconv.0.conv.weight" in p.stdout, "voxpipe info describes a .nemo written by torch")

# formats
p = vp("transcribe", "-m", tiny, "-f", "json", SAMPLE, checked=True)
ok = p.returncode == 0
if ok:
    j = json.loads(p.stdout)
    ok = j["audio_filepath"] == SAMPLE and abs(j["duration"] - 5.32) < 0.05 and isinstance(j["words"], list) and \
        all(0 <= w["start"] < w["end"] <= j["duration"] + 0.05 and 0 < w["confidence"] <= 1 for w in j["words"]) and \
        " ".join(w["word"] for w in j["words"]) == j["pred_text"]
T.check(ok, "json output: pred_text, duration, words with times and confidences (no memory errors)")
p = vp("transcribe", "-m", tiny, "-f", "srt", SAMPLE)
T.check(p.returncode == 0 and p.stdout.startswith("1\n00:00:") and " --> " in p.stdout, "srt output")
p = vp("transcribe", "-m", tiny, "-f", "vtt", SAMPLE)
T.check(p.returncode == 0 and p.stdout.startswith("WEBVTT\n\n00:00:"), "vtt output")
p = vp("transcribe", "-m", tiny, "-f", "xml", SAMPLE)
T.check(p.returncode == 2 and "unknown format" in p.stderr, "unknown format: usage error")
p = vp("transcribe", "--bogus", SAMPLE)
T.check(p.returncode == 2 and "Try 'voxpipe transcribe --help'" in p.stderr, "unknown option: usage error")

# manifest and shards
rate, x = scipy.io.wavfile.read(SAMPLE)
man = os.path.join(d, "manifest.jsonl")
with open(man, "w") as f:
    for i in range(5):
        wav = os.path.join(d, "m%d.wav" % i)
        scipy.io.wavfile.write(wav, rate, x[: 16000 + 8000 * i])
        f.write(json.dumps({"audio_filepath": "m%d.wav" % i, "duration": 1.0 + 0.5 * i, "text": "ref %d" % i}) + "\n")
p = vp("transcribe", "-m", tiny, "--manifest", man)
rows = [json.loads(line) for line in p.stdout.splitlines()]
T.check(p.returncode == 0 and len(rows) == 5 and all("pred_text" in r and "processing_time" in r and
                                                      r["text"] == "ref %d" % i for i, r in enumerate(rows)),
        "manifest: 5 JSON lines with text, pred_text, words, duration, processing_time")
shards = []
for k in range(2):
    p = vp("transcribe", "-m", tiny, "--manifest", man, "--shard", "%d/2" % k)
    shards += [json.loads(line)["audio_filepath"] for line in p.stdout.splitlines()]
T.check(sorted(shards) == sorted(r["audio_filepath"] for r in rows) and len(shards) == 5,
        "--shard 0/2 and 1/2 together cover the manifest exactly once")

# NeMo segment manifests: offset and duration name a part of the file (they were ignored: every
# segment's line got the whole file's transcript); without offset, the whole file whatever duration says
segs = os.path.join(d, "segments.jsonl")
whole = os.path.join(d, "whole.wav")
scipy.io.wavfile.write(whole, rate, x)
lines = [{"audio_filepath": "whole.wav", "offset": 1.0, "duration": 2.0}, {"audio_filepath": "whole.wav", "offset": 3.5},
         {"audio_filepath": "whole.wav", "duration": 1.0}, {"audio_filepath": "whole.wav", "offset": 60.0, "duration": 1.0}]
with open(segs, "w") as f:
    f.write("".join(json.dumps(r) + "\n" for r in lines))
p = vp("transcribe", "-m", tiny, "--manifest", segs)
rows = [json.loads(line) for line in p.stdout.splitlines()]
want = []
for a, b in ((16000, 48000), (56000, len(x)), (0, len(x))):
    scipy.io.wavfile.write(os.path.join(d, "cut.wav"), rate, x[a:b])
    want.append(json.loads(vp("transcribe", "-m", tiny, "-f", "json", os.path.join(d, "cut.wav")).stdout))
ok = p.returncode == 1 and len(rows) == 4 and all(r.get("pred_text") == w["pred_text"] and
                                                  abs(r["duration"] - w["duration"]) < 1e-6 for r, w in zip(rows, want))
T.check(ok and rows[0].get("offset") == 1.0 and "offset" not in rows[2],
        "segment manifest: offset 1 s + duration 2 s, offset 3.5 s to the end, and a line without offset (whole "
        "file) transcribed as those parts cut out; offset repeated")
T.check(len(rows) == 4 and "beyond the end of the audio" in rows[3].get("error", "") and "beyond the end" in p.stderr,
        "segment past the end of its file: an error line naming it, exit 1 (%s)" % (rows[3] if len(rows) == 4 else p.stdout))
p = vp("transcribe", "-m", tiny, "--vad", "--manifest", segs)
T.check(p.returncode == 1 and "--vad takes whole files" in p.stderr, "--vad with a segment manifest: refused per line")
# offsets and durations that are not numbers (they were taken as absent: the whole file, exit 0)
bad = ['{"audio_filepath": "whole.wav", "offset": "1.5", "duration": 1.0}',
       '{"audio_filepath": "whole.wav", "offset": 1.0, "duration": true}',
       '{"audio_filepath": "whole.wav", "offset": 0, "duration": 1e400}',
       '{"audio_filepath": "whole.wav", "offset": 0x10}',
       '{"audio_filepath": "whole.wav", "offset": null, "duration": null}']
with open(segs, "w") as f:
    f.write("".join(line + "\n" for line in bad))
p = vp("transcribe", "-m", tiny, "--manifest", segs)
rows = [json.loads(line) for line in p.stdout.splitlines()]
T.check(p.returncode == 1 and len(rows) == 5 and [r.get("error", "").split("line's ")[-1] for r in rows[:4]] ==
        ["%s is not a number of seconds" % k for k in ("offset", "duration", "duration", "offset")] and
        rows[4].get("pred_text") == want[2]["pred_text"],
        "manifest offset/duration that are not numbers (a string, true, 1e400, hex): an error line each, exit 1; "
        "null is absent (%s)" % [r.get("error", "")[-40:] for r in rows])

# beam search with the bundled corpus LM, n-best, hot words; bad decoding options
p = vp("transcribe", "-m", tiny, "--lm", "default", "--nbest", "3", "--hotword", "canoe:4", "-f", "json", SAMPLE,
       checked=True)
ok = p.returncode == 0
if ok:
    j = json.loads(p.stdout)
    nb = j["nbest"]
    ok = 1 <= len(nb) <= 3 and nb[0]["text"] == j["pred_text"] and all(nb[i]["score"] >= nb[i + 1]["score"]
                                                                       for i in range(len(nb) - 1))
T.check(ok, "--lm default --nbest 3 --hotword: sorted n-best list led by pred_text (no memory errors) %s"
        % p.stderr[-300:])
p = vp("info", os.path.join(T.SRCDIR, "share", "models", "english-corpus-3gram.arpa"), checked=True)
T.check(p.returncode == 0 and "arpa, 3-gram, closed vocabulary" in p.stdout and "memory:" in p.stdout,
        "voxpipe info on the bundled LM: order, counts, memory")
p = vp("transcribe", "-m", tiny, "--lm", "default", "--manifest", man)
T.check(p.returncode == 0 and len(p.stdout.splitlines()) == 5, "manifest decoded with beam search and LM")
bad_lm = os.path.join(d, "bad.arpa")
with open(bad_lm, "w") as f:
    f.write("\\data\\\nngram 1=2\n\n\\1-grams:\n-1 a\n")
p = vp("transcribe", "-m", tiny, "--lm", bad_lm, SAMPLE, checked=True)
T.check(p.returncode == 1 and "bad.arpa: line" in p.stderr, "malformed LM: clean error naming it: " + p.stderr.strip())
for args, what in ((["--hotword", ":3"], "--hotword takes one word"), (["--alpha", "x"], "--alpha takes a number"),
                   (["--beam", "0"], "--beam takes a count"), (["--lm"], "--lm needs a value")):
    p = vp("transcribe", "-m", tiny, *(args + [SAMPLE] if args != ["--lm"] else args))
    T.check(p.returncode == 2 and what in p.stderr, "bad decoding option %s: %s" % (" ".join(args), p.stderr.strip()))

# Option values: the VAD's window and shift were checked by `voxpipe vad` only, so `transcribe --vad`
# with a window under one frame freed an invalid pointer and a shift beyond the window ran off its
# buffer (SIGSEGV); atof/atoi read "2x" as 2 and "nan" as NaN (no speech found, exit 0).
for cmd, args, what in (
        ("transcribe", ["--vad", "--window-ms", "0"], "--window-ms takes 10 to 60000"),
        ("transcribe", ["--vad", "--window-ms", "1"], "--window-ms takes 10 to 60000"),
        ("transcribe", ["--vad", "--shift-ms", "100000"], "--shift-ms takes 1 to --window-ms"),
        ("transcribe", ["--vad", "--shift-ms", "0"], "--shift-ms takes 1 to --window-ms"),
        ("transcribe", ["--vad", "--window-ms", "1e9"], "--window-ms takes 10 to 60000"),
        ("transcribe", ["--vad", "--onset", "nan"], "--onset and --offset take 0 to 1"),
        ("transcribe", ["--vad", "--smoothing", "max"], "--smoothing takes mean or median"),
        ("transcribe", ["--threads", "2x"], "--threads must be 1 to 256"),
        ("vad", ["--pad-onset", "inf"], "--pad-onset and --pad-offset take seconds >= 0"),
        ("vad", ["--onset", "0.5x"], "--onset and --offset take 0 to 1"),
        ("vad", ["--smoothing", "max"], "--smoothing takes mean or median"),
        ("live", ["--chunk-s", "nan", "-i"], "need 0 < --chunk-s <= 60"),
        ("live", ["--chunk-s", "2", "--buffer-s", "1", "-i"], "need 0 < --chunk-s <= 60"),
        # one message had named --format, --threads and --endpoint-ms together
        ("live", ["--threads", "0", "-i"], "--threads takes 1 to 256"),
        ("live", ["--endpoint-ms", "0", "-i"], "--endpoint-ms takes milliseconds > 0"),
        ("live", ["--format", "srt", "-i"], "--format takes text or json"),
        ("commands", ["--threshold", "0.5x"], "0 <= threshold <= 1"),
        ("denoise", ["--threads", "0"], "--threads must be 1 to 256")):
    p = vp(cmd, *(args + [SAMPLE] + ([os.path.join(d, "out.wav")] if cmd == "denoise" else [])))
    T.check(p.returncode == 2 and what in p.stderr and not p.stdout,
            "voxpipe %s %s: usage error (exit %d) %s" % (cmd, " ".join(args), p.returncode, p.stderr.strip()[-200:]))

# NaN and infinite samples of a float file are read as silence, before resampling too: through the
# log-mel frames and the model's context 100 NaN samples took 2 s of the bundled model's transcript
rate, x = scipy.io.wavfile.read(SAMPLE)
x = x.astype(np.float32) / 32768.0
for out_rate in (rate, 44100):
    y = x if out_rate == rate else np.interp(np.arange(len(x) * out_rate // rate) * rate / out_rate,
                                             np.arange(len(x)), x).astype(np.float32)
    at = [int(s * out_rate / rate) for s in (10000, 10100, 30000, 30010)]
    bad, zeroed = y.copy(), y.copy()
    bad[at[0]:at[1]], bad[at[2]:at[3]], zeroed[at[0]:at[1]], zeroed[at[2]:at[3]] = np.nan, -np.inf, 0.0, 0.0
    texts = []
    for name, sig in (("nonfinite", bad), ("zeroed", zeroed)):
        path = os.path.join(d, "%s-%d.wav" % (name, out_rate))
        scipy.io.wavfile.write(path, out_rate, sig)
        p = vp("transcribe", "-m", tiny, "-f", "json", path, checked=True)
        texts.append(json.loads(p.stdout)["pred_text"] if p.returncode == 0 else None)
    T.check(texts[0] is not None and texts[0] == texts[1],
            "%d Hz float WAV with NaN and -inf samples: transcribed as with those samples zeroed" % out_rate)

# --vad: only the speech the bundled VAD finds is recognised, on the file's time line
rate, x = scipy.io.wavfile.read(SAMPLE)
gap = np.zeros(int(3.0 * rate), x.dtype)
padded = os.path.join(d, "gaps.wav")
scipy.io.wavfile.write(padded, rate, np.concatenate([gap, x, gap, gap, x, gap]))
span1 = (3.0, 3.0 + len(x) / rate)
span2 = (span1[1] + 6.0, span1[1] + 6.0 + len(x) / rate)
p = vp("transcribe", "-m", tiny, "--vad", "-f", "json", padded, checked=True)
ok = p.returncode == 0
if ok:
    j = json.loads(p.stdout)
    inside = [w for w in j["words"] if any(a - 0.3 <= w["start"] and w["end"] <= b + 0.3 for a, b in (span1, span2))]
    ok = len(j["words"]) > 0 and len(inside) == len(j["words"]) and abs(j["duration"] - (2 * span1[1] + 6 - 3.0 + 3.0)) < 0.1
T.check(ok, "transcribe --vad: words only inside the two speech spans, times on the file's line (no memory errors) %s"
        % p.stderr[-200:])
png = os.path.join(d, "vad.png")
# (not under valgrind: fontconfig's first font scan takes minutes there)
p = vp("vad", "--plot", png, padded)
T.check(p.returncode == 0 and open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n" and os.path.getsize(png) > 5000,
        "voxpipe vad --plot writes a PNG (cairo)")
p = vp("vad", "--plot", os.path.join(d, "no", "such", "dir.png"), padded)
T.check(p.returncode == 1 and "cannot write the plot" in p.stderr, "--plot into a missing directory: " + p.stderr.strip())
p = vp("transcribe", "-m", tiny, "--vad-model", tiny, padded)
T.check(p.returncode == 1 and "is not a VAD model" in p.stderr, "--vad-model with an ASR model: " + p.stderr.strip())

# bad input
p = vp("transcribe", "-m", tiny, os.path.join(d, "nope.wav"), checked=True)
T.check(p.returncode == 1 and "nope.wav: no such file" in p.stderr, "missing audio: " + p.stderr.strip()[:100])
nope = os.path.join(d, "nope.wav")
p = vp("transcribe", "-m", tiny, SAMPLE, nope, SAMPLE, checked=True)
lines = p.stdout.splitlines()
T.check(p.returncode == 1 and len(lines) == 2 and all(x.startswith(SAMPLE + ": ") for x in lines) and nope not in p.stdout
        and "nope.wav: no such file" in p.stderr,
        "several files, one missing: a line for each of the others, the missing one on stderr only, exit 1: %r" %
        p.stdout[:200])
bad = os.path.join(d, "corrupt.wav")
with open(bad, "wb") as f:
    f.write(open(SAMPLE, "rb").read()[:3000])
p = vp("transcribe", "-m", tiny, bad, checked=True)
T.check(p.returncode == 1 and "truncated" in p.stderr, "corrupt audio: " + p.stderr.strip()[:120])
cfg = Q.model_config("tiny")
cfg["target"] = "nemo.collections.asr.models.rnnt_models.EncDecRNNTModel"
wrong = os.path.join(d, "rnnt.nemo")
save_nemo(wrong, model, yaml.safe_dump(cfg))
p = vp("transcribe", "-m", wrong, SAMPLE, checked=True)
T.check(p.returncode == 1 and "no model plugin accepts this model" in p.stderr,
        "a model no plugin implements (RNNT): " + p.stderr.strip()[:120])
sys.path.insert(0, os.path.join(T.SRCDIR, "models", "marblenet"))
import marblenet as MB  # noqa: E402
clf = MB.EncDecClassificationModel(MB.model_config("marblenet")).eval()
clf_path = os.path.join(d, "marblenet.nemo")
save_nemo(clf_path, clf, clf.config_yaml())
p = vp("transcribe", "-m", clf_path, SAMPLE, checked=True)
T.check(p.returncode == 1 and "is not a speech recognition (CTC) model" in p.stderr,
        "a VAD model given to transcribe: " + p.stderr.strip()[:120])
cfg = Q.model_config("tiny")
cfg["decoder"]["vocabulary"] = cfg["decoder"]["vocabulary"][:20]
mism = os.path.join(d, "vocab.nemo")
save_nemo(mism, model, yaml.safe_dump(cfg))
p = vp("transcribe", "-m", mism, SAMPLE, checked=True)
T.check(p.returncode == 1 and "vocabulary mismatch" in p.stderr, "vocabulary mismatch: " + p.stderr.strip()[:120])
cfg = Q.model_config("tiny")
cfg["decoder"]["num_classes"] = 40
cfg["decoder"]["vocabulary"] = [chr(97 + i % 26) * (1 + i // 26) for i in range(40)]
mism = os.path.join(d, "vocab2.nemo")
save_nemo(mism, model, yaml.safe_dump(cfg))
p = vp("transcribe", "-m", mism, SAMPLE, checked=True)
T.check(p.returncode == 1 and "decoder.decoder_layers.0.weight' has shape [29, 128, 1], expected [41, 128, 1]" in p.stderr,
        "vocabulary larger than the decoder: " + p.stderr.strip()[:140])
p = vp("transcribe", "-m", SAMPLE, SAMPLE, checked=True)
T.check(p.returncode == 1 and "neither a .nemo archive" in p.stderr, "audio given as model: " + p.stderr.strip()[:120])
cfg = Q.model_config("tiny")
cfg["encoder"]["jasper"][1]["se"] = True
se = os.path.join(d, "se.nemo")
save_nemo(se, model, yaml.safe_dump(cfg))
p = vp("transcribe", "-m", se, SAMPLE, checked=True)
T.check(p.returncode == 1 and "squeeze-excite" in p.stderr, "unsupported block type named: " + p.stderr.strip()[:120])
# config values of the wrong type or missing: the key and what was expected are named
for label, edit, words in (
        ("a kernel that is not an integer", lambda c: c["encoder"]["jasper"][1].update(kernel=["nine"]),
         ["'nine'", "expected an integer"]),
        ("a sample rate that is not a number", lambda c: c["preprocessor"].update(sample_rate="fast"),
         ["sample_rate", "'fast'", "expected a number"]),
        ("a residual flag that is not a boolean", lambda c: c["encoder"]["jasper"][1].update(residual="maybe"),
         ["residual", "'maybe'", "expected true or false"]),
        ("filters missing", lambda c: c["encoder"]["jasper"][1].pop("filters"), ["filters", "missing"]),
        # the block's depthwise weights were read before its pointwise ones failed, and leaked (fuzz_model)
        ("filters that disagree with the weights", lambda c: c["encoder"]["jasper"][1].update(filters=63),
         ["encoder.encoder.1.mconv.1.conv.weight' has shape", "expected [63,"])):
    cfg = Q.model_config("tiny")
    edit(cfg)
    bad = os.path.join(d, "badcfg.nemo")
    save_nemo(bad, model, yaml.safe_dump(cfg))
    p = vp("transcribe", "-m", bad, SAMPLE, checked=True)
    T.check(p.returncode == 1 and all(w in p.stderr for w in words), label + ": " + p.stderr.strip()[:140])

# zero-length audio: an empty transcript, not an error
empty = os.path.join(d, "empty.wav")
scipy.io.wavfile.write(empty, 16000, np.zeros(0, np.int16))
p = vp("transcribe", "-m", tiny, "-f", "json", empty, checked=True)
T.check(p.returncode == 0 and json.loads(p.stdout)["pred_text"] == "", "zero-length audio: empty transcript, exit 0")

# 10 hours of (sparse) audio in bounded memory
if os.path.exists("/usr/bin/time"):
    n = 16000 * 36000
    long_wav = os.path.join(d, "ten_hours.wav")
    with open(long_wav, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 36 + n * 2) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16)
                + b"data" + struct.pack("<I", n * 2))
    os.truncate(long_wav, 44 + n * 2)
    # GNU time reports the peak RSS of the program itself (a fork of this Python would count
    # Python's own memory in ru_maxrss before the exec)
    out_path, rss_path = os.path.join(d, "long.json"), os.path.join(d, "rss.txt")
    with open(out_path, "w") as out:
        status = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_path, T.libtool_exec(VP), "transcribe", "-m",
                                 tiny, "-f", "json", long_wav], stdout=out,
                                env=dict(T.env(), LD_LIBRARY_PATH=os.path.join(T.BUILDDIR, "core", ".libs"))).returncode
    rss = int(open(rss_path).read().split()[-1])
    ok = status == 0 and abs(json.loads(open(out_path).read())["duration"] - 36000) < 1
    T.check(ok and rss < 300 * 1024, "10-hour file: transcribed, peak RSS %.0f MB < 300 MB" % (rss / 1024.0))
    os.remove(long_wav)

# live: a streaming model fed in 100 ms blocks gives the offline words as finals
torch.manual_seed(0)
smodel = Q.randomize(Q.EncDecCTCModel(Q.model_config("tiny", normalize="NA")), seed=6)
stream_nemo = os.path.join(d, "tiny_stream.nemo")
save_nemo(stream_nemo, smodel, smodel.config_yaml())
p = vp("transcribe", "-m", stream_nemo, "-f", "json", SAMPLE)
offline = json.loads(p.stdout)["pred_text"]
p = vp("live", "-m", stream_nemo, "-i", SAMPLE, "-f", "json", "--endpoint-ms", "300", checked=True)
lines = [json.loads(line) for line in p.stdout.splitlines()]
finals = [r["text"] for r in lines if r["type"] == "final"]
T.check(p.returncode == 0 and finals and " ".join(finals) == offline and
        all(r["words"] and r["start"] <= r["words"][0]["start"] for r in lines),
        "live --input FILE: %d finals (+%d partials) joined equal the offline transcript, no memory errors" %
        (len(finals), len(lines) - len(finals)))
# the compute the stream measured (vox_asr_stream_stats): one accept per 100 ms block of the 5.3 s sample
m = re.search(r"([0-9.]+) s of audio recognised in (\d+) blocks; compute per block mean ([0-9.]+) ms, worst ([0-9.]+) "
              r"ms, final flush ([0-9.]+) ms \(RTF ([0-9.]+)\)", p.stderr)
T.check(m is not None and abs(float(m.group(1)) - 5.3) < 0.05 and int(m.group(2)) == 53 and
        0 < float(m.group(3)) <= float(m.group(4)) and float(m.group(5)) > 0 and float(m.group(6)) > 0,
        "live reports the stream's measured compute: audio, blocks, mean/worst per block, flush, RTF (%s)" %
        (m.group(0) if m else p.stderr.strip()[-200:]))
p = subprocess.run([T.libtool_exec(VP), "live", "-m", stream_nemo, "-i", "-", "--no-partials"], input=open(SAMPLE, "rb").read(),
                   capture_output=True, env=dict(T.env(), LD_LIBRARY_PATH=os.path.join(T.BUILDDIR, "core", ".libs")))
T.check(p.returncode == 0 and " ".join(p.stdout.decode().split()) == offline, "live --input - (stdin) gives the same words")
p = vp("live", "-m", stream_nemo, "-i", SAMPLE, "-f", "json", "--endpoint-ms", "300", "--lm", "default", "--beam", "8",
       checked=True)
T.check(p.returncode == 0 and all("text" in json.loads(line) for line in p.stdout.splitlines()),
        "live with beam search and the corpus LM (no memory errors) " + p.stderr[-200:])
# buffered inference for a per-utterance (per_feature) model: the chunk's outputs of each window
p = vp("live", "-m", tiny, "-i", SAMPLE, "-f", "json", "--chunk-s", "1.0", "--buffer-s", "3.0", checked=True)
blines = [json.loads(line) for line in p.stdout.splitlines()]
bwords = [w for r in blines if r["type"] == "final" for w in r["words"]]
T.check(p.returncode == 0 and "buffered inference; latency 2000 ms" in p.stderr and bwords and
        all(a["end"] <= b["start"] + 1e-9 for a, b in zip(bwords, bwords[1:])) and bwords[-1]["end"] <= 5.35,
        "live with a per_feature model: buffered inference, 2 s latency, ordered words in stream time")
# a chunk under one output frame (it turned buffered mode off, and the stream then refused the per_feature
# model as if no chunk had been given)
p = vp("live", "-m", tiny, "-i", SAMPLE, "--chunk-s", "0.001", "--buffer-s", "0.001", checked=True)
T.check(p.returncode == 1 and "chunk 0.001 s is shorter than one output frame of the model (0.02 s)" in p.stderr,
        "buffered mode with a chunk under one output frame: refused naming both (%s)" % p.stderr.strip()[-120:])
p = vp("live", "-m", tiny, "-i", SAMPLE, "-f", "json", "--chunk-s", "60", "--buffer-s", "120")
offline_tiny = json.loads(vp("transcribe", "-m", tiny, "-f", "json", SAMPLE).stdout)["pred_text"]
T.check(" ".join(json.loads(line)["text"] for line in p.stdout.splitlines() if '"final"' in line) == offline_tiny,
        "buffered mode with a buffer longer than the audio equals whole-file transcription")

# live capture through PortAudio from an ALSA pcm of type "file" (no microphone needed): the test's
# own ~/.asoundrc makes the default capture device read the sample as raw 16-bit PCM
home = os.path.join(d, "home")
os.makedirs(home, exist_ok=True)
raw = os.path.join(home, "capture.raw")
rate, xs = scipy.io.wavfile.read(SAMPLE)
xs.astype("<i2").tofile(raw)
with open(os.path.join(home, ".asoundrc"), "w") as f:
    f.write('pcm.!default { type asym playback.pcm "null" capture.pcm "voxcap" }\n'
            'pcm.voxcap { type file slave.pcm "null" file "/dev/null" infile "%s" format "raw" }\n' % raw)
cap_env = dict(T.env(), HOME=home, LD_LIBRARY_PATH=os.path.join(T.BUILDDIR, "core", ".libs"))
p = subprocess.run([T.libtool_exec(VP), "live", "--list-devices"], capture_output=True, text=True, env=cap_env)
if "built without PortAudio" in p.stderr:
    print("skip: PortAudio capture (built without PortAudio)")
else:
    T.check(p.returncode == 0 and "default" in p.stdout, "live --list-devices lists the test's ALSA capture device")
    import signal
    import time
    child = subprocess.Popen([T.libtool_exec(VP), "live", "-m", stream_nemo, "-f", "json", "--device", "default"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cap_env, text=True)
    time.sleep(3)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=30)
    first_cap = out.splitlines()[0] if out else ""
    first_file = [line for line in vp("live", "-m", stream_nemo, "-i", SAMPLE, "-f", "json").stdout.splitlines()][0]
    T.check(child.returncode == 0 and "audio recognised" in err and first_cap == first_file,
            "live from a PortAudio device: audio reaches the recognizer (first result equals the file's), "
            "Ctrl-C exits 0 (exit %d%s)" % (child.returncode, "" if child.returncode == 0 else
                                            ": " + "; ".join(err.strip().splitlines()[-3:])))
    p = subprocess.run([T.libtool_exec(VP), "live", "-m", stream_nemo, "--device", "nosuchdevice"], capture_output=True,
                       text=True, env=cap_env)
    T.check(p.returncode == 1 and "no capture device named nosuchdevice" in p.stderr,
            "unknown capture device: clean error")
    # the device vanishes after 3 s (tests/tools/pa_vanish.c makes Pa_ReadStream fail from then on)
    shim = os.path.join(T.BUILDDIR, "tests", ".libs", "pa_vanish.so")
    if os.path.exists(shim):
        p = subprocess.run([T.libtool_exec(VP), "live", "-m", stream_nemo, "-f", "json", "--device", "default"],
                           capture_output=True, text=True, timeout=60,
                           env=dict(cap_env, VOX_PA_VANISH_AFTER="30", LD_PRELOAD=":".join(
                               filter(None, [os.environ.get("VOX_SANITIZE_PRELOAD"), shim]))))
        finals = [json.loads(line) for line in p.stdout.splitlines() if '"final"' in line]
        T.check(p.returncode == 1 and "capture failed: Device unavailable" in p.stderr and len(finals) == 1 and
                finals[0]["words"] and finals[0]["end"] <= 3.05,
                "capture device lost after 3 s: the words heard so far as a final, the error named, exit 1 (%d %s)"
                % (p.returncode, "; ".join(p.stderr.strip().splitlines()[-2:])))

# the bundled default model on the bundled sample
default = os.path.join(T.SRCDIR, "share", "models", "quartznet-stream-en.nemo")
if os.path.exists(default):
    # accuracy is measured by `make eval`; here: the bundled model loads, streams and decodes the sample
    p = vp("transcribe", "-f", "json", SAMPLE)
    ok = p.returncode == 0 and abs(json.loads(p.stdout)["duration"] - 5.32) < 0.05 and \
        len(json.loads(p.stdout)["words"]) >= 5
    T.check(ok, "bundled model transcribes the bundled sample: %r" % (json.loads(p.stdout)["pred_text"] if ok else p.stderr))
# a closed pipe on stdout: an error naming it, exit 1 (not a silent death by SIGPIPE)
rd, wr = os.pipe()
os.close(rd)
p = subprocess.run([VP, "transcribe", "-m", tiny, SAMPLE], stdout=wr, stderr=subprocess.PIPE, text=True, env=T.env())
os.close(wr)
T.check(p.returncode == 1 and "Broken pipe" in p.stderr, "stdout a closed pipe: exit 1 naming it (%d %s)" %
        (p.returncode, p.stderr.strip()[-100:]))
# a full disk on stdout (/dev/full): an error naming it, never a silent success
if os.path.exists("/dev/full"):
    bad = []
    for args in (["transcribe", "-m", tiny, SAMPLE], ["transcribe", "-m", tiny, "-f", "srt", SAMPLE],
                 ["vad", SAMPLE], ["live", "-m", tiny, "-i", SAMPLE], ["info", tiny]):
        with open("/dev/full", "w") as full:
            p = subprocess.run([VP] + args, stdout=full, stderr=subprocess.PIPE, text=True, env=T.env())
        if p.returncode != 1 or "No space left on device" not in p.stderr:
            bad.append("%s: %d %s" % (args[0], p.returncode, p.stderr.strip()[-100:]))
    T.check(not bad, "stdout on a full disk: transcribe, vad, live, info exit 1 naming it %s" % bad)
T.finish()
