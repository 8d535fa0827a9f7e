#!/usr/bin/env python3
"""Static resource check of temper's CUDA kernels, no GPU needed.

Compiles include/temper/cuda/launchers/all.cu (the temper::cuda library's one translation unit: every kernel,
for the element types the ops use) with nvcc for one architecture, reads what ptxas reports per kernel (registers, static shared memory, stack frame, spills),
and prints a markdown table with the occupancy each kernel's resources allow at its block size on an H100
(sm_90). Exits 1 if any kernel spills registers to local memory.

    tools/kernel_resources.py --nvcc nvcc -- -Iinclude -I. -isystem /usr/include/eigen3

The kernel_resources test of the CUDA build runs it (tests/cuda/CMakeLists.txt); docs/kernels.md carries its
table.
"""
import argparse
import math
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# sm_90 (H100): per SM, and the register allocation unit (registers per warp).
SM_THREADS, SM_BLOCKS, SM_REGS, SM_SMEM, BLOCK_SMEM_RESERVED, REG_UNIT = 2048, 32, 65536, 233472, 1024, 256

# Block size and dynamic shared memory of each kernel as its launcher uses them (kernels/*.cuh). Dynamic
# shared memory per element size: attention's tiles (kAttn*Smem) and the embedding backward's accumulator,
# at most 40 KB (kEmbedAccBytes).
ELEM = {"f": 4, "d": 8, "NS_4bf16E": 2}


def attention_smem(kind, t):
    s, a = ELEM[t], 8 if t == "d" else 4
    rows, cols, ld, ldp = 32, 64, 65, 80
    if kind == "forward":
        return s * (rows * ld + 2 * cols * ld + rows * ldp)
    if kind == "dkdv":
        return s * (2 * rows * ld + 2 * cols * ld + 2 * rows * ldp) + a * 2 * cols
    return s * (2 * rows * ld + 2 * cols * ld + rows * ldp)


def launch_shape(name, mangled):
    """(threads per block, dynamic shared memory bytes) of a kernel, from its launcher."""
    t = re.search(r"kernelI(f|d|NS_4bf16E)", mangled)
    t = t.group(1) if t else "f"
    if name.startswith("attention_forward"):
        return 128, attention_smem("forward", t)
    if name.startswith("attention_backward_dkdv"):
        return 128, attention_smem("dkdv", t)
    if name.startswith("attention_backward_dq"):
        return 128, attention_smem("dq", t)
    if name.startswith("embedding_backward"):
        return 256, 40 * 1024
    if name.startswith("clip_coef"):
        return 1, 0
    return 256, 0


def occupancy(threads, regs, smem):
    warps = math.ceil(threads / 32)
    per_warp = math.ceil(max(regs, 1) * 32 / REG_UNIT) * REG_UNIT
    by_regs = (SM_REGS // per_warp) // warps
    by_threads = SM_THREADS // (warps * 32)
    by_smem = SM_SMEM // (smem + BLOCK_SMEM_RESERVED)
    blocks = min(SM_BLOCKS, by_regs, by_threads, by_smem)
    return blocks, blocks * warps * 32 / SM_THREADS


def demangle(names):
    out = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True, check=True).stdout
    return out.splitlines()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nvcc", default="nvcc")
    ap.add_argument("--arch", default="90")
    ap.add_argument("--source", default=str(ROOT / "include/temper/cuda/launchers/all.cu"))
    ap.add_argument("flags", nargs="*", help="further nvcc flags (include directories)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        cmd = [args.nvcc, "-std=c++20", f"-arch=sm_{args.arch}", "--expt-relaxed-constexpr",
               "-diag-suppress=20012,20013,1675", "-DTEMPER_WITH_CUDA", "--resource-usage", "-c", args.source,
               "-o", str(Path(tmp) / "kernel_resources.o"), *args.flags]
        run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        sys.stderr.write(run.stdout + run.stderr)
        sys.exit(f"nvcc failed: {' '.join(cmd)}")

    kernels, current = [], None
    for line in (run.stdout + run.stderr).splitlines():
        if m := re.search(r"Compiling entry function '(\w+)'", line):
            current = {"mangled": m.group(1), "regs": 0, "smem": 0, "stack": 0, "spill": 0}
            kernels.append(current)
        elif current and (m := re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)):
            current["stack"], current["spill"] = int(m.group(1)), int(m.group(2)) + int(m.group(3))
        elif current and (m := re.search(r"Used (\d+) registers", line)):
            current["regs"] = int(m.group(1))
            if s := re.search(r"(\d+) bytes smem", line):
                current["smem"] = int(s.group(1))
    if not kernels:
        sys.exit("no kernel found in ptxas's output")

    for k, full in zip(kernels, demangle([k["mangled"] for k in kernels])):
        k["full"] = full.replace("temper::kernels::", "").replace("temper::", "").removeprefix("void ")
        k["name"] = k["full"].split("<")[0].split("(")[0]
    print(f"| kernel (sm_{args.arch}) | registers | static smem | dynamic smem | stack | spills | threads | "
          f"blocks/SM | occupancy |")
    print("|---|---|---|---|---|---|---|---|---|")
    spilled = []
    for k in sorted(kernels, key=lambda k: k["full"]):
        threads, dyn = launch_shape(k["name"], k["mangled"])
        blocks, occ = occupancy(threads, k["regs"], k["smem"] + dyn)
        sig = k["full"].split("(")[0].replace("cuda::", "")
        print(f"| `{sig}` | {k['regs']} | {k['smem']} | {dyn} | {k['stack']} | {k['spill']} | {threads} | "
              f"{blocks} | {occ:.0%} |")
        if k["spill"]:
            spilled.append(sig)
    print(f"\n{len(kernels)} kernels; {len(spilled)} spill registers to local memory")
    if spilled:
        sys.exit("spills: " + ", ".join(spilled))


if __name__ == "__main__":
    main()
