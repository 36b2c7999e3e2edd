#!/usr/bin/python3
"""CTC prefix beam search and word LMs (core/src/ctc_beam.c, lm.c, lm_arpa.c).

- beam search without LM equals a plain Python statement of prefix beam search (text and score), in
  one push or frame by frame; beam 1 equals greedy decoding on peaky (CTC-like) outputs;
- a toy ARPA LM and a hot word each flip a known ambiguous decision, and only them;
- ARPA scores equal a Python statement of Katz backoff; malformed ARPA files get clean errors
  naming the line; the CMU Sphinx en-us LM from pocketsphinx-en-us loads and scores (skipped when
  voxpipe was built without sphinxbase or the package is absent);
- word times and confidences come from the best path; everything runs clean under valgrind.
"""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import testlib as T  # noqa: E402
import numpy as np  # noqa: E402

d = T.tmpdir()
LABELS = " abcdefghijklmnopqrstuvwxyz'"
C = len(LABELS) + 1
BLANK = C - 1


def lae(a, b):
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    return max(a, b) + math.log1p(math.exp(-abs(a - b)))


def ref_beam(lp, beam, prune=10.0):
    """Prefix beam search (Hannun et al.) without LM, as voxpipe states it: spaces do not pile up."""
    beams = {"": (0.0, -math.inf)}
    for t in range(lp.shape[0]):
        row = lp[t]
        floor = row.max() - prune
        nxt = {}

        def add(p, b=-math.inf, nb=-math.inf):
            ob, onb = nxt.get(p, (-math.inf, -math.inf))
            nxt[p] = (lae(ob, b), lae(onb, nb))
        for p, (pb, pnb) in beams.items():
            tot = lae(pb, pnb)
            last = p[-1] if p else None
            for c in range(C):
                v = float(row[c])
                if not v >= floor:
                    continue
                if c == BLANK:
                    add(p, b=tot + v)
                    continue
                ch = LABELS[c]
                if ch == last:
                    add(p, nb=pnb + v)
                    if pb != -math.inf:
                        ext(p, ch, pb + v, add)
                else:
                    ext(p, ch, tot + v, add)
        beams = dict(sorted(nxt.items(), key=lambda kv: -lae(*kv[1]))[:beam])
    best = max(beams.items(), key=lambda kv: lae(*kv[1]))
    return " ".join(best[0].split()), lae(*best[1])


def ext(p, ch, score, add):
    if ch == " " and (not p or p[-1] == " "):
        add(p, nb=score)
    else:
        add(p + ch, nb=score)


def logsoftmax(x):
    x = x - x.max(axis=1, keepdims=True)
    return (x - np.log(np.exp(x).sum(axis=1, keepdims=True))).astype(np.float32)


def spell(text, rng, peak=4.0, blanks=1):
    """CTC-like logits for a text: each letter for a frame, then blank frames."""
    rows = []
    for ch in text:
        for k in range(1 + blanks):
            r = rng.normal(0, 1, C)
            r[LABELS.index(ch) if k == 0 else BLANK] += peak + 3
            rows.append(r)
    return np.array(rows)


def decode(lp, beam, lm="-", alpha=0.5, beta=0.0, chunk=1000, hot=(), checked=False, forget=False):
    path = os.path.join(d, "lp.f32")
    T.write_f32(path, lp)
    args = [T.TOOL, "ctc", path, LABELS, str(beam), lm, str(alpha), str(beta), str(chunk)] + list(hot)
    if forget:
        os.environ["VOX_TEST_FORGET"] = "1"
    try:
        p = T.run_checked(args) if checked else T.run(args, check=False)
    finally:
        os.environ.pop("VOX_TEST_FORGET", None)
    out = {"text": None, "words": [], "nbest": [], "rc": p.returncode, "err": p.stderr, "partials": [],
           "forgot": [], "out": p.stdout}
    for line in p.stdout.splitlines():
        if line.startswith("forgot "):
            w = line.split()
            out["forgot"].append((w[1], float(w[2]), float(w[3]), float(w[4])))
        if line.startswith("stable "):
            s = line.split(" ", 2)
            out["partials"].append((int(s[1]), s[2].split() if len(s) > 2 else []))
        elif line.startswith("text: "):
            out["text"] = line[6:]
        elif line.startswith("word "):
            w = line.split()
            out["words"].append((w[1], float(w[2]), float(w[3]), float(w[4])))
        elif line.startswith("nbest "):
            s = line.split(" ", 2)
            out["nbest"].append((float(s[1]), s[2] if len(s) > 2 else ""))
    return out


