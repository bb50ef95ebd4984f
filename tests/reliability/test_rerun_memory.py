"""A vineyard rerun holds its new commit beside the run's current and previous ones: when that
does not fit, the out-of-memory message says the run's own commits hold the memory."""

from tests.support.processes import assert_one_line_error, run_cli
from tests.support.vineyard import memory_usage


def test_out_of_memory_on_a_rerun_names_the_runs_own_commits(data_dir, vineyardd):
    socket, _ = vineyardd(size="9Mi")  # room for two splits of M=1 (3.5 MB each), not three
    step = ["preprocess", "--sink", "vineyard", "--data-dir", data_dir, "--vineyard-socket",
            socket, "--run-id", "again"]  # fmt: skip
    used = memory_usage(socket)
    run_cli(*step)
    one = memory_usage(socket) - used
    run_cli(*step)  # the first rerun: the commit it replaced is kept
    assert memory_usage(socket) == used + 2 * one
    result = run_cli(*step, check=False)
    assert_one_line_error(
        result, 1, "out of shared memory", "run 'again''s own current and previous commits hold",
        "cleanup --run-id again",
    )  # fmt: skip
    assert memory_usage(socket) == used + 2 * one  # the failed rerun gave back what it took
