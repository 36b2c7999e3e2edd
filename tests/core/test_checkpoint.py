#!/usr/bin/python3
"""Checkpoint reader: files written by Debian's torch (f32/f16/bf16/i64 tensors, non-contiguous
views, shared storages, nested dicts) packed as .nemo (tar, tar.gz) and bare .pt, read back equal;
and hostile files (truncated, bad CRC, pickles naming os.system, absurd shapes and offsets, YAML
bombs, not an archive): each a clean error, no crash, no leak (under valgrind when installed)."""
import io
import os
import struct
import sys
import tarfile
import zipfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import testlib as T  # noqa: E402

T.need_torch()
import numpy as np  # noqa: E402
import torch  # noqa: E402

d = T.tmpdir()
CONFIG = "target: nemo.collections.asr.models.ctc_models.EncDecCTCModel\nsample_rate: 16000\nlabels: [a, b]\n"


def pack_nemo(path, ckpt_bytes, config=CONFIG, gz=False, names=("./model_config.yaml", "./model_weights.ckpt")):
    with tarfile.open(path, "w:gz" if gz else "w") as tar:
        for name, data in zip(names, (config.encode(), ckpt_bytes)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def torch_bytes(obj):
    b = io.BytesIO()
    torch.save(obj, b)
    return b.getvalue()


def read_back(path, key=None):
    out = os.path.join(d, "dump")
    os.makedirs(out, exist_ok=True)
    args = [T.TOOL, "tensors", path, out] + ([key] if key else [])
    p = T.run_checked(args)
    if p.returncode != 0:
        raise RuntimeError(p.stderr)
    tensors = {}
    for line in p.stdout.splitlines():
        parts = line.split()
        name, dtype, shape = parts[0], parts[1], [int(v) for v in parts[2:]]
        tensors[name] = (dtype, shape, np.fromfile(os.path.join(out, name + ".f32"), dtype=np.float32))
        ip = os.path.join(out, name + ".i64")
        if os.path.exists(ip):
            tensors[name] += (np.fromfile(ip, dtype=np.int64),)
    return tensors


torch.manual_seed(0)
base = torch.randn(6, 8)
state = {
    "enc.weight": torch.randn(4, 3, 5),
    "enc.half": torch.randn(7, 3).half(),
    "enc.bf16": torch.randn(5).bfloat16(),
    "enc.double": torch.randn(3, 2).double(),
    "bn.num_batches_tracked": torch.tensor(12345678901, dtype=torch.int64),
    "ints": torch.arange(-5, 5, dtype=torch.int32),
    "view.transposed": base.t(),                 # non-contiguous
    "view.sliced": base[1:5, 2:7:2],             # offset + strides
    "view.same_storage": base[2],                # shares base's storage
    "view.base": base,
    "scalar": torch.tensor(3.5),
    "empty": torch.zeros(0, 4),
}
from collections import OrderedDict  # noqa: E402
sd = OrderedDict(state)


def expect_equal(got, label):
    ok = True
    for k, v in state.items():
        if k not in got:
            T.check(False, "%s: tensor %s present" % (label, k))
            ok = False
            continue
        dtype, shape, data = got[k][:3]
        want = v.float().contiguous().numpy().ravel() if v.dtype != torch.int64 else v.numpy().ravel().astype(np.float32)
        same = list(shape) == list(v.shape) and np.array_equal(data, want)
        if v.dtype in (torch.int64, torch.int32):
            same = same and np.array_equal(got[k][3], v.numpy().ravel().astype(np.int64))
        if not same:
            T.check(False, "%s: tensor %s equal to what torch wrote" % (label, k))
            ok = False
    T.check(ok and len(got) == len(state), "%s: all %d tensors equal to what torch wrote" % (label, len(state)))


ck = torch_bytes(sd)
for gz in (False, True):
    p = os.path.join(d, "m%s.nemo" % ("gz" if gz else ""))
    pack_nemo(p, ck, gz=gz)
    expect_equal(read_back(p), ".nemo (%s)" % ("tar.gz" if gz else "tar"))
p = os.path.join(d, "plain.pt")
with open(p, "wb") as f:
    f.write(ck)
expect_equal(read_back(p), "bare PyTorch checkpoint")
p = os.path.join(d, "nested.ckpt")
with open(p, "wb") as f:
    f.write(torch_bytes({"state_dict": sd, "epoch": 3, "meta": {"lr": 0.1, "name": "x"}}))
expect_equal(read_back(p), "checkpoint with the state dict nested under 'state_dict'")
expect_equal(read_back(p, "state_dict"), "checkpoint read with an explicit state_dict key")
p = os.path.join(d, "params.pt")
with open(p, "wb") as f:
    f.write(torch_bytes({"w": torch.nn.Parameter(torch.ones(3))}))
got = read_back(p)
T.check("w" in got and np.array_equal(got["w"][2], np.ones(3, np.float32)), "nn.Parameter values read")

# ---------------------------------------------------------------- hostile files


def hostile(name, data, expect_words):
    path = os.path.join(d, name)
    with open(path, "wb") as f:
        f.write(data)
    p = T.run_checked([T.TOOL, "tensors", path, d])
    msg = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""
    clean = p.returncode == 1 and any(w in msg for w in expect_words)
    T.check(clean, "%s: clean error (exit %d): %s" % (name, p.returncode, msg[:160]))


def zip_with_pickle(pkl, extra=()):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pkl)
        for n, data in extra:
            z.writestr(n, data)
        z.writestr("archive/version", "3\n")
    return b.getvalue()


