#!/usr/bin/env python3
"""run_calibrate.py — lowbit-calibrate and lowbit-quantize --method gptq end to end on SmolLM2-135M (the
driver of an external tool pipeline; the checks are on the tools' outputs):

1. lowbit-calibrate collects an imatrix and the Hessians over 4 chunks of 64 tokens of the corpus.
2. Resuming: 2 chunks, then --chunks 4 --resume, gives the same statistics as the 4-chunk run (the saved sums
   round-trip through f32, so within 1e-5 relative), and the log says where it resumed.
3. The imatrix is llama.cpp's: llama-quantize --imatrix reads it and quantizes; lowbit-quantize reads it too.
4. lowbit-quantize --method gptq --hessian quantizes every blk.* matrix with GPTQ (the --json report says so)
   and the result runs: lowbit-eval against the shipped model gives a finite, positive mean KLD; and against
   itself exactly 0.
5. AWQ's and SmoothQuant's folding leave the F32 model's outputs unchanged (KLD below 1e-4).
6. Bad input fails cleanly: empty and invalid-UTF-8 text, a GGUF that is no model, a Hessian file that is
   something else, a resume from other text.

usage: run_calibrate.py LLAMA_BIN_DIR --calibrate EXE --quantize EXE --eval EXE --work DIR
"""
import argparse
import json
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_model  # noqa: E402  (model_paths, corpus, skip)

CTX, CHUNKS = 64, 4


def run(arguments, expect_ok=True, what=""):
    process = subprocess.run(arguments, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
                             timeout=1500)
    if expect_ok and process.returncode != 0:
        print(f"run_calibrate: {what or arguments[0]} failed ({process.returncode}):\n{process.stderr[-3000:]}")
        sys.exit(1)
    return process


def fail(message):
    print(f"run_calibrate: FAIL: {message}")
    sys.exit(1)


