"""Memory and disk sizes: reading them as vineyardd does, and printing them for people.

vineyardd reads K, M, G, T, P or E (with or without `i`) as powers of 1024, and anything else as
"all of memory" (packages/core/NOTES.md, vineyardd): `check_size` refuses that first.
"""

import os
import re
from decimal import Decimal

from .errors import StepError

_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([KMGTPE]?)i?\s*", re.IGNORECASE)
_POWER = {"": 0, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def parse_size(text: str) -> int | None:
    """Bytes, or None for text that is not a size."""
    match = _SIZE.fullmatch(str(text))
    if match is None:
        return None
    # Decimal, not float: a number of any length stays a number (float makes 400 digits inf).
    return int(Decimal(match.group(1)) * 1024 ** _POWER[match.group(2).upper()])


def machine_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_size(text: str, source: str, error: type[StepError] = StepError) -> int:
    """The size in bytes, or `error` saying what is wrong with `source`'s value: not a size, or
    more than the machine's memory (vineyardd, past 64 bits, takes all of it)."""
    nbytes = parse_size(text)
    if nbytes is None or nbytes <= 0:
        raise error(
            f"{source} is {str(text)!r}, not a memory size: give a positive number of bytes "
            "with an optional K, M, G or T suffix, such as 512Mi or 8Gi"
        )
    total = machine_memory()
    if nbytes > total:
        raise error(
            f"{source} is {str(text)!r}, more than this machine's {human(total)} of memory: "
            f"give at most {human(total)}, such as 512Mi or 8Gi"
        )
    return nbytes


def human(nbytes: float) -> str:
    """`nbytes` in the largest binary unit that keeps the number at least 1: 512 KiB, 3.4 MiB,
    35 MiB, 1.5 GiB (one decimal below 10, so small sizes do not print as 0)."""
    value, unit = float(nbytes), 0
    while abs(value) >= 1024 and unit < len(_UNITS) - 1:
        value, unit = value / 1024, unit + 1
    if unit == 0:
        return f"{int(nbytes)} B"
    return f"{value:.1f} {_UNITS[unit]}" if abs(value) < 10 else f"{value:.0f} {_UNITS[unit]}"
