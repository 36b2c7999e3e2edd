#!/usr/bin/python3
"""FRCRN speech enhancement (the released 16 kHz ModelScope / ClearerVoice model) in PyTorch.

Written from ../shared/specs/frcrn.md: state-dict keys and shapes equal the released checkpoint's
(`unet.*`, `unet2.*`, `stft.*`, `istft.*`), so this module writes test checkpoints in exactly that
layout, serves as the numerical reference of models/frcrn/frcrn.c, and trains voxpipe's default
enhancement model.

Two additions, both recorded in configuration.json so that the C plugin builds the same network:
  width       channels of every encoder/decoder/FSMN layer (released: 128)
  se_pooling  "global" (released: the SE layers average over the whole segment, not streamable) or
              "cumulative" (the average over the frames so far: causal, so the model streams)

  /usr/bin/python3 models/frcrn/frcrn.py OUTDIR [--width W] [--se-pooling global|cumulative] [--seed S]
      writes OUTDIR/pytorch_model.bin + OUTDIR/configuration.json with random weights
"""
import argparse
import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

WIN, HOP, NFFT = 640, 320, 640
NBINS = NFFT // 2 + 1
LORDER = 20


def sqrt_hann(n=WIN):
    k = torch.arange(n, dtype=torch.float64)
    return torch.sqrt(0.5 - 0.5 * torch.cos(2 * math.pi * k / n))


def fourier_basis():
    """[642, 640] float64: rows 0..320 cos, rows 321..641 -sin."""
    n = torch.arange(WIN, dtype=torch.float64)
    k = torch.arange(NBINS, dtype=torch.float64)[:, None]
    ang = 2 * math.pi * k * n / NFFT
    return torch.cat([torch.cos(ang), -torch.sin(ang)], 0)


def stft_kernel():
    """[642, 1, 640]: the Fourier basis times the window (ConvSTFT's stored kernel)."""
    return (fourier_basis() * sqrt_hann())[:, None, :].float()


