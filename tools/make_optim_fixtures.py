#!/usr/bin/env python3
"""Generate the optimiser fixtures: torch.optim.AdamW, HF's linear warmup schedule and
torch.nn.utils.clip_grad_norm_ over ten steps, in float32 and float64.

Usage:
    .venv/bin/python tools/make_optim_fixtures.py [--out tests/fixtures/optim]

Needs torch >= 2.0 and transformers (its get_linear_schedule_with_warmup is the schedule); the
committed files were made with the pinned packages of tools/requirements.txt, and a rerun with them
on the same kind of CPU gives byte-identical files (see the note on sqrt at the end).

Writes one safetensors file per (scenario, dtype), e.g. adamw_plain_f32.safetensors. Each holds

    init.<param>              initial parameter values
    grad.<s>.<param>          the gradient given at step s (absent: the param has no grad at s)
    clipped.<s>.<param>       the gradient after clip_grad_norm_ (scenario "sched_clip" only)
    param.<s>.<param>         parameters after step s
    exp_avg.<s>.<param>       optimiser state after step s, for s in {0, 4, 9}
    exp_avg_sq.<s>.<param>
    state_step.<s>.<param>    I64 [] per-parameter step count after step s, for s in {0, 4, 9}
    lr                        F64 [steps] learning rate of group 0 used at each step
    total_norm                [steps] clip_grad_norm_'s return value (sched_clip only)

and __metadata__: scenario, dtype, the torch and transformers versions, the reference, the CPU, the
options and the parameter groups as JSON.
Parameters: group 0 (weight_decay = wd) "w1" [7, 5] and "w2" [19]; group 1 (weight_decay 0)
"b1" [5] and "ln" [37]: sizes that are not multiples of the SIMD width, so torch's vector loop
and its scalar tail both run. At step 3, "w2" has no gradient (torch skips it; its step count
falls behind the others).

Scenarios:
  lerp        torch.optim.AdamW(lr=1e-2, default betas/eps, foreach=False), wd 0.01 / 0: the update
              of torch >= 2.0, whose first moment is exp_avg.lerp_(grad, 1 - beta1). temper's
              default (lerp_exp_avg=true).
  sched_clip  torch.optim.AdamW(foreach=False) as in "lerp", with betas (0.8, 0.99), eps 1e-6,
              wd 0.1 / 0, lr 3e-2 under get_linear_schedule_with_warmup (3 warmup steps, 10 total)
              and clip_grad_norm_(max_norm=1.0) before each step; gradients are scaled so that some
              steps clip and some do not.
  plain       as "lerp", but with torch 1.x's first moment exp_avg.mul_(beta1).add_(grad,
              alpha=1 - beta1) (temper's lerp_exp_avg=false). torch >= 2.0 no longer has this update,
              so it comes from Torch1AdamW below, torch 1.13's _single_tensor_adamw written out with
              torch ops. Before writing anything the script checks that replica: with lerp swapped in
              it must equal torch.optim.AdamW bit for bit on "lerp" and "sched_clip", in both dtypes.

Random numbers come from a self-contained SplitMix64 + Box-Muller generator, not torch's RNG, so
the inputs do not depend on the torch version. Everything runs on CPU with one thread.

torch 2.15's CPU sqrt (the pip wheel calls MKL's vsSqrt) is not correctly rounded: about 1 in 6
float32 and 1 in 80 float64 results are 1 ulp off. It enters the parameters through AdamW's denom,
so the stored parameters can differ in the last bits from an implementation with a correctly
rounded sqrt (temper's); the moments do not use it. MKL picks its kernel by CPU, so a run on another
kind of CPU may change those last bits; __metadata__["cpu"] records where the files were made.
"""

import argparse
import json
import math
import os
import platform
import struct
import sys

import torch
import transformers
from transformers import get_linear_schedule_with_warmup

assert sys.byteorder == "little", "this writer assumes a little-endian host"

STEPS = 10
STATE_STEPS = (0, 4, 9)
NO_GRAD = (3, "w2")  # (step, param) with no gradient
GROUPS = [["w1", "w2"], ["b1", "ln"]]
SHAPES = {"w1": [7, 5], "w2": [19], "b1": [5], "ln": [37]}


class SplitMix64:
    def __init__(self, seed):
        self.s = seed & 0xFFFFFFFFFFFFFFFF

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        return z ^ (z >> 31)

    def uniform(self):  # [0, 1)
        return (self.next() >> 11) / float(1 << 53)

    def normal(self):
        u1 = (self.next() >> 11) / float(1 << 53) or 1e-300
        u2 = self.uniform()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)

    def tensor(self, shape, scale_fn):
        n = 1
        for d in shape:
            n *= d
        return torch.tensor([self.normal() * scale_fn() for _ in range(n)], dtype=torch.float64).reshape(shape)


