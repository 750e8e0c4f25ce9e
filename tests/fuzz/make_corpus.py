#!/usr/bin/env python3
"""make_corpus.py — writes the fuzzers' seed corpora, tests/fuzz/corpus_gguf/ and tests/fuzz/corpus_safetensors/:
a handful of small files, valid and broken, that start libFuzzer inside the readers' interesting paths (every
GGUF value type, nested arrays, aligned tensor data, safetensors dtypes, metadata, escapes) instead of at the
magic number. Standard library only; the output is deterministic, and the files are committed.

usage: make_corpus.py [OUT_DIR]    (default: the folder of this script)"""
import json
import os
import struct
import sys

# GGUF value types
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
SCALAR = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f", BOOL: "<?",
          U64: "<Q", I64: "<q", F64: "<d"}
# ggml tensor types: (id, block elements, block bytes)
GGML_F32, GGML_F16, GGML_Q4_0, GGML_Q8_0, GGML_Q4_K = (0, 1, 4), (1, 1, 2), (2, 32, 18), (8, 32, 34), (12, 256, 144)


def gguf_string(text, version=3):
    data = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q" if version >= 2 else "<I", len(data)) + data


def gguf_value(value_type, value, version=3):
    if value_type == STRING:
        return gguf_string(value, version)
    if value_type == ARRAY:
        element_type, items = value
        out = struct.pack("<I", element_type) + struct.pack("<Q" if version >= 2 else "<I", len(items))
        return out + b"".join(gguf_value(element_type, item, version) for item in items)
    return struct.pack(SCALAR[value_type], value)


def gguf_file(kvs, tensors, version=3, alignment=32, magic=b"GGUF"):
    """kvs: [(key, type, value)]; tensors: [(name, dims, ggml type)]; data is a deterministic byte pattern."""
    count = "<Q" if version >= 2 else "<I"
    out = magic + struct.pack("<I", version) + struct.pack(count, len(tensors)) + struct.pack(count, len(kvs))
    for key, value_type, value in kvs:
        out += gguf_string(key, version) + struct.pack("<I", value_type) + gguf_value(value_type, value, version)
    offset, sizes = 0, []
    for name, dims, (type_id, block, block_bytes) in tensors:
        elements = 1
        for d in dims:
            elements *= d
        size = elements // block * block_bytes
        out += gguf_string(name, version) + struct.pack("<I", len(dims))
        out += b"".join(struct.pack("<Q" if version >= 2 else "<I", d) for d in dims)
        out += struct.pack("<I", type_id) + struct.pack("<Q", offset)
        sizes.append(size)
        offset += (size + alignment - 1) // alignment * alignment
    if tensors:
        out += b"\0" * (-len(out) % alignment)
        for size in sizes:
            out += bytes((i * 37 + 11) & 0xFF for i in range(size)) + b"\0" * (-size % alignment)
    return out


