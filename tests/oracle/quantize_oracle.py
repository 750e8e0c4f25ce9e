#!/usr/bin/env python3
"""quantize_oracle.py — end-to-end check of lowbit-quantize against gguf-py: writes a small F32 llama-like
GGUF, quantizes it with several presets, and reads every output back with gguf.GGUFReader (KVs kept,
file_type set, tensor types as the preset rules say, gguf.quants.dequantize close to the source).
Also: refusal to overwrite the input, bad arguments, imatrix files, and a safetensors input.
usage: quantize_oracle.py /path/to/lowbit-quantize"""
import json
import os
import struct
import subprocess
import sys
import tempfile

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
try:
    import numpy as np
    import gguf
    from gguf import GGMLQuantizationType as T
    import gguf.quants as gq
except ImportError as error:
    print(f"oracle: cannot import gguf/numpy: {error}")
    sys.exit(1 if CI else 77)

TOOL = sys.argv[1]
N_LAYER = 4
FAILURES = []

# llama_ftype numbers (general.file_type) the presets must write
FILE_TYPES = {"Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q5_0": 8, "Q5_1": 9, "Q2_K": 10, "Q3_K_S": 11, "Q3_K_M": 12,
              "Q3_K_L": 13, "Q4_K_S": 14, "Q4_K_M": 15, "Q5_K_S": 16, "Q5_K_M": 17, "Q6_K": 18, "IQ4_NL": 25,
              "IQ4_XS": 30, "TQ1_0": 36, "TQ2_0": 37, "IQ2_XXS": 19, "IQ2_XS": 20, "Q2_K_S": 21, "IQ3_XS": 22,
              "IQ3_XXS": 23, "IQ1_S": 24, "IQ3_S": 26, "IQ3_M": 27, "IQ2_S": 28, "IQ2_M": 29, "IQ1_M": 31}
GRID_PRESETS = ["IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ3_XXS", "IQ3_XS", "IQ3_S", "IQ3_M", "IQ1_S", "IQ1_M",
                "Q2_K_S"]
# RMSE bound relative to the tensor's standard deviation, per produced type (loose: catches broken
# bytes or wrong layouts, not small quality changes)
REL_RMSE = {T.F32: 1e-7, T.F16: 1e-3, T.Q8_0: 0.01, T.Q6_K: 0.03, T.Q5_0: 0.06, T.Q5_1: 0.06, T.Q5_K: 0.06,
            T.Q4_0: 0.12, T.Q4_1: 0.12, T.Q4_K: 0.12, T.IQ4_NL: 0.12, T.IQ4_XS: 0.12, T.Q3_K: 0.25,
            T.Q2_K: 0.5, T.TQ2_0: 1.0, T.TQ1_0: 1.0, T.IQ3_S: 0.3, T.IQ3_XXS: 0.3, T.IQ2_S: 0.5, T.IQ2_XS: 0.55,
            T.IQ2_XXS: 0.6, T.IQ1_M: 0.85, T.IQ1_S: 0.9}
# §1.5 shape fallback
FALLBACK = {T.Q2_K: T.Q4_0, T.Q3_K: T.Q4_0, T.Q4_K: T.Q5_0, T.Q5_K: T.Q5_1, T.Q6_K: T.Q8_0, T.IQ4_XS: T.IQ4_NL,
            T.TQ1_0: T.Q4_0, T.TQ2_0: T.Q4_0}


def check(condition, message):
    if not condition:
        FAILURES.append(message)
        print("FAIL:", message)


def make_tensors(rng):
    """name → float32 array of shape (rows, cols); GGUF ne = [cols, rows]."""
    tensors = {"token_embd.weight": rng.standard_normal((64, 256)).astype(np.float32)}
    for layer in range(N_LAYER):
        tensors[f"blk.{layer}.attn_norm.weight"] = (1 + 0.1 * rng.standard_normal(256)).astype(np.float32)
        tensors[f"blk.{layer}.attn_q.weight"] = (0.02 * rng.standard_normal((64, 256))).astype(np.float32)
        tensors[f"blk.{layer}.attn_v.weight"] = (0.02 * rng.standard_normal((32, 256))).astype(np.float32)
        tensors[f"blk.{layer}.ffn_down.weight"] = (0.02 * rng.standard_normal((64, 352))).astype(np.float32)
    tensors["blk.0.attn_k.weight"] = (0.02 * rng.standard_normal((16, 100))).astype(np.float32)  # 32 ∤ 100
    tensors["blk.1.ffn_up_exps.weight"] = (0.02 * rng.standard_normal((4, 32, 256))).astype(np.float32)  # 3-D
    tensors["output_norm.weight"] = np.ones(256, dtype=np.float32)
    tensors["output.weight"] = (0.02 * rng.standard_normal((64, 256))).astype(np.float32)
    return tensors


