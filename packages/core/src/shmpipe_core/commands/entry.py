"""The core's console scripts, each importing its command only inside `launch` (see there)."""

from ..launch import launch


def prepare_data() -> int:
    return launch("shmpipe_core.commands.prepare_data")


def cleanup() -> int:
    return launch("shmpipe_core.commands.cleanup")


def runs() -> int:
    return launch("shmpipe_core.commands.runs")


def vineyard_local() -> int:
    return launch("shmpipe_core.commands.vineyard_local")
