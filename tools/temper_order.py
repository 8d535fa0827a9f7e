#!/usr/bin/env python3
"""temper's training batch order in Python: the permutation train::Trainer shuffles each epoch into, so that a
PyTorch run can see exactly temper's batches (tools/goemotions_baseline.py --order temper); and temper's dropout
draws (dropout_uniform), so that a PyTorch forward pass can drop exactly what temper's drops
(tools/minilm_trajectory.py, masked_dropout.safetensors).

    .venv/bin/python tools/temper_order.py --n 43410 --seed 1 --epoch 0 --head 8   # the first 8 indices

A port of include/temper/core/random.hpp (philox4x32: Philox4x32-10, 64-bit counter in words 0-1, 64-bit key;
derive_seed: splitmix64's finaliser) and include/temper/train/sampling.hpp / batching.hpp (randint: 64 bits from
words 0-1 of one block, rejecting draws below 2^64 mod bound; shuffle: Fisher-Yates from the back; epoch_batches:
Generator(derive_seed(seed, 1)) at offset epoch << 40). Without length bucketing, which the goemotions program
does not use. The port is checked against Random123's known answer for Philox4x32-10 (--self-test) and, in use,
by the first training step: from the same weights both frameworks must get the same loss
(tools/goemotions_lockstep.py compare). dropout_uniform ports core/random.hpp's philox_uniform (element i: the
i % 4-th word of block offset + i / 4, its top 24 bits times 2^-24) with numpy, checked against the scalar port.
dropout_keep draws whole masks with temper's own CPU kernel (build/tools/libtemper_dropout_mask.so, built with the
examples; numpy when it is absent), checked against dropout_uniform.
"""

import argparse
import functools
import sys

M32 = 0xFFFFFFFF
M64 = (1 << 64) - 1


def philox4x32(counter, key):
    """The four 32-bit words of block `counter` of key `key` (temper's philox4x32)."""
    c0, c1, c2, c3 = counter & M32, (counter >> 32) & M32, 0, 0
    k0, k1 = key & M32, (key >> 32) & M32
    for _ in range(10):
        p0, p1 = 0xD2511F53 * c0, 0xCD9E8D57 * c2
        c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0) & M32, p1 & M32, ((p0 >> 32) ^ c3 ^ k1) & M32, p0 & M32
        k0, k1 = (k0 + 0x9E3779B9) & M32, (k1 + 0xBB67AE85) & M32
    return c0, c1, c2, c3


def dropout_uniform(seed, offset, n):
    """philox_uniform(seed, offset, i) for i = 0..n-1 as a float64 numpy array (the values are float32's): temper's
    dropout keeps element i of a tensor iff this is >= float32(p) (cpu/dropout.hpp). numpy's uint64 products of two
    32-bit words are exact, so the rounds are philox4x32's."""
    import numpy as np
    u64 = np.uint64
    blocks = u64(offset) + np.arange((n + 3) // 4, dtype=np.uint64)
    c0, c1 = blocks & u64(M32), blocks >> u64(32)
    c2 = c3 = np.zeros_like(blocks)
    k0, k1 = seed & M32, (seed >> 32) & M32
    for _ in range(10):
        p0, p1 = c0 * u64(0xD2511F53), c2 * u64(0xCD9E8D57)
        c0, c1, c2, c3 = ((p1 >> u64(32)) ^ c1 ^ u64(k0), p1 & u64(M32),
                          (p0 >> u64(32)) ^ c3 ^ u64(k1), p0 & u64(M32))
        k0, k1 = (k0 + 0x9E3779B9) & M32, (k1 + 0xBB67AE85) & M32
    words = np.stack([c0, c1, c2, c3], axis=1).reshape(-1)[:n]
    return (words >> u64(8)).astype(np.float64) * 2.0 ** -24


@functools.lru_cache(maxsize=None)
def mask_library():
    """temper's dropout kernel (tools/temper_dropout_mask.cpp) through ctypes, or None where it is not built.
    TEMPER_DROPOUT_MASK_LIB names the file; the default is build/tools/ of this checkout."""
    import ctypes
    import os
    path = os.environ.get("TEMPER_DROPOUT_MASK_LIB") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "build", "tools", "libtemper_dropout_mask.so")
    if not os.path.exists(path):
        return None
    lib = ctypes.CDLL(path)
    lib.temper_dropout_mask.argtypes = [ctypes.c_uint64, ctypes.c_uint64, ctypes.c_int64, ctypes.c_double,
                                        ctypes.c_void_p]
    lib.temper_dropout_mask.restype = None
    return lib


def dropout_keep(seed, offset, n, p, use_library=True):
    """Which of n elements temper's dropout with probability p keeps at stream (seed, offset): a bool numpy array,
    dropout_uniform(seed, offset, n) >= float32(p). Drawn by temper's kernel when it is built (one batch's 10.8
    million draws: 28 ms, numpy 2.0 s), else by dropout_uniform."""
    import numpy as np
    lib = mask_library() if use_library else None
    if lib is None:
        return dropout_uniform(seed, offset, n) >= np.float32(p)
    mask = np.empty(n, dtype=np.float32)
    lib.temper_dropout_mask(seed, offset, n, p, mask.ctypes.data)
    return mask != 0


