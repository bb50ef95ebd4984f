import os
import sys
from pathlib import Path

import pytest

# The helpers beside these tests (argo_model) import as plain modules.
sys.path.insert(0, str(Path(__file__).parent))

from argo_model import ROOT  # noqa: E402

from tests.support.ci import require  # noqa: E402

SCHEMA_DIR = Path(os.environ.get("SHMPIPE_SCHEMA_DIR") or ROOT.parent / "shared" / "schemas")


@pytest.fixture(scope="session")
def schema_dir() -> Path:
    """The published schemas (Argo, Fluid CRDs). Developers' and CI machines have them beside the
    checkout; users do not, so there the tests skip, but in CI a missing schema is an error."""
    if not SCHEMA_DIR.is_dir():
        require(False, f"schemas not found at {SCHEMA_DIR} (set SHMPIPE_SCHEMA_DIR to them)")
    return SCHEMA_DIR