def write_model(path, tensors):
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_block_count(N_LAYER)
    writer.add_head_count(8)
    writer.add_head_count_kv(8)
    writer.add_context_length(128)
    writer.add_file_type(0)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(["<unk>", "<s>", "</s>", "hello", "wörld"])
    writer.add_token_scores([0.0, -1.0, -2.0, -3.5, -4.25])
    writer.add_string("test.note", "kept as is")
    writer.add_uint64("test.big", 2**40 + 3)
    for name, array in tensors.items():
        writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def use_more_bits(i, n):
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def expected_type(preset, name, cols):
    """llama-quantize's preset mix rules (as tools/quantize/quantize_plan.c has them) for this test model (GQA 1, no experts)."""
    if name.endswith("_norm.weight"):
        return T.F32
    base = {"Q4_0": T.Q4_0, "Q8_0": T.Q8_0, "Q6_K": T.Q6_K, "Q2_K": T.Q2_K, "Q4_K_M": T.Q4_K, "Q5_K_M": T.Q5_K,
            "Q3_K_M": T.Q3_K, "IQ4_XS": T.IQ4_XS, "Q5_0": T.Q5_0}[preset]
    layer = int(name.split(".")[1]) if name.startswith("blk.") else 0
    wanted = base
    if name == "output.weight":
        wanted = T.Q8_0 if cols % 256 else (base if base == T.Q8_0 else T.Q6_K)
    elif ".attn_v." in name:
        if preset == "Q2_K":
            wanted = T.Q3_K
        elif preset == "Q3_K_M":
            wanted = T.Q5_K if layer < 2 else T.Q4_K
        elif preset in ("Q4_K_M", "Q5_K_M") and use_more_bits(layer, N_LAYER):
            wanted = T.Q6_K
    elif ".ffn_down." in name:
        if preset == "Q2_K":
            wanted = T.Q3_K
        elif preset == "Q3_K_M":
            wanted = T.Q5_K if layer < N_LAYER // 16 else T.Q4_K
        elif preset in ("Q4_K_M", "Q5_K_M") and use_more_bits(layer, N_LAYER):
            wanted = T.Q6_K
    block = gguf.GGML_QUANT_SIZES[wanted][0]
    if cols % block:
        wanted = FALLBACK.get(wanted, T.F16) if cols % 32 == 0 else T.F16
    return wanted


