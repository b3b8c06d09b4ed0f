"""The server's settings: one typed dataclass, filled from ``nlpseq serve`` flags (or by a test)."""

from __future__ import annotations

from dataclasses import dataclass

from nlpseq.errors import ConfigError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class ServeConfig:
    """How the server listens, batches and refuses. Every limit answers a client with one line, never
    lets memory grow: a request past a cap is refused before any model work is queued."""

    host: str = "127.0.0.1"  # loopback by default: serving to a network is asked for, never a surprise
    port: int = 8080  # TCP port; 0 picks a free one (tests)
    max_batch: int = 32  # most inputs run together in one model call (1: no dynamic batching)
    max_wait_ms: float = 5.0  # how long the first queued input waits for company before its batch runs
    workers: int = 1  # processes behind the one port (uvicorn's process manager); each loads every model
    max_queue: int = 1024  # inputs waiting per model; past it a request gets 503 with Retry-After
    retry_after_s: int = 1  # the Retry-After a 503 carries, in seconds
    max_body_bytes: int = 1_000_000  # largest request body (a 1 MB input is refused with 413)
    max_inputs: int = 256  # most inputs (or prompts) in one request (10,000 is refused with 413)
    max_input_chars: int = 20_000  # longest single input text, in characters (413 beyond)
    max_new_tokens: int = 512  # most tokens a generate request may ask per continuation (its max_new_tokens)
    access_log: bool = True  # one line per request with method, path, status and latency (ms)

    def __post_init__(self) -> None:
        for name in ("max_batch", "workers", "max_queue", "max_body_bytes", "max_inputs",
                     "max_input_chars", "max_new_tokens"):
            if getattr(self, name) < 1:
                raise ConfigError(f"serve: {name} must be at least 1, got {getattr(self, name)}")
        if self.max_wait_ms < 0:
            raise ConfigError(f"serve: max_wait_ms must be >= 0, got {self.max_wait_ms}")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"serve: port must be in 0..65535, got {self.port}")
        if self.max_queue < self.max_batch:
            raise ConfigError(f"serve: max_queue ({self.max_queue}) must be at least max_batch "
                              f"({self.max_batch})")

    @property
    def loopback(self) -> bool:
        """Whether only this machine can reach the server."""
        return self.host in LOOPBACK