class Torch1AdamW(torch.optim.Optimizer):
    """AdamW's single-tensor step as torch 1.x wrote it: torch 1.13's torch/optim/adamw.py,
    _single_tensor_adamw with capturable=False (state "step" a float tensor, bias_correction2_sqrt
    by math.sqrt, the decay multiply even when weight_decay is 0), op for op.

    torch 2.0 changed one line, the first moment, to exp_avg.lerp_(grad, 1 - beta1). lerp=True makes
    that change here, and check_replica then requires torch.optim.AdamW's results bit for bit: that
    checks every other line of the replica against the installed torch."""

    def __init__(self, params, lr, betas, eps, weight_decay, lerp):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))
        self.lerp = lerp

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if not st:
                    st["step"] = torch.tensor(0.0)
                    st["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    st["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                grad, exp_avg, exp_avg_sq = p.grad, st["exp_avg"], st["exp_avg_sq"]
                st["step"] += 1
                p.mul_(1 - lr * wd)
                if self.lerp:
                    exp_avg.lerp_(grad, 1 - beta1)  # torch >= 2.0
                else:
                    exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)  # torch 1.x
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                step = st["step"].item()
                bias_correction1 = 1 - beta1 ** step
                bias_correction2 = 1 - beta2 ** step
                step_size = lr / bias_correction1
                bias_correction2_sqrt = math.sqrt(bias_correction2)
                denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
                p.addcdiv_(exp_avg, denom, value=-step_size)


# impl: "torch" = torch.optim.AdamW itself; "replica" = Torch1AdamW (for the update torch no longer has).
SCENARIOS = {
    "plain": dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, wd=0.01, schedule=None, clip=None, lerp=False,
                  impl="replica"),
    "lerp": dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, wd=0.01, schedule=None, clip=None, lerp=True,
                 impl="torch"),
    "sched_clip": dict(lr=3e-2, betas=(0.8, 0.99), eps=1e-6, wd=0.1, schedule=(3, 10), clip=1.0, lerp=True,
                       impl="torch"),
}


def make_inputs(seed):
    """Initial params and per-step gradients in float64 (rounded to the run's dtype later)."""
    rng = SplitMix64(seed)
    init = {n: rng.tensor(SHAPES[n], lambda: 1.0) for n in SHAPES}
    grads = []
    for s in range(STEPS):
        # Magnitudes spread over 1e-3 .. 1e1 per element; a few steps scaled so clipping triggers
        # at max_norm 1 on some steps and not on others.
        step_scale = [0.02, 0.5, 0.05, 0.03, 1.0, 0.01, 0.04, 0.3, 0.02, 0.05][s]
        grads.append({n: rng.tensor(SHAPES[n], lambda: step_scale * 10.0 ** (4.0 * rng.uniform() - 3.0))
                      for n in SHAPES})
    return init, grads


def run(cfg, dtype, init64, grads64, impl=None):
    """Ten steps of the scenario cfg with impl ("torch" or "replica"; default cfg["impl"])."""
    impl = impl or cfg["impl"]
    params = {n: init64[n].to(dtype).clone().requires_grad_(True) for n in SHAPES}
    groups = [{"params": [params[n] for n in GROUPS[0]], "weight_decay": cfg["wd"]},
              {"params": [params[n] for n in GROUPS[1]], "weight_decay": 0.0}]
    if impl == "replica":
        opt = Torch1AdamW(groups, lr=cfg["lr"], betas=cfg["betas"], eps=cfg["eps"], weight_decay=cfg["wd"],
                          lerp=cfg["lerp"])
    else:
        # torch is only the reference for the update it has: torch >= 2.0's lerp.
        assert cfg["lerp"], "torch.optim.AdamW of torch >= 2.0 has no mul+add first moment"
        opt = torch.optim.AdamW(groups, lr=cfg["lr"], betas=cfg["betas"], eps=cfg["eps"],
                                weight_decay=cfg["wd"], foreach=False)
    sched = get_linear_schedule_with_warmup(opt, *cfg["schedule"]) if cfg["schedule"] else None

    out = {}
    for n in SHAPES:
        out[f"init.{n}"] = params[n].detach().clone()
    lrs, norms = [], []
    for s in range(STEPS):
        for n in SHAPES:
            if (s, n) == NO_GRAD:
                params[n].grad = None
            else:
                params[n].grad = grads64[s][n].to(dtype).clone()
                out[f"grad.{s}.{n}"] = params[n].grad.clone()
        if cfg["clip"] is not None:
            total = torch.nn.utils.clip_grad_norm_([params[n] for n in SHAPES], cfg["clip"])
            norms.append(float(total))
            for n in SHAPES:
                if params[n].grad is not None:
                    out[f"clipped.{s}.{n}"] = params[n].grad.clone()
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        if sched is not None:
            sched.step()
        for n in SHAPES:
            out[f"param.{s}.{n}"] = params[n].detach().clone()
            if s in STATE_STEPS:
                st = opt.state[params[n]]
                out[f"exp_avg.{s}.{n}"] = st["exp_avg"].clone()
                out[f"exp_avg_sq.{s}.{n}"] = st["exp_avg_sq"].clone()
                out[f"state_step.{s}.{n}"] = torch.tensor(int(st["step"].item()), dtype=torch.int64)
    out["lr"] = torch.tensor(lrs, dtype=torch.float64)
    if norms:
        out["total_norm"] = torch.tensor(norms, dtype=dtype)
    return out, opt