def run(args, expect_ok=True):
    result = subprocess.run([TOOL] + args, capture_output=True, text=True, timeout=120)
    if expect_ok and result.returncode != 0:
        check(False, f"lowbit-quantize {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


def field_value(field):
    try:
        return field.contents()
    except Exception:  # noqa: BLE001 — fall back to raw parts for odd types
        return [bytes(p) for p in field.parts]


def check_output(preset, source_path, out_path, tensors, report, extra_types=None):
    src = gguf.GGUFReader(source_path)
    out = gguf.GGUFReader(out_path)
    for key, field in src.fields.items():
        if key.startswith("GGUF.") or key == "general.file_type":
            continue
        check(key in out.fields, f"{preset}: KV {key} lost")
        if key in out.fields:
            check(field.types == out.fields[key].types, f"{preset}: KV {key} changed type")
            check(field_value(field) == field_value(out.fields[key]), f"{preset}: KV {key} changed value")
    check(field_value(out.fields["general.file_type"]) == FILE_TYPES[preset], f"{preset}: general.file_type")
    check(out.fields["general.quantization_version"].types == [gguf.GGUFValueType.UINT32]
          and field_value(out.fields["general.quantization_version"]) == 2, f"{preset}: quantization_version")
    reported = {t["name"]: t for t in report["tensors"]}
    check(len(out.tensors) == len(tensors), f"{preset}: tensor count {len(out.tensors)}")
    for tensor in out.tensors:
        source = tensors[tensor.name]
        cols = source.shape[-1]
        want = (extra_types or {}).get(tensor.name) or expected_type(preset, tensor.name, cols)
        check(tensor.tensor_type == want, f"{preset}: {tensor.name} is {tensor.tensor_type.name}, want {want.name}")
        check(list(tensor.shape) == list(reversed(source.shape)), f"{preset}: {tensor.name} shape {list(tensor.shape)}")
        values = gq.dequantize(np.asarray(tensor.data), tensor.tensor_type).reshape(source.shape)
        rmse = float(np.sqrt(np.mean((values.astype(np.float64) - source) ** 2)))
        bound = REL_RMSE.get(tensor.tensor_type, 0.5) * float(np.std(source) + 1e-12)
        check(rmse <= bound, f"{preset}: {tensor.name} ({tensor.tensor_type.name}) rmse {rmse:.3g} > {bound:.3g}")
        info = reported.get(tensor.name)
        check(info is not None and info["new_type"] == tensor.tensor_type.name, f"{preset}: JSON type of {tensor.name}")
        if info and info["rmse"] is not None:
            check(abs(info["rmse"] - rmse) <= 1e-5 * max(rmse, 1e-6) + 1e-9,
                  f"{preset}: {tensor.name} reported rmse {info['rmse']:.6g} vs {rmse:.6g}")


def write_dat(path, entries):
    with open(path, "wb") as f:
        f.write(struct.pack("<i", len(entries)))
        for name, ncall, values in entries:
            raw = name.encode()
            f.write(struct.pack("<i", len(raw)) + raw + struct.pack("<ii", ncall, len(values)))
            f.write(np.asarray(values, dtype="<f4").tobytes())


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, (dtype, array) in tensors.items():
        raw = array.tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def write_imatrix_gguf(path, tensors, rng):
    """A GGUF imatrix with an entry for every matrix but the output: in_sum2 [n_per_row × n_mat], counts [1 × n_mat]."""
    writer = gguf.GGUFWriter(path, "imatrix")
    for name, array in tensors.items():
        if array.ndim < 2 or name == "output.weight":
            continue
        n_mat = array.shape[0] if array.ndim == 3 else 1
        writer.add_tensor(f"{name}.in_sum2", (rng.random((n_mat, array.shape[-1])) * 50).astype(np.float32))
        writer.add_tensor(f"{name}.counts", np.full((n_mat, 1), 50.0, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def check_grid_presets(tmp, model, tensors, rng):
    """IQ1_S … IQ3_M and Q2_K_S: like llama-quantize, refused without importance data unless --allow-no-imatrix;
    a --dry-run only reports it; with an imatrix every tensor that needs one uses it."""
    out = os.path.join(tmp, "model-IQ2_XXS.gguf")
    result = run([model, out, "IQ2_XXS"], expect_ok=False)
    check(result.returncode != 0 and "importance matrix" in result.stderr and "--allow-no-imatrix" in result.stderr,
          f"IQ2_XXS without an imatrix: status {result.returncode}, {result.stderr.strip()!r}")
    check(not os.path.exists(out), "a refused run left an output file")
    result = run(["--json", "--dry-run", model, out, "IQ2_XXS"])
    if result.returncode == 0:
        report = json.loads(result.stdout)
        needing = [t["name"] for t in report["tensors"] if t["needs_imatrix"]]
        check(report["missing_imatrix_count"] == len(needing) > 0, f"dry run: missing imatrix {needing}")
        check("importance matrix" in result.stderr, "dry run: no warning about the missing imatrix")
    imatrix = os.path.join(tmp, "imatrix-all.gguf")
    write_imatrix_gguf(imatrix, tensors, rng)
    for preset in GRID_PRESETS:
        out = os.path.join(tmp, f"model-{preset}.gguf")
        result = run(["--json", "--threads", "2", "--imatrix", imatrix, model, out, preset])
        if result.returncode != 0:
            continue
        report = json.loads(result.stdout)
        written = {t.name: t.tensor_type for t in gguf.GGUFReader(out).tensors}
        check_output(preset, model, out, tensors, report, written)
        check(report["missing_imatrix_count"] == 0, f"{preset}: imatrix missing for some tensor")
        unused = [t["name"] for t in report["tensors"] if t["needs_imatrix"] and not t["imatrix"]]
        check(not unused, f"{preset}: imatrix not used for {unused}")
        print(f"ok: {preset} with an imatrix (types: {sorted({t.name for t in written.values()})})")
    out = os.path.join(tmp, "model-IQ1_S-noimat.gguf")
    result = run(["--json", "--allow-no-imatrix", model, out, "IQ1_S"])
    if result.returncode == 0:
        report = json.loads(result.stdout)
        written = {t.name: t.tensor_type for t in gguf.GGUFReader(out).tensors}
        check_output("IQ1_S", model, out, tensors, report, written)
        check(report["missing_imatrix_count"] > 0 and "warning" in result.stderr, "IQ1_S --allow-no-imatrix: no warning")
        print("ok: IQ1_S --allow-no-imatrix")


def main():
    rng = np.random.default_rng(1234)
    tensors = make_tensors(rng)
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "model-f32.gguf")
        write_model(model, tensors)
        for preset in ["Q4_0", "Q8_0", "Q4_K_M", "Q6_K", "Q2_K", "Q5_K_M", "Q3_K_M", "IQ4_XS", "Q5_0"]:
            out = os.path.join(tmp, f"model-{preset}.gguf")
            result = run(["--json", "--threads", "2", model, out, preset])
            if result.returncode != 0:
                continue
            check_output(preset, model, out, tensors, json.loads(result.stdout))
            print(f"ok: {preset}")
        # every other preset: readable by gguf-py with KVs, file_type, shapes, error and report checked; the
        # per-tensor type choice is held to the rules above only for the presets listed there
        for preset in ["Q4_1", "Q5_1", "Q3_K_S", "Q3_K_L", "Q4_K_S", "Q5_K_S", "IQ4_NL", "TQ1_0", "TQ2_0"]:
            out = os.path.join(tmp, f"model-{preset}.gguf")
            result = run(["--json", "--threads", "2", model, out, preset])
            if result.returncode != 0:
                continue
            written = {t.name: t.tensor_type for t in gguf.GGUFReader(out).tensors}
            check_output(preset, model, out, tensors, json.loads(result.stdout), written)
            print(f"ok: {preset} (types: {sorted({t.name for t in written.values()})})")
        # overrides beat the preset; --output-tensor-type and --token-embedding-type
        out = os.path.join(tmp, "model-override.gguf")
        result = run(["--json", "--tensor-type", r"attn_q\.weight$=Q8_0", "--output-tensor-type", "Q4_0",
                      "--token-embedding-type", "Q5_K", model, out, "Q4_K_M"])
        if result.returncode == 0:
            extra = {f"blk.{i}.attn_q.weight": T.Q8_0 for i in range(N_LAYER)}
            extra.update({"output.weight": T.Q4_0, "token_embd.weight": T.Q5_K})
            for name in tensors:
                if name not in extra:
                    extra[name] = expected_type("Q4_K_M", name, tensors[name].shape[-1])
            check_output("Q4_K_M", model, out, tensors, json.loads(result.stdout), extra)
            print("ok: overrides")
        # imatrix (legacy .dat): accepted when lengths match, refused when not
        dat = os.path.join(tmp, "imatrix.dat")
        write_dat(dat, [(f"blk.{i}.attn_q.weight", 10, rng.random(256) * 10) for i in range(N_LAYER)]
                  + [("blk.1.ffn_up_exps.weight", 3, rng.random(256 * 4))])  # per expert
        result = run(["--json", "--imatrix", dat, model, os.path.join(tmp, "model-imat.gguf"), "Q4_K_M"])
        if result.returncode == 0:
            used = [t["name"] for t in json.loads(result.stdout)["tensors"] if t["imatrix"]]
            check(len(used) == N_LAYER + 1, f"imatrix used for {used}")
            print("ok: imatrix")
        # imatrix (GGUF form): <name>.in_sum2 [n_per_row × n_mat] and <name>.counts [1 × n_mat]
        imat_gguf = os.path.join(tmp, "imatrix.gguf")
        iw = gguf.GGUFWriter(imat_gguf, "imatrix")
        for i in range(N_LAYER):
            iw.add_tensor(f"blk.{i}.attn_v.weight.in_sum2", (rng.random((1, 256)) * 50).astype(np.float32))
            iw.add_tensor(f"blk.{i}.attn_v.weight.counts", np.full((1, 1), 50.0, dtype=np.float32))
        iw.write_header_to_file()
        iw.write_kv_data_to_file()
        iw.write_tensors_to_file()
        iw.close()
        result = run(["--json", "--imatrix", imat_gguf, model, os.path.join(tmp, "model-imat2.gguf"), "Q4_K_M"])
        if result.returncode == 0:
            used = [t["name"] for t in json.loads(result.stdout)["tensors"] if t["imatrix"]]
            check(used == [f"blk.{i}.attn_v.weight" for i in range(N_LAYER)], f"GGUF imatrix used for {used}")
            print("ok: imatrix (GGUF)")
        check_grid_presets(tmp, model, tensors, rng)
        write_dat(dat, [("blk.0.attn_q.weight", 1, np.ones(128))])
        bad_out = os.path.join(tmp, "model-badimat.gguf")
        result = run(["--imatrix", dat, model, bad_out, "Q4_K_M"], expect_ok=False)
        check(result.returncode != 0 and "imatrix" in result.stderr, "imatrix length mismatch accepted")
        check(not os.path.exists(bad_out), "a failed run left an output file")
        # refusals and bad input
        before = open(model, "rb").read()
        result = run([model, model, "Q4_0"], expect_ok=False)
        check(result.returncode != 0, "overwrote its input")
        link = os.path.join(tmp, "link.gguf")
        os.symlink(model, link)
        result = run([model, link, "Q4_0"], expect_ok=False)
        check(result.returncode != 0, "overwrote its input through a symlink")
        check(open(model, "rb").read() == before, "the input changed")
        check(run([model, os.path.join(tmp, "x.gguf"), "Q9_Z"], expect_ok=False).returncode != 0, "unknown type")
        check(run([os.path.join(tmp, "missing.gguf"), os.path.join(tmp, "y.gguf"), "Q4_0"],
                  expect_ok=False).returncode != 0, "missing input accepted")
        truncated = os.path.join(tmp, "truncated.gguf")
        with open(truncated, "wb") as f:
            f.write(before[: len(before) // 3])
        check(run([truncated, os.path.join(tmp, "z.gguf"), "Q4_0"], expect_ok=False).returncode != 0,
              "truncated GGUF accepted")
        check(run(["--tensor-type", "(=Q4_0", model, os.path.join(tmp, "w.gguf"), "Q4_0"],
                  expect_ok=False).returncode != 0, "bad regex accepted")
        # safetensors input: [rows, cols] → ne [cols, rows], names kept, architecture set
        st = os.path.join(tmp, "model.safetensors")
        q = (0.02 * rng.standard_normal((64, 256))).astype(np.float32)
        h = (0.02 * rng.standard_normal((32, 128))).astype(np.float16)
        norm = np.ones(256, dtype=np.float32)
        write_safetensors(st, {"model.layers.0.self_attn.q_proj.weight": ("F32", q),
                               "model.layers.0.mlp.down_proj.weight": ("F16", h),
                               "model.layers.0.input_layernorm.weight": ("F32", norm)})
        out = os.path.join(tmp, "from-st.gguf")
        result = run(["--arch", "testarch", st, out, "Q8_0"])
        if result.returncode == 0:
            reader = gguf.GGUFReader(out)
            check(field_value(reader.fields["general.architecture"]) == "testarch", "safetensors: architecture")
            by_name = {t.name: t for t in reader.tensors}
            t = by_name.get("model.layers.0.self_attn.q_proj.weight")
            check(t is not None and list(t.shape) == [256, 64] and t.tensor_type == T.Q8_0, "safetensors: q_proj")
            if t is not None:
                values = gq.dequantize(np.asarray(t.data), t.tensor_type).reshape(q.shape)
                check(float(np.sqrt(np.mean((values - q) ** 2))) < 0.01 * float(np.std(q)), "safetensors: q_proj rmse")
            t = by_name.get("model.layers.0.mlp.down_proj.weight")
            check(t is not None and list(t.shape) == [128, 32] and t.tensor_type == T.Q8_0, "safetensors: F16 tensor")
            t = by_name.get("model.layers.0.input_layernorm.weight")
            check(t is not None and t.tensor_type == T.F32 and np.array_equal(np.asarray(t.data), norm),
                  "safetensors: 1-D kept F32")
            print("ok: safetensors")
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        return 1
    print("all quantize oracle checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
