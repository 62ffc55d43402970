"""Render the kept benchmark JSON (``benchmarks/results/*.json``) into the dated pages of ``docs/results/``.

One page per kept run, and one per pooled set of runs, each table produced by the benchmark's own ``format_table``
from the JSON, so a page cannot drift from its numbers. The command on each page is rebuilt from the arguments the
run recorded in its JSON. What a page says beyond the table (the date, which defaults the code had then) is the
``RUNS`` list below. ``tests/test_results_pages.py`` re-renders every page and compares it with the committed one.

    python benchmarks/results_pages.py            # rewrite docs/results/ from the JSON
    python benchmarks/results_pages.py --check    # exit 1 when a committed page differs from its JSON
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PAGES = ROOT / "docs" / "results"

# (JSON file, date the run finished, what the defaults were then): one page each.
RUNS = (
    ("pruning_cifar_302eece.json", "2026-12-02",
     "ResNet-8 rows, seeds 0-2, at commit 302eece: the restart cut the network to its widths at once (the default "
     "then, today's `--restart-ramp 0`)."),
    ("pruning_cifar_0b84096.json", "2026-12-02",
     "All three budgets, seeds 0-2, at commit 0b84096, one-shot restart (`--restart-ramp 0`)."),
    ("pruning_cifar_7fb4013_s345.json", "2026-12-02",
     "ResNet-8 rows, seeds 3-5, at commit 7fb4013, one-shot restart, with the patch + prune column (e)."),
    ("pruning_cifar_7fb4013_s678.json", "2026-12-02",
     "ResNet-8 rows, seeds 6-8, at commit 7fb4013, one-shot restart."),
    ("pruning_cifar_888b080_s9-11.json", "2026-12-02",
     "All three budgets, seeds 9-11, at commit 888b080, one-shot restart."),
    ("pruning_cifar_14921ad_s12-14.json", "2026-12-02",
     "All three budgets, seeds 12-14 (no earlier run or experiment used them), at commit 14921ad with today's "
     "defaults: the restart narrows to the widths over the first 30 % of the epochs (`--restart-ramp 0.3`). "
     "1 h 56 min on the 2 cores."),
)
# (JSON file, date, note) of `python benchmarks/memory.py --json`: one page each.
MEMORY_RUNS = (
    ("memory_a8b82b5.json", "2026-12-08",
     "The four MLPerf Tiny int8 references (the TF converter's files in `../shared/models/mlperf-tiny/`) and the zoo "
     "models exported by `mcugraph opt`, at commit a8b82b5, in a fresh clone, on the shared 2-core machine."),
)
# (JSON file, date, note) of `python benchmarks/export.py --json`: one page each.
EXPORT_RUNS = (
    ("export_115cb64.json", "2026-12-08",
     "`mcugraph opt` on the four MLPerf Tiny ONNX models and the zoo models, against the TF converter's reference "
     "int8 files, at commit 115cb64, in a fresh clone, on the shared 2-core machine."),
    ("export_e770b2a.json", "2026-12-08",
     "The same at commit e770b2a, after flash became the .tflite file's length (issue 28: a leaner file, no tensor "
     "names or description), in a fresh clone. The `opt s` column ran beside `.ci/newcomer`'s demo and other work "
     "on the 2 cores (load average about 9), so its seconds are inflated against the 115cb64 run."),
)
# (JSON file, date, note) of `python benchmarks/patch.py --json`: one page each.
PATCH_RUNS = (
    ("patch_2588403.json", "2026-12-08",
     "The MLPerf Tiny VWW and IC models (the TF converter's .tflite and their ONNX exported by `mcugraph opt`), the "
     "zoo's MobileNetV2-style network with expansion 6 at 96x96 and 128x128, and a 1-D keyword-spotting net, at "
     "commit 2588403, in a fresh clone, on the shared 2-core machine (invoke time ratios are noisy there)."),
)
# (page name, title, the JSON files pooled): the units of one budget in several runs are pooled.
POOLS = (
    ("pruning-cifar-one-shot-pool", "CIFAR-10 pruning, the one-shot restart's five runs pooled",
     ("pruning_cifar_302eece.json", "pruning_cifar_0b84096.json", "pruning_cifar_7fb4013_s345.json",
      "pruning_cifar_7fb4013_s678.json", "pruning_cifar_888b080_s9-11.json")),
)

COLUMNS_NOTE = (
    "Accuracy: the int8 model in TFLite Micro on the 560 held-out images, mean over the seeds (in brackets after the "
    "model: its baselines' mean). SRAM is TFLM's measured arena head. L1 = uniform-fraction L1-norm pruning "
    "restarted from the trained weights with mcugraph's retraining; uniform = the architecture at the largest single "
    "width that fits, trained from scratch for baseline + pruning epochs. Gains are paired by seed (the same "
    "baseline and images): mean ± standard error of the per-seed difference, in points. Timing: the first seed's "
    "pruning call against plain training of the unpruned model for the same epochs, in the same worker. The method "
    "is in [docs/pruning.md](../pruning.md)."
)


def command_line(script: str, args: dict, json_name: str, flags=(), options=()) -> str:
    """The command line that reproduces a kept run from the arguments its JSON recorded: each ``(key, value,
    flag)`` in ``flags`` whose recorded value is ``value``, then each ``(key, default)`` option that differs from
    its default, then ``--json``."""
    parts = [f"python benchmarks/{script}"]
    parts += [flag for key, value, flag in flags if args.get(key) == value]
    parts += [f"--{key.replace('_', '-')} {args[key]}" for key, default in options
              if args.get(key, default) != default]
    parts.append(f"--json benchmarks/results/{json_name}")
    return " ".join(parts)


def command(args: dict, json_name: str) -> str:
    """The ``pruning_cifar.py`` command line that reproduces a run, from the arguments its JSON recorded."""
    return command_line(
        "pruning_cifar.py", args, json_name,
        flags=(("augment", "True", "--augment"), ("quick", "True", "--quick"), ("scratch", "False", "--no-scratch"),
               ("patch", "True", "--patch")),
        options=(("only", "None"), ("jobs", "1"), ("first_seed", "0"), ("seeds", "3"), ("epochs", "None"),
                 ("baseline_epochs", "30"), ("batch_size", "64"), ("limit", "None")))

def run_page(json_name: str, date: str, note: str) -> tuple[str, str]:
    """(file name, Markdown) of one kept run's page."""
    from pruning_cifar import format_table, rows_from_json

    path = RESULTS / json_name
    args = json.loads(path.read_text())["args"]
    tag = json_name.removeprefix("pruning_cifar_").removesuffix(".json")
    text = "\n".join([
        f"# CIFAR-10 pruning benchmark, {date}, run {tag}",
        "",
        note,
        "",
        "Generated by `python benchmarks/results_pages.py` from "
        f"[`benchmarks/results/{json_name}`](../../benchmarks/results/{json_name}); the run:",
        "",
        "```sh",
        command(args, json_name),
        "```",
        "",
        format_table(rows_from_json([path])),
        "",
        COLUMNS_NOTE,
        "",
    ])
    return f"{date}-pruning-cifar-{tag}.md", text


