#!/usr/bin/python3
"""QuartzNet / Jasper CTC model (NeMo EncDecCTCModel + ConvASREncoder + ConvASRDecoder) in PyTorch.

State-dict keys and model_config.yaml follow NeMo exactly (see ../shared/specs/nemo-conv-asr.md).
Used to write test checkpoints, to train the default model and as the numerical reference.

  /usr/bin/python3 models/quartznet/quartznet.py OUT.nemo --arch 5x5|15x5|tiny|odd|stream [--seed N]
      writes a model with random weights (BatchNorm statistics calibrated on N(0,1) features)
"""
import argparse
import os
import sys

import torch
import torch.nn as nn
import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from nemo_conv import (AudioToMelSpectrogramPreprocessor, ConvASREncoder, jasper_block_cfg,  # noqa: E402
                       save_nemo)

LABELS = [" "] + [chr(c) for c in range(ord("a"), ord("z") + 1)] + ["'"]


def jasper_config(arch):
    b = jasper_block_cfg
    if arch == "tiny":
        return [b(64, 1, 11, stride=2, residual=False), b(64, 2, 13), b(64, 2, 15),
                b(128, 1, 17, dilation=2, residual=False), b(128, 1, 1, residual=False, separable=False)]
    if arch == "odd":  # channel counts off the kernels' 16-row blocks and 8-float vectors
        return [b(40, 1, 11, stride=2, residual=False), b(36, 2, 7), b(52, 1, 9, dilation=2, residual=False),
                b(44, 1, 1, residual=False, separable=False)]
    if arch == "jasperish":  # non-separable blocks, as Jasper uses
        return [b(64, 1, 11, stride=2, residual=False, separable=False), b(64, 2, 7, separable=False),
                b(96, 1, 1, residual=False, separable=False)]
    if arch == "stream":
        # our default streaming model: causal convolutions except a few frames of look-ahead in the
        # first blocks (C1: 2 input frames, B1/B2: 1 frame each per conv = 220 ms in all)
        L = [b(256, 1, 33, stride=2, residual=False, future_context=2)]
        for f, k, fc in [(256, 33, 1), (256, 39, 1), (384, 51, 0), (384, 63, 0), (512, 75, 0)]:
            L.append(b(f, 5, k, future_context=fc))
        L.append(b(512, 1, 87, residual=False, future_context=0))
        L.append(b(1024, 1, 1, residual=False, separable=False))
        return L
    if arch == "small":
        # the bundled default: tiny's layout (symmetric 'same' convolutions, which left CTC's blank
        # plateau within a few hundred steps where the causal layouts below stayed on it for
        # thousands) at 128-384 channels; 1.2 s of look-ahead when streamed
        return [b(128, 1, 11, stride=2, residual=False), b(128, 2, 13), b(128, 2, 15), b(192, 2, 17),
                b(256, 1, 19, dilation=2, residual=False), b(384, 1, 1, residual=False, separable=False)]
    if arch == "medium":
        # "small" grown for GPU training: 3 repeats, 256-384 channels, about 1.5 s of look-ahead
        return [b(256, 1, 11, stride=2, residual=False), b(256, 3, 9), b(256, 3, 11), b(384, 3, 13),
                b(384, 3, 13), b(512, 1, 15, residual=False), b(768, 1, 1, residual=False, separable=False)]
    if arch == "stream-small":
        # the bundled default: the same causal layout at 256 channels and 3 repeats, 1.8M parameters,
        # a third of "stream"'s compute, so that it trains to convergence on two CPU cores
        L = [b(256, 1, 33, stride=2, residual=False, future_context=2)]
        for k, fc in [(33, 1), (39, 1), (51, 0), (63, 0), (75, 0)]:
            L.append(b(256, 3, k, future_context=fc))
        L.append(b(256, 1, 87, residual=False, future_context=0))
        L.append(b(512, 1, 1, residual=False, separable=False))
        return L
    reps = {"5x5": 1, "15x5": 3}[arch]
    L = [b(256, 1, 33, stride=2, residual=False)]
    for f, k in [(256, 33), (256, 39), (512, 51), (512, 63), (512, 75)]:
        L += [b(f, 5, k) for _ in range(reps)]
    L.append(b(512, 1, 87, dilation=2, residual=False))
    L.append(b(1024, 1, 1, residual=False, separable=False))
    return L


def model_config(arch, labels=LABELS, normalize="per_feature"):
    jasper = jasper_config(arch)
    return {
        "sample_rate": 16000,
        "labels": list(labels),
        "preprocessor": {
            "_target_": "nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor",
            "normalize": normalize, "window_size": 0.02, "sample_rate": 16000, "window_stride": 0.01,
            "window": "hann", "features": 64, "n_fft": 512, "frame_splicing": 1, "dither": 1.0e-05,
            "pad_to": 16, "stft_conv": False,
        },
        "encoder": {
            "_target_": "nemo.collections.asr.modules.ConvASREncoder",
            "feat_in": 64, "activation": "relu", "conv_mask": True, "jasper": jasper,
        },
        "decoder": {
            "_target_": "nemo.collections.asr.modules.ConvASRDecoder",
            "feat_in": jasper[-1]["filters"], "num_classes": len(labels), "vocabulary": list(labels),
        },
        "target": "nemo.collections.asr.models.ctc_models.EncDecCTCModel",
    }