rng = np.random.default_rng(7)

# --- no LM: equals the reference, whatever the chunking
same = 0
for k in range(12):
    lp = logsoftmax(rng.normal(0, 1.5, (60, C)) + (rng.random((60, C)) < 0.06) * 4)
    want, score = ref_beam(lp, 8)
    got = decode(lp, 8, chunk=1 if k % 2 else 1000)
    if got["text"] == want and abs(got["nbest"][0][0] - score) < 1e-3:
        same += 1
    else:
        print("case", k, repr(want), score, got["text"], got["nbest"][:1], got["err"])
T.check(same == 12, "beam 8 without LM = reference prefix search on 12 random inputs (%d/12), 1-frame and whole pushes" % same)

# --- beam 1 = greedy on peaky outputs
same = 0
for k in range(10):
    lp = logsoftmax(spell("the quick brown fox jumps over the lazy dog"[: 10 + 3 * k], rng, blanks=int(k % 3)))
    g, b = decode(lp, 0), decode(lp, 1)
    same += g["text"] == b["text"] and g["text"] is not None
T.check(same == 10, "beam 1 = greedy on 10 peaky inputs (%d/10)" % same)

# --- partial results: the words marked stable never change afterwards (greedy and beam, with LM)
def stable_ok(r):
    final = (r["text"] or "").split()
    prev = 0
    for k, words in r["partials"]:
        if k > len(words) or words[:k] != final[:k] or k < prev:
            return False
        prev = k
    return bool(r["partials"])


sentence = "the quick brown fox jumps over the lazy dog and then some more words"
good = grew = 0
for k in range(8):
    lp = spell(sentence, rng, peak=1.2 + 0.3 * k, blanks=k % 3)  # soft peaks: beams disagree for a while
    lp = logsoftmax(lp + rng.normal(0, 0.8, lp.shape))
    for beam in (0, 8):
        r = decode(lp, beam, chunk=3)
        good += stable_ok(r)
        grew += r["partials"][-1][0] > 0 if r["partials"] else 0
T.check(good == 16 and grew >= 8, "streamed in 3-frame pushes: the stable words of every partial are the final's "
        "first words, never fewer than before (%d/16 runs; %d with stable words before the end)" % (good, grew))

# --- forgetting delivered words (what a long-running stream does after each final): the words handed
# over plus the rest equal the result without forgetting, times and confidences included
words_lm = os.path.join(d, "words.arpa")
vocab = sorted(set(sentence.split()))
with open(words_lm, "w") as f:
    f.write("\\data\\\nngram 1=%d\n\n\\1-grams:\n" % (len(vocab) + 3))
    f.write("".join("-1.0 %s\n" % w for w in ["<s>", "</s>", "<unk>"] + vocab) + "\n\\end\\\n")
rng2 = np.random.default_rng(11)  # its own draws: the checks below keep their inputs
same = handed = 0
for k in range(6):
    lp = spell(sentence, rng2, peak=1.2 + 0.3 * k, blanks=k % 3)
    lp = logsoftmax(lp + rng2.normal(0, 0.8, lp.shape))
    for beam, lm in ((0, "-"), (8, "-"), (8, words_lm)):
        full = decode(lp, beam, lm, chunk=3)
        part = decode(lp, beam, lm, chunk=3, forget=True, checked=k == 0)
        same += part["rc"] == 0 and part["forgot"] + part["words"] == full["words"] and "forget:" not in part["out"]
        handed += len(part["forgot"]) > 0
