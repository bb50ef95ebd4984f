"""vineyard as the commands see it: one object says whether a vineyard is configured, whether
it answers, starts the embedded one where nothing is configured, connects, and reports status.
Below it: config (which socket), client (vineyard's C client, a bounded probe), daemon (starting
vineyardd) and embedded (the local daemon)."""

from ..errors import StepError
from . import embedded
from .client import answers, kind_of, try_connect
from .config import EMBEDDED, Endpoint, resolve


class Vineyard:
    def __init__(self, cli_socket: str | None = None):
        self.endpoint = resolve(cli_socket) or Endpoint(str(embedded.socket_path()), EMBEDDED)

    @property
    def configured(self) -> bool:
        return self.endpoint.configured

    @property
    def socket(self) -> str:
        return self.endpoint.socket

    def up(self) -> bool:
        """Whether it answers now (a bounded probe). Starts nothing."""
        return answers(self.socket)

    def connect(self, start: bool = False):
        """A client. Where nothing is configured, the embedded vineyardd is started first if
        `start` (a writer), else it must be running (a reader: a new one holds nothing)."""
        if not self.configured and start:
            embedded.ensure_running()
        elif not self.configured and not self.up():
            raise StepError(
                "no vineyard is configured and the embedded vineyardd is not running, so no "
                "split is in vineyard: run `preprocess --sink vineyard` first (it starts one), "
                "or set --vineyard-socket"
            )
        client = try_connect(self.socket)
        if client is None:
            raise StepError(
                f"no vineyard server answers on {self.socket} (from {self.endpoint.source}; "
                f"{kind_of(self.socket)}): start vineyardd there or fix the setting"
            )
        return client

    def ensure(self) -> str:
        """Its socket, once it answers: the embedded one is started if need be."""
        self.connect(start=True).close()
        return self.socket

    def status(self) -> dict:
        """The embedded vineyardd's state (running, socket, pid, memory in use and limit); {}
        where a vineyard is configured: that one is not this project's to report on."""
        return {} if self.configured else embedded.status()
