#!/usr/bin/env python3
"""run_peers.py - runs focalgrad and its peers (PyTorch, libtorch) on the same workloads, in
one go on one machine, and prints one markdown table of times and ratios; a full run also
writes bench/RESULTS.md (table, machine, versions, command). Standard library only.

Every program prints one JSON line per workload:
    {"peer": "...", "workload": "...", "value": 1.23, "unit": "s", "detail": "..."}
and is run once per workload with --only NAME (peak memory: --rss, alone in its process so
that nothing else inflates it), all programs in turn for each workload. The focalgrad program
(build/bin/bench_peers_focalgrad, optional; its cells read "-" until it exists) follows the
same contract with peer "focalgrad", names its fused focal loss "focal_fused_1m" (it gets
--only focal_fused_1m), and with --only mlp_epoch (or small_mlp_epoch) may add
    {"peer": "sgemm_floor", "workload": "mlp_epoch", "value": 0.5, "unit": "s", "detail": "..."}
for the time of the epoch's matrix products alone (the targets are issue 16's). Not here: statistics across runs;
each program reports medians, and ratios are only meaningful within one run.
"""

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DASH = "\u2014"

# Rows of the table: (key, label, target). A target is a list of (denominator, limit);
# the denominator is a peer column or "sgemm_floor".
ROWS = [
    ("mlp_epoch", "MNIST epoch, MLP 784-256-128-10, batch 128",
     [("libtorch", 0.35), ("sgemm_floor", 1.3)]),
    ("small_mlp_epoch", "MNIST epoch, MLP 784-32-10, batch 32", [("libtorch", 0.3), ("sgemm_floor", 2.0)]),
    ("cnn_epoch", "MNIST epoch, CNN of examples/mnist_cnn, batch 64", [("libtorch", 0.4)]),
    ("focal_composed_1m", "focal loss fwd+bwd, 1M \u00d7 10 (focalgrad fused, peers composed)",
     [("libtorch", 0.25)]),
    ("sigmoid_focal_1m", "sigmoid focal loss fwd+bwd, 1M \u00d7 10 (focalgrad fused, peers torchvision's "
     "formula)", []),
    ("ce_fused_1m", "cross-entropy fwd+bwd, 1M \u00d7 10", []),
    ("small_op_us", "one small op with grad recording (x * x, 4 elements)", [("libtorch", 0.15)]),
    ("peak_rss_mb", "peak RSS, one full-MNIST MLP epoch (separate process)", [("pytorch", 0.3)]),
]
TIMED = [key for key, _, _ in ROWS if key != "peak_rss_mb"]
PEERS = ["focalgrad", "pytorch", "libtorch"]
PEER_TITLES = {"focalgrad": "focalgrad", "pytorch": "PyTorch", "libtorch": "libtorch",
               "sgemm_floor": "sgemm floor"}
# focalgrad answers the composed-focal row with its own fused focal loss.
FOCALGRAD_ALIASES = {"focal_fused_1m": "focal_composed_1m"}
FOCALGRAD_ONLY = {"focal_composed_1m": "focal_fused_1m"}

# Environment variables that change how the programs run; any set (by the caller or by
# --env) is recorded in RESULTS.md. Two matter on a small shared machine:
#   OMP_WAIT_POLICY=passive  OpenMP threads sleep at once after a parallel region instead of
#       spinning, so they do not take the cores OpenBLAS's own (also spinning) threads need;
#   GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967295  glibc
#       reuses freed memory instead of unmapping it, so large buffers are not faulted in
#       and zeroed afresh on every allocation.
RECORDED_ENV = ["OMP_WAIT_POLICY", "GLIBC_TUNABLES", "OMP_NUM_THREADS", "FOCALGRAD_NUM_THREADS",
                "OPENBLAS_THREAD_TIMEOUT", "OPENBLAS_CORETYPE"]