class ConvSTFT(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("weight", stft_kernel())

    def forward(self, x):
        """x [B, L] -> (re, im) [B, 1, 321, T]."""
        y = F.conv1d(x[:, None, :], self.weight, stride=HOP)
        return y[:, None, :NBINS], y[:, None, NBINS:]


class ConviSTFT(nn.Module):
    def __init__(self):
        super().__init__()
        w = sqrt_hann()  # pseudo-inverse of the unwindowed basis, then windowed, as the release stores it
        self.register_buffer("weight", (torch.linalg.pinv(fourier_basis()).T * w)[:, None, :].float())
        self.register_buffer("window", w[None, :, None].float())
        self.register_buffer("enframe", torch.eye(WIN)[:, None, :])

    def forward(self, re, im):
        """(re, im) [B, 321, T] -> [B, 320 (T-1) + 640] (closed form of the transposed convolution)."""
        w = sqrt_hann().to(re.dtype)
        frames = torch.fft.irfft(torch.complex(re, im).transpose(1, 2), n=NFFT) * w  # [B, T, 640]
        T = frames.shape[1]
        n = HOP * (T - 1) + WIN
        num = F.fold(frames.transpose(1, 2), (1, n), (1, WIN), stride=(1, HOP))[:, 0, 0]
        den = F.fold((w * w).expand(1, T, WIN).transpose(1, 2), (1, n), (1, WIN), stride=(1, HOP))[:, 0, 0]
        return num / (den + 1e-8)


class ComplexConv2d(nn.Module):
    def __init__(self, cin, cout, k, stride=(1, 1), padding=(0, 0)):
        super().__init__()
        self.conv_re = nn.Conv2d(cin, cout, k, stride, padding)
        self.conv_im = nn.Conv2d(cin, cout, k, stride, padding)

    def forward(self, re, im):
        return self.conv_re(re) - self.conv_im(im), self.conv_re(im) + self.conv_im(re)


class ComplexConvTranspose2d(nn.Module):
    def __init__(self, cin, cout, k):
        super().__init__()
        self.tconv_re = nn.ConvTranspose2d(cin, cout, k, (2, 1), (0, 1))
        self.tconv_im = nn.ConvTranspose2d(cin, cout, k, (2, 1), (0, 1))

    def forward(self, re, im):
        return self.tconv_re(re) - self.tconv_im(im), self.tconv_re(im) + self.tconv_im(re)


class ComplexBatchNorm2d(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bn_re = nn.BatchNorm2d(c)
        self.bn_im = nn.BatchNorm2d(c)

    def forward(self, re, im):
        return self.bn_re(re), self.bn_im(im)


class Encoder(nn.Module):
    def __init__(self, cin, cout, kf):
        super().__init__()
        self.conv = ComplexConv2d(cin, cout, (kf, 2), (2, 1), (0, 1))
        self.bn = ComplexBatchNorm2d(cout)

    def forward(self, re, im):
        re, im = self.bn(*self.conv(re, im))
        return F.leaky_relu(re, 0.01), F.leaky_relu(im, 0.01)


class Decoder(nn.Module):
    def __init__(self, cin, cout, kf):
        super().__init__()
        self.transconv = ComplexConvTranspose2d(cin, cout, (kf, 2))
        self.bn = ComplexBatchNorm2d(cout)

    def forward(self, re, im):
        re, im = self.bn(*self.transconv(re, im))
        return F.leaky_relu(re, 0.01), F.leaky_relu(im, 0.01)


class UniDeepFsmn(nn.Module):
    """z + p + causal depthwise memory over the sequence of p = project(relu(linear(z)))."""

    def __init__(self, c):
        super().__init__()
        self.linear = nn.Linear(c, c)
        self.project = nn.Linear(c, c, bias=False)
        self.conv1 = nn.Conv2d(c, c, (LORDER, 1), groups=c, bias=False)

    def forward(self, z):
        """z [N, S, C] (S: sequence) -> [N, S, C]."""
        p = self.project(F.relu(self.linear(z)))
        mem = F.conv1d(F.pad(p.transpose(1, 2), (LORDER - 1, 0)), self.conv1.weight[:, :, :, 0],
                       groups=p.shape[2])
        return z + p + mem.transpose(1, 2)


class ComplexFsmn(nn.Module):
    """One (levels=1, `_L1`) or two (`_L1`, `_L2`) complex FSMN levels."""

    def __init__(self, c, levels):
        super().__init__()
        self.levels = levels
        for lv in range(1, levels + 1):
            setattr(self, "fsmn_re_L%d" % lv, UniDeepFsmn(c))
            setattr(self, "fsmn_im_L%d" % lv, UniDeepFsmn(c))

    def forward(self, re, im):
        for lv in range(1, self.levels + 1):
            fr, fi = getattr(self, "fsmn_re_L%d" % lv), getattr(self, "fsmn_im_L%d" % lv)
            re, im = fr(re) - fi(im), fr(im) + fi(re)
        return re, im


def freq_fsmn(m, re, im):
    """Frequency recurrence: the sequence is the frequency axis of each frame. [B,C,F,T]."""
    B, C, Fr, T = re.shape
    seq = lambda x: x.permute(0, 3, 2, 1).reshape(B * T, Fr, C)  # noqa: E731
    back = lambda x: x.reshape(B, T, Fr, C).permute(0, 3, 2, 1)  # noqa: E731
    r, i = m(seq(re), seq(im))
    return back(r), back(i)


def time_fsmn(m, re, im):
    """Bottleneck (F = 1): the sequence is time. [B,C,1,T]."""
    seq = lambda x: x[:, :, 0, :].transpose(1, 2)  # noqa: E731
    back = lambda x: x.transpose(1, 2)[:, :, None, :]  # noqa: E731
    r, i = m(seq(re), seq(im))
    return back(r), back(i)


class SELayer(nn.Module):
    def __init__(self, c, reduction=8):
        super().__init__()
        self.fc_r = nn.Sequential(nn.Linear(c, c // reduction), nn.ReLU(), nn.Linear(c // reduction, c), nn.Sigmoid())
        self.fc_i = nn.Sequential(nn.Linear(c, c // reduction), nn.ReLU(), nn.Linear(c // reduction, c), nn.Sigmoid())

    def forward(self, re, im, pooling):
        if pooling == "global":
            mr, mi = re.mean((2, 3))[:, None, :], im.mean((2, 3))[:, None, :]  # [B, 1, C]
        else:  # mean over every bin of the frames up to and including each frame
            n = torch.arange(1, re.shape[3] + 1, device=re.device, dtype=re.dtype) * re.shape[2]
            mr = (re.sum(2).cumsum(2) / n).transpose(1, 2)  # [B, T, C]
            mi = (im.sum(2).cumsum(2) / n).transpose(1, 2)
        gr = self.fc_r(mr) - self.fc_i(mi)
        gi = self.fc_r(mi) + self.fc_i(mr)
        return re * gr.transpose(1, 2)[:, :, None, :], im * gi.transpose(1, 2)[:, :, None, :]


ENC_KF = [5, 5, 5, 5, 5, 5, 2]
DEC_KF = [2, 5, 5, 5, 6, 5, 5]


class UNet(nn.Module):
    def __init__(self, c, pooling):
        super().__init__()
        self.pooling = pooling
        self.fsmn = ComplexFsmn(c, 2)
        for i in range(7):
            setattr(self, "fsmn_enc%d" % i, ComplexFsmn(c, 1))
            setattr(self, "encoder%d" % i, Encoder(1 if i == 0 else c, c, ENC_KF[i]))
            setattr(self, "se_layer_enc%d" % i, SELayer(c))
        for i in range(7):
            setattr(self, "fsmn_dec%d" % i, ComplexFsmn(c, 1))
            setattr(self, "decoder%d" % i, Decoder(c if i == 0 else 2 * c, 1 if i == 6 else c, DEC_KF[i]))
            if i <= 5:
                setattr(self, "se_layer_dec%d" % i, SELayer(c))
        self.linear = ComplexConv2d(1, 1, (1, 1))

    def forward(self, re, im):
        skips = []
        for i in range(7):
            if i >= 1:
                re, im = freq_fsmn(getattr(self, "fsmn_enc%d" % i), re, im)
            re, im = getattr(self, "encoder%d" % i)(re, im)
            skips.append(getattr(self, "se_layer_enc%d" % i)(re, im, self.pooling) if i < 6 else None)
        re, im = time_fsmn(self.fsmn, re, im)
        for i in range(7):
            re, im = getattr(self, "decoder%d" % i)(re, im)
            if i == 6:
                break
            re, im = freq_fsmn(getattr(self, "fsmn_dec%d" % i), re, im)
            if i <= 4:
                re, im = getattr(self, "se_layer_dec%d" % i)(re, im, self.pooling)
            sr, si = skips[5 - i]
            re, im = torch.cat([re, sr], 1), torch.cat([im, si], 1)
        return self.linear(re, im)


class FRCRN(nn.Module):
    def __init__(self, width=128, se_pooling="global"):
        super().__init__()
        self.width, self.se_pooling = width, se_pooling
        self.stft = ConvSTFT()
        self.istft = ConviSTFT()
        self.unet = UNet(width, se_pooling)
        self.unet2 = UNet(width, se_pooling)

    def forward(self, x):
        """x [B, L] (L >= 640) -> enhanced [B, 320 (T-1) + 640]."""
        return self.forward_with_mask(x)[0]

    def forward_with_mask(self, x):
        """(enhanced, complex mask [B, 2, 321, T] as real and imaginary planes): the mask for the loss."""
        xr, xi = self.stft(x)
        u1r, u1i = self.unet(xr, xi)
        u2r, u2i = self.unet2(u1r, u1i)
        mr = torch.tanh(u2r) + torch.tanh(u1r)
        mi = torch.tanh(u2i) + torch.tanh(u1i)
        yr = xr * mr - xi * mi
        yi = xr * mi + xi * mr
        return self.istft(yr[:, 0], yi[:, 0]), torch.cat([mr, mi], 1)

    def configuration(self):
        """ModelScope's configuration.json, with our two additions in the model node."""
        return {"framework": "pytorch", "task": "acoustic-noise-suppression",
                "model": {"type": "speech_frcrn_ans_cirm_16k", "complex": True, "model_depth": 14,
                          "log_amp": False, "padding_mode": "zeros", "win_len": WIN, "win_inc": HOP,
                          "fft_len": NFFT, "win_type": "hann", "width": self.width,
                          "se_pooling": self.se_pooling},
                "pipeline": {"type": "speech_frcrn_ans_cirm_16k"}}


def save_modelscope(outdir, model):
    """OUTDIR/pytorch_model.bin (plain state dict, CPU tensors) + OUTDIR/configuration.json."""
    os.makedirs(outdir, exist_ok=True)
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()},
               os.path.join(outdir, "pytorch_model.bin"))
    with open(os.path.join(outdir, "configuration.json"), "w") as f:
        json.dump(model.configuration(), f, indent=2)


def load_modelscope(path):
    """A model directory (or its pytorch_model.bin) -> FRCRN in eval mode."""
    d = path if os.path.isdir(path) else os.path.dirname(path)
    binf = os.path.join(path, "pytorch_model.bin") if os.path.isdir(path) else path
    cfg = {}
    if os.path.exists(os.path.join(d, "configuration.json")):
        with open(os.path.join(d, "configuration.json")) as f:
            cfg = json.load(f).get("model", {})
    m = FRCRN(cfg.get("width", 128), cfg.get("se_pooling", "global"))
    sd = torch.load(binf, map_location="cpu")
    if "model" in sd and isinstance(sd["model"], dict):
        sd = sd["model"]
    m.load_state_dict({k.replace("module.", "", 1): v for k, v in sd.items()}, strict=False)
    return m.eval()


def randomize(model, seed, bn_gain=0.6):
    """Random weights with BatchNorm statistics and FSMN taps randomised, so every term matters.

    BatchNorm scales around `bn_gain` < 1 keep the 40-odd layers contractive: at 1 a random
    width-128 network amplifies float32 round-off to the 1e-2 level (40 dB SNR against float64),
    which would make a parity test measure chaos instead of the implementation."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() > 1:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) / fan_in ** 0.5)
            else:
                p.copy_((bn_gain if name.endswith("bn_re.weight") or name.endswith("bn_im.weight") else 0.0)
                        + 0.1 * torch.randn(p.shape, generator=g))
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(0.1 * torch.randn(b.shape, generator=g))
            elif name.endswith("running_var"):
                b.copy_(0.5 + torch.rand(b.shape, generator=g))
    return model.eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--se-pooling", default="global", choices=["global", "cumulative"])
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    save_modelscope(a.outdir, randomize(FRCRN(a.width, a.se_pooling), a.seed))


if __name__ == "__main__":
    main()