def pool_page(name: str, title: str, json_names: tuple[str, ...]) -> tuple[str, str]:
    """(file name, Markdown) of several runs pooled: one row per budget over every seed the runs hold."""
    from pruning_cifar import format_table, rows_from_json

    files = " ".join(f"benchmarks/results/{n}" for n in json_names)
    text = "\n".join([
        f"# {title}",
        "",
        "Generated by `python benchmarks/results_pages.py` from the kept JSON of "
        + ", ".join(f"[{n}](../../benchmarks/results/{n})" for n in json_names) + "; the table:",
        "",
        "```sh",
        f"python benchmarks/pruning_cifar.py --table {files}",
        "```",
        "",
        format_table(rows_from_json([RESULTS / n for n in json_names])),
        "",
        COLUMNS_NOTE,
        "",
    ])
    return f"{name}.md", text


def _kept_run_page(title: str, note: str, json_name: str, kept: dict, command: str, about: str,
                   table: str) -> str:
    """The Markdown of one kept run: title, note, where it was generated from, the command, what the columns
    mean, and the table the benchmark printed."""
    return "\n".join([
        title,
        "",
        note,
        "",
        "Generated by `python benchmarks/results_pages.py` from "
        f"[`benchmarks/results/{json_name}`](../../benchmarks/results/{json_name}), measured at commit "
        f"{kept['commit']}; the run:",
        "",
        "```sh",
        command,
        "```",
        "",
        about,
        "",
        "```text",
        table,
        "```",
        "",
    ])