T.check(same == 18 and handed >= 9, "forgetting the stable words after every push: handed-over words + the rest = "
        "the whole result (%d/18 runs, greedy, beam, beam + LM; %d forgot words midway; valgrind on 3)" % (same, handed))

# --- LM and hot words flip an ambiguous letter, and only then
amb = spell("a red car", rng)
vowel = [i for i in range(len(amb)) if np.argmax(amb[i]) == LABELS.index("e")][0]
amb[vowel, LABELS.index("o")] = amb[vowel, LABELS.index("e")] - 0.3  # "red" slightly ahead of "rod"
amb = logsoftmax(amb)
arpa = os.path.join(d, "toy.arpa")
with open(arpa, "w") as f:
    f.write("""\\data\\
ngram 1=7
ngram 2=4

\\1-grams:
-1.0 <s> -0.3
-1.0 </s>
-0.7 a -0.3
-2.5 red -0.3
-2.5 rod -0.3
-1.0 car -0.3
-3.0 <unk>

\\2-grams:
-0.1 <s> a
-0.05 a rod
-0.2 rod car
-0.2 red car

\\end\\
""")
T.check(decode(amb, 0)["text"] == "a red car", "greedy reads the ambiguous input as 'a red car'")
T.check(decode(amb, 16)["text"] == "a red car", "beam search without LM agrees")
r = decode(amb, 16, lm=arpa, alpha=1.0, checked=True)
T.check(r["text"] == "a rod car" and r["rc"] == 0, "a toy LM that prefers 'a rod' flips it: %r %s" % (r["text"], r["err"][-300:]))
r = decode(amb, 16, hot=["rod:3"], checked=True)
T.check(r["text"] == "a rod car" and r["rc"] == 0, "hot word rod:3 flips it: %r" % r["text"])
r = decode(amb, 16, hot=["rot:3"])
T.check(r["text"] == "a red car", "a hot word that is not there changes nothing: %r" % r["text"])
T.check(len(r["nbest"]) >= 2 and r["nbest"][0][0] >= r["nbest"][1][0], "n-best list is sorted by score")
w = r["words"]
T.check(len(w) == 3 and all(0 < x[3] <= 1 for x in w) and all(w[i][2] <= w[i + 1][1] + 1e-9 for i in range(2))
        and abs(w[0][1] - 0.0) < 1e-6, "3 words with ordered times and confidences in (0, 1]: %s" % w)
# a hot word the labels cannot spell could never match: refused, naming where the spelling fails
for w, at in (("Rod:3", "Rod"), ("x-ray:3", "-ray"), ("caf\u00e9:3", "\u00e9")):
    rh = decode(amb, 16, hot=[w])
    T.check(rh["rc"] != 0 and "cannot spell it from '%s'" % at in rh["err"],
            "hot word %s: refused (%s)" % (w, rh["err"].strip()[:160]))

# --- ARPA scores = Katz backoff
lmq = T.run([T.TOOL, "lm", arpa], input="a rod\nred car\ncar red\na car\n<s> a rod\nrod a\n")
lines = lmq.stdout.splitlines()
T.check(lines[0].startswith("info arpa order 2") and "counts 7 4" in lines[0], "ARPA header: " + lines[0])
L10 = math.log(10)
want = [-0.05, -0.2, -0.3 - 2.5, -0.3 - 1.0, -0.05, -0.3 - 0.7]
got = [float(x) / L10 for x in lines[1:]]
T.check(len(got) == 6 and all(abs(a - b) < 1e-4 for a, b in zip(got, want)),
        "n-gram and backoff scores: %s vs %s" % (got, want))

