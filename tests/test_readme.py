"""The README's commands run as printed: two commands first, then ``.venv/bin/moo`` ones
that the CLI accepts, on files that exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import typer.main

from moo.cli import app

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
BLOCKS = re.findall(r"```bash\n(.*?)```", README, flags=re.S)


def _commands(block: str) -> list[list[str]]:
    lines = [line for line in block.splitlines() if line.strip()]
    return [shlex.split(line, comments=True) for line in lines if shlex.split(line, comments=True)]


def test_the_readme_starts_with_install_and_run_then_the_tests() -> None:
    assert README.index("```bash") < README.index("\n## ")  # before any section
    first = _commands(BLOCKS[0])
    assert len(first) == 2
    install, tests = first
    assert "torch==2.13.0" in install and install[-3:] == [
        ".venv/bin/moo",
        "run",
        "experiments/quickstart.yaml",
    ]
    assert " ".join(tests) in (REPO / ".ci" / "run").read_text()  # CI runs the same


def test_every_later_moo_command_parses_and_its_files_exist() -> None:
    cli = typer.main.get_command(app)
    seen = set()
    for block in BLOCKS[1:]:
        for words in _commands(block):
            if "moo" in words[0] and words[0] != ".venv/bin/moo":
                raise AssertionError(f"{words}: bare `moo` is not on PATH after the install")
            if words[0] != ".venv/bin/moo":
                continue
            command = cli.commands[words[1]]  # KeyError: no such command
            context = command.make_context(words[1], words[2:])  # raises on a bad option
            seen.add(words[1])
            for value in context.params.values():
                if isinstance(value, Path) and value.suffix == ".yaml" and words[1] == "run":
                    assert (REPO / value).is_file(), value
    assert {"run", "recommend", "report", "export", "pareto"} <= seen
