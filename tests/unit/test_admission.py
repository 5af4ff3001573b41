"""The admission interceptor: at most `limit` calls at work, the rest wait in arrival order."""

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from services.runtime.interceptors.admission import AdmissionInterceptor


async def test_at_most_limit_calls_run_and_the_rest_wait_in_order():
    registry = CollectorRegistry()
    admission = AdmissionInterceptor(2, registry)
    running, peak, started = 0, 0, []

    async def call(request, context):
        nonlocal running, peak
        started.append(request)
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        return request

    results = await asyncio.gather(*(admission.around("/m", call, n, None) for n in range(8)))
    assert results == list(range(8))
    assert peak == 2
    assert started == list(range(8))  # first come, first served
    assert registry.get_sample_value("studysync_rpc_waiting") == 0


async def test_a_call_cancelled_while_waiting_or_working_gives_its_slot_back():
    admission = AdmissionInterceptor(1, CollectorRegistry())
    gate = asyncio.Event()

    async def blocked(request, context):
        await gate.wait()

    async def quick(request, context):
        return request

    working = asyncio.create_task(admission.around("/m", blocked, 0, None))
    waiting = asyncio.create_task(admission.around("/m", quick, 1, None))
    await asyncio.sleep(0.01)
    waiting.cancel()
    working.cancel()
    for task in (working, waiting):
        with pytest.raises(asyncio.CancelledError):
            await task
    assert await asyncio.wait_for(admission.around("/m", quick, 2, None), timeout=1) == 2
