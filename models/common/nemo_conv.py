"""PyTorch definitions of NeMo's convolutional speech building blocks.

Written from ../shared/specs/nemo-conv-asr.md so that state-dict keys and model_config.yaml match
NeMo's exactly: a `.nemo` written here loads in NeMo, and NeMo's `.nemo` files load here. They are
the numerical reference for voxpipe's C kernels and the definitions our default models train with.

Run with /usr/bin/python3 (Debian's python3-torch).
"""
import io
import math
import tarfile

import torch
import torch.nn as nn
import torch.nn.functional as F

LOG_ZERO_GUARD = 2.0 ** -24
NORM_EPS = 1e-5


# ---------------------------------------------------------------- features

def hz_to_mel_slaney(f):
    f = torch.as_tensor(f, dtype=torch.float64)
    f_sp = 200.0 / 3
    mels = f / f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    return torch.where(f >= min_log_hz, min_log_mel + torch.log(f.clamp(min=1e-10) / min_log_hz) / logstep, mels)


def mel_to_hz_slaney(m):
    m = torch.as_tensor(m, dtype=torch.float64)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    return torch.where(m >= min_log_mel, min_log_hz * torch.exp(logstep * (m - min_log_mel)), f_sp * m)


def slaney_filterbank(sr, n_fft, n_mels, fmin=0.0, fmax=None):
    """librosa.filters.mel(htk=False, norm='slaney'): [n_mels, n_fft//2+1]."""
    fmax = sr / 2 if fmax is None else fmax
    fft_freqs = torch.linspace(0, sr / 2, n_fft // 2 + 1, dtype=torch.float64)
    mel_pts = torch.linspace(float(hz_to_mel_slaney(fmin)), float(hz_to_mel_slaney(fmax)), n_mels + 2,
                             dtype=torch.float64)
    hz_pts = mel_to_hz_slaney(mel_pts)
    fdiff = hz_pts[1:] - hz_pts[:-1]
    ramps = hz_pts[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = torch.clamp(torch.minimum(lower, upper), min=0.0)
    enorm = 2.0 / (hz_pts[2:n_mels + 2] - hz_pts[:n_mels])
    return (weights * enorm[:, None]).float()


class FilterbankFeatures(nn.Module):
    """NeMo's FilterbankFeatures (AudioToMelSpectrogramPreprocessor.featurizer), inference path."""

    def __init__(self, sample_rate=16000, window_size=0.02, window_stride=0.01, n_fft=None,
                 features=64, normalize="per_feature", pad_to=16, lowfreq=0.0, highfreq=None,
                 preemph=0.97, dither=1e-5):
        super().__init__()
        self.win_length = int(round(window_size * sample_rate))
        self.hop_length = int(round(window_stride * sample_rate))
        self.n_fft = n_fft or 2 ** math.ceil(math.log2(self.win_length))
        self.normalize = normalize
        self.pad_to = pad_to
        self.preemph = preemph
        self.dither = dither
        self.register_buffer("window", torch.hann_window(self.win_length, periodic=False))
        self.register_buffer("fb", slaney_filterbank(sample_rate, self.n_fft, features, lowfreq,
                                                     highfreq).unsqueeze(0))

    def get_seq_len(self, n):
        return torch.div(n, self.hop_length, rounding_mode="floor") + 1

    def forward(self, x, length):
        """x [B, samples] float in [-1, 1], length [B] -> ([B, features, T], [B] valid frames)."""
        seq_len = self.get_seq_len(length)
        if self.training and self.dither > 0:
            x = x + self.dither * torch.randn_like(x)
        if self.preemph:
            x = torch.cat((x[:, :1], x[:, 1:] - self.preemph * x[:, :-1]), dim=1)
        # samples past a sequence's end are zero, as NeMo's dataloader pads them
        smask = torch.arange(x.shape[1], device=x.device)[None, :] < length[:, None]
        x = x.masked_fill(~smask, 0.0)
        spec = torch.stft(x, n_fft=self.n_fft, hop_length=self.hop_length, win_length=self.win_length,
                          window=self.window, center=True, pad_mode="constant", return_complex=True)
        power = spec.real ** 2 + spec.imag ** 2
        mel = torch.matmul(self.fb, power)
        mel = torch.log(mel + LOG_ZERO_GUARD)
        if self.normalize == "per_feature":
            mel = per_feature_normalize(mel, seq_len)
        elif isinstance(self.normalize, dict):  # NeMo's fixed (global) statistics
            mean = torch.tensor(self.normalize["fixed_mean"], dtype=mel.dtype)
            std = torch.tensor(self.normalize["fixed_std"], dtype=mel.dtype)
            mel = (mel - mean[None, :, None].to(mel.device)) / std[None, :, None].to(mel.device)
        fmask = torch.arange(mel.shape[2], device=x.device)[None, :] >= seq_len[:, None]
        mel = mel.masked_fill(fmask[:, None, :], 0.0)
        if self.pad_to and mel.shape[2] % self.pad_to:
            mel = F.pad(mel, (0, self.pad_to - mel.shape[2] % self.pad_to))
        return mel, seq_len


def per_feature_normalize(x, seq_len):
    out = torch.zeros_like(x)
    for i in range(x.shape[0]):
        n = int(seq_len[i])
        v = x[i, :, :n]
        mean = v.mean(dim=1, keepdim=True)
        std = v.std(dim=1, keepdim=True) if n > 1 else torch.zeros_like(mean)
        out[i, :, :n] = (v - mean) / (std + NORM_EPS)
    return out


class AudioToMelSpectrogramPreprocessor(nn.Module):
    def __init__(self, **kw):
        super().__init__()
        self.featurizer = FilterbankFeatures(**kw)

    def forward(self, input_signal, length):
        return self.featurizer(input_signal, length)


# ---------------------------------------------------------------- encoder

def block_padding(k, stride, dilation, future_context):
    """(left, right) padding of one JasperBlock convolution, as NeMo computes it."""
    if stride > 1 and dilation > 1:
        raise ValueError("only stride or dilation may be greater than 1")
    same = dilation * (k - 1) // 2
    if future_context < 0 or k <= future_context:
        return same, same
    if dilation > 1:
        return dilation * k - 1 - dilation * future_context, dilation * future_context
    return k - 1 - future_context, future_context


class MaskedConv1d(nn.Module):
    def __init__(self, cin, cout, k, stride=1, padding=(0, 0), dilation=1, groups=1, bias=False):
        super().__init__()
        self.padding = padding
        self.conv = nn.Conv1d(cin, cout, k, stride=stride, dilation=dilation, groups=groups, bias=bias)

    def get_seq_len(self, lens):
        c = self.conv
        return torch.div(lens + sum(self.padding) - c.dilation[0] * (c.kernel_size[0] - 1) - 1,
                         c.stride[0], rounding_mode="trunc") + 1

    def forward(self, x, lens):
        mask = torch.arange(x.shape[2], device=x.device)[None, :] < lens[:, None]
        x = x * mask[:, None, :].to(x.dtype)
        x = F.pad(x, self.padding)
        return self.conv(x), self.get_seq_len(lens)


class JasperBlock(nn.Module):
    """NeMo JasperBlock restricted to what QuartzNet/MarbleNet/MatchboxNet use (no SE, no dense
    residual). List indices of `mconv` follow NeMo: per repeat conv(s) + BN, then ReLU and Dropout
    for every repeat but the last."""

    def __init__(self, cin, filters, repeat, kernel, stride, dilation, residual, separable,
                 future_context=-1, dropout=0.0):
        super().__init__()
        pad = block_padding(kernel, stride, dilation, future_context)
        layers, ci = [], cin
        for r in range(repeat):
            if separable:
                layers.append(MaskedConv1d(ci, ci, kernel, stride, pad, dilation, groups=ci))
                layers.append(MaskedConv1d(ci, filters, 1))
            else:
                layers.append(MaskedConv1d(ci, filters, kernel, stride, pad, dilation))
            layers.append(nn.BatchNorm1d(filters, eps=1e-3, momentum=0.1))
            if r < repeat - 1:
                layers += [nn.ReLU(), nn.Dropout(dropout)]
            ci = filters
        self.mconv = nn.ModuleList(layers)
        if residual:
            if stride > 1:
                raise ValueError("strided residual blocks are not used by our models")
            self.res = nn.ModuleList([nn.ModuleList([MaskedConv1d(cin, filters, 1),
                                                     nn.BatchNorm1d(filters, eps=1e-3, momentum=0.1)])])
        else:
            self.res = None
        self.mout = nn.Sequential(nn.ReLU(), nn.Dropout(dropout))

    def forward(self, x, lens):
        y, yl = x, lens
        for m in self.mconv:
            if isinstance(m, MaskedConv1d):
                y, yl = m(y, yl)
            else:
                y = m(y)
        if self.res is not None:
            r, _ = self.res[0][0](x, lens)
            r = self.res[0][1](r)
            y = y + r
        return self.mout(y), yl


class ConvASREncoder(nn.Module):
    def __init__(self, feat_in, jasper):
        super().__init__()
        blocks, cin = [], feat_in
        for b in jasper:
            blocks.append(JasperBlock(cin, b["filters"], b["repeat"], b["kernel"][0], b["stride"][0],
                                      b["dilation"][0], b["residual"], b.get("separable", False),
                                      b.get("future_context", -1), b.get("dropout", 0.0)))
            cin = b["filters"]
        self.encoder = nn.ModuleList(blocks)

    def forward(self, audio_signal, length):
        x, lens = audio_signal, length
        for b in self.encoder:
            x, lens = b(x, lens)
        return x, lens


def jasper_block_cfg(filters, repeat, kernel, stride=1, dilation=1, residual=True, separable=True,
                     future_context=-1, dropout=0.0):
    d = dict(filters=filters, repeat=repeat, kernel=[kernel], stride=[stride], dilation=[dilation],
             dropout=dropout, residual=residual, separable=separable)
    if future_context >= 0:
        d["future_context"] = future_context
    return d


def encoder_stride(jasper):
    s = 1
    for b in jasper:
        s *= b["stride"][0]
    return s


# ---------------------------------------------------------------- .nemo files

def save_nemo(path, model, config_yaml_text, gzip=False):
    """Writes NeMo's layout: a tar with model_config.yaml and model_weights.ckpt."""
    buf = io.BytesIO()
    # CPU tensors whatever the training device: the checkpoint names each storage's device
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buf)
    members = [("./model_config.yaml", config_yaml_text.encode()), ("./model_weights.ckpt", buf.getvalue())]
    with tarfile.open(path, "w:gz" if gzip else "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def load_nemo(path):
    """Returns (config dict, state dict) of a `.nemo` file (weights read with weights_only)."""
    import yaml
    with tarfile.open(path, "r:*") as tar:
        names = {m.name.lstrip("./"): m for m in tar.getmembers()}
        cfg = yaml.safe_load(tar.extractfile(names["model_config.yaml"]).read())
        sd = torch.load(io.BytesIO(tar.extractfile(names["model_weights.ckpt"]).read()),
                        map_location="cpu", weights_only=True)
    return cfg, sd
