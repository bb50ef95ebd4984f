"""Memory sizes as vineyardd reads them: a number with an optional K, M, G or T suffix (with or
without a trailing 'i'), each a power of 1024 (vineyardd reads 64M and 64Mi alike as 64 MiB,
checked with `vineyard-local status`)."""

import re

_SIZE = re.compile(r"\s*(\d+)\s*([KMGT]?)i?\s*", re.IGNORECASE)
_POWER = {"": 0, "K": 1, "M": 2, "G": 3, "T": 4}


def parse_size(text: str) -> int | None:
    """Bytes, or None for a form this does not know (vineyardd itself judges those)."""
    match = _SIZE.fullmatch(str(text))
    if match is None:
        return None
    return int(match.group(1)) * 1024 ** _POWER[match.group(2).upper()]


def human(nbytes: int) -> str:
    return f"{nbytes / 2**30:.1f} GiB" if nbytes >= 2**30 else f"{nbytes / 2**20:.0f} MiB"
