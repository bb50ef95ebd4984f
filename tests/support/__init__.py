"""What the tests share: running the real commands, real vineyardd instances, the step table,
the seed's reference result, and skip-or-fail for prerequisites. Tests import from here, never
from a conftest."""
