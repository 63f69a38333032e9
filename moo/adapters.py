"""Which adapters a worker may load, and whether a search space suits the adapter.

An adapter is named by a dotted path (``objectives.tinyml:Classifier``) that moo imports
and calls: the path is code. Because the study config lives in the storage, whoever can
write a shared study could otherwise make every worker that resumes it run anything
(``os:system``). Workers therefore import only modules on an allow-list: ``objectives``
(moo's own adapters) by default, or the comma-separated module prefixes (or exact
``module:Class`` paths) of ``MOO_ADAPTER_ALLOW``; ``*`` allows all.
"""

from __future__ import annotations

import os
from typing import Any

from moo.errors import ConfigError
from moo.protocol import Domain
from moo.space import CategoricalParam, FloatParam, IntParam, OrdinalParam, SearchSpace

__all__ = ["ALLOW_ENV", "DEFAULT_ALLOWED", "allowed_adapters", "check_space", "domains"]

ALLOW_ENV = "MOO_ADAPTER_ALLOW"
DEFAULT_ALLOWED = ("objectives",)


def allowed_adapters() -> tuple[str, ...]:
    """The allow-list: ``MOO_ADAPTER_ALLOW`` if set, else ``DEFAULT_ALLOWED``."""
    raw = os.environ.get(ALLOW_ENV)
    if raw is None:
        return DEFAULT_ALLOWED
    return tuple(entry.strip() for entry in raw.split(",") if entry.strip())


def require_allowed(adapter: str, *, where: str) -> None:
    """Refuse, before importing anything, an adapter outside the allow-list."""
    module = adapter.split(":")[0]
    allowed = allowed_adapters()
    for entry in allowed:
        if entry == "*" or entry == adapter or module == entry or module.startswith(entry + "."):
            return
    raise ConfigError(
        f"{where}: {adapter!r} is not an allowed adapter (allowed: "
        f"{', '.join(allowed) or 'none'}); an operator who trusts module {module!r} adds it "
        f"to {ALLOW_ENV}."
    )


def domains(space: SearchSpace) -> dict[str, Domain]:
    """What each parameter of ``space`` can produce, for ``check_space``."""
    result = {}
    for name, p in space.parameters.items():
        if isinstance(p, CategoricalParam):
            result[name] = Domain(tuple(p.choices))
        elif isinstance(p, OrdinalParam):
            result[name] = Domain(tuple(p.values), min(p.values), max(p.values))
        elif isinstance(p, IntParam):
            listed = p.high - p.low < Domain.MAX_LISTED
            values = tuple(range(p.low, p.high + 1)) if listed else None
            result[name] = Domain(values, p.low, p.high)
        else:
            assert isinstance(p, FloatParam)
            grid = p.grid()  # listed when stepped, and few enough
            decoded = None if grid is None else tuple(p.decode(u) for u in grid)
            result[name] = Domain(decoded, p.low, p.high)
    return result


def check_space(adapter: Any, space: SearchSpace, *, source: str) -> None:
    """Refuse a space with values the adapter can never accept, one line per parameter.

    Adapters without the optional ``check_space`` hook are not checked.
    """
    hook = getattr(adapter, "check_space", None)
    if hook is None:
        return
    try:
        problems = hook(domains(space))
    except Exception as e:
        raise ConfigError(
            f"{source}: space: the adapter's check_space failed ({type(e).__name__}: {e})."
        ) from e
    if problems:
        raise ConfigError(
            "\n".join(
                f"{source}: space.parameters.{name}: {problem}"
                for name, problem in problems.items()
            )
        )