good_nemo = open(os.path.join(d, "m.nemo"), "rb").read()
cut = good_nemo.find(ck[:64]) + len(ck) // 2  # inside model_weights.ckpt
hostile("truncated.nemo", good_nemo[:cut], ["truncated", "corrupt"])
hostile("truncated.pt", ck[: len(ck) - 100], ["zip", "corrupt", "truncated", "readable"])
bad = bytearray(ck)
# flip a byte inside the first storage's data: the zip CRC no longer matches
off = bytes(bad).find(b"archive/data/0") + 200
bad[off] ^= 0xFF
hostile("bad_crc.pt", bytes(bad), ["CRC", "corrupt", "crc"])
evil = b"\x80\x02cos\nsystem\nq\x00X\x05\x00\x00\x00echo!q\x01\x85q\x02Rq\x03."
hostile("os_system.pt", zip_with_pickle(evil), ["os.system"])
evil2 = b"\x80\x02cbuiltins\neval\nX\x04\x00\x00\x001+1\x85R."
hostile("eval.pt", zip_with_pickle(evil2), ["builtins.eval"])
evil3 = b"\x80\x04\x8c\x05posix\x8c\x06system\x93."
hostile("stack_global.pt", zip_with_pickle(evil3), ["posix.system"])


def rebuild_pickle(size, stride, offset=0, numel=4):
    """OrderedDict {'t': _rebuild_tensor_v2(storage(numel floats), offset, size, stride)}"""
    def tup(vals):
        return b"(" + b"".join(b"J" + struct.pack("<i", v) if abs(v) < 2 ** 31 else
                               b"\x8a\x08" + struct.pack("<q", v) for v in vals) + b"t"
    return (b"\x80\x02ccollections\nOrderedDict\n)R" + b"X\x01\x00\x00\x00t" +
            b"ctorch._utils\n_rebuild_tensor_v2\n(" +
            b"(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuJ" +
            struct.pack("<i", numel) + b"tQ" + b"J" + struct.pack("<i", offset) + tup(size) + tup(stride) +
            b"\x89ccollections\nOrderedDict\n)Rt" + b"R" + b"s.")


storage = [("archive/data/0", struct.pack("<4f", 1, 2, 3, 4))]
ok_pkl = zip_with_pickle(rebuild_pickle([2, 2], [2, 1]), storage)
hostile("absurd_shape.pt", zip_with_pickle(rebuild_pickle([1 << 40, 1 << 30], [1, 1]), storage),
        ["absurd", "reaches", "shape"])
hostile("offset_past_end.pt", zip_with_pickle(rebuild_pickle([2, 2], [2, 1], offset=3), storage), ["reaches"])
hostile("negative_stride.pt", zip_with_pickle(rebuild_pickle([2, 2], [-2, 1]), storage), ["absurd", "stride"])
hostile("storage_too_small.pt", zip_with_pickle(rebuild_pickle([2, 2], [2, 1], numel=1000), storage),
        ["declares", "holds"])
hostile("missing_storage.pt", zip_with_pickle(rebuild_pickle([2, 2], [2, 1])), ["missing"])
hostile("truncated_pickle.pt", zip_with_pickle(rebuild_pickle([2, 2], [2, 1])[:40], storage), ["truncated"])
hostile("memo_bomb.pt", zip_with_pickle(b"\x80\x02N\x72\xff\xff\xff\x7f."), ["memo"])
hostile("empty.nemo", b"", ["empty", "neither", "not"])
hostile("text.nemo", b"hello, this is not a model\n" * 20, ["neither"])
bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    "%s: &%s [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n" % ((chr(98 + i),) * 2 + (chr(97 + i),) * 9)
    for i in range(20))
b = io.BytesIO()
pack_nemo(os.path.join(d, "bomb.nemo"), ck, config=bomb)
p = T.run_checked([T.TOOL, "config", os.path.join(d, "bomb.nemo"), "u.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"])
T.check(p.returncode == 0 and p.stdout.strip() == "x",
        "YAML 'billion laughs' bomb: aliases shared, not expanded (exit %d)" % p.returncode)
pack_nemo(os.path.join(d, "deep.nemo"), ck, config="a: " + "[" * 10000 + "]" * 10000 + "\n")
p = T.run_checked([T.TOOL, "tensors", os.path.join(d, "deep.nemo"), d])
T.check(p.returncode == 1 and "deeper" in p.stderr, "YAML nested 10000 deep: clean error: " + p.stderr.strip()[:120])
pack_nemo(os.path.join(d, "badyaml.nemo"), ck, config="a: [unclosed\n  b: {\n")
p = T.run_checked([T.TOOL, "tensors", os.path.join(d, "badyaml.nemo"), d])
T.check(p.returncode == 1 and "YAML error" in p.stderr, "malformed YAML: clean error: " + p.stderr.strip()[:120])
pack_nemo(os.path.join(d, "noweights.nemo"), ck, names=("./model_config.yaml", "./other.bin"))
p = T.run_checked([T.TOOL, "tensors", os.path.join(d, "noweights.nemo"), d])
T.check(p.returncode == 1 and "model_weights.ckpt is missing" in p.stderr,
        "a .nemo without model_weights.ckpt: clean error: " + p.stderr.strip()[:120])
T.finish()
