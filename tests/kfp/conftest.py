import sys
from pathlib import Path

# The helpers beside these tests (kfp_model), the Argo model they compare against, and the
# pipeline definitions themselves import as plain modules.
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for path in (HERE, ROOT / "tests" / "workflows", ROOT / "workflows" / "kfp"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
