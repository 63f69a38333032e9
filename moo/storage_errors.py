"""Storage failures as one line: which storage (password masked) and what went wrong.

SQLAlchemy, the database drivers and Optuna report a storage problem as a chain of
exceptions whose text holds SQL, a link and up to 150 lines of traceback. A user needs
the storage's URL without its password and the driver's own first line (``file is not a
database``, ``connection refused``, ``attempt to write a readonly database``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from optuna.exceptions import StorageInternalError
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from moo.errors import MooError, StorageError

__all__ = [
    "STORAGE_FAILURES",
    "parse_storage_url",
    "redact",
    "sqlite_path",
    "storage_cause",
    "storage_errors",
]

STORAGE_FAILURES = (SQLAlchemyError, StorageInternalError)
"""What the database layer raises when the storage itself fails."""

_POSTGRES_HINT = "pip install 'moo[postgres]' and use a postgresql+psycopg:// URL"
_EXAMPLES = "sqlite:///studies/<study>.db or postgresql+psycopg://user@host/db"


def parse_storage_url(url: str) -> URL:
    """``url`` parsed; anything else is a ``StorageError`` that shows it, password masked."""
    try:
        return make_url(url)
    except (ArgumentError, ValueError):
        masked = re.sub(r":[^:@/]*@", ":***@", url)
        raise StorageError(
            f"storage {masked!r} is not a SQLAlchemy URL; expected e.g. {_EXAMPLES}."
        ) from None


def redact(url: str) -> str:
    """The URL as it may be printed: its password replaced by ``***``."""
    parsed = parse_storage_url(url)
    return url if parsed.password is None else parsed.render_as_string(hide_password=True)


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLite URL (``file:`` URIs included); ``None`` in memory or elsewhere."""
    parsed = parse_storage_url(url)
    database = parsed.database
    if not parsed.drivername.startswith("sqlite") or database in (None, "", ":memory:"):
        return None
    if database.startswith("file:"):  # ``sqlite:///file:studies/s.db?mode=ro&uri=true``
        database = database.removeprefix("file:").split("?")[0]
    return Path(database)


def storage_cause(error: BaseException) -> str:
    """The driver's first line: the innermost cause, never SQL or a traceback."""
    while True:
        if isinstance(error, DBAPIError) and error.orig is not None:
            error = error.orig
        elif isinstance(error, StorageInternalError | ImportError) and error.__cause__:
            error = error.__cause__
        else:
            break
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


@contextmanager
def storage_errors(url: str, *, opening: bool = False) -> Iterator[None]:
    """Turn a failure of the storage at ``url`` into one ``StorageError`` line.

    With ``opening`` (around the code that creates the engine and the SQLite folder) an
    ``ImportError`` is a missing database driver, an ``OSError`` a folder that cannot be
    made and a ``RuntimeError`` Optuna's refusal of another version's table schema.
    """
    try:
        yield
    except MooError:
        raise
    except STORAGE_FAILURES as e:
        raise StorageError(f"storage {redact(url)}: {_masked(storage_cause(e), url)}.") from e
    except ImportError as e:
        if not opening:
            raise
        driver = parse_storage_url(url).drivername
        hint = _POSTGRES_HINT if driver.startswith("postgres") else f"install a driver for {driver}"
        raise StorageError(
            f"storage {redact(url)}: its database driver is not installed "
            f"({storage_cause(e)}); {hint}."
        ) from e
    except OSError as e:
        if not opening:
            raise
        raise StorageError(
            f"storage {redact(url)}: cannot create {e.filename or 'its folder'} ({e.strerror})."
        ) from e
    except RuntimeError as e:
        if not opening:
            raise
        raise StorageError(f"storage {redact(url)}: {storage_cause(e)}") from e


def _masked(text: str, url: str) -> str:
    """``text`` with the URL's password removed, should a driver ever echo it."""
    password = parse_storage_url(url).password
    return text.replace(str(password), "***") if password else text
