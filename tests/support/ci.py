"""Skip on a user's machine, fail in CI: CI must provide every prerequisite."""

import os

import pytest

IN_CI = os.environ.get("SHMPIPE_CI") == "1"


def require(condition: bool, reason: str) -> None:
    """Skip on a user's machine; in CI a missing prerequisite is a failure, never a skip."""
    if not condition:
        if IN_CI:
            pytest.fail(f"CI must provide this: {reason}")
        pytest.skip(reason)
