#!/usr/bin/env python3
"""temper's training batch order in Python: the permutation train::Trainer shuffles each epoch into, so that a
PyTorch run can see exactly temper's batches (tools/goemotions_baseline.py --order temper).

    .venv/bin/python tools/temper_order.py --n 43410 --seed 1 --epoch 0 --head 8   # the first 8 indices

A port of include/temper/core/random.hpp (philox4x32: Philox4x32-10, 64-bit counter in words 0-1, 64-bit key;
derive_seed: splitmix64's finaliser) and include/temper/train/sampling.hpp / batching.hpp (randint: 64 bits from
words 0-1 of one block, rejecting draws below 2^64 mod bound; shuffle: Fisher-Yates from the back; epoch_batches:
Generator(derive_seed(seed, 1)) at offset epoch << 40). Without length bucketing, which the goemotions program
does not use. The port is checked against Random123's known answer for Philox4x32-10 (--self-test) and, in use,
by the first training step: from the same weights both frameworks must get the same loss
(tools/goemotions_lockstep.py compare).
"""

import argparse

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
    # Random123's kat_vectors: philox4x32 10 rounds, counter 0, key 0, and counter/key all ones.
    assert philox4x32(0, 0) == (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8), philox4x32(0, 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, required=True, help="training examples")
    ap.add_argument("--seed", type=int, required=True, help="the Trainer's seed (goemotions --seed)")
    ap.add_argument("--epoch", type=int, default=0)
    ap.add_argument("--head", type=int, default=16, help="print this many indices")
    args = ap.parse_args()
    self_test()
    print(" ".join(map(str, epoch_order(args.n, args.epoch, args.seed)[:args.head])))


if __name__ == "__main__":
    main()
