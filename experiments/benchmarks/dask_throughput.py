"""Trials per hour of 1 and 2 workers on PostgreSQL: Dask workers vs plain moo processes.

Usage::

    python -m experiments.benchmarks.dask_throughput                  # 24 trials of 2 s
    python -m experiments.benchmarks.dask_throughput --trials 30 --trial-s 2

Starts a throw-away PostgreSQL server (``initdb``/``pg_ctl`` on a loopback port, as the
postgres user when run as root, like ``.ci/run``), or uses ``--storage``. Each row is one
study of ``--trials`` BraninCurrin trials that each sleep ``--trial-s`` seconds
(``tests.adapters:Flaky``), seeded alike: ``executor: dask`` with a LocalCluster of 1 or
2 workers (``moo run``), or 1 or 2 ``moo resume`` processes started together on a study
created beforehand. Throughput is measured from the storage (first trial start to last
trial end), so process start-up is left out of both; the ratio to the 1-worker row of
the same executor is the figure to read. Writes ``results/dask_throughput.md``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import optuna
import yaml
from optuna.trial import TrialState

from moo.adapters import ALLOW_ENV
from moo.config import validate_study_config
from moo.study import create_study, load_study

RESULTS = Path(__file__).resolve().parent / "results" / "dask_throughput.md"
REPO = Path(__file__).resolve().parents[2]
_PORT = 55439


@contextmanager
def postgres() -> Iterator[str]:
    """A throw-away PostgreSQL server; yields its SQLAlchemy URL."""
    folder = Path(tempfile.mkdtemp(prefix="moo-pg-"))
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_postgres:
        shutil.chown(folder, "postgres")
    data = folder / "data"

    def pg(*args: str) -> None:
        subprocess.run([*as_postgres, *args], check=True, capture_output=True)

    pg("initdb", "-D", str(data), "-U", "moo", "--auth=trust")
    pg(
        "pg_ctl", "-D", str(data), "-l", str(folder / "log"), "-w", "-o",
        f"-p {_PORT} -k {folder} -c listen_addresses=127.0.0.1", "start",
    )  # fmt: skip
    try:
        pg("createdb", "-h", "127.0.0.1", "-p", str(_PORT), "-U", "moo", "bench")
        yield f"postgresql+psycopg://moo@127.0.0.1:{_PORT}/bench"
    finally:
        pg("pg_ctl", "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def study_dict(name: str, executor: str, n_workers: int, trials: int, trial_s: float) -> dict:
    return {
        "study": {"name": name, "seed": 0},
        "objective": {
            "adapter": "tests.adapters:Flaky",
            # Every x0 of [0, 1] sleeps; the interval is half-open, and with [0, 1] the
            # proposals at the bound x0 = 1 (a BO favourite) took no time at all.
            "options": {"hang_between": [-1.0, 2.0], "hang_s": trial_s},
        },
        "objectives": [
            {"name": "f0", "direction": "minimize"},
            {"name": "f1", "direction": "minimize"},
        ],
        "space": {
            "parameters": {
                "x0": {"type": "float", "low": 0.0, "high": 1.0},
                "x1": {"type": "float", "low": 0.0, "high": 1.0},
            }
        },
        "sampler": {"num_restarts": 2, "raw_samples": 64},
        "stop": {"max_trials": trials, "rule": "budget"},
        "execution": {"executor": executor, "n_workers": n_workers},
    }


def _moo(args: list[str], folder: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "moo", *args],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_row(
    url: str, folder: Path, executor: str, n_workers: int, args: argparse.Namespace
) -> dict:
    name = f"{executor}{n_workers}_{time.monotonic_ns()}"
    # Plain rows: n_workers processes of one worker (thread) each.
    dask = executor == "dask"
    data = study_dict(
        name, "dask" if dask else "local", n_workers if dask else 1, args.trials, args.trial_s
    )
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    started = time.perf_counter()
    if executor == "dask":
        processes = [_moo(["run", str(path), "--storage", url], folder)]
    else:
        create_study(validate_study_config(data, source=str(path)), storage=url)
        processes = [_moo(["resume", name, "--storage", url], folder) for _ in range(n_workers)]
    errors = [p.communicate()[1] for p in processes]
    wall = time.perf_counter() - started
    assert all(p.returncode == 0 for p in processes), errors
    study, _ = load_study(name, storage=url)
    trials = [t for t in study.get_trials() if t.state == TrialState.COMPLETE]
    first = min(t.datetime_start for t in trials)
    last = max(t.datetime_complete for t in trials)
    span = (last - first).total_seconds()
    return {
        "executor": executor,
        "workers": n_workers,
        "trials": len(trials),
        "per_hour": 3600 * len(trials) / span,
        "trial_s": statistics.median(
            (t.datetime_complete - t.datetime_start).total_seconds() for t in trials
        ),
        "propose_s": statistics.median(t.system_attrs["moo:propose_s"] for t in trials),
        "wall_s": wall,
        "killed": any("still alive after" in e for e in errors),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--trial-s", type=float, default=2.0)
    parser.add_argument("--storage", help="a PostgreSQL URL; default: a throw-away server")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    os.environ[ALLOW_ENV] = "objectives,tests.adapters"  # the sleeping test adapter
    command = "python -m experiments.benchmarks.dask_throughput " + " ".join(
        shlex.quote(a) for a in sys.argv[1:]
    )
    load = os.getloadavg()[0]
    rows = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        postgres() if args.storage is None else _given(args.storage) as url,
    ):
        for executor in ("plain", "dask"):
            for n_workers in (1, 2):
                row = run_row(url, Path(tmp), executor, n_workers, args)
                print(row, flush=True)
                rows.append(row)
    lines = [
        "# Dask workers vs plain moo processes on PostgreSQL",
        "",
        f"Command: `{command.strip()}`",
        "",
        f"{args.trials} BraninCurrin trials of {args.trial_s:g} s each, seed 0; load average "
        f"{load:.2f} at the start, {os.getloadavg()[0]:.2f} at the end "
        f"({os.cpu_count()} cores; a load above the workers' count means other processes "
        "shared them). Trials per hour from the storage's timestamps; 'x 1 worker' is "
        "the ratio to the same executor's 1-worker row of this run; 'killed' says whether "
        "Dask had to kill a worker process at shutdown.",
        "",
        "| executor | workers | trials | trials/hour | x 1 worker | median trial (s) | "
        "median proposal (s) | wall (s) | killed at shutdown |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        base = next(r for r in rows if r["executor"] == row["executor"] and r["workers"] == 1)
        lines.append(
            f"| {row['executor']} | {row['workers']} | {row['trials']} | {row['per_hour']:.0f} | "
            f"{row['per_hour'] / base['per_hour']:.2f} | {row['trial_s']:.2f} | "
            f"{row['propose_s']:.2f} | {row['wall_s']:.0f} | {'yes' if row['killed'] else 'no'} |"
        )
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


@contextmanager
def _given(url: str) -> Iterator[str]:
    yield url


if __name__ == "__main__":
    main()