def memory_page(json_name: str, date: str, note: str) -> tuple[str, str]:
    """(file name, Markdown) of one kept ``benchmarks/memory.py`` run: the text the benchmark printed."""
    from memory import format_report

    kept = json.loads((RESULTS / json_name).read_text())
    args = kept["args"]
    run = command_line("memory.py", args, json_name,
                       flags=(("no_zoo", "True", "--no-zoo"), ("inplace", "False", "--no-inplace")),
                       options=(("time_limit", "10.0"),))
    text = _kept_run_page(
        f"# SRAM: `mcugraph schedule` on the MLPerf Tiny int8 models, {date}", note, json_name, kept, run,
        "TFLM's own measured arena head (bytes) before and after `mcugraph schedule` (min-peak operator order + "
        "offline arena plan with in-place reuse), the prediction (it must equal TFLM's head) and the lower bound "
        "(peak live bytes of the chosen order). Every scheduled model ran in TFLM bit-exact with its input.",
        format_report(kept["rows"], kept["notes"], args.get("inplace") != "False"))
    return f"{date}-memory.md", text


def export_page(json_name: str, date: str, note: str) -> tuple[str, str]:
    """(file name, Markdown) of one kept ``benchmarks/export.py`` run: the text the benchmark printed."""
    from export import format_report

    kept = json.loads((RESULTS / json_name).read_text())
    args = kept["args"]
    run = command_line("export.py", args, json_name, flags=(("no_zoo", "True", "--no-zoo"),),
                       options=(("repeat", "3"),))
    text = _kept_run_page(
        f"# Export: `mcugraph opt` against the TF converter's int8 files, {date}", note, json_name, kept, run,
        "`opt s`: wall time of `mcugraph.optimize` (load, canonicalise, schedule, plan, calibrate, export, verify), "
        "best of the repeats. Heads are TFLM's measured arena bytes, flash the .tflite bytes. Calibration is "
        "`random:LO,HI` in each model's input range (no datasets ship here) and SQNR is against onnxruntime on "
        "held-out random inputs of that range; the references were calibrated on real data, so their SQNR here is "
        "not a fair accuracy figure, the arena and flash columns are.",
        format_report(kept["rows"]))
    return f"{date}-export-{kept['commit']}.md", text


def patch_page(json_name: str, date: str, note: str) -> tuple[str, str]:
    """(file name, Markdown) of one kept ``benchmarks/patch.py`` run: the table the benchmark printed."""
    from patch import format_table

    kept = json.loads((RESULTS / json_name).read_text())
    args = kept["args"]
    run = command_line("patch.py", args, json_name, flags=(("no_onnx", "True", "--no-onnx"),),
                       options=(("max_mac_overhead", "0.3"), ("only", "None")))
    text = _kept_run_page(
        f"# Patch-based execution below the layer-by-layer bound, {date}", note, json_name, kept, run,
        "Bytes of TFLM's measured arena head: layer by layer (mcugraph's best unpatched plan; \"no PAD in place\" "
        "without the in-place PAD rule) against `--patch auto` (the first stage(s) in row tiles, stock TFLM "
        "operators), which must equal the prediction and be bit-exact with the unpatched model. The method: "
        "[docs/patch.md](../patch.md).",
        format_table(kept["rows"]))
    return f"{date}-patch-{kept['commit']}.md", text


def pages() -> dict[str, str]:
    """Every generated page: file name in ``docs/results/`` -> its Markdown."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    rendered = dict(run_page(*run) for run in RUNS)
    rendered.update(pool_page(*pool) for pool in POOLS)
    rendered.update(memory_page(*run) for run in MEMORY_RUNS)
    rendered.update(export_page(*run) for run in EXPORT_RUNS)
    rendered.update(patch_page(*run) for run in PATCH_RUNS)
    return rendered


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 on a difference")
    args = parser.parse_args(argv)
    stale = []
    for name, text in pages().items():
        target = PAGES / name
        if args.check:
            if not target.is_file() or target.read_text() != text:
                stale.append(name)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        print(f"wrote {target.relative_to(ROOT)}")
    if stale:
        print("stale: " + ", ".join(stale) + "; run python benchmarks/results_pages.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
