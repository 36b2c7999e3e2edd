"""On-the-fly audio augmentation for the training recipes (seeded, numpy only).

speed 0.9-1.1, gain, additive noise (recorded noise from ../shared/data/noise and synthetic
white/pink/babble-like noise) at 0-30 dB SNR, synthetic room reverberation, telephone band limiting.
"""
import glob
import os

import numpy as np
import scipy.io.wavfile
import scipy.signal


def load_audio(path, sr=16000):
    """Mono float32 at `sr` (WAV through scipy, anything else, e.g. FLAC, through torchaudio)."""
    if path.endswith(".wav"):
        rate, x = scipy.io.wavfile.read(path)
        x = x.astype(np.float32) / (32768.0 if x.dtype == np.int16 else 1.0)
        x = x.mean(1) if x.ndim > 1 else x
    else:
        import torchaudio
        t, rate = torchaudio.load(path)
        x = t.mean(0).numpy()
    if rate != sr:
        g = np.gcd(sr, rate)
        x = scipy.signal.resample_poly(x, sr // g, rate // g).astype(np.float32)
    return x


def load_noise_bank(shared_dir, sr=16000, max_seconds=60):
    """Recorded noises resampled to `sr`, as float32 arrays (empty list when shared/ is absent)."""
    bank = []
    for path in sorted(glob.glob(os.path.join(shared_dir, "data", "noise", "**", "*.wav"), recursive=True)):
        try:
            rate, x = scipy.io.wavfile.read(path)
        except (ValueError, OSError):
            continue
        x = x.astype(np.float32)
        if x.ndim > 1:
            x = x.mean(axis=1)
        if np.abs(x).max() > 2.0:
            x /= 32768.0
        if rate != sr:
            x = scipy.signal.resample_poly(x, sr, rate).astype(np.float32)
        bank.append(x[: sr * max_seconds])
    return bank


def synthetic_noise(rng, n):
    kind = rng.integers(3)
    w = rng.standard_normal(n).astype(np.float32)
    if kind == 0:
        return w
    if kind == 1:  # pink-ish: first-order low-pass of white noise
        return scipy.signal.lfilter([1.0], [1.0, -0.97], w).astype(np.float32)
    # hum with harmonics
    t = np.arange(n) / 16000.0
    f0 = rng.choice([50.0, 60.0, 120.0])
    return sum(np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6)) / h for h in range(1, 6)).astype(np.float32)


def texture_noise(rng, n):
    """Noises with structure that synthetic_noise lacks, unit-free: rain-like crackle (random impulses
    through a random band-pass), noise in a random band, and noise under a slow random envelope
    (water, traffic, wind). The VAD recipe adds them so that unseen textures are not called speech."""
    kind = rng.integers(3)
    lo = rng.uniform(100, 2000)
    hi = min(7800.0, lo * rng.uniform(1.5, 6))
    b, a = scipy.signal.butter(2, [lo, hi], btype="bandpass", fs=16000)
    if kind == 0:
        drops = (rng.random(n) < rng.uniform(0.002, 0.05)) * rng.standard_normal(n) ** 3
        x = scipy.signal.lfilter(b, a, drops + 0.05 * rng.standard_normal(n))
    else:
        x = scipy.signal.lfilter(b, a, rng.standard_normal(n))
    if kind == 2:
        k = max(2, n // int(16000 * rng.uniform(0.05, 0.5)))
        env = np.interp(np.arange(n), np.linspace(0, n - 1, k), rng.uniform(0.1, 1.0, k))
        x = x * env
    return (x / (np.std(x) + 1e-9)).astype(np.float32)


def add_noise(rng, x, bank, snr_db):
    n = len(x)
    if bank and rng.random() < 0.7:
        src = bank[rng.integers(len(bank))]
        if len(src) < n:
            src = np.tile(src, n // len(src) + 1)
        off = rng.integers(0, len(src) - n + 1)
        noise = src[off: off + n]
    else:
        noise = synthetic_noise(rng, n)
    ps = float(np.mean(x ** 2)) + 1e-10
    pn = float(np.mean(noise ** 2)) + 1e-10
    return x + noise * np.sqrt(ps / (pn * 10 ** (snr_db / 10.0)))


def reverb(rng, x, sr=16000):
    rt60 = rng.uniform(0.15, 0.7)
    n = int(rt60 * sr)
    t = np.arange(n) / sr
    rir = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
    rir[0] = 1.0
    rir /= np.sqrt(np.sum(rir ** 2))
    y = scipy.signal.fftconvolve(x, rir)[: len(x)]
    return y.astype(np.float32)


def speed(x, factor):
    """Resampling by linear interpolation: changes tempo and pitch like sox `speed`."""
    n = int(len(x) / factor)
    if n < 2:
        return x
    pos = np.arange(n) * factor
    return np.interp(pos, np.arange(len(x)), x).astype(np.float32)


def high_shelf(rng, x, sr=16000):
    """A random high shelf (-6..+12 dB above 2.5-5 kHz, 600 Hz wide): synthetic voices have little
    energy up there, real sibilants a lot (up to 20 dB over the voice band)."""
    gain = 10 ** (rng.uniform(-6, 12) / 20.0)
    fc = rng.uniform(2500, 5000)
    f = np.fft.rfftfreq(len(x), 1.0 / sr)
    h = 1 + (gain - 1) / (1 + np.exp(-(f - fc) / 150.0))
    return np.fft.irfft(np.fft.rfft(x) * h, n=len(x)).astype(np.float32)


def band_limit(x, sr=16000):
    b, a = scipy.signal.butter(4, [300.0 / (sr / 2), 3400.0 / (sr / 2)], btype="band")
    return scipy.signal.lfilter(b, a, x).astype(np.float32)


def augment(rng, x, bank, p_noise=0.6, p_reverb=0.25, p_band=0.1, speed_range=(0.9, 1.1)):
    if speed_range and rng.random() < 0.7:
        x = speed(x, rng.uniform(*speed_range))
    if rng.random() < p_reverb:
        x = reverb(rng, x)
    if rng.random() < p_noise:
        x = add_noise(rng, x, bank, rng.uniform(0, 30))
    if rng.random() < p_band:
        x = band_limit(x)
    x = x * (10 ** (rng.uniform(-20, 6) / 20.0))
    peak = np.abs(x).max()
    if peak > 0.99:
        x = x * (0.99 / peak)
    return x.astype(np.float32)
