#!/usr/bin/env python3
"""ggml_format_oracle.py — checks lowbit's quantizers and dequantizers against the pinned engine's own
libggml-base (the reference C code) for the formats gguf-py 0.19 cannot quantize or read: quantized bytes
must equal ggml_quantize_chunk's, and lowbit_dequantize must equal the type's to_float bit for bit (on
random byte blocks with finite f16 scales). Usage: ggml_format_oracle.py LIBGGML_BASE. Exits non-zero on
any difference."""
import ctypes
import os
import sys

import numpy as np

# format name → (ggml type id, offsets of f16 fields forced finite in random blocks)
FORMATS = {"MXFP4": (39, []), "NVFP4": (40, []), "Q1_0": (41, [0]), "Q2_0": (42, [0]),
           "IQ3_XXS": (18, [0]), "IQ3_S": (21, [0]),
           "IQ1_S": (19, [0]), "IQ1_M": (29, [54]),  # IQ1_M: the u16 at 54 holds the top nibble of d
           "IQ2_XXS": (16, [0]), "IQ2_XS": (17, [0]), "IQ2_S": (22, [0])}
# formats whose quantizer takes an importance vector: their bytes are compared again with a random one
WITH_IMPORTANCE = {"IQ3_XXS", "IQ3_S", "IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S"}
# formats ggml refuses to quantize without one: lowbit's plain bytes are compared with ggml's for an all-ones
# vector (lowbit's documented fallback)
PLAIN_AS_UNIT_IMPORTANCE = {"IQ1_S", "IQ2_XXS", "IQ2_XS"}


class TypeTraits(ctypes.Structure):  # the leading members of ggml_type_traits (ggml.h)
    _fields_ = [("type_name", ctypes.c_char_p), ("blck_size", ctypes.c_int64),
                ("blck_size_interleave", ctypes.c_int64), ("type_size", ctypes.c_size_t),
                ("is_quantized", ctypes.c_bool), ("to_float", ctypes.c_void_p), ("from_float_ref", ctypes.c_void_p)]


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    ggml = ctypes.CDLL(sys.argv[1])
    lib = ctypes.CDLL(os.environ["LOWBIT_LIBRARY"])
    ggml.ggml_quantize_chunk.restype = ctypes.c_size_t
    ggml.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                         ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    ggml.ggml_row_size.restype = ctypes.c_size_t
    ggml.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]
    ggml.ggml_get_type_traits.restype = ctypes.c_void_p
    ggml.ggml_get_type_traits.argtypes = [ctypes.c_int]
    ggml.ggml_quantize_init.argtypes = [ctypes.c_int]
    lib.lowbit_quantize.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t,
                                    ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_int]
    lib.lowbit_dequantize.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t,
                                      ctypes.c_size_t, ctypes.c_void_p]
    to_float_type = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)
    rng = np.random.default_rng(20261202)
    cols = 1024
    failures = []
    for name, (tid, half_fields) in FORMATS.items():
        traits = TypeTraits.from_address(ggml.ggml_get_type_traits(tid))
        if traits.type_name.decode().upper() != name:
            failures.append(f"{name}: the engine calls type {tid} {traits.type_name.decode()}")
            continue
        x = np.concatenate([(rng.standard_normal((128, cols)) * s).astype(np.float32) for s in (1e-3, 1.0, 50.0)]
                           + [rng.integers(-4, 5, (32, cols)).astype(np.float32)])
        x[0] = 0.0
        x[1, ::7] = 1e-40  # subnormal inputs
        x[2, 3] = 1e4      # an outlier
        rows = x.shape[0]
        row_bytes = ggml.ggml_row_size(tid, cols)
        theirs = np.zeros(rows * row_bytes, np.uint8)
        ours = np.zeros_like(theirs)
        ggml.ggml_quantize_init(tid)  # the grid types' lattice tables; nothing for the others
        unit = np.ones(cols, np.float32)
        ggml.ggml_quantize_chunk(tid, x.ctypes.data, theirs.ctypes.data, 0, rows, cols,
                                 unit.ctypes.data if name in PLAIN_AS_UNIT_IMPORTANCE else None)
        if lib.lowbit_quantize(tid, x.ctypes.data, rows, cols, ours.ctypes.data, ours.size, None, 2) != 0:
            failures.append(f"{name}: lowbit_quantize failed")
            continue
        byte_diff = int((ours != theirs).sum())
        raw = rng.integers(0, 256, (rows * row_bytes // traits.type_size, traits.type_size), dtype=np.uint8)
        for offset in half_fields:
            raw[:, offset + 1] &= 0xBB  # exponent bits never all ones: a finite f16
        raw = raw.reshape(-1)
        y_theirs = np.zeros(rows * cols, np.float32)
        y_ours = np.zeros_like(y_theirs)
        to_float_type(traits.to_float)(raw.ctypes.data, y_theirs.ctypes.data, rows * cols)
        lib.lowbit_dequantize(tid, raw.ctypes.data, raw.size, rows, cols, y_ours.ctypes.data)
        same = (y_ours.view(np.uint32) == y_theirs.view(np.uint32)) | (np.isnan(y_ours) & np.isnan(y_theirs))
        bit_diff = int((~same).sum())
        print(f"{name:6} quantize: {rows} rows, {byte_diff} of {theirs.size} bytes differ; "
              f"dequantize: {bit_diff} of {same.size} values differ")
        if name in WITH_IMPORTANCE:
            importance = rng.uniform(0.01, 10.0, cols).astype(np.float32)
            ggml.ggml_quantize_chunk(tid, x.ctypes.data, theirs.ctypes.data, 0, rows, cols, importance.ctypes.data)
            if lib.lowbit_quantize(tid, x.ctypes.data, rows, cols, ours.ctypes.data, ours.size,
                                   importance.ctypes.data, 2) != 0:
                failures.append(f"{name}: lowbit_quantize with importance failed")
                continue
            imp_diff = int((ours != theirs).sum())
            print(f"{name:6} quantize with importance: {rows} rows, {imp_diff} of {theirs.size} bytes differ")
            byte_diff += imp_diff
        if byte_diff or bit_diff:
            failures.append(f"{name}: {byte_diff} bytes, {bit_diff} values differ from the engine's")
    for failure in failures:
        print("FAIL", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