def log(message):
    print(f"run_peers: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# Running the programs and collecting their JSON lines.

def run_program(peer, argv, env, results, floors, failures):
    load = os.getloadavg()[0]
    log(f"{peer}: {shlex.join(argv)}   (load {load:.2f})")
    try:
        proc = subprocess.run(argv, stdout=subprocess.PIPE, text=True, env=env, timeout=3600)
    except (OSError, subprocess.TimeoutExpired) as e:
        failures.append(f"{peer}: `{shlex.join(argv)}` did not run: {e}")
        return
    for line in proc.stdout.splitlines():
        record = parse_line(line)
        if record is None:
            if line.strip():
                print(f"  {peer}: {line}", file=sys.stderr)
            continue
        who, workload = record["peer"], record["workload"]
        record["load"] = load
        if who == "sgemm_floor":
            floors[workload] = record
            continue
        if who != peer:
            failures.append(f"{peer}: printed a line for peer '{who}', ignored: {line}")
            continue
        if peer == "focalgrad":
            workload = FOCALGRAD_ALIASES.get(workload, workload)
        results[(peer, workload)] = record
        log(f"  {workload} = {format_value(record['value'], record['unit'])}")
    if proc.returncode != 0:
        failures.append(f"{peer}: `{shlex.join(argv)}` exited with status {proc.returncode}")


def parse_line(line):
    """A result line as a dict, or None for anything that is not one."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(record, dict) or not {"peer", "workload", "value", "unit"} <= record.keys():
        return None
    if not isinstance(record["value"], (int, float)) or isinstance(record["value"], bool):
        return None
    record.setdefault("detail", "")
    return record


def same_blas_kernels(args, env):
    """The peers' libtorch runs on the same OpenBLAS as focalgrad. Where OpenBLAS does not
    know the CPU it falls back to SSE3 kernels, and focalgrad replaces them (core/blas.cpp);
    the peers would keep them, and the comparison would be of kernels, not of frameworks. So
    every program is given the kernels focalgrad chose, as OPENBLAS_CORETYPE, unless the
    caller set it. Returns a note for RESULTS.md, or None."""
    if "OPENBLAS_CORETYPE" in env or not Path(args.focalgrad).is_file():
        return None
    kernels = command_output([args.focalgrad, "--blas-kernels"])
    if not kernels or "replaced" not in kernels:
        return None
    env["OPENBLAS_CORETYPE"] = kernels.split()[0]
    log(f"OpenBLAS kernels: {kernels}; OPENBLAS_CORETYPE={env['OPENBLAS_CORETYPE']} for every program")
    return (f"- OpenBLAS kernels: {kernels}; so every program ran with "
            f"OPENBLAS_CORETYPE={env['OPENBLAS_CORETYPE']}, the peers on the same kernels as focalgrad")


def programs(args):
    """(peer, argv) for every program that exists; a missing peer is a failure, a missing
    focalgrad program is expected until it is written."""
    found, failures = [], []
    if Path(args.focalgrad).is_file():
        found.append(("focalgrad", [args.focalgrad]))
    else:
        log(f"focalgrad: {args.focalgrad} not built; its column reads {DASH}")
    found.append(("pytorch", [args.python, str(ROOT / "bench/peers/torch_peer.py")]))
    if Path(args.libtorch).is_file():
        found.append(("libtorch", [args.libtorch]))
    else:
        failures.append(f"libtorch: {args.libtorch} not found; build it with `make bench-peers`")
    return found, failures


def collect(args, env):
    """Runs workload by workload, every program in turn, so that the numbers compared in a
    row are measured seconds apart rather than minutes: on a shared machine the load
    drifts, and a ratio is only as good as the conditions its two sides shared."""
    results, floors = {}, {}
    found, failures = programs(args)
    wanted = [args.only] if args.only else [key for key, _, _ in ROWS]
    for key in wanted:
        for peer, argv in found:
            if key == "peak_rss_mb":
                extra = ["--rss"]
            else:
                only = FOCALGRAD_ONLY.get(key, key) if peer == "focalgrad" else key
                extra = ["--quick"] * args.quick + ["--only", only]
            run_program(peer, argv + extra, env, results, floors, failures)
    for peer in ("pytorch", "libtorch"):
        for key in wanted:
            if (peer, key) not in results:
                failures.append(f"{peer}: no result for {key}")
    return results, floors, failures


# ---------------------------------------------------------------------------------------
# The table.

def format_value(value, unit):
    unit = {"us": "\u00b5s"}.get(unit, unit)
    if value >= 100:
        return f"{value:.0f} {unit}"
    if value >= 10:
        return f"{value:.1f} {unit}"
    return f"{value:.2f} {unit}"


def ratio(num, den):
    """num / den for two records of the same unit, or None."""
    if num is None or den is None or num["unit"] != den["unit"] or den["value"] <= 0:
        return None
    return num["value"] / den["value"]


def format_ratio(r):
    return DASH if r is None else f"{r:.2f}\u00d7"


def target_cell(target, fg, columns):
    parts = []
    for denominator, limit in target:
        text = f"\u2264 {limit:g}\u00d7 {PEER_TITLES[denominator]}"
        r = ratio(fg, columns.get(denominator))
        if r is not None:
            text += " (met)" if r <= limit else " (not met)"
        parts.append(text)
    return "; ".join(parts) if parts else DASH


def table(results, floors, only):
    header = ["workload", "focalgrad", "PyTorch", "libtorch", "focalgrad/libtorch", "focalgrad/PyTorch",
              "focalgrad/sgemm floor", "target"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key, label, target in ROWS:
        if only and key != only:
            continue
        columns = {peer: results.get((peer, key)) for peer in PEERS}
        columns["sgemm_floor"] = floors.get(key)
        fg = columns["focalgrad"]
        cells = [label]
        for peer in PEERS:
            rec = columns[peer]
            cells.append(DASH if rec is None else format_value(rec["value"], rec["unit"]))
        cells.append(format_ratio(ratio(fg, columns["libtorch"])))
        cells.append(format_ratio(ratio(fg, columns["pytorch"])))
        floor = columns["sgemm_floor"]
        if floor is None:
            cells.append(DASH)
        else:
            cells.append(f"{format_ratio(ratio(fg, floor))} (floor {format_value(floor['value'], floor['unit'])})")
        cells.append(target_cell(target, fg, columns))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# The machine and versions, for RESULTS.md.

def cpu_model():
    """The model name, with the family and model numbers: a virtual machine's model name
    can be as short as "AMD EPYC", which does not tell Zen 3 from Zen 4."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break  # the first processor's fields only
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    name = fields.get("model name") or platform.processor() or "unknown"
    if "cpu family" in fields and "model" in fields:
        name += f" (family {fields['cpu family']}, model {fields['model']})"
    return name


def command_output(argv):
    try:
        out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


def package_version(name):
    return command_output(["dpkg-query", "-W", "-f=${Version}", name]) or "not installed"


def environment_notes(args, env):
    torch_version = command_output([args.python, "-c", "import torch; print(torch.__version__)"])
    gxx = command_output(["g++", "--version"])
    lines = [
        f"- CPU: {cpu_model()}; {os.cpu_count()} logical cores, {len(os.sched_getaffinity(0))} usable",
        "- Threads: 2 in every program (torch.set_num_threads(2) / at::set_num_threads(2), one "
        "interop thread; focalgrad's own setting), all on the same OpenBLAS "
        f"(OPENBLAS_NUM_THREADS={env.get('OPENBLAS_NUM_THREADS', 'unset: one per core')})",
        f"- Load average (1, 5, 15 min) at start: {args.load_before}; at end: "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"- OS: {platform.platform()}",
        f"- PyTorch {torch_version or 'not importable'} (Debian python3-torch "
        f"{package_version('python3-torch')}, libtorch-dev {package_version('libtorch-dev')}), "
        f"OpenBLAS {package_version('libopenblas0-pthread')}, "
        f"{gxx.splitlines()[0] if gxx else 'g++ not found'}",
    ]
    if args.kernels_note:
        lines.append(args.kernels_note)
    names = list(dict.fromkeys(RECORDED_ENV + sorted(args.env)))
    settings = [f"{name}={env[name]}" for name in names if name in env]
    if settings:
        lines.append(f"- Environment of every program: {', '.join(settings)}")
    else:
        lines.append(f"- Environment: none of {', '.join(RECORDED_ENV)} set")
    return lines


def results_markdown(args, env, table_text, results, floors, failures):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    harness = shlex.join([sys.executable] + sys.argv)
    command = f"`{args.invoked_as}` (which ran `{harness}`)" if args.invoked_as else f"`{harness}`"
    out = [
        "# focalgrad against PyTorch and libtorch",
        "",
        f"Measured {now} by {command}, all programs in one run on one machine, so the ratios "
        "compare like with like; absolute times move with the machine's load.",
        "",
        table_text,
        "",
        "## Machine",
        "",
        *environment_notes(args, env),
        "",
        "## What each program reported",
        "",
    ]
    for (peer, workload), rec in sorted(results.items()):
        out.append(f"- {PEER_TITLES[peer]}, {workload}: {format_value(rec['value'], rec['unit'])} "
                   f"({rec['detail']}; load average {rec['load']:.2f} when it started)")
    for workload, rec in sorted(floors.items()):
        out.append(f"- sgemm floor, {workload}: {format_value(rec['value'], rec['unit'])} "
                   f"({rec['detail']}; load average {rec['load']:.2f} when it started)")
    if failures:
        out += ["", "## Problems in this run", ""] + [f"- {f}" for f in failures]
    out += [
        "",
        "Workloads are defined in bench/peers/torch_peer.py and bench/peers/libtorch_peer.cpp; "
        "the harness is bench/peers/run_peers.py.",
        "",
    ]
    return "\n".join(out)


def write_atomically(path, text):
    """Readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


# ---------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default="/usr/bin/python3",
                        help="interpreter that can import torch (default: Debian's /usr/bin/python3)")
    parser.add_argument("--libtorch", default=str(ROOT / "build/bin/libtorch_peer"))
    parser.add_argument("--focalgrad", default=str(ROOT / "build/bin/bench_peers_focalgrad"))
    parser.add_argument("--only", choices=[key for key, _, _ in ROWS], help="run one workload")
    parser.add_argument("--quick", action="store_true",
                        help="fewer repetitions; RESULTS.md is left alone unless --out is given")
    parser.add_argument("--out", help=f"results file (default: {ROOT / 'bench/RESULTS.md'})")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="set an environment variable for every program (repeatable), "
                             "e.g. OMP_WAIT_POLICY=passive")
    parser.add_argument("--invoked-as", help="the command to record in RESULTS.md")
    args = parser.parse_args()
    args.load_before = ", ".join(f"{x:.2f}" for x in os.getloadavg())

    env = dict(os.environ)
    for setting in args.env:
        name, sep, value = setting.partition("=")
        if not sep or not name:
            log(f"error: --env expects NAME=VALUE, got '{setting}'")
            return 2
        env[name] = value
    args.env = {setting.partition("=")[0] for setting in args.env}
    needs_mnist = args.only in (None, "mlp_epoch", "small_mlp_epoch", "cnn_epoch", "peak_rss_mb")
    if needs_mnist and not env.get("MNIST_DIR"):
        log("error: MNIST_DIR is not set; point it at the directory with the four MNIST .gz IDX files "
            "(for example MNIST_DIR=/work/shared/data/mnist)")
        return 2

    args.kernels_note = same_blas_kernels(args, env)

    load = os.getloadavg()[0]
    if load > 1.0:
        log(f"warning: the machine is busy (load average {load:.2f} on {os.cpu_count()} cores); with 2 "
            "threads per program every time will be inflated, and unevenly if the load changes")
    results, floors, failures = collect(args, env)
    table_text = table(results, floors, args.only)
    print(table_text, flush=True)
    for f in failures:
        log(f"problem: {f}")

    out = args.out or (None if args.quick or args.only else ROOT / "bench/RESULTS.md")
    if out:
        write_atomically(Path(out), results_markdown(args, env, table_text, results, floors, failures))
        log(f"wrote {out}")
    else:
        log("partial run (--quick or --only): RESULTS.md not written; pass --out to write one")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
