"""Seconds to the first BO proposal of a fresh process, and what BoTorch's fused kernel buys.

Usage::

    python -m experiments.benchmarks.first_proposal
    python -m experiments.benchmarks.first_proposal --python /tmp/fresh/bin/python

BoTorch 0.18 JIT-compiles a fused qLogEHVI C++ kernel the first time a process builds a
qLog(N)EHVI; moo keeps it on its pure-PyTorch path (``moo.bo.acquisitions``). Each row below is
a new interpreter (torch at 2 threads, moo's proposals at one), with its own empty
``TORCH_EXTENSIONS_DIR`` (what a fresh install has): it imports moo, runs a seeded
BraninCurrin study to its first BO proposal (6 Sobol trials) and three more. ``--python``
adds the rows of another interpreter (a venv made from scratch with the README's first
command, whose caches are all cold). "BoTorch default" re-enables the JIT compile in the
child, once with the empty cache and once with the kernel built by that run.

The second table scores the same 512 candidates with the fused and the PyTorch kernel
(forward and backward, 3 objectives, 64 MC samples), on qLogNEHVI at 20 observations and
qLogEHVI at 40 (the path moo takes past 32). Writes ``results/first_proposal.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "first_proposal.md"
REPO = Path(__file__).resolve().parents[2]
_N_INITIAL = 6
_THREADS = 2


def _child_study(jit: bool) -> dict[str, object]:
    """The child's work: a study up to its 4th BO proposal; propose seconds per trial."""
    started = time.perf_counter()
    import botorch.acquisition.multi_objective.logei as logei
    import optuna
    import torch

    from moo.sampler import QNEHVISampler
    from moo.space import SearchSpace
    from objectives.protocol import EvalContext
    from objectives.synthetic import SyntheticProblem

    torch.set_num_threads(_THREADS)
    if jit:
        logei._load_attempted = False  # BoTorch's own behaviour: compile on first use
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = SearchSpace.from_dict(
        {"parameters": {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(2)}}
    )
    problem = SyntheticProblem(problem="branin_currin")
    context = EvalContext(seed=0, workdir=Path("."))
    sampler = QNEHVISampler(search_space=space, seed=0, n_initial=_N_INITIAL)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)

    def objective(trial: optuna.Trial) -> list[float]:
        return list(problem.evaluate(space.suggest(trial), context).metrics.values())

    study.optimize(objective, n_trials=_N_INITIAL + 1)
    to_first_bo = time.perf_counter() - started
    study.optimize(objective, n_trials=3)
    seconds = [t.system_attrs["moo:propose_s"] for t in study.trials[_N_INITIAL:]]
    return {
        "to_first_bo_s": to_first_bo,
        "first_bo_s": seconds[0],
        "next_bo_s": sum(seconds[1:]) / 3,
        "kernel": logei._C is not None,
    }


def _child_kernels() -> dict[str, object]:
    """Fused vs PyTorch kernel on the same acquisition and candidates."""
    import botorch.acquisition.multi_objective.logei as logei
    import torch
    from botorch.test_functions.multi_objective import DTLZ2

    from moo.bo import ProposalProblem, build_acquisition, fit_model

    torch.set_num_threads(_THREADS)
    logei._load_attempted = False
    logei._try_load_fused_kernel()
    fused = logei._C
    generator = torch.Generator().manual_seed(0)
    rows = []
    for n in (20, 40):
        X = torch.rand(n, 4, generator=generator, dtype=torch.double)
        problem = ProposalProblem(
            X=X, Y=-DTLZ2(dim=4, num_objectives=3)(X), bounds=torch.tensor([[0.0] * 4, [1.0] * 4])
        )
        model, order = fit_model(problem)
        acqf = build_acquisition("qlognehvi", model, order, problem, seed=0)
        candidates = torch.rand(512, 1, 4, generator=generator, dtype=torch.double)
        result: dict[str, object] = {"n": n, "acquisition": type(acqf).__name__}
        values = {}
        for name, kernel in (("fused", fused), ("pytorch", None)):
            logei._C = kernel
            X_c = candidates.clone().requires_grad_(True)
            started = time.perf_counter()
            for _ in range(5):
                value = acqf(X_c)
                value.sum().backward()
            result[f"{name}_s"] = (time.perf_counter() - started) / 5
            values[name] = value.detach()
        result["max_abs_diff"] = float((values["fused"] - values["pytorch"]).abs().max())
        rows.append(result)
    return {"rows": rows, "kernel_built": fused is not None}


def _run_child(python: str, mode: str, extensions: Path) -> dict[str, object]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "TORCH_EXTENSIONS_DIR": str(extensions),
        "OMP_NUM_THREADS": str(_THREADS),
    }
    started = time.perf_counter()
    out = subprocess.run(
        [python, "-m", "experiments.benchmarks.first_proposal", "--child", mode],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", action="append", default=[], help="another interpreter")
    parser.add_argument("--child", choices=["moo", "jit", "kernels"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = _child_kernels() if args.child == "kernels" else _child_study(args.child == "jit")
        print(json.dumps(result))
        return

    load = os.getloadavg()
    lines = [
        "# First BO proposal of a fresh process",
        "",
        "Command: `"
        + " ".join(
            ["python -m experiments.benchmarks.first_proposal"]
            + [f"--python {shlex.quote(p)}" for p in args.python]
        )
        + "`",
        "",
        f"Load average at the start: {load[0]:.2f} (2-core machine shared with 3 other "
        "engineers). Seconds of wall time. 'To first BO' runs from the first import (torch, "
        "BoTorch, moo) to the end of the first BO proposal (after 6 Sobol trials); "
        "'process' is the whole child, 10 trials.",
        "",
        "| interpreter | hypervolume kernel | to first BO (s) | first BO proposal (s) | "
        "next 3 BO, mean (s) | process (s) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        runs = [(p, "moo", Path(tmp) / f"ext{i}") for i, p in enumerate(args.python)]
        shared = Path(tmp) / "ext-shared"
        runs += [(sys.executable, "moo", shared), (sys.executable, "jit", shared)]
        runs += [(sys.executable, "jit", shared)]  # the kernel is built now: the cached load
        labels = {"moo": "PyTorch (moo)", "jit": "fused, JIT-compiled (BoTorch default)"}
        seen_jit = False
        for python, mode, extensions in runs:
            result = _run_child(python, mode, extensions)
            label = labels[mode]
            if mode == "jit":
                label += ", kernel cached" if seen_jit else ", empty cache"
                seen_jit = True
            row = (
                f"| `{python}` | {label} | {result['to_first_bo_s']:.1f} | "
                f"{result['first_bo_s']:.1f} | {result['next_bo_s']:.2f} | "
                f"{result['process_s']:.1f} |"
            )
            print(row, flush=True)
            lines.append(row)
        kernels = _run_child(sys.executable, "kernels", shared)
    lines += [
        "",
        "## Fused vs PyTorch kernel, same acquisition, 512 candidates (forward + backward)",
        "",
        "| observations | acquisition | fused (s) | PyTorch (s) | max abs difference |",
        "|---:|---|---:|---:|---:|",
    ]
    for row in kernels["rows"]:  # type: ignore[union-attr]
        line = (
            f"| {row['n']} | {row['acquisition']} | {row['fused_s']:.3f} | "
            f"{row['pytorch_s']:.3f} | {row['max_abs_diff']:.1e} |"
        )
        print(line, flush=True)
        lines.append(line)
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
