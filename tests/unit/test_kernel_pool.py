"""The kernel pool's slots (`grading.KernelPool`): the batch keeps more notebooks in flight
than kernels (`LocalGrading.in_flight`), so the pool alone bounds how many notebooks run in
kernels at once. A slot is held from `acquire` to `release`, and is given back when a kernel
cannot be had, so a failure never shrinks the pool."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from grader.batch import LocalGrading
from grader.grading import KernelPool


class FakeBackend:
    def __init__(self, failures: int = 0) -> None:
        self.started = 0
        self.failures = failures

    async def start_kernel(self, scratch: str) -> str:
        await asyncio.sleep(0.001)
        self.started += 1
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("no kernel")
        return f"kernel in {scratch}"


class FakeGrader:
    def __init__(self, backend: FakeBackend) -> None:
        self.backend = backend
        self._names = itertools.count()

    def start(self) -> FakeGrader:
        return self

    def new_scratch(self) -> str:
        return f"scratch{next(self._names)}"


async def _close(pool: KernelPool) -> None:
    for task in pool._booting:
        task.cancel()
    await asyncio.gather(*pool._booting, return_exceptions=True)


@pytest.mark.parametrize("size", [1, 2, 3])
def test_no_more_kernels_in_use_than_slots_however_many_notebooks_wait(size):
    async def main() -> tuple[int, int]:
        pool = KernelPool(FakeGrader(FakeBackend()), size)  # type: ignore[arg-type]
        in_use = [0, 0]  # now, most

        async def notebook() -> None:
            await pool.acquire()
            in_use[0] += 1
            in_use[1] = max(in_use[1], in_use[0])
            await asyncio.sleep(0.003)
            in_use[0] -= 1
            pool.release()

        await asyncio.wait_for(asyncio.gather(*(notebook() for _ in range(4 * size + 1))), 30)
        await _close(pool)
        return in_use[0], in_use[1]

    now, most = asyncio.run(main())
    assert now == 0
    assert most == size


def test_a_kernel_that_cannot_be_started_gives_its_slot_back():
    async def main() -> list[str]:
        pool = KernelPool(FakeGrader(FakeBackend(failures=1)), 1)  # type: ignore[arg-type]
        with pytest.raises(RuntimeError, match="no kernel"):
            await pool.acquire()
        got = []
        for _ in range(3):  # with one slot, a slot lost to the failure would hang here
            got.append(await asyncio.wait_for(pool.acquire(), 10))
            pool.release()
        await _close(pool)
        return got

    assert len(asyncio.run(main())) == 3


def test_a_notebook_cancelled_while_it_waits_for_a_slot_takes_none():
    async def main() -> str:
        pool = KernelPool(FakeGrader(FakeBackend()), 1)  # type: ignore[arg-type]
        await pool.acquire()  # the only slot, held
        waiting = asyncio.ensure_future(pool.acquire())
        await asyncio.sleep(0.01)
        assert not waiting.done()
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        pool.release()
        kernel = await asyncio.wait_for(pool.acquire(), 10)
        pool.release()
        await _close(pool)
        return kernel

    assert asyncio.run(main()).startswith("kernel in scratch")


@pytest.mark.parametrize("jobs", [1, 2, 5])
def test_the_batch_keeps_more_notebooks_in_flight_than_kernels(jobs):
    grading = LocalGrading(grader=None, rubric=None, jobs=jobs)  # type: ignore[arg-type]
    assert grading.in_flight > jobs
