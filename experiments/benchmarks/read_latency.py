"""Seconds a command that only reads a study takes, and which heavy packages it imports.

Usage::

    python -m experiments.benchmarks.read_latency
    python -m experiments.benchmarks.read_latency --before /path/to/old/checkout

``moo status`` is typed again and again on a running study; before issue 17 it imported
torch and BoTorch (through the sampler's storage keys and the schema's search space)
before it read anything. Each row is ``python -m moo <command>`` in a fresh interpreter
on one stored study (BraninCurrin, ``--trials`` Sobol trials), repeated ``--repeats``
times, the checkouts interleaved so that both see the same load: wall seconds (median and
range), CPU seconds of the child (user + system: less sensitive to a busy machine than
wall time), and whether torch was imported (``python -X importtime``). The last row is the
floor: importing the libraries every reading command needs (optuna and its storage,
alembic, pydantic, rich, typer, numpy). Writes ``results/read_latency.md``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

RESULTS = Path(__file__).resolve().parent / "results" / "read_latency.md"
REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "botorch")
FLOOR = "import optuna, optuna.storages, alembic.context, pydantic, rich.console, typer, numpy"
COMMANDS = (("status", "read"), ("pareto", "read", "--csv"))


def _timed(args: list[str], code: Path, cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds of ``python <args>`` with ``code`` first on the path."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(code)},
        check=True,
        capture_output=True,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _heavy_imports(args: list[str], code: Path, cwd: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(code)},
        check=True,
        capture_output=True,
        text=True,
    )
    names = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    return [name for name in HEAVY if name in names]


def _make_study(folder: Path, trials: int, code: Path) -> None:
    """The study, written by ``code``: the oldest checkout, as newer ones read old studies
    but an old one refuses the config keys added since."""
    sys.path.insert(0, str(REPO))
    from tests.conftest import study_dict

    data = study_dict(
        "read", sampler={"n_initial": trials}, stop={"max_trials": trials, "rule": "budget"}
    )
    path = folder / "read.yaml"
    path.write_text(yaml.safe_dump(data))
    subprocess.run(
        [sys.executable, "-m", "moo", "run", str(path)],
        cwd=folder,
        env={**os.environ, "PYTHONPATH": str(code)},
        check=True,
        capture_output=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="an older checkout to compare with")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    checkouts = {"this checkout": REPO}
    if args.before is not None:
        checkouts = {f"before ({args.before})": args.before.resolve(), **checkouts}
    runs = {(name, command): [] for name in checkouts for command in (*COMMANDS, ("floor",))}
    heavy: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _make_study(folder, args.trials, next(iter(checkouts.values())))
        for _ in range(args.repeats):
            for name, code in checkouts.items():
                for command in COMMANDS:
                    runs[name, command].append(_timed(["-m", "moo", *command], code, folder))
                runs[name, ("floor",)].append(_timed(["-c", FLOOR], code, folder))
        for name, code in checkouts.items():
            for command in COMMANDS:
                heavy[name, command] = _heavy_imports(["-m", "moo", *command], code, folder)
    load = os.getloadavg()[0]
    command_line = " ".join(["python -m experiments.benchmarks.read_latency", *sys.argv[1:]])
    lines = [
        "# Reading a study: seconds per command",
        "",
        f"`{command_line}` ({args.trials}-trial study, {args.repeats} runs each, interleaved; "
        "1-min load "
        f"average {load:.1f} on {os.cpu_count()} cores at the end).",
        "",
        "| checkout | command | wall s median | wall s range | CPU s median | imports |",
        "|---|---|---|---|---|---|",
    ]
    for (name, command), samples in runs.items():
        walls = [w for w, _ in samples]
        cpus = [c for _, c in samples]
        imports = ", ".join(heavy.get((name, command), [])) or "-"
        label = "libraries' floor" if command == ("floor",) else "moo " + " ".join(command)
        lines.append(
            f"| {name} | {label} | {statistics.median(walls):.2f} | "
            f"{min(walls):.2f}-{max(walls):.2f} | {statistics.median(cpus):.2f} | "
            f"{imports if command != ('floor',) else ''} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
