#!/usr/bin/env python3
"""run_backend_ops.py — runs the engine's test-backend-ops against one lowbit device loaded through
libggml-lowbit.so, prints OK / FAIL / not-supported counts per op and weight type, and fails on any FAIL.

usage: run_backend_ops.py TEST_BACKEND_OPS PLUGIN KIND OPS [--params REGEX] [--expect-log TEXT]
  KIND          cpu | opencl | vulkan: the first ggml device named LOWBIT_<kind>... is tested
  OPS           comma-separated ops, as test-backend-ops -o takes them (MUL_MAT,MUL_MAT_ID,GET_ROWS)
  --params      only the cases whose parameters match (test-backend-ops -p)
  --expect-log  fail unless the output holds TEXT (a fallback warning under LOWBIT_FAULT, say)
  --log FILE    where the whole output is kept (default: ggml_backend_ops_<kind>.log in the current folder)
Exit 77 (a skip) when no such device exists, unless CI=true: there a missing PoCL or lavapipe device fails.
"""
import argparse
import collections
import os
import re
import subprocess
import sys

RESULT = re.compile(r"^  (?P<op>[A-Z_0-9]+)\((?P<params>.*)\): (?P<rest>.*)$")
BACKEND = re.compile(r"^Backend \d+/\d+: (?P<name>\S+)")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run(program, plugin, arguments):
    environment = dict(os.environ, GGML_BACKEND_PATH=plugin)
    process = subprocess.run([program] + arguments, env=environment, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, errors="replace")
    return process.returncode, ANSI.sub("", process.stdout)


def device_names(program, plugin):
    # a filter that matches no device makes test-backend-ops list every device and run nothing
    _, output = run(program, plugin, ["test", "-b", "no-such-device", "-o", "MUL_MAT"])
    return [m.group("name") for m in map(BACKEND.match, output.splitlines()) if m]


def weight_type(op, params):
    key = "type_a" if op.startswith("MUL_MAT") else "type"
    match = re.search(r"(?:^|,)" + key + r"=([A-Za-z0-9_]+)", params)
    return match.group(1) if match else "?"


def main():
    parser = argparse.ArgumentParser(usage=__doc__)
    for name in ("program", "plugin", "kind", "ops"):
        parser.add_argument(name)
    parser.add_argument("--params")
    parser.add_argument("--expect-log")
    parser.add_argument("--log")
    arguments = parser.parse_args()
    program, plugin, kind, ops = arguments.program, arguments.plugin, arguments.kind, arguments.ops
    names = device_names(program, plugin)
    wanted = [n for n in names if n.startswith("LOWBIT_" + kind)]
    if not wanted:
        print(f"no LOWBIT_{kind} device among {names}")
        if kind == "cpu" or os.environ.get("CI") == "true":
            return 1
        return 77
    device = wanted[0]
    command = ["test", "-o", ops, "-b", device] + (["-p", arguments.params] if arguments.params else [])
    status, output = run(program, plugin, command)
    log = arguments.log or f"ggml_backend_ops_{kind}.log"
    with open(log, "w") as file:
        file.write(output)

    counts = collections.defaultdict(collections.Counter)
    failures = []
    for line in output.splitlines():
        match = RESULT.match(line)
        if not match:
            continue
        op, params, rest = match.group("op"), match.group("params"), match.group("rest").strip()
        key = (op, weight_type(op, params))
        if rest.startswith("not supported"):
            # "[LOWBIT_x]" when this device refused it, "[CPU]" when only the reference did
            counts[key]["not supported" if device in rest else "reference only"] += 1
        elif rest.endswith("FAIL"):
            counts[key]["FAIL"] += 1
            failures.append(line.strip())
        elif rest.endswith("OK"):
            counts[key]["OK"] += 1

    print(f"test-backend-ops -o {ops} -b {device} (exit {status}; output in {os.path.abspath(log)})")
    print(f"{'op':<12} {'type':<10} {'OK':>6} {'FAIL':>6} {'not supported':>14}")
    total = collections.Counter()
    for (op, type_name), count in sorted(counts.items()):
        total.update(count)
        print(f"{op:<12} {type_name:<10} {count['OK']:>6} {count['FAIL']:>6} {count['not supported']:>14}")
    print(f"{'all':<12} {'':<10} {total['OK']:>6} {total['FAIL']:>6} {total['not supported']:>14}")
    for failure in failures:
        print("FAIL:", failure)
    missing_log = arguments.expect_log and arguments.expect_log not in output
    if missing_log:
        print(f"the output does not hold: {arguments.expect_log}")
    if status != 0 or failures or total["OK"] == 0 or missing_log:
        print(output[-6000:])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
