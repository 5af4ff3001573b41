"""Faults from outside, as tests: processes killed, responses lost after commit, Redis stopped, flushed
and frozen, PostgreSQL connections terminated, identical batches racing. After each: every item the
clients sent is stored exactly once, re-sends are `duplicate` with the original ids, and no answer
was a 500."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Callable

import httpx
import pytest

from devstack.stack import Stack, free_port
from tests.faults.conftest import (
    Counts,
    PrivateRedis,
    progress_item,
    send,
    stored_attempts,
    stored_progress,
    sync_attempt,
    terminate_backends,
)
from tests.helpers import metric_value, wait_until

pytestmark = pytest.mark.faults


class Device:
    """One client: a user with one profile, sending progress and attempt batches and keeping every
    server id it was given, per key (two different ids for one key would be a double store)."""

    def __init__(self, stack: Stack, questions: list[str], base_url: str | None = None) -> None:
        self.user = f"fault-{uuid.uuid4().hex[:10]}"
        self.profile = f"{self.user}-kid"
        self.headers = {"Authorization": f"Bearer {stack.token(self.user, [self.profile])}"}
        self.questions = questions
        self.http = httpx.Client(base_url=base_url or stack.http_url, timeout=30)
        self.progress_ids: dict[str, set[str]] = {}
        self.attempt_ids: dict[str, set[str]] = {}
        self.sessions: dict[str, set[str]] = {}  # offline session → server sessions seen

    def progress_batch(self, counts: Counts, size: int = 20, keys: list[str] | None = None) -> dict:
        keys = keys or [uuid.uuid4().hex for _ in range(size)]
        body = {"profile_id": self.profile, "items": [progress_item(k) for k in keys]}
        answer = send(self.http, "/api/v1/progress/batch", body, self.headers, counts)
        for result in answer["results"]:
            assert result["status"] in ("ok", "duplicate"), result
            self.progress_ids.setdefault(result["idempotency_key"], set()).add(result["server_id"])
        return answer

    def attempt_batch(self, counts: Counts, attempts: list[dict] | None = None, size: int = 10) -> dict:
        if attempts is None:
            offline = str(uuid.uuid4())
            attempts = [
                sync_attempt(str(uuid.uuid4()), self.questions[n % len(self.questions)], offline)
                for n in range(size)
            ]
        answer = send(self.http, "/api/v1/sync/attempts:batch", {"attempts": attempts}, self.headers, counts)
        for sent, result in zip(attempts, answer["results"], strict=True):
            assert result["status"] in ("acked", "duplicate"), result
            self.attempt_ids.setdefault(result["idempotency_key"], set()).add(result["server_attempt_id"])
            self.sessions.setdefault(sent["offline_session_id"], set()).add(result["server_session_id"])
        return answer

    def settle(self, counts: Counts) -> None:
        """Adds this device's totals: what it sent against what the server holds."""
        progress = stored_progress(self.http, self.headers, self.profile, list(self.progress_ids), counts)
        attempts = stored_attempts(self.http, self.headers, list(self.attempt_ids), counts)
        for sent, stored in ((self.progress_ids, progress), (self.attempt_ids, attempts)):
            counts.sent += len(sent)
            counts.stored += sum(1 for key in sent if key in stored)
            counts.lost += sum(1 for key in sent if key not in stored)
            counts.doubled += sum(
                1 for key, ids in sent.items() if ids | {stored.get(key)} != {stored.get(key)}
            )
        counts.doubled += sum(len(servers) - 1 for servers in self.sessions.values())

    def close(self) -> None:
        self.http.close()


def run_clients(
    devices: list[Device],
    work: Callable[[Device, int], None],
    batches: int,
    until: threading.Event | None = None,
) -> list[BaseException]:
    """Each device does `work(device, n)` in its own thread, for n < batches and then on until `until`
    is set (if given: the faults must land while clients are still sending, however fast they are);
    returns their failures."""
    failures: list[BaseException] = []

    def loop(device: Device) -> None:
        try:
            n = 0
            while n < batches or (until is not None and not until.is_set()):
                work(device, n)
                n += 1
        except BaseException as error:  # reported by the test
            failures.append(error)

    threads = [threading.Thread(target=loop, args=(d,)) for d in devices]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def mixed_work(counts: Counts) -> Callable[[Device, int], None]:
    def work(device: Device, n: int) -> None:
        if n % 2:
            device.attempt_batch(counts)
        else:
            device.progress_batch(counts)

    return work