# --- malformed ARPA files: clean errors naming the line
bad = {
    "no data section": ("hello\n", "no \\data\\"),
    "count mismatch": ("\\data\\\nngram 1=3\n\n\\1-grams:\n-1 a\n-1 b\n\n\\end\\\n", "ends after 2 entries"),
    "missing end": ("\\data\\\nngram 1=1\n\n\\1-grams:\n-1 a\n", "end"),
    "bad number": ("\\data\\\nngram 1=1\n\n\\1-grams:\nx a\n\\end\\\n", "line 5"),
    "unknown word": ("\\data\\\nngram 1=1\nngram 2=1\n\n\\1-grams:\n-1 a\n\n\\2-grams:\n-1 a b\n\\end\\\n",
                     "'b' is not among the 1-grams"),
    "missing section": ("\\data\\\nngram 1=1\nngram 2=1\n\n\\1-grams:\n-1 a\n\n\\end\\\n", "2-grams:' section"),
    "huge count": ("\\data\\\nngram 1=99999999999\n\n\\1-grams:\n-1 a\n\\end\\\n", "larger than the file"),
    "order 9": ("\\data\\\n" + "".join("ngram %d=1\n" % i for i in range(1, 10)), "up to order"),
    "duplicate": ("\\data\\\nngram 1=2\n\n\\1-grams:\n-1 a\n-1 a\n\\end\\\n", "twice"),
}
for name, (text, msg) in bad.items():
    path = os.path.join(d, "bad.arpa")
    with open(path, "w") as f:
        f.write(text)
    p = T.run_checked([T.TOOL, "lm", path], input="")
    T.check(p.returncode == 1 and msg in p.stderr and "bad.arpa" in p.stderr,
            "malformed ARPA (%s): %s" % (name, p.stderr.strip()[-160:]))
p = T.run([T.TOOL, "lm", os.path.join(d, "absent.arpa")], check=False)
T.check(p.returncode == 1 and "absent.arpa" in p.stderr, "missing LM file named: " + p.stderr.strip())

# --- CMU Sphinx binary LM (pocketsphinx-en-us) through sphinxbase
sphinx_lm = "/usr/share/pocketsphinx/model/en-us/en-us.lm.bin"
if os.path.exists(sphinx_lm):
    # under valgrind when present: sphinxbase's model does not own its logmath (it leaked once)
    p = T.run_checked([T.TOOL, "lm", sphinx_lm], input="this is a test\nthis is a tset\n")
    if "without sphinxbase" in p.stderr:
        print("skip sphinx LM: built without sphinxbase")
    else:
        out = p.stdout.splitlines() or [""]
        T.check(p.returncode == 0 and out[0].startswith("info sphinx order 3"),
                "en-us.lm.bin loads, no leak: %s %s" % (out[0], p.stderr.strip()[-300:]))
        T.check(len(out) == 3 and -12 < float(out[1]) < -3 and out[2] == "unk",
                "en-us.lm.bin: ln P(test | is a) = %s, 'tset' unknown" % out[1:])
        # sphinxbase trusts the file (short reads ignored, strlen over the vocabulary): the layout is
        # checked first, so none of these reaches it (under valgrind / ASan a read past a buffer fails)
        with open(sphinx_lm, "rb") as f:
            blob = f.read()
        extra_word = bytearray(blob)
        extra_word[-5] = 0
        bad = {"truncated in the header": blob[:24], "truncated in the tables": blob[:4096],
               "truncated in the vocabulary": blob[:-3], "padded": blob + b"x",
               "a word too many": bytes(extra_word), "DMP format": b"\x11\0\0\0Darpa Trigram LM\0" + b"\0" * 64}
        for name, data in bad.items():
            path = os.path.join(d, "bad.lm.bin")
            with open(path, "wb") as g:
                g.write(data)
            p = T.run_checked([T.TOOL, "lm", path])
            T.check(p.returncode == 1 and "bad.lm.bin" in p.stderr and "==" not in p.stderr,
                    "Sphinx binary LM %s refused: %s" % (name, p.stderr.strip()[-200:]))
else:
    print("skip sphinx LM: pocketsphinx-en-us not installed")
T.finish()