def gguf_tensors(path):
    """name → (shape, float32 values) of the F32 tensors of a small GGUF (a reader just for the checks here)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"GGUF":
        fail(f"{path} is not a GGUF")
    offset = 8
    n_tensors, n_kv = struct.unpack_from("<QQ", data, offset)
    offset += 16

    def string(at):
        (length,) = struct.unpack_from("<Q", data, at)
        return data[at + 8:at + 8 + length].decode(), at + 8 + length

    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

    def skip_value(kind, at):
        if kind == 8:
            return string(at)[1]
        if kind == 9:
            inner, count = struct.unpack_from("<IQ", data, at)
            at += 12
            for _ in range(count):
                at = skip_value(inner, at)
            return at
        return at + sizes[kind]

    alignment = 32
    for _ in range(n_kv):
        key, offset = string(offset)
        (kind,) = struct.unpack_from("<I", data, offset)
        if key == "general.alignment":
            (alignment,) = struct.unpack_from("<I", data, offset + 4)
        offset = skip_value(kind, offset + 4)
    infos = []
    for _ in range(n_tensors):
        name, offset = string(offset)
        (n_dims,) = struct.unpack_from("<I", data, offset)
        shape = struct.unpack_from(f"<{n_dims}Q", data, offset + 4)
        kind, at = struct.unpack_from("<IQ", data, offset + 4 + 8 * n_dims)
        offset += 4 + 8 * n_dims + 12
        infos.append((name, shape, kind, at))
    base = (offset + alignment - 1) // alignment * alignment
    tensors = {}
    for name, shape, kind, at in infos:
        if kind != 0:
            continue
        count = 1
        for n in shape:
            count *= n
        tensors[name] = (shape, struct.unpack_from(f"<{count}f", data, base + at))
    return tensors


def close(a, b, tolerance):
    scale = max(max(abs(x) for x in a), 1e-30)
    return all(abs(x - y) <= tolerance * scale for x, y in zip(a, b))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bin_dir")
    parser.add_argument("--calibrate", required=True)
    parser.add_argument("--quantize", required=True)
    parser.add_argument("--eval", required=True)
    parser.add_argument("--work", required=True)
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    model = run_model.model_paths(args.work, "smollm2")["smollm2"]
    text = run_model.corpus(args.work)
    w = lambda name: os.path.join(args.work, name)  # noqa: E731
    for name in os.listdir(args.work):
        if name.startswith("calib-"):
            os.remove(w(name))

    calibrate = [args.calibrate, "--model", model, "--text", text, "--ctx", str(CTX), "--threads", "2"]
    full = run(calibrate + ["--chunks", str(CHUNKS), "--imatrix", w("calib-full.imatrix.gguf"),
                            "--hessian", w("calib-full.hessian.gguf"), "--json"], what="lowbit-calibrate")
    summary = json.loads(full.stdout)
    print(f"calibrate: {summary}")
    if summary["weights"] != 210 or summary["inputs"] != 120 or summary["tokens"] != CHUNKS * CTX:
        fail(f"expected 210 weights over 120 inputs (30 blocks × q/k/v, o, gate/up, down) and {CHUNKS * CTX} tokens")

    # resume: half, then the rest
    run(calibrate + ["--chunks", str(CHUNKS // 2), "--hessian", w("calib-part.hessian.gguf")], what="first half")
    resumed = run(calibrate + ["--chunks", str(CHUNKS), "--hessian", w("calib-part.hessian.gguf"),
                               "--imatrix", w("calib-part.imatrix.gguf"), "--resume"], what="resume")
    if f"resuming after chunk {CHUNKS // 2} of {CHUNKS}" not in resumed.stderr:
        fail(f"the resumed run did not say where it resumed:\n{resumed.stderr[-2000:]}")
    a, b = gguf_tensors(w("calib-full.hessian.gguf")), gguf_tensors(w("calib-part.hessian.gguf"))
    if sorted(a) != sorted(b):
        fail("the resumed run has other Hessians")
    worst = max(max(abs(x - y) for x, y in zip(a[n][1], b[n][1])) / max(max(abs(x) for x in a[n][1]), 1e-30)
                for n in a)
    print(f"resume: {len(a)} Hessians, largest relative difference {worst:.2e}")
    if worst > 1e-5:
        fail("resuming changed the Hessians")
    ia, ib = gguf_tensors(w("calib-full.imatrix.gguf")), gguf_tensors(w("calib-part.imatrix.gguf"))
    if sorted(ia) != sorted(ib) or not all(close(ia[n][1], ib[n][1], 1e-5) for n in ia):
        fail("resuming changed the imatrix")
    # the imatrix is the Hessians' diagonal (times the rows)
    q = ia["blk.3.attn_q.weight.in_sum2"][1]
    rows = ia["blk.3.attn_q.weight.counts"][1][0]
    if rows != CHUNKS * CTX:
        fail(f"imatrix counts {rows}, expected {CHUNKS * CTX}")

    # llama.cpp reads the imatrix
    run([os.path.join(args.bin_dir, "llama-quantize"), "--allow-requantize", "--imatrix",
         w("calib-full.imatrix.gguf"), model, w("calib-llama.gguf"), "Q4_K_M", "2"], what="llama-quantize --imatrix")
    run([args.quantize, "--allow-requantize", "--imatrix", w("calib-full.imatrix.gguf"), model,
         w("calib-imatrix.gguf"), "Q4_K_M"], what="lowbit-quantize --imatrix")

    # GPTQ
    report = json.loads(run([args.quantize, "--allow-requantize", "--pure", "--method", "gptq", "--hessian",
                             w("calib-full.hessian.gguf"), "--json", model, w("calib-gptq.gguf"), "Q4_K"],
                            what="lowbit-quantize --method gptq").stdout)
    gptq = [t["name"] for t in report["tensors"] if t.get("gptq")]
    blocks = [t["name"] for t in report["tensors"] if t["name"].startswith("blk.") and t["quantized"]]
    print(f"gptq: {len(gptq)} of {len(blocks)} quantized block matrices, method {report['method']}")
    if report["method"] != "gptq" or sorted(gptq) != sorted(blocks) or len(gptq) != 210:
        fail("GPTQ did not quantize every blk.* weight matrix")
    kld = json.loads(run([args.eval, "--reference", model, "--model", w("calib-gptq.gguf"), "--text", text,
                          "--ctx", "128", "--chunks", "2", "--threads", "2", "--json"], what="lowbit-eval").stdout)
    mean = kld["kld_mean"]
    print(f"eval: GPTQ Q4_K against the shipped model: mean KLD {mean}, top-1 {kld['top1_percent']} %")
    if not 0.0 < mean < 1.0:
        fail(f"unexpected KLD of the GPTQ model: {mean}")

    # AWQ: folding the scales into the norms (and ffn_up's rows) leaves the F32 model's outputs as they were
    run([args.quantize, "--allow-requantize", "--pure", model, w("calib-f32.gguf"), "F32"], what="F32 copy")
    awq = json.loads(run([args.quantize, "--allow-requantize", "--pure", "--method", "awq", "--awq-alpha", "0.5",
                          "--hessian", w("calib-full.hessian.gguf"), "--json", model, w("calib-awq-f32.gguf"), "F32"],
                         what="lowbit-quantize --method awq").stdout)
    scaled = [t["name"] for t in awq["tensors"] if t.get("awq_alpha", -1) >= 0]
    print(f"awq: {len(scaled)} matrices with scaled inputs")
    if len(scaled) != 30 * 6:  # q, k, v, gate, up, down of every block (attn_output's input has no fold target)
        fail("AWQ did not scale q/k/v, gate/up and down of every block")
    same = json.loads(run([args.eval, "--reference", w("calib-f32.gguf"), "--model", w("calib-awq-f32.gguf"),
                           "--text", text, "--ctx", "128", "--chunks", "2", "--threads", "2", "--json"],
                          what="lowbit-eval AWQ F32").stdout)
    print(f"eval: AWQ-folded F32 against F32: mean KLD {same['kld_mean']:.3g}, max {same['kld_max']:.3g}, "
          f"top-1 {same['top1_percent']} %")
    if not (same["kld_mean"] < 1e-4 and same["top1_percent"] >= 99.0):
        fail("AWQ's folding changed the full-precision model's outputs")
    run([args.quantize, "--allow-requantize", "--pure", "--method", "awq+gptq", "--hessian",
         w("calib-full.hessian.gguf"), model, w("calib-awq-gptq.gguf"), "Q4_K"], what="lowbit-quantize awq+gptq")

    # SmoothQuant: the Hessian file carries each input's activation maxima; the migration folds like AWQ's
    absmax = [n for n in a if n.startswith("absmax.")]
    if len(absmax) != 120 or min(min(a[n][1]) for n in absmax) < 0.0 or max(max(a[n][1]) for n in absmax) <= 0.0:
        fail("the Hessian file lacks one non-negative absmax vector per input")
    smooth = json.loads(run([args.quantize, "--allow-requantize", "--pure", "--method", "smoothquant",
                             "--hessian", w("calib-full.hessian.gguf"), "--json", model, w("calib-sq-f32.gguf"),
                             "F32"], what="lowbit-quantize --method smoothquant").stdout)
    scaled = [t["name"] for t in smooth["tensors"] if t.get("awq_alpha", -1) >= 0]
    if smooth["method"] != "smoothquant" or len(scaled) != 30 * 6:
        fail("SmoothQuant did not scale q/k/v, gate/up and down of every block")
    same = json.loads(run([args.eval, "--reference", w("calib-f32.gguf"), "--model", w("calib-sq-f32.gguf"),
                           "--text", text, "--ctx", "128", "--chunks", "2", "--threads", "2", "--json"],
                          what="lowbit-eval SmoothQuant F32").stdout)
    print(f"eval: SmoothQuant-folded F32 against F32: mean KLD {same['kld_mean']:.3g}, top-1 {same['top1_percent']} %")
    if not (same["kld_mean"] < 1e-4 and same["top1_percent"] >= 99.0):
        fail("SmoothQuant's folding changed the full-precision model's outputs")

    # bad input
    with open(w("calib-empty.txt"), "w") as f:
        pass
    with open(w("calib-bad.txt"), "wb") as f:
        f.write(b"valid start \xff\xfe not UTF-8")
    cases = [
        (calibrate + ["--text", w("calib-empty.txt"), "--imatrix", w("calib-x.gguf")], "empty"),
        (calibrate + ["--text", w("calib-bad.txt"), "--imatrix", w("calib-x.gguf")], "UTF-8"),
        ([args.calibrate, "--model", w("calib-full.imatrix.gguf"), "--text", text, "--imatrix", w("calib-x.gguf")],
         "model"),
        (calibrate + ["--ctx", "96", "--chunks", "2", "--hessian", w("calib-part.hessian.gguf"), "--resume"],
         "other text"),
        (calibrate, "nothing to write"),
        ([args.quantize, "--allow-requantize", "--method", "gptq", "--hessian", w("calib-full.imatrix.gguf"), model,
          w("calib-x.gguf"), "Q4_K"], "lowbit-hessian"),
        ([args.quantize, "--allow-requantize", "--method", "gptq", model, w("calib-x.gguf"), "Q4_K"], "--hessian"),
    ]
    for arguments, expected in cases:
        process = run(arguments, expect_ok=False)
        message = process.stderr.strip().splitlines()[-1] if process.stderr.strip() else ""
        print(f"bad input ({expected}): exit {process.returncode}: {message}")
        if process.returncode == 0 or expected not in process.stderr or "Segmentation" in process.stderr:
            fail(f"expected a clean failure mentioning '{expected}'")
        if os.path.exists(w("calib-x.gguf")):
            fail("a failed run left an output behind")
    for name in os.listdir(args.work):  # the F32 copies are 0.5 GB each
        if name.startswith("calib-") and name.endswith(".gguf"):
            os.remove(w(name))
    print("run_calibrate: all checks passed")


if __name__ == "__main__":
    main()