def finish(devices: list[Device], counts: Counts, failures: list[BaseException]) -> None:
    if failures:
        raise failures[0]
    for device in devices:
        device.settle(counts)
        device.close()
    assert "500" not in counts.statuses, counts.statuses
    assert counts.sent > 0 and counts.lost == 0 and counts.doubled == 0, counts.line()
    assert counts.stored == counts.sent


def test_postgres_backends_terminated_mid_run_are_503_never_500(fault_stack, questions, schedule, counts):
    devices = [Device(fault_stack, questions) for _ in range(schedule.clients)]
    stop = threading.Event()
    killed: list[int] = []

    def killer() -> None:
        while not stop.is_set():
            killed.append(terminate_backends(fault_stack))
            stop.wait(0.3)

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        failures = run_clients(devices, mixed_work(counts), schedule.batches)
    finally:
        stop.set()
        thread.join()
    assert sum(killed) > 0
    finish(devices, counts, failures)


def _kill_and_restart(stack: Stack, name: str) -> None:
    process = stack.processes.pop(name)
    process.kill()  # SIGKILL: no graceful shutdown, in-flight requests die with it
    process.wait()
    stack.start_service(name)


def test_services_killed_mid_stream_lose_nothing_while_clients_retry(
    fault_stack, questions, schedule, counts
):
    devices = [Device(fault_stack, questions) for _ in range(schedule.clients)]
    done = threading.Event()  # the clients stopped (early, on a failure)
    killed_all = threading.Event()  # every round of kills happened: clients may stop
    kills: list[str] = []

    def killer() -> None:
        try:
            for round_ in range(schedule.rounds):
                for name in ("sync", "progress"):
                    if done.wait(0.3):
                        return
                    _kill_and_restart(fault_stack, name)
                    kills.append(f"{name}#{round_}")
        finally:
            killed_all.set()

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        failures = run_clients(devices, mixed_work(counts), schedule.batches, until=killed_all)
    finally:
        done.set()
        thread.join()
    assert len(kills) == schedule.rounds * 2
    finish(devices, counts, failures)


def _complete(response: bytes) -> bool:
    """A whole HTTP/1.1 response with a content-length (what Envoy sends for these calls)."""
    head, found, body = response.partition(b"\r\n\r\n")
    if not found:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


class LosingProxy:
    """A TCP proxy in front of Envoy that forwards each request, lets the server answer (and commit),
    then drops every `every`-th response: the client sees a dead connection and must retry."""

    def __init__(self, upstream_port: int, every: int = 3) -> None:
        self.port = free_port()
        self._upstream = upstream_port
        self._every = every
        self._count = 0
        self.dropped = 0
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._count += 1
            drop = self._count % self._every == 0
            threading.Thread(target=self._relay, args=(client, drop), daemon=True).start()

    def _relay(self, client: socket.socket, drop: bool) -> None:
        with client, socket.create_connection(("127.0.0.1", self._upstream)) as upstream:

            def pump() -> None:
                try:
                    while data := client.recv(65536):
                        upstream.sendall(data)
                except OSError:
                    pass

            threading.Thread(target=pump, daemon=True).start()
            response = b""
            try:
                while not _complete(response) and (data := upstream.recv(65536)):
                    response += data
                    if not drop:
                        client.sendall(data)
            except OSError:
                return
            if drop:
                self.dropped += 1  # the server answered (and committed); the client never hears it
            # shutdown, not just close: the pump thread's pending recv would keep the socket open.
            for side in (client, upstream):
                try:
                    side.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._listener.close()


def test_a_response_lost_after_commit_is_retried_into_duplicates_with_the_original_ids(
    fault_stack, questions, schedule, counts
):
    proxy = LosingProxy(fault_stack.http_port)
    devices = [Device(fault_stack, questions, base_url=f"http://127.0.0.1:{proxy.port}") for _ in range(2)]
    for device in devices:
        device.headers["Connection"] = "close"  # one connection per request: the proxy drops whole answers
    try:
        failures = run_clients(devices, mixed_work(counts), schedule.batches)
    finally:
        proxy.close()
    for device in devices:
        device.http = httpx.Client(base_url=fault_stack.http_url, timeout=30)  # settle around the proxy
    assert proxy.dropped > 0
    assert counts.statuses.get("network", 0) >= proxy.dropped
    finish(devices, counts, failures)