class TemperDropout:
    """A stand-in for torch.nn.functional.dropout (which nn.Dropout and transformers' eager attention call) that
    drops what temper's dropout drops: each call in train mode takes the next ceil(n / 4) Philox blocks of the
    stream (seed, offset), as temper's Generator::reserve does, and keeps element i iff dropout_uniform >= float32(p),
    scaling kept ones by 1 / (1 - p). The calls must come in temper's order on tensors of temper's layout (for
    BertForSequenceClassification they do: tests/test_minilm.cpp checks it exactly). Use as a context manager."""

    def __init__(self, seed, offset=0):
        self.seed, self.offset, self.shapes = seed, offset, []

    def __call__(self, t, p=0.5, training=True, inplace=False):
        import torch
        if not training or p == 0.0:
            return t
        keep = dropout_keep(self.seed, self.offset, t.numel(), p)
        self.offset += (t.numel() + 3) // 4
        self.shapes.append(list(t.shape))
        return t * torch.from_numpy(keep).reshape(t.shape).to(t.dtype) * (1.0 / (1.0 - p))

    def __enter__(self):
        import torch
        self.plain = torch.nn.functional.dropout
        torch.nn.functional.dropout = self
        return self

    def __exit__(self, *exc):
        import torch
        torch.nn.functional.dropout = self.plain


def derive_seed(seed, stream):
    z = (seed + 0x9E3779B97F4A7C15 * (stream + 1)) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


class Generator:
    """temper's Generator as the data code uses it: one Philox block per 64-bit draw."""

    def __init__(self, seed, offset=0):
        self.seed, self.offset = seed, offset

    def u64(self):
        x = philox4x32(self.offset, self.seed)
        self.offset += 1
        return x[0] | (x[1] << 32)

    def randint(self, bound):
        limit = (1 << 64) % bound
        while True:
            x = self.u64()
            if x >= limit:
                return x % bound


def epoch_order(n, epoch, seed):
    """The example indices of epoch `epoch` in training order, for Trainer seed `seed` (batches: consecutive runs of
    batch_size, the last one short)."""
    order = list(range(n))
    g = Generator(derive_seed(seed, 1), epoch << 40)
    for i in range(n, 1, -1):
        j = g.randint(i)
        order[i - 1], order[j] = order[j], order[i - 1]
    return order


def self_test():
    """Checks the ports, and temper's kernel where it is built; numpy only for the numpy port (ctest runs this
    with whatever Python3 CMake found: tools/CMakeLists.txt)."""
    import ctypes
    import struct
    # Random123's kat_vectors: philox4x32 10 rounds, counter 0, key 0.
    assert philox4x32(0, 0) == (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8), philox4x32(0, 0)
    # Streams at an offset whose low word wraps, with a 64-bit key: the scalar port's draws are the reference.
    seed, offset = 0x0123456789ABCDEF, (1 << 32) - 3

    def scalar_uniform(n):
        return [(philox4x32(offset + i // 4, seed)[i % 4] >> 8) * 2.0 ** -24 for i in range(n)]

    try:
        import numpy  # noqa: F401
    except ImportError:
        numpy = None
        print("temper_order: numpy absent: dropout_uniform (the numpy port) not checked", file=sys.stderr)
    if numpy is not None:
        assert list(dropout_uniform(seed, offset, 37)) == scalar_uniform(37)
    # temper's kernel against the scalar port: lengths around its 64-element groups, two p's; kept elements
    # carry float32(1 / (1 - p)), dropped ones 0.
    lib = mask_library()
    if lib is None:
        print("temper_order: build/tools/libtemper_dropout_mask.so not built: the kernel is not checked",
              file=sys.stderr)
        return
    f32 = lambda x: struct.unpack("f", struct.pack("f", x))[0]  # noqa: E731
    for n in (1, 63, 64, 65, 1000):
        u = scalar_uniform(n)
        for p in (0.1, 0.5):
            mask = (ctypes.c_float * n)()
            lib.temper_dropout_mask(seed, offset, n, p, ctypes.addressof(mask))
            expected = [f32(1.0 / (1.0 - p)) if u[i] >= f32(p) else 0.0 for i in range(n)]
            assert list(mask) == expected, (n, p)
            if numpy is not None:
                assert list(dropout_keep(seed, offset, n, p, False)) == [m != 0 for m in expected], (n, p)
    print("temper_order: self-test passed", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, help="training examples")
    ap.add_argument("--seed", type=int, help="the Trainer's seed (goemotions --seed)")
    ap.add_argument("--epoch", type=int, default=0)
    ap.add_argument("--head", type=int, default=16, help="print this many indices")
    ap.add_argument("--self-test", action="store_true", help="only check the ports and the kernel, then exit")
    args = ap.parse_args()
    if not args.self_test and (args.n is None or args.seed is None):
        ap.error("--n and --seed are required (or --self-test)")
    self_test()
    if args.self_test:
        return
    print(" ".join(map(str, epoch_order(args.n, args.epoch, args.seed)[:args.head])))


if __name__ == "__main__":
    main()
