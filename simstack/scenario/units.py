"""Parsing of the unit strings scenarios use for sizes, times and rates.

Every parser takes what YAML produced (an int, a float or a string) and returns the
value in base units: bytes (``int``), seconds (``float``) or events per second
(``float``).  Bare numbers are already in base units.  Invalid input raises
``ValueError`` whose message says what was expected and what was given; the
scenario loader reports that message at the field's line and column.

>>> parse_size("2KiB"), parse_size("2KB"), parse_time("1.5ms"), parse_rate("50/ms")
(2048, 2000, 0.0015, 50000.0)
"""
from __future__ import annotations

import math
import re
import reprlib
from fractions import Fraction

SIZE_UNITS = {"B": 1, "KB": 10**3, "KiB": 2**10, "MB": 10**6, "MiB": 2**20, "GB": 10**9, "GiB": 2**30}
# seconds per unit, as exact fractions: '10us' gives the float nearest 1e-5, not 10 * 1e-6
TIME_UNITS = {"ns": Fraction(1, 10**9), "us": Fraction(1, 10**6), "µs": Fraction(1, 10**6),
              "μs": Fraction(1, 10**6), "ms": Fraction(1, 1000), "s": Fraction(1), "min": Fraction(60)}

NUMBER = r"[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]{1,3})?|\.[0-9]+(?:[eE][+-]?[0-9]{1,3})?"
_QUANTITY = re.compile(rf"\s*({NUMBER})\s*([A-Za-zµμ]*)\s*")

SIZE_HELP = "a size such as 2KiB or 2048 (bytes; units B, KB, KiB, MB, MiB, GB, GiB)"
TIME_HELP = "a time such as 1.5ms or 0.2 (seconds; units ns, us, ms, s, min)"
RATE_HELP = "a rate such as 1000/s or 50/ms (a bare number is per second)"
BYTE_RATE_HELP = "a byte rate such as 10MiB/s or 1048576 (bytes per second)"
# the largest size a scenario may give: a 48-bit address space (stacks, frames and caches
# beyond it cannot exist, and every size times the growth factor must still fit an int64)
MAX_SIZE = 2**48


_SHOWN = reprlib.Repr()
_SHOWN.maxlist = _SHOWN.maxtuple = _SHOWN.maxdict = _SHOWN.maxset = 6
_SHOWN.maxstring = _SHOWN.maxother = 80
_SHOWN.maxlevel = 3


def shown(v: object) -> str:
    """``repr(v)`` cut short for error messages: a 10,000-value list is not echoed whole."""
    text = _SHOWN.repr(v)
    if isinstance(v, (list, tuple, dict)) and len(v) > _SHOWN.maxlist:
        text += f" ({len(v):,} {'entries' if isinstance(v, dict) else 'values'})"
    return text


def _got(v: object) -> str:
    return f"got {shown(v)}"


def _float(q: Fraction, v: object, help_: str) -> float:
    """``q`` as a float; values too large for one are rejected like any other bad input."""
    try:
        return float(q)
    except OverflowError:
        raise ValueError(f"expected {help_}, {_got(v)} (too large)") from None


def _quantity(v: object, units: dict, help_: str) -> Fraction:
    """The exact non-negative value, in base units, of a number or a '<number><unit>' string."""
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise ValueError(f"expected {help_}, {_got(v)}")
    if isinstance(v, str):
        m = _QUANTITY.fullmatch(v)
        if not m or (m.group(2) and m.group(2) not in units):
            raise ValueError(f"expected {help_}, {_got(v)}")
        return Fraction(m.group(1)) * Fraction(units.get(m.group(2), 1))
    if (isinstance(v, float) and not math.isfinite(v)) or v < 0:
        raise ValueError(f"expected {help_}, {_got(v)}")
    return Fraction(v)


def parse_size(v: object) -> int:
    """Bytes from an int or a string like '88B', '2KiB', '1.5MiB' (must come to whole bytes)."""
    n = _quantity(v, SIZE_UNITS, SIZE_HELP)
    if n.denominator != 1:
        raise ValueError(f"expected {SIZE_HELP} that comes to whole bytes, {_got(v)}")
    if n > MAX_SIZE:
        raise ValueError(f"expected a size of at most 2^48 bytes (256 TiB, a 48-bit address space), {_got(v)}")
    return int(n)


def parse_time(v: object) -> float:
    """Seconds from a number or a string like '500ns', '10us', '1.5ms', '2s', '1min'."""
    return _float(_quantity(v, TIME_UNITS, TIME_HELP), v, TIME_HELP)


def _per(v: object, units: dict, help_: str) -> float:
    """'<amount>/<time unit>' or a bare amount, per second."""
    amount, unit = v.split("/", 1) if isinstance(v, str) and "/" in v else (v, "s")
    try:
        if unit.strip() not in TIME_UNITS:
            raise ValueError
        return _float(_quantity(amount, units, help_) / TIME_UNITS[unit.strip()], v, help_)
    except ValueError:
        raise ValueError(f"expected {help_}, {_got(v)}") from None


def parse_rate(v: object) -> float:
    """Events per second from '1000/s', '50/ms', '3/us', '60/min' or a bare number."""
    return _per(v, {}, RATE_HELP)


def parse_byte_rate(v: object) -> float:
    """Bytes per second from '10MiB/s', '1MB/ms' or a bare number of bytes per second."""
    return _per(v, SIZE_UNITS, BYTE_RATE_HELP)