def test_redis_flushed_and_stopped_mid_run_never_duplicates_an_attempt_or_a_session(
    fault_stack, questions, schedule, counts, private_redis: PrivateRedis
):
    devices = [Device(fault_stack, questions) for _ in range(schedule.clients)]
    sent: list[tuple[Device, list[dict]]] = []

    def work(device: Device, n: int) -> None:
        offline = str(uuid.uuid4())
        attempts = [sync_attempt(str(uuid.uuid4()), q, offline) for q in device.questions[:5]]
        device.attempt_batch(counts, attempts)
        sent.append((device, attempts))
        if device is devices[0] and n == schedule.batches // 3:
            private_redis.flush()
        if device is devices[0] and n == 2 * schedule.batches // 3:
            private_redis.stop()

    try:
        failures = run_clients(devices, work, schedule.batches)
        # Re-sent with Redis gone, then again with an empty Redis: the database answers, same ids.
        for device, attempts in sent:
            device.attempt_batch(counts, attempts)
        private_redis.start()
        for device, attempts in sent:
            device.attempt_batch(counts, attempts)
    finally:
        if private_redis.process is None:
            private_redis.start()
    finish(devices, counts, failures)


def _sync_metrics(stack: Stack) -> str:
    return httpx.get(f"http://127.0.0.1:{stack.metrics_ports['sync']}/metrics", timeout=10).text


def test_a_frozen_redis_trips_the_breaker_batches_skip_it_and_it_closes_when_redis_answers(
    fault_stack, questions, counts, private_redis: PrivateRedis
):
    device = Device(fault_stack, questions)

    def metric(name: str, **labels: str) -> float:
        return metric_value(_sync_metrics(fault_stack), name, **labels)

    # A test before may have left the breaker open (Redis stopped): start from a closed one.
    wait_until(
        lambda: device.attempt_batch(counts) is not None and metric("studysync_sync_cache_breaker_open") == 0,
        what="the breaker to be closed before the freeze",
    )
    trips = metric("studysync_sync_cache_breaker_trips_total")
    private_redis.freeze()  # accepts connections, answers nothing
    try:
        wait_until(
            lambda: (
                device.attempt_batch(counts) is not None
                and metric("studysync_sync_cache_breaker_trips_total") == trips + 1
            ),
            what="the breaker to open",
        )
        assert metric("studysync_sync_cache_breaker_open") == 1
        skipped = metric("studysync_sync_cache_total", event="skipped")
        fail_open = metric("studysync_sync_cache_total", event="fail_open")
        for _ in range(5):
            device.attempt_batch(counts)
        # While open, batches do not touch Redis: every cache call is skipped, none times out.
        assert metric("studysync_sync_cache_total", event="skipped") >= skipped + 10
        assert metric("studysync_sync_cache_total", event="fail_open") == fail_open
    finally:
        private_redis.thaw()
    wait_until(
        lambda: metric("studysync_sync_cache_breaker_open") == 0, what="the probe to close the breaker"
    )
    used = metric("studysync_sync_cache_total", event="miss")
    device.attempt_batch(counts)
    assert metric("studysync_sync_cache_total", event="miss") > used  # Redis is asked again
    finish([device], counts, [])


def test_concurrent_identical_batches_store_each_item_once(fault_stack, questions, schedule, counts):
    device = Device(fault_stack, questions)
    copies = max(4, schedule.clients * 2)
    for _ in range(schedule.rounds * 3):
        offline = str(uuid.uuid4())
        attempts = [sync_attempt(str(uuid.uuid4()), q, offline) for q in questions[:5]]
        keys = [uuid.uuid4().hex for _ in range(10)]
        barrier = threading.Barrier(copies)
        answers: list[dict] = []

        def racer(
            index: int,
            barrier=barrier,
            answers=answers,
            attempts=attempts,
            keys=keys,
        ) -> None:
            barrier.wait()
            if index % 2:
                answers.append(device.attempt_batch(counts, attempts))
            else:
                answers.append(device.progress_batch(counts, keys=keys))

        threads = [threading.Thread(target=racer, args=(n,)) for n in range(copies)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(answers) == copies
        firsts = [r["status"] for a in answers for r in a["results"] if r["status"] in ("ok", "acked")]
        assert len(firsts) >= len(attempts) + len(keys), answers  # every key was stored by someone
        counts.doubled += len(firsts) - len(attempts) - len(keys)  # and by one racer only
    finish([device], counts, [])
