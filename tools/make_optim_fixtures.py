#!/usr/bin/env python3
"""Generate the optimiser fixtures: torch.optim.AdamW, HF's linear warmup schedule and
torch.nn.utils.clip_grad_norm_ over ten steps, in float32 and float64.

Usage:
    .venv/bin/python tools/make_optim_fixtures.py [--out tests/fixtures/optim]

Needs torch (>= 1.13) and transformers (its get_linear_schedule_with_warmup is the schedule).
The committed files were made with torch 1.13, whose AdamW is the "plain" scenario below; torch
>= 2.0's AdamW is the "lerp" one, so rerunning with torch >= 2.0 rewrites "plain" with the lerp
update and test_optim's plain case then fails (the script warns).

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

and __metadata__: scenario, dtype, torch version, the options and the parameter groups as JSON.
Parameters: group 0 (weight_decay = wd) "w1" [7, 5] and "w2" [19]; group 1 (weight_decay 0)
"b1" [5] and "ln" [37]: sizes that are not multiples of the SIMD width, so torch's vector loop
and its scalar tail both run. At step 3, "w2" has no gradient (torch skips it; its step count
falls behind the others).

Scenarios:
  plain       torch.optim.AdamW(lr=1e-2, default betas/eps), wd 0.01 / 0.
  lerp        the AdamW update of torch >= 2.0, whose first moment is exp_avg.lerp_(grad, 1 - beta1)
              instead of torch 1.x's exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1). Written out
              below with torch ops (the update as torch 2.x's _single_tensor_adamw computes it), so
              it runs on any torch. With torch >= 2.0 the script checks it against torch.optim.AdamW.
  sched_clip  betas (0.8, 0.99), eps 1e-6, wd 0.1 / 0, lr 3e-2 under get_linear_schedule_with_warmup
              (3 warmup steps, 10 total) and clip_grad_norm_(max_norm=1.0) before each step;
              gradients are scaled so that some steps clip and some do not.

Random numbers come from a self-contained SplitMix64 + Box-Muller generator, not torch's RNG, so
the inputs do not depend on the torch version. Everything runs on CPU with one thread.
"""

import argparse
import json
import math
import os
import struct
import sys

import torch
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


class LerpAdamW(torch.optim.Optimizer):
    """torch >= 2.0's single-tensor AdamW step (torch/optim/adamw.py, or adam.py with
    decoupled_weight_decay=True), op for op. Differs from torch 1.13 only in the first moment."""

    def __init__(self, params, lr, betas, eps, weight_decay):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

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
                if wd != 0:
                    p.mul_(1 - lr * wd)
                exp_avg.lerp_(grad, 1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                step = st["step"].item()
                bias_correction1 = 1 - beta1 ** step
                bias_correction2 = 1 - beta2 ** step
                step_size = lr / bias_correction1
                bias_correction2_sqrt = math.sqrt(bias_correction2)
                denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
                p.addcdiv_(exp_avg, denom, value=-step_size)


SCENARIOS = {
    "plain": dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, wd=0.01, schedule=None, clip=None, lerp=False),
    "lerp": dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, wd=0.01, schedule=None, clip=None, lerp=True),
    "sched_clip": dict(lr=3e-2, betas=(0.8, 0.99), eps=1e-6, wd=0.1, schedule=(3, 10), clip=1.0, lerp=False),
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


def run(name, cfg, dtype, init64, grads64):
    params = {n: init64[n].to(dtype).clone().requires_grad_(True) for n in SHAPES}
    groups = [{"params": [params[n] for n in GROUPS[0]], "weight_decay": cfg["wd"]},
              {"params": [params[n] for n in GROUPS[1]], "weight_decay": 0.0}]
    if cfg["lerp"]:
        opt = LerpAdamW(groups, lr=cfg["lr"], betas=cfg["betas"], eps=cfg["eps"], weight_decay=cfg["wd"])
    else:
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


def check_lerp_against_torch(cfg, init64, grads64):
    """On torch >= 2.0, torch.optim.AdamW itself uses lerp: the replica must match it bit for bit."""
    major = int(torch.__version__.split(".")[0])
    if major < 2:
        return "not checked: torch < 2.0 has no lerp AdamW"
    for dtype in (torch.float32, torch.float64):
        mine, _ = run("lerp", cfg, dtype, init64, grads64)
        ref_cfg = dict(cfg, lerp=False)
        ref, _ = run("lerp", ref_cfg, dtype, init64, grads64)
        for k in mine:
            if not torch.equal(mine[k], ref[k]):
                raise SystemExit(f"lerp replica differs from torch.optim.AdamW at {k}")
    return f"bit-identical to torch.optim.AdamW of torch {torch.__version__}"


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

    if int(torch.__version__.split(".")[0]) >= 2:
        print(f"warning: torch {torch.__version__}'s AdamW updates exp_avg with lerp: the 'plain' files get "
              "the lerp update under lerp_exp_avg=false, which test_optim's plain case rejects", file=sys.stderr)
    init64, grads64 = make_inputs(seed=20240531)
    lerp_check = check_lerp_against_torch(SCENARIOS["lerp"], init64, grads64)
    total = 0
    for name, cfg in SCENARIOS.items():
        for dtype, dname in ((torch.float32, "f32"), (torch.float64, "f64")):
            out, _ = run(name, cfg, dtype, init64, grads64)
            meta = {
                "scenario": name,
                "dtype": dname,
                "torch": torch.__version__,
                "reference": ("torch>=2.0 AdamW update (exp_avg.lerp_), written with torch ops; " + lerp_check)
                if cfg["lerp"] else f"torch.optim.AdamW(foreach=False) of torch {torch.__version__}",
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
    print(f"total {total} bytes; lerp replica: {lerp_check}")


if __name__ == "__main__":
    main()
