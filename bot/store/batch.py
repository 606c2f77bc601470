"""Group commit: callers that write at the same moment share one transaction, run off the loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Batcher(Generic[Item, Result]):
    """`await batcher(item)`: items that arrive while a write is running go in the next one.

    `write(items)` runs in a thread, in one transaction, and returns one result per item; if it
    raises, every caller in that batch gets the exception (nothing of theirs was written).
    The first caller never waits for company: under load batches form by themselves.
    """

    def __init__(
        self,
        write: Callable[[Sequence[Item]], Sequence[Result]],
        executor: Executor | None = None,
    ) -> None:
        self.write = write
        self.executor = executor
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._idle: asyncio.Event | None = None

    @property
    def busy(self) -> bool:
        """True while items wait or a write runs."""
        return bool(self._waiting) or (self._writer is not None and not self._writer.done())

    async def quiet(self, at_most: float) -> None:
        """Let the write that is waiting or running go first (at most `at_most` seconds).

        One batch, not all of them: under a steady stream of writes, whoever yields still
        gets its turn between two batches.
        """
        if not self.busy:
            return
        if self._idle is None:
            self._idle = asyncio.Event()
        self._idle.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), at_most)

    async def __call__(self, item: Item) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._run())
        return await future

    async def _run(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                results = await asyncio.get_running_loop().run_in_executor(
                    self.executor, self.write, [item for item, _ in batch]
                )
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            finally:
                if self._idle is not None:
                    self._idle.set()  # a batch is written: whoever was waiting may go
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
