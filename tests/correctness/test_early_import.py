"""Train imports scikit-learn on a thread beside its load: the import's module, its error, an exit
that does not wait for it, and the wait booked as start-up."""

import subprocess
import sys
import textwrap
import time

import pytest
from shmpipe_core.early_import import EarlyImport
from shmpipe_core.metrics import StepMetrics


@pytest.fixture
def modules(tmp_path, monkeypatch):
    """A directory on sys.path to write throwaway modules into."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(name: str, source: str) -> str:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        return name

    yield write
    for name in [m for m in sys.modules if m.startswith("early_import_probe")]:
        del sys.modules[name]


def test_the_module_is_imported_on_another_thread(modules):
    name = modules(
        "early_import_probe_thread",
        """
        import threading
        IMPORTED_BY = threading.current_thread()
        """,
    )
    module = EarlyImport(name).module()
    assert module is sys.modules[name]
    assert module.IMPORTED_BY is not __import__("threading").main_thread()


def test_an_import_error_is_raised_where_the_module_is_asked_for(modules):
    name = modules("early_import_probe_broken", "raise ValueError('broken on purpose')\n")
    pending = EarlyImport(name)
    with pytest.raises(ValueError, match="broken on purpose"):
        pending.module()


def test_a_step_that_fails_meanwhile_exits_without_waiting_for_the_import(modules, tmp_path):
    modules("early_import_probe_slow", "import time\ntime.sleep(600)\n")
    script = (
        "from shmpipe_core.early_import import EarlyImport\n"
        "EarlyImport('early_import_probe_slow')\n"
        "raise SystemExit(3)\n"
    )
    env_path = f"{tmp_path}:{':'.join(sys.path)}"
    done = subprocess.run([sys.executable, "-c", script], env={"PYTHONPATH": env_path}, timeout=120)
    assert done.returncode == 3


def test_the_wait_for_an_import_counts_as_start_up():
    metrics = StepMetrics.start("train", "nas", "r1")
    before = metrics.startup_s
    with metrics.startup_wait():
        time.sleep(0.05)
    assert metrics.startup_s >= before + 0.05
    assert metrics.phases == {}