def check_replica(init64, grads64):
    """Torch1AdamW with lerp=True must give torch.optim.AdamW's results bit for bit (every tensor
    written, both dtypes) on the torch scenarios; only then is its lerp=False run ("plain") trusted."""
    for name, cfg in SCENARIOS.items():
        if cfg["impl"] != "torch":
            continue
        for dtype in (torch.float32, torch.float64):
            mine, _ = run(cfg, dtype, init64, grads64, impl="replica")
            ref, _ = run(cfg, dtype, init64, grads64, impl="torch")
            assert mine.keys() == ref.keys()
            for k in mine:
                if not torch.equal(mine[k], ref[k]):
                    raise SystemExit(f"Torch1AdamW(lerp=True) differs from torch.optim.AdamW: {name} {dtype} {k}")
    return f"with lerp it is bit-identical to torch.optim.AdamW of torch {torch.__version__} on lerp and sched_clip"


def cpu_name():
    """The CPU model (MKL's sqrt kernel, and with it the parameters' last bits, depend on it)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def save_safetensors(path, tensors, metadata):
    dtypes = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}
    header, blobs, off = {"__metadata__": metadata}, [], 0
    for name, t in tensors.items():
        b = t.detach().contiguous().numpy().tobytes()
        header[name] = {"dtype": dtypes[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    text = json.dumps(header, separators=(",", ":"))
    text += " " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text.encode("utf-8"))
        for b in blobs:
            f.write(b)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                                  "tests", "fixtures", "optim"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)

    # torch < 2.0's AdamW has no lerp update, so it cannot be the reference for "lerp" / "sched_clip".
    if int(torch.__version__.split(".")[0]) < 2:
        raise SystemExit(f"needs torch >= 2.0 (found {torch.__version__}); see tools/requirements.txt")
    init64, grads64 = make_inputs(seed=20240531)
    replica_check = check_replica(init64, grads64)
    total = 0
    for name, cfg in SCENARIOS.items():
        for dtype, dname in ((torch.float32, "f32"), (torch.float64, "f64")):
            out, _ = run(cfg, dtype, init64, grads64)
            if cfg["impl"] == "replica":
                reference = ("torch 1.x AdamW update (exp_avg.mul_(beta1).add_), torch 1.13's _single_tensor_adamw "
                             f"written with torch ops, run on torch {torch.__version__}; {replica_check}")
            else:
                reference = f"torch.optim.AdamW(foreach=False) of torch {torch.__version__}"
            meta = {
                "scenario": name,
                "dtype": dname,
                "torch": torch.__version__,
                "transformers": transformers.__version__,
                "reference": reference,
                "cpu": f"{cpu_name()}, torch CPU capability {torch.backends.cpu.get_cpu_capability()}",
                "options": json.dumps({"lr": cfg["lr"], "betas": list(cfg["betas"]), "eps": cfg["eps"],
                                       "weight_decay": cfg["wd"], "lerp_exp_avg": cfg["lerp"],
                                       "schedule": cfg["schedule"], "max_norm": cfg["clip"]}),
                "groups": json.dumps([{"params": GROUPS[0], "weight_decay": cfg["wd"]},
                                      {"params": GROUPS[1], "weight_decay": 0.0}]),
                "steps": str(STEPS),
                "no_grad": json.dumps(list(NO_GRAD)),
            }
            path = os.path.join(args.out, f"adamw_{name}_{dname}.safetensors")
            save_safetensors(path, out, meta)
            total += os.path.getsize(path)
            print(f"wrote {path} ({os.path.getsize(path)} bytes)")
    print(f"total {total} bytes; Torch1AdamW: {replica_check}")


if __name__ == "__main__":
    main()
