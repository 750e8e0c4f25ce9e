#!/usr/bin/env python3
"""bench-ggml-ops.py — GEMV/GEMM speed of lowbit's backends beside ggml-cpu on the same shapes, in one run, through the
pinned engine's `test-backend-ops perf` (its MUL_MAT perf cases: rows 4096 × cols 14336 at n = 1, 2, 3, 4, 5, 8 and
512, and Q4_K at 14336 × 4096 for n ≤ 8). lowbit runs behind its ggml adapter, once per matmul path (dot=float and
dot=int, LOWBIT_PARAMS), so every number goes through the same harness and timing.

usage: bench-ggml-ops.py BUILD_DIR [--formats q4_0,q4_k,...] [--n 1,8] [--shape 4096x14336]
                                   [--devices cpu,opencl:0,vulkan:0] [--dots float,int] [--json FILE]
  BUILD_DIR  a lowbit build configured with -DLOWBIT_GGML=ON (its lib/libggml-lowbit.so)
Run on an otherwise idle machine; one configuration runs after another. Prints a Markdown table of microseconds
per matmul and each lowbit configuration's speed-up over ggml-cpu.
"""
import argparse
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
LINE = re.compile(r"MUL_MAT\(type_a=(\w+),type_b=f32,m=(\d+),n=(\d+),k=(\d+),.*?(\d+) runs -\s+([\d.]+) us/run")


def engine_bin():
    process = subprocess.run(["sh", os.path.join(HERE, "install-engine.sh"), "--where"], capture_output=True,
                             text=True)
    for line in process.stdout.splitlines():
        if line.startswith("LOWBIT_ENGINE_BUILD="):
            return os.path.join(line.split("=", 1)[1], "bin")
    return None


def perf(program, backend, pattern, env):
    """{(type, rows, n, cols): us per run} of one test-backend-ops perf run on one backend."""
    arguments = [program, "perf", "-o", "MUL_MAT", "-b", backend, "-p", pattern]
    process = subprocess.run(arguments, env=env, capture_output=True, text=True, errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(arguments)} failed: {process.stderr.strip()[-400:]}")
    results = {}
    for match in LINE.finditer(process.stdout):
        type_a, rows, n, cols, _, us = match.groups()
        results[(type_a, int(rows), int(n), int(cols))] = float(us)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build")
    parser.add_argument("--formats", default="q4_0,q4_k,q6_k,q8_0,iq4_xs")
    parser.add_argument("--n", default="1,8")
    parser.add_argument("--shape", default="4096x14336", help="rows x cols: 4096x14336 (all types) or 14336x4096 "
                        "(Q4_K only, n <= 8)")
    parser.add_argument("--devices", default="cpu")
    parser.add_argument("--dots", default="float,int")
    parser.add_argument("--json")
    args = parser.parse_args()
    # ggml spells the K-quants with a capital K (q4_K)
    formats = [re.sub(r"_k$", "_K", f) for f in args.formats.lower().split(",") if f]
    if not formats or not all(re.fullmatch(r"[a-z0-9_]+K?", f) for f in formats):
        sys.exit("bench-ggml-ops: --formats takes ggml type names such as q4_0,q4_k")
    try:
        ns = [int(n) for n in args.n.split(",") if n]
        rows, cols = (int(v) for v in args.shape.lower().split("x"))
    except ValueError:
        sys.exit("bench-ggml-ops: --n takes numbers and --shape ROWSxCOLS")
    if not ns or any(n not in (1, 2, 3, 4, 5, 8, 512) for n in ns):
        sys.exit("bench-ggml-ops: test-backend-ops has perf cases for n = 1, 2, 3, 4, 5, 8 and 512 only")
    if (rows, cols) not in ((4096, 14336), (14336, 4096)):
        sys.exit("bench-ggml-ops: test-backend-ops has perf cases for 4096x14336 and (Q4_K) 14336x4096 only")
    dots = [d for d in args.dots.split(",") if d]
    if not dots or any(d not in ("float", "int", "auto") for d in dots):
        sys.exit("bench-ggml-ops: --dots takes float, int and auto")
    devices = [d for d in args.devices.split(",") if d]
    if not devices or not all(re.fullmatch(r"(cpu|opencl:\d+|vulkan:\d+)", d) for d in devices):
        sys.exit("bench-ggml-ops: --devices takes lowbit device ids such as cpu,opencl:0")
    plugin = os.path.join(args.build, "lib", "libggml-lowbit.so")
    if not os.path.isfile(plugin):
        sys.exit(f"bench-ggml-ops: no {plugin}: configure {args.build} with -DLOWBIT_GGML=ON")
    bindir = engine_bin()
    program = os.path.join(bindir, "test-backend-ops") if bindir else None
    if not program or not os.path.isfile(program):
        sys.exit("bench-ggml-ops: the pinned engine's test-backend-ops is not built (tools/install-engine.sh)")

    pattern = "type_a=(" + "|".join(formats) + "),type_b=f32,m=" + str(rows) + ",n=(" + \
        "|".join(str(n) for n in ns) + "),k=" + str(cols) + ","
    base = {k: v for k, v in os.environ.items() if k not in ("GGML_BACKEND_PATH", "LOWBIT_PARAMS")}
    configs = [("ggml-cpu", "CPU", base)]
    for device in devices:
        for dot in dots:
            env = dict(base, GGML_BACKEND_PATH=plugin, LOWBIT_GGML_DEVICES=device, LOWBIT_PARAMS=f"dot={dot}")
            configs.append((f"lowbit {device} dot={dot}", f"LOWBIT_{device}", env))
    measured, records = {}, []
    for label, backend, env in configs:
        print(f"bench-ggml-ops: {label} ...", flush=True)
        try:
            measured[label] = perf(program, backend, pattern, env)
        except RuntimeError as error:
            print(f"bench-ggml-ops: {label}: {error}", flush=True)
            measured[label] = {}
    keys = sorted({k for results in measured.values() for k in results}, key=lambda k: (formats.index(k[0])
                  if k[0] in formats else 99, k[2]))
    labels = [label for label, _, _ in configs]
    print(f"\nus per matmul ({rows}x{cols}, test-backend-ops perf); in brackets: speed-up over ggml-cpu\n")
    print("| type | n | " + " | ".join(labels) + " |")
    print("| --- | ---: " + "| ---: " * len(labels) + "|")
    for key in keys:
        stock = measured["ggml-cpu"].get(key)
        cells = []
        for label in labels:
            us = measured[label].get(key)
            if us is None:
                cells.append("-")
            elif label != "ggml-cpu" and stock:
                cells.append(f"{us:.0f} ({stock / us:.2f}×)")
            else:
                cells.append(f"{us:.0f}")
            if us is not None:
                records.append({"config": label, "type": key[0], "rows": key[1], "n": key[2], "cols": key[3],
                                "us_per_run": us})
        print(f"| {key[0].upper()} | {key[2]} | " + " | ".join(cells) + " |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(records, f, indent=1)
    return 0 if all(measured.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
