"""Values written into SQL text, quoted so that they stay values.

DuckDB takes no parameters in ``COPY ... TO``, ``SET`` or a view's ``read_parquet`` glob, so paths
(``$SHOPPER_DATA_DIR`` is the operator's choice: it may hold a quote, a space or ``[``) and
configured strings go into the SQL text as literals built here, never pasted in raw. A standard SQL
string literal only needs its quotes doubled (DuckDB reads backslashes in it as plain characters).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from os import PathLike

_GLOB_SPECIAL = re.compile(r"([\[\]*?{}])")


def literal(value: str | PathLike) -> str:
    """A SQL string literal holding exactly ``value``."""
    text = str(value)
    if "\x00" in text:
        raise ValueError("a NUL character cannot be written into SQL text")
    return "'" + text.replace("'", "''") + "'"


def literal_list(values: Iterable[str]) -> str:
    """``('a', 'b')``: an IN list of string literals."""
    return "(" + ", ".join(literal(v) for v in values) + ")"


def glob_literal(folder: str | PathLike, pattern: str) -> str:
    """A literal for DuckDB's glob of ``pattern`` below ``folder``: the folder's own glob characters
    (``[ ] * ? { }``) are matched literally (each as a one-character class)."""
    return literal(_GLOB_SPECIAL.sub(r"[\1]", str(folder)) + "/" + pattern)
