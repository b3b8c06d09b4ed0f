"""Dynamic batching: concurrent requests to one model gathered into one model call, off the event loop.

One :class:`Batcher` per model. A request puts its inputs in the model's queue with a key (its
options: only requests with the same key share a batch) and awaits its own results. The worker takes
the oldest request, then gathers the later ones of the same key, oldest first, until the batch holds
``max_batch`` inputs or ``max_wait`` has passed since that oldest request arrived; it runs the batch in
the model's one executor thread (so the event loop keeps accepting and the model never runs twice at
once) and hands each request back its own slice of the results, in order::

    queue:  [A: k1, 3 inputs] [B: k2, 1] [C: k1, 2] [D: k1, 4]      max_batch = 6
    batch:  A + C (5 inputs; D would pass 6)  ->  run(k1, a1 a2 a3 c1 c2)  ->  A gets r[0:3], C r[3:5]
    next:   B alone (k2), then D ...

A request bigger than ``max_batch`` runs alone, whole (its inputs are never split across calls). The
task's own ``predict`` sorts and buckets a batch by length where it batches so, so the batcher does
not. Bounded: a request that would take the queue past ``max_queue`` waiting inputs is refused at once
(:class:`QueueFull`, a 503 with Retry-After) instead of growing memory. A request whose client left is
dropped from the queue, or its results thrown away when it was already running.

A batch that fails is retried one request at a time, so one bad input fails its own request only.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("nlpseq.serve")

Run = Callable[[Hashable, list[Any]], list[Any]]  # (key, inputs) -> one result per input, in order


class QueueFull(Exception):
    """The model's queue is full: answered 503 with Retry-After."""


@dataclass
class _Request:
    key: Hashable
    inputs: list[Any]
    future: asyncio.Future
    arrived: float = field(default_factory=time.monotonic)


@dataclass
class BatchStats:
    """What the batcher did, for tests and ``/health``."""

    calls: int = 0  # model calls made
    inputs: int = 0  # inputs run
    requests: int = 0  # requests answered (results or an error)
    largest: int = 0  # most inputs in one call


class Batcher:
    """The queue and worker of one model; ``run`` is called in a thread, with one key per call."""

    def __init__(self, name: str, run: Run, max_batch: int, max_wait_s: float, max_queue: int):
        self.name, self.run = name, run
        self.max_batch, self.max_wait_s, self.max_queue = max_batch, max_wait_s, max_queue
        self.stats = BatchStats()
        self._queue: collections.deque[_Request] = collections.deque()
        self._waiting = 0  # inputs in the queue
        self._wake: asyncio.Event | None = None
        self._worker: asyncio.Task | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"nlpseq-{name}")
        self._busy = 0  # requests taken by the worker and not yet answered

    def start(self) -> None:
        """Start the worker on the running event loop (the app's startup)."""
        self._wake = asyncio.Event()
        self._worker = asyncio.get_running_loop().create_task(self._work(), name=f"batcher-{self.name}")

    async def stop(self) -> None:
        """Finish every queued request, then stop the worker and its thread (the app's shutdown)."""
        while self._queue or self._busy:
            await asyncio.sleep(0.01)
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        self._executor.shutdown(wait=True)

    @property
    def waiting(self) -> int:
        return self._waiting

    async def submit(self, key: Hashable, inputs: list[Any]) -> list[Any]:
        """Queue ``inputs`` under ``key`` and wait for their results (in order); QueueFull when the
        queue has no room; the model's exception when the request failed."""
        if self._wake is None:
            raise RuntimeError(f"batcher {self.name} is not started")
        if self._waiting + len(inputs) > self.max_queue and self._waiting > 0:
            raise QueueFull(f"model {self.name}: {self._waiting} inputs waiting (the queue holds "
                            f"{self.max_queue})")
        request = _Request(key, list(inputs), asyncio.get_running_loop().create_future())
        self._queue.append(request)
        self._waiting += len(request.inputs)
        self._wake.set()
        try:
            return await request.future
        except asyncio.CancelledError:  # the client left: its queued inputs stop counting
            if request in self._queue:
                self._queue.remove(request)
                self._waiting -= len(request.inputs)
            raise

    async def _work(self) -> None:
        assert self._wake is not None
        while True:
            while not self._queue:
                self._wake.clear()
                await self._wake.wait()
            batch = await self._gather()
            if batch:
                await self._run(batch)

    async def _gather(self) -> list[_Request]:
        """The next batch: the oldest live request and the later ones of its key, up to max_batch inputs,
        waiting until max_wait after the oldest arrived for the batch to fill."""
        assert self._wake is not None
        while self._queue and self._queue[0].future.done():  # cancelled while queued
            self._drop(self._queue[0])
        if not self._queue:
            return []
        first = self._queue[0]
        deadline = first.arrived + self.max_wait_s
        while self._fill(first.key) < self.max_batch and (left := deadline - time.monotonic()) > 0:
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), left)
            except asyncio.TimeoutError:
                break
        batch, size = [], 0
        for request in list(self._queue):
            if request.key != first.key or request.future.done():
                continue
            if batch and size + len(request.inputs) > self.max_batch:
                break
            batch.append(request)
            size += len(request.inputs)
        for request in batch:
            self._drop(request)
        self._busy += len(batch)
        return batch

    def _fill(self, key: Hashable) -> int:
        return sum(len(r.inputs) for r in self._queue if r.key == key and not r.future.done())

    def _drop(self, request: _Request) -> None:
        self._queue.remove(request)
        self._waiting -= len(request.inputs)

    async def _run(self, batch: list[_Request]) -> None:
        loop = asyncio.get_running_loop()
        inputs = [item for request in batch for item in request.inputs]
        try:
            try:
                results = await loop.run_in_executor(self._executor, self._call, batch[0].key, inputs)
            except Exception as error:
                if len(batch) == 1:
                    self._answer(batch[0], error=error)
                    return
                # One request's input may have broken the batch: each alone, so only it fails.
                for request in batch:
                    try:
                        alone = await loop.run_in_executor(self._executor, self._call, request.key,
                                                           request.inputs)
                    except Exception as single:
                        self._answer(request, error=single)
                    else:
                        self._answer(request, alone)
                return
            start = 0
            for request in batch:
                self._answer(request, results[start:start + len(request.inputs)])
                start += len(request.inputs)
        finally:
            self._busy -= len(batch)

    def _call(self, key: Hashable, inputs: list[Any]) -> list[Any]:
        results = self.run(key, inputs)
        if len(results) != len(inputs):
            raise RuntimeError(f"model {self.name}: {len(results)} results for {len(inputs)} inputs")
        self.stats.calls += 1
        self.stats.inputs += len(inputs)
        self.stats.largest = max(self.stats.largest, len(inputs))
        return results

    def _answer(self, request: _Request, results: list[Any] | None = None,
                error: BaseException | None = None) -> None:
        self.stats.requests += 1
        if request.future.done():  # the client left while its batch ran: nothing to deliver
            return
        if error is not None:
            request.future.set_exception(error)
        else:
            request.future.set_result(results)