class ConvASRDecoder(nn.Module):
    def __init__(self, feat_in, num_classes):
        super().__init__()
        self.decoder_layers = nn.Sequential(nn.Conv1d(feat_in, num_classes + 1, kernel_size=1, bias=True))

    def forward(self, encoder_output):
        return torch.log_softmax(self.decoder_layers(encoder_output).transpose(1, 2), dim=-1)


class EncDecCTCModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        p = cfg["preprocessor"]
        self.preprocessor = AudioToMelSpectrogramPreprocessor(
            sample_rate=p["sample_rate"], window_size=p["window_size"], window_stride=p["window_stride"],
            n_fft=p.get("n_fft"), features=p["features"], normalize=p["normalize"], pad_to=p.get("pad_to", 16),
            dither=p.get("dither", 1e-5))
        e = cfg["encoder"]
        self.encoder = ConvASREncoder(e["feat_in"], e["jasper"])
        d = cfg["decoder"]
        self.decoder = ConvASRDecoder(d["feat_in"], d["num_classes"])

    def forward(self, input_signal=None, input_signal_length=None, processed_signal=None,
                processed_signal_length=None):
        """-> (log_probs [B, T', C+1], encoded_len [B])."""
        if processed_signal is None:
            processed_signal, processed_signal_length = self.preprocessor(input_signal, input_signal_length)
        enc, enc_len = self.encoder(processed_signal, processed_signal_length)
        return self.decoder(enc), enc_len

    def config_yaml(self):
        return yaml.safe_dump(self.cfg, sort_keys=False, allow_unicode=True)


def greedy_decode(log_probs, length, labels):
    blank = len(labels)
    ids = log_probs[: int(length)].argmax(-1).tolist()
    out, prev = [], -1
    for i in ids:
        if i != prev and i != blank:
            out.append(labels[i])
        prev = i
    return "".join(out)


def randomize(model, seed, calib_frames=400, gain=0.8, calib_audio=None, residual_main_gain=0.2):
    """Random weights with BN statistics calibrated on N(0,1) features, so activations stay O(1).

    BatchNorm scales are drawn around `gain` < 1: at gain 1 a deep random QuartzNet (15x5) is
    chaotic, and float32 round-off grows to 1e-1 in the logits (fp32 vs fp64 PyTorch, on speech), which would
    make any parity test meaningless. Statistics calibrated on white noise also misjudge smooth
    speech features (a long random kernel sums correlated frames), so `calib_audio` (a list of float
    arrays) calibrates BatchNorm on the features of real inputs, as training would."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("preprocessor"):
                continue
            if p.dim() > 1:
                fan_in = p.shape[1] * p.shape[2]
                p.copy_(torch.randn(p.shape, generator=g) / fan_in ** 0.5)
            elif name.endswith("weight"):
                p.copy_(gain * (1.0 + 0.1 * torch.randn(p.shape, generator=g)))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
        model.train()
        for m in model.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.momentum = None  # cumulative average over the calibration batches
                m.reset_running_stats()
        if calib_audio:
            for a in calib_audio:
                a = torch.as_tensor(a, dtype=torch.float32)[None]
                model(a, torch.tensor([a.shape[1]]))
        else:
            x = torch.randn(4, model.cfg["preprocessor"]["features"], calib_frames, generator=g)
            model(processed_signal=x, processed_signal_length=torch.full((4,), calib_frames))
        for m in model.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.momentum = 0.1
        # residual blocks whose main branch is a small correction to the residual path: each
        # random block otherwise doubles perturbations, and 15 of them amplify round-off 1e5 times
        for blk in model.encoder.encoder:
            if blk.res is not None:
                bn = [m for m in blk.mconv if isinstance(m, nn.BatchNorm1d)][-1]
                bn.weight.mul_(residual_main_gain)
                bn.bias.mul_(residual_main_gain)
        model.eval()
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--arch", default="5x5", choices=["tiny", "odd", "small", "jasperish", "stream", "stream-small", "medium", "5x5", "15x5"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--normalize", default="per_feature", choices=["per_feature", "NA"])
    ap.add_argument("--gzip", action="store_true")
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    m = randomize(EncDecCTCModel(model_config(a.arch, normalize=a.normalize)), a.seed)
    save_nemo(a.out, m, m.config_yaml(), gzip=a.gzip)


if __name__ == "__main__":
    main()
