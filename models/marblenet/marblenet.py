#!/usr/bin/python3
"""MarbleNet / MatchboxNet (NeMo EncDecClassificationModel: AudioToMFCCPreprocessor, ConvASREncoder,
ConvASRDecoderClassification) in PyTorch, with NeMo's state-dict keys and config.

  /usr/bin/python3 models/marblenet/marblenet.py OUT.nemo --arch marblenet|matchboxnet [--seed N]
"""
import argparse
import os
import sys

import torch
import torch.nn as nn
import torchaudio
import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "quartznet"))
from nemo_conv import ConvASREncoder, jasper_block_cfg, save_nemo  # noqa: E402

VAD_LABELS = ["background", "speech"]
COMMAND_LABELS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "yes", "no",
                  "up", "down", "left", "right", "on", "off", "stop", "go", "unknown", "silence"]


def jasper_config(arch):
    b = jasper_block_cfg
    f = 128
    reps = 2 if arch == "marblenet" else 1
    return [b(f, 1, 11, residual=False), b(64, reps, 13), b(64, reps, 15), b(64, reps, 17),
            b(f, 1, 29, dilation=2, residual=False), b(f, 1, 1, residual=False, separable=False)]


def model_config(arch):
    labels = VAD_LABELS if arch == "marblenet" else COMMAND_LABELS
    jasper = jasper_config(arch)
    return {
        "sample_rate": 16000,
        "labels": labels,
        "preprocessor": {
            "_target_": "nemo.collections.asr.modules.AudioToMFCCPreprocessor",
            "window_size": 0.025, "window_stride": 0.01, "window": "hann", "n_mels": 64, "n_mfcc": 64,
            "n_fft": 512,
        },
        "encoder": {"_target_": "nemo.collections.asr.modules.ConvASREncoder", "feat_in": 64,
                    "activation": "relu", "conv_mask": True, "jasper": jasper},
        "decoder": {"_target_": "nemo.collections.asr.modules.ConvASRDecoderClassification",
                    "feat_in": jasper[-1]["filters"], "num_classes": len(labels), "return_logits": True,
                    "pooling_type": "avg"},
        "target": "nemo.collections.asr.models.classification_models.EncDecClassificationModel",
    }


class AudioToMFCCPreprocessor(nn.Module):
    """NeMo's: torchaudio.transforms.MFCC (no buffers in the state dict)."""

    def __init__(self, p):
        super().__init__()
        sr = 16000
        self.featurizer = torchaudio.transforms.MFCC(
            sample_rate=sr, n_mfcc=p["n_mfcc"], dct_type=2, norm="ortho", log_mels=True,
            melkwargs=dict(n_fft=p["n_fft"], win_length=int(p["window_size"] * sr),
                           hop_length=int(p["window_stride"] * sr), n_mels=p["n_mels"], f_min=0.0, f_max=None,
                           window_fn=torch.hann_window))
        self.hop = int(p["window_stride"] * sr)

    def forward(self, x, length):
        return self.featurizer(x), torch.div(length, self.hop, rounding_mode="floor") + 1


class ConvASRDecoderClassification(nn.Module):
    def __init__(self, feat_in, num_classes):
        super().__init__()
        self.pooling = nn.AdaptiveAvgPool1d(1)
        self.decoder_layers = nn.Sequential(nn.Linear(feat_in, num_classes, bias=True))

    def forward(self, encoder_output):
        b, c, _ = encoder_output.shape
        return self.decoder_layers(self.pooling(encoder_output).view(b, c))


class EncDecClassificationModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.preprocessor = AudioToMFCCPreprocessor(cfg["preprocessor"])
        self.encoder = ConvASREncoder(cfg["encoder"]["feat_in"], cfg["encoder"]["jasper"])
        self.decoder = ConvASRDecoderClassification(cfg["decoder"]["feat_in"], cfg["decoder"]["num_classes"])

    def forward(self, input_signal, input_signal_length):
        f, fl = self.preprocessor(input_signal, input_signal_length)
        e, _ = self.encoder(f, fl)
        return self.decoder(e)

    def config_yaml(self):
        return yaml.safe_dump(self.cfg, sort_keys=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--arch", default="marblenet", choices=["marblenet", "matchboxnet"])
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    m = EncDecClassificationModel(model_config(a.arch)).eval()
    save_nemo(a.out, m, m.config_yaml())


if __name__ == "__main__":
    main()
