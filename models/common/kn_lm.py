#!/usr/bin/python3
"""Word n-gram LM with interpolated Kneser-Ney smoothing, written as an ARPA file (KenLM is not in
Debian, so we state the estimator ourselves; Chen & Goodman 1998, one discount per order).

  /usr/bin/python3 models/common/kn_lm.py OUT.arpa [--order 3] [--corpus DIR] [--text FILE...]

Default text: the corpus recipe's training sentences that are not held out (fortunes, spelled-out
numbers, command words) plus the training manifest's texts; the held-out sentences of dev and
test_tts never reach the LM.

For the highest order, p(w|h) = max(c(hw) - D, 0) / c(h.) + g(h) p(w|h'); lower orders use
continuation counts N1+(.hw) in place of c (raw counts for n-grams that start with <s>, which
nothing precedes); g(h) = D N1+(h.) / c(h.) is the backoff weight. Every listed n-gram's
probability is the full interpolated one, so an ARPA reader's backoff rule gives the same
distribution. The vocabulary is closed (no <unk>): given to voxpipe, a word outside it scores
--unk-penalty. (An open vocabulary with <unk> at the singletons' share, tried first, made <unk> more
likely than most real words, and the decoder preferred misspellings.)
"""
import argparse
import json
import math
import os
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from corpus import fortune_sentences, is_held_out_text  # noqa: E402


def discount(counts):
    n1 = sum(1 for c in counts.values() if c == 1)
    n2 = sum(1 for c in counts.values() if c == 2)
    return n1 / (n1 + 2 * n2) if n1 + n2 else 0.5


def estimate(sentences, order):
    raw = [defaultdict(int) for _ in range(order + 1)]  # raw[n][tuple]
    for s in sentences:
        w = ["<s>"] + s.split() + ["</s>"]
        for n in range(1, order + 1):
            for i in range(len(w) - n + 1):
                raw[n][tuple(w[i:i + n])] += 1
    # counts used at each order: raw for the highest and for <s>-initial n-grams, continuation otherwise
    cnt = [None] * (order + 1)
    cnt[order] = dict(raw[order])
    for n in range(order - 1, 0, -1):
        cont = defaultdict(int)
        for g in raw[n + 1]:
            cont[g[1:]] += 1
        cnt[n] = {g: (raw[n][g] if g[0] == "<s>" else cont.get(g, 0)) for g in raw[n]}
        cnt[n] = {g: c for g, c in cnt[n].items() if c > 0}
    prob, bow = [None] * (order + 1), [None] * (order + 1)
    # unigrams: continuation distribution; closed vocabulary (no <unk>): a decoder scores words
    # outside it with its own penalty, which keeps misspellings from passing as "unknown" words
    total = sum(c for g, c in cnt[1].items() if g != ("<s>",))
    prob[1] = {g: c / total for g, c in cnt[1].items() if g != ("<s>",)}
    for n in range(2, order + 1):
        D = discount(cnt[n])
        ctx_total, ctx_types = defaultdict(int), defaultdict(int)
        for g, c in cnt[n].items():
            ctx_total[g[:-1]] += c
            ctx_types[g[:-1]] += 1
        gamma = {h: D * ctx_types[h] / ctx_total[h] for h in ctx_total}
        bow[n - 1] = gamma
        prob[n] = {}
        for g, c in cnt[n].items():
            lower = lower_prob(prob, bow, g[1:])
            prob[n][g] = max(c - D, 0) / ctx_total[g[:-1]] + gamma[g[:-1]] * lower
    return prob, bow


def lower_prob(prob, bow, g):
    """p(w | h) for g = h + (w,) by the backoff rule over what is estimated so far."""
    n = len(g)
    if g in prob[n]:
        return prob[n][g]
    if n == 1:
        return 0.0
    return bow[n - 1].get(g[:-1], 1.0) * lower_prob(prob, bow, g[1:])


def write_arpa(path, prob, bow, order):
    with open(path, "w") as f:
        f.write("\\data\\\n")
        uni = dict(prob[1])
        uni[("<s>",)] = None
        f.write("ngram 1=%d\n" % len(uni))
        for n in range(2, order + 1):
            f.write("ngram %d=%d\n" % (n, len(prob[n])))
        for n in range(1, order + 1):
            f.write("\n\\%d-grams:\n" % n)
            table = uni if n == 1 else prob[n]
            for g in sorted(table):
                p = table[g]
                lp = -99.0 if p is None else math.log10(p)
                line = "%.6f\t%s" % (lp, " ".join(g))
                if n < order and bow[n] is not None and g in bow[n]:
                    line += "\t%.6f" % math.log10(bow[n][g])
                f.write(line + "\n")
        f.write("\n\\end\\\n")


def corpus_sentences(corpus):
    out = [s for s in fortune_sentences() if not is_held_out_text(s)]
    if corpus:
        with open(os.path.join(corpus, "train.jsonl")) as f:
            out += [json.loads(line)["text"] for line in f]
    return [s for s in out if s and not is_held_out_text(s)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--order", type=int, default=3)
    ap.add_argument("--corpus", help="corpus recipe output (its train.jsonl texts are added)")
    ap.add_argument("--text", nargs="*", default=[], help="one sentence per line, instead of the default text")
    a = ap.parse_args()
    if a.text:
        sents = [line.strip() for p in a.text for line in open(p) if line.strip()]
    else:
        sents = corpus_sentences(a.corpus)
    prob, bow = estimate(sents, a.order)
    write_arpa(a.out, prob, bow, a.order)
    print("%s: %d sentences, %s n-grams" % (a.out, len(sents), "/".join(str(len(p)) for p in prob[1:])))


if __name__ == "__main__":
    main()
