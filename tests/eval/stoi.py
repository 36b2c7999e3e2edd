"""STOI, short-time objective intelligibility, written from its published definition (C. H. Taal,
R. C. Hendriks, R. Heusdens, J. Jensen, "An Algorithm for Intelligibility Prediction of
Time-Frequency Weighted Noisy Speech", IEEE TASLP 19(7), 2011), for `make eval-denoise`:

1. both signals at 10 kHz;
2. 256-sample Hann frames, 50 % overlap; frames where the clean signal is more than 40 dB below
   its loudest frame are dropped from both (and the signals rebuilt by overlap-add);
3. 512-point DFT of those frames; 15 one-third-octave bands from 150 Hz: band envelopes are the
   square root of the summed power of the DFT bins between each band's edges;
4. 30-frame (384 ms) segments of each band envelope: the degraded one scaled to the clean one's
   energy and clipped to at most (1 + 10^(15/20)) times it (signal-to-distortion floor -15 dB);
5. STOI = the mean, over bands and segments, of the correlation between clean and processed.
Range about 0..1 (1: identical envelopes)."""
import numpy as np
import scipy.signal

FS = 10000
N_FRAME = 256
NFFT = 512
N_BANDS = 15
MIN_FREQ = 150
N_SEG = 30
BETA = -15.0
DYN_RANGE = 40.0


def _frames(x):
    win = np.hanning(N_FRAME + 2)[1:-1]
    hop = N_FRAME // 2
    starts = range(0, len(x) - N_FRAME + 1, hop)
    return np.array([x[s:s + N_FRAME] * win for s in starts]), win


def _drop_silent(x, y):
    fx, win = _frames(x)
    fy, _ = _frames(y)
    energy = 20 * np.log10(np.linalg.norm(fx, axis=1) + np.finfo(float).eps)
    keep = energy > energy.max() - DYN_RANGE
    fx, fy = fx[keep], fy[keep]
    hop = N_FRAME // 2
    n = (len(fx) - 1) * hop + N_FRAME if len(fx) else 0
    xs, ys = np.zeros(n), np.zeros(n)
    for i in range(len(fx)):
        xs[i * hop:i * hop + N_FRAME] += fx[i]
        ys[i * hop:i * hop + N_FRAME] += fy[i]
    return xs, ys


def _third_octave_matrix():
    f = np.linspace(0, FS, NFFT + 1)[:NFFT // 2 + 1]
    k = np.arange(N_BANDS)
    cf = MIN_FREQ * 2.0 ** (k / 3)
    lo, hi = cf * 2.0 ** (-1 / 6), cf * 2.0 ** (1 / 6)
    m = np.zeros((N_BANDS, len(f)))
    for b in range(N_BANDS):
        i0 = int(np.argmin((f - lo[b]) ** 2))
        i1 = int(np.argmin((f - hi[b]) ** 2))
        m[b, i0:i1] = 1
    return m


def _envelopes(x, obm):
    fx, _ = _frames(x)
    spec = np.fft.rfft(fx, NFFT, axis=1)
    return np.sqrt(obm @ (np.abs(spec) ** 2).T)  # bands x frames


def stoi(clean, processed, rate):
    """STOI of `processed` against `clean` (same length, same rate in Hz)."""
    n = min(len(clean), len(processed))
    x = np.asarray(clean[:n], dtype=np.float64)
    y = np.asarray(processed[:n], dtype=np.float64)
    if rate != FS:
        g = np.gcd(int(rate), FS)
        x = scipy.signal.resample_poly(x, FS // g, int(rate) // g)
        y = scipy.signal.resample_poly(y, FS // g, int(rate) // g)
    x, y = _drop_silent(x, y)
    obm = _third_octave_matrix()
    X, Y = _envelopes(x, obm), _envelopes(y, obm)
    if X.shape[1] < N_SEG:
        raise ValueError("STOI needs at least %d non-silent frames (about 0.4 s of speech)" % N_SEG)
    clip = 10 ** (-BETA / 20)
    total, count = 0.0, 0
    for m in range(N_SEG, X.shape[1] + 1):
        xs, ys = X[:, m - N_SEG:m], Y[:, m - N_SEG:m]
        alpha = np.linalg.norm(xs, axis=1, keepdims=True) / (np.linalg.norm(ys, axis=1, keepdims=True) + 1e-12)
        yn = np.minimum(ys * alpha, xs * (1 + clip))
        xc = xs - xs.mean(axis=1, keepdims=True)
        yc = yn - yn.mean(axis=1, keepdims=True)
        corr = (xc * yc).sum(axis=1) / (np.linalg.norm(xc, axis=1) * np.linalg.norm(yc, axis=1) + 1e-12)
        total += corr.sum()
        count += len(corr)
    return total / count