def gguf_corpus():
    every_scalar = [("u8", U8, 200), ("i8", I8, -5), ("u16", U16, 65535), ("i16", I16, -300),
                    ("u32", U32, 123456), ("i32", I32, -7), ("f32", F32, 0.5), ("bool", BOOL, True),
                    ("u64", U64, 2**40), ("i64", I64, -(2**40)), ("f64", F64, -1.25),
                    ("general.name", STRING, "seed"), ("general.alignment", U32, 32)]
    arrays = [("tokenizer.ggml.tokens", ARRAY, (STRING, ["<s>", "</s>", "a", ""])),
              ("tokenizer.ggml.scores", ARRAY, (F32, [0.0, -1.0, 2.5])),
              ("nested", ARRAY, (ARRAY, [(U8, [1, 2]), (I64, [-1]), (STRING, ["x"])])),
              ("empty", ARRAY, (U32, []))]
    tensors = [("token_embd.weight", [32, 2], GGML_Q4_0), ("output_norm.weight", [4], GGML_F32),
               ("blk.0.ffn_down.weight", [256, 1], GGML_Q4_K), ("blk.0.attn_q.weight", [32, 1], GGML_Q8_0),
               ("f16", [3, 1, 1, 1], GGML_F16)]
    valid = gguf_file(every_scalar + arrays, tensors)
    files = {
        "empty-v3.gguf": gguf_file([], []),
        "values-v3.gguf": gguf_file(every_scalar + arrays, []),
        "tensors-v3.gguf": valid,
        "tensors-v2.gguf": gguf_file(every_scalar[:4], tensors[:2], version=2),
        "alignment-64.gguf": gguf_file([("general.alignment", U32, 64)], tensors[:2], alignment=64),
        # broken on purpose: the readers must refuse these cleanly
        "bad-magic.gguf": gguf_file([], [], magic=b"GGUX"),
        "bad-version.gguf": gguf_file([], [], version=99),
        "truncated.gguf": valid[: len(valid) // 2],
        "huge-string.gguf": gguf_file([], [])[:-8] + struct.pack("<Q", 1) + gguf_string("k")
        + struct.pack("<I", STRING) + struct.pack("<Q", 2**62),
        "bad-alignment.gguf": gguf_file([("general.alignment", U32, 3)], tensors[:1]),
        "duplicate-key.gguf": gguf_file([("k", U8, 1), ("k", U8, 2)], []),
        "tensor-past-end.gguf": valid[:-64],
        "bad-tensor-type.gguf": gguf_file([], [("t", [32], (99, 32, 18))]),
        "bad-value-type.gguf": gguf_file([], [])[:-8] + struct.pack("<Q", 1) + gguf_string("k") + struct.pack("<I", 77),
        "deep-array.gguf": gguf_file([("deep", ARRAY, (ARRAY, [(ARRAY, [(ARRAY, [(U8, [1])])])]))], []),
    }
    return files


def safetensors_file(header, data=b"", header_bytes=None):
    text = header_bytes if header_bytes is not None else json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(text)) + text + data


def safetensors_corpus():
    def tensor(dtype, shape, begin, end):
        return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}

    data = bytes((i * 29 + 3) & 0xFF for i in range(64))
    files = {
        "one-f32.safetensors": safetensors_file({"w": tensor("F32", [2, 2], 0, 16)}, data[:16]),
        "metadata.safetensors": safetensors_file(
            {"__metadata__": {"format": "pt", "note": "caf\u00e9 \U0001F600"}, "w": tensor("F16", [4], 0, 8)},
            data[:8]),
        "dtypes.safetensors": safetensors_file(
            {"a": tensor("BF16", [2], 0, 4), "b": tensor("I64", [1], 4, 12), "c": tensor("U8", [4], 12, 16),
             "d": tensor("I32", [1, 1], 16, 20), "e": tensor("F32", [0, 3], 20, 20),
             "f": tensor("F32", [], 20, 24)}, data[:24]),
        "escapes.safetensors": safetensors_file(None, data[:4],
                                                b'{"a\\"b\\\\c\\u0041\\ud83d\\ude00":{"dtype":"F32","shape":[1],'
                                                b'"data_offsets":[0,4]}}   '),
        # broken on purpose
        "header-past-end.safetensors": struct.pack("<Q", 1 << 40) + b"{}",
        "overlap.safetensors": safetensors_file({"a": tensor("F32", [2], 0, 8), "b": tensor("F32", [2], 4, 12)},
                                                data[:12]),
        "shape-mismatch.safetensors": safetensors_file({"a": tensor("F32", [3], 0, 8)}, data[:8]),
        "not-json.safetensors": safetensors_file(None, b"", b'{"a":{"dtype":"F32",'),
        "bad-dtype.safetensors": safetensors_file({"a": tensor("Q4", [2], 0, 8)}, data[:8]),
        "offsets-past-end.safetensors": safetensors_file({"a": tensor("U8", [64], 0, 64)}, data[:10]),
        "bad-escape.safetensors": safetensors_file(None, b"", b'{"\\ud800":{"dtype":"U8","shape":[0],'
                                                   b'"data_offsets":[0,0]}}'),
        "deep.safetensors": safetensors_file(None, b"", b'{"__metadata__":' + b"[" * 64 + b"]" * 64 + b"}"),
    }
    return files


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    for folder, files in (("corpus_gguf", gguf_corpus()), ("corpus_safetensors", safetensors_corpus())):
        os.makedirs(os.path.join(out, folder), exist_ok=True)
        for name, content in sorted(files.items()):
            with open(os.path.join(out, folder, name), "wb") as f:
                f.write(content)
        print(f"{folder}: {len(files)} files, {sum(len(c) for c in files.values())} bytes")


if __name__ == "__main__":
    main()
