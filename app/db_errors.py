"""What a database error means for the client: the database is unreachable for now (503,
try again), or a value cannot be stored (422 naming the column), or a bug (500).

Also the last guard before the driver: a bound value PostgreSQL would refuse (NUL, a lone
surrogate, an integer beyond its column) stops here with the column's name instead of the
driver's message, which quotes the value."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import types

from app.inputs import check_value, text_problem

# SQLSTATEs that say "not now" rather than "never": the connection (08), the server shutting
# down or starting up (57P01-57P03), out of connections or memory (53), and lost races
# (serialization failure, deadlock) that succeed when retried.
_UNAVAILABLE_STATES = ("08", "57P01", "57P02", "57P03", "53", "40001", "40P01")
_INT_BITS = ((types.SmallInteger, 16), (types.BigInteger, 64), (types.Integer, 32))
_SUFFIX = re.compile(r"_\d+$")
_DRIVERS = ("asyncpg", "sqlalchemy", "sqlite3", "aiosqlite")


class UnstorableValue(ValueError):
    """A bound value the database cannot store. Names the column, never the value."""

    def __init__(self, column: str, kind: str) -> None:
        super().__init__(f"{column}: {kind}")
        self.column = column
        self.kind = kind


def check_parameters(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    """before_cursor_execute: refuse unstorable values, naming the column they were bound to.
    Reads the values by bind name, before type processing (so JSON is still a document), for
    every row of an executemany or a multi-row INSERT."""
    compiled = getattr(context, "compiled", None)
    rows = getattr(context, "compiled_parameters", None)
    if compiled is None or not rows:
        return
    for row in rows:
        for name, value in row.items():
            if kind := _value_problem(compiled, name, value):
                raise UnstorableValue(_SUFFIX.sub("", name), kind)


def _value_problem(compiled: Any, name: str, value: Any) -> str | None:
    if isinstance(value, str):
        return text_problem(value)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return _int_problem(compiled, name, value)
    if isinstance(value, dict | list | tuple):  # JSON documents, expanding IN lists
        if isinstance(_bind_type(compiled, name), types.JSON):
            bad = check_value(value, max_depth=None)
            return bad.type if bad else None
        return next(
            (k for v in value if (k := _value_problem(compiled, name, v)) is not None), None
        )
    return None


def _bind_type(compiled: Any, name: str) -> Any:
    bind = compiled.binds.get(name)
    return None if bind is None else bind.type


def _int_problem(compiled: Any, name: str, value: int) -> str | None:
    bind_type = _bind_type(compiled, name)
    bits = next((b for cls, b in _INT_BITS if isinstance(bind_type, cls)), 64)
    limit = 1 << (bits - 1)
    return None if -limit <= value < limit else "integer_out_of_range"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what SQLAlchemy wrapped (`orig`) and what each was raised from. Only
    for errors of the database layer: an HTTP client's error also has an OSError as cause."""
    item: BaseException | None = exc
    seen: set[int] = set()
    while item is not None and id(item) not in seen and _is_database_layer(item):
        seen.add(id(item))
        yield item
        item = getattr(item, "orig", None) or item.__cause__


def _is_database_layer(exc: BaseException) -> bool:
    if isinstance(exc, sa_exc.SQLAlchemyError | UnstorableValue):
        return True
    if type(exc).__module__.startswith(_DRIVERS):
        return True
    # An OSError or a timeout counts only when the driver raised it (a refused or reset
    # connection); a time zone name too long for a file name is an OSError too.
    return isinstance(exc, OSError | TimeoutError) and _raised_by_driver(exc)


def _raised_by_driver(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__", "").startswith(_DRIVERS):
            return True
        tb = tb.tb_next
    return False


def _sqlstate(exc: BaseException) -> str:
    state = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    return state if isinstance(state, str) else ""


def is_unavailable(exc: BaseException) -> bool:
    """The database cannot be reached or is not serving now; the same request may work later."""
    for item in _chain(exc):
        if isinstance(item, sa_exc.DBAPIError) and item.connection_invalidated:
            return True
        # Pool checkout timeout, the driver's connect timeout, refused or reset connections.
        if isinstance(item, sa_exc.TimeoutError | TimeoutError | OSError):
            return True
        if _sqlstate(item).startswith(_UNAVAILABLE_STATES):
            return True
        if "connection is closed" in str(item) and "InterfaceError" in type(item).__name__:
            return True
    return False


def _database_error(exc: BaseException) -> BaseException | None:
    """The driver's own exception (asyncpg's carries the SQLSTATE and the names involved)."""
    found = None
    for item in _chain(exc):
        if _sqlstate(item):
            found = item
    return found


def unstorable(exc: BaseException) -> UnstorableValue | None:
    """The value problem behind `exc`: our own guard's, or the database's data exception."""
    for item in _chain(exc):
        if isinstance(item, UnstorableValue):
            return item
    db = _database_error(exc)
    if db is not None and _sqlstate(db).startswith("22"):  # data exception: a value, not the SQL
        return UnstorableValue(getattr(db, "column_name", None) or "value", type(db).__name__)
    return None


def describe(exc: BaseException) -> str:
    """A failure for an admin to read: the error's kind and the column, table or constraint it
    names; never the SQL statement or a value (driver messages and DETAIL lines quote values)."""
    own = next((i for i in _chain(exc) if isinstance(i, UnstorableValue)), None)
    if own is not None:
        return f"column {own.column} cannot store this value ({own.kind})"
    db = _database_error(exc)
    if db is None:
        if isinstance(exc, sa_exc.SQLAlchemyError):
            return type(exc).__name__
        return f"{type(exc).__name__}: {exc}"[:2000]
    where = [
        f"{label} {value}"
        for label in ("table", "column", "constraint")
        if (value := getattr(db, f"{label}_name", None))
    ]
    return f"{type(db).__name__} (SQLSTATE {_sqlstate(db)})" + (
        f" on {', '.join(where)}" if where else ""
    )
