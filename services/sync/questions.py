"""The sync service's view of the packages service: at most one BatchGetQuestions per question
source of a batch. Package snapshots are kept (they never change); bank questions are kept with the
bank version they were fetched at, and used while Redis says the bank is still at it (bank_cache)."""

from __future__ import annotations

import logging
from collections import OrderedDict

import grpc
from prometheus_client import Counter

from services.runtime.auth import ServiceCredentials
from services.runtime.errors import Unavailable
from services.runtime.scope import SCOPE_IDS
from services.sync.bank_cache import BankQuestionCache
from services.sync.domain import BankVersionKeys, PackageNotPublished, QuestionFacts
from studysync.packages.v1 import packages_service_pb2 as pb
from studysync.packages.v1 import packages_service_pb2_grpc as pb_grpc

DEADLINE_SECONDS = 5.0
# gRPC's default reconnect backoff grows to 120 s: sync would answer 503 for up to two minutes after
# packages came back. Capped at 1 s, sync recovers within a second of packages.
# round_robin spreads calls over every address the target resolves to (several packages replicas
# behind one DNS name, or an `ipv4:host:port,host:port` list); gRPC's default uses only the first.
CHANNEL_OPTIONS = (
    ("grpc.lb_policy_name", "round_robin"),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
)
TRANSIENT = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
}


log = logging.getLogger("studysync.sync.questions")


class QuestionSource:
    def __init__(
        self,
        channel: grpc.aio.Channel,
        credentials: ServiceCredentials,
        cached_packages: int = 256,
        bank: BankQuestionCache | None = None,
        events: Counter | None = None,
    ) -> None:
        self._stub = pb_grpc.PackagesServiceStub(channel)
        # BatchGetQuestions is internal: sync calls it as itself (role `service`), not as the user.
        self._credentials = credentials
        # A package's snapshot never changes once made, so it can be kept as long as there is room.
        self._snapshots: OrderedDict[str, dict[str, QuestionFacts]] = OrderedDict()
        self._cached_packages = cached_packages
        self._bank = bank  # None: no bank question is kept (sync has no Redis to learn versions from)
        self._events = events  # labels: event = cached | fetched (bank question ids)
        self._keys: BankVersionKeys | None = None

    @property
    def bank_version_keys(self) -> BankVersionKeys | None:
        """Where packages publishes the bank version, as its last bank answer said; None until
        then, or when it publishes none (then nothing is kept)."""
        return self._keys if self._bank is not None else None

    async def fetch(
        self, question_ids: list[str], package_id: str | None, bank_version: int | None = None
    ) -> dict[str, QuestionFacts]:
        """Questions by id from the bank, or a published package's frozen snapshot. An unknown
        package → {}; a draft → PackageNotPublished. Packages unreachable → Unavailable (503): the
        client keeps its attempts and retries. Bank questions kept at `bank_version` are not asked
        for again (None: all are)."""
        if package_id:
            if package_id in self._snapshots:
                self._snapshots.move_to_end(package_id)
                return self._snapshots[package_id]
            found = await self._call(pb.BatchGetQuestionsRequest(package_id=package_id))
            if found is None:
                return {}
            facts = _facts(found)
            self._snapshots[package_id] = facts
            if len(self._snapshots) > self._cached_packages:
                self._snapshots.popitem(last=False)
            return facts
        kept: dict[str, QuestionFacts] = {}
        wanted = question_ids
        if self._bank is not None and bank_version is not None:
            kept, wanted = self._bank.usable(question_ids, bank_version)
            self._count("cached", len(kept))
            if not wanted:
                return kept
        response = await self._call(pb.BatchGetQuestionsRequest(question_ids=pb.QuestionIds(ids=wanted)))
        self._count("fetched", len(wanted))
        if response is None:
            return kept
        facts = _facts(response)
        if self._bank is not None:
            self._keys = (
                BankVersionKeys(response.bank_version_key, response.bank_writers_key)
                if response.bank_version_key and response.bank_writers_key
                else None
            )
            if self._keys is not None:
                self._bank.remember(facts, response.bank_version)
        return {**kept, **facts} if kept else facts

    def _count(self, event: str, ids: int) -> None:
        if self._events is not None and ids:
            self._events.labels(event).inc(ids)

    async def _call(self, request: pb.BatchGetQuestionsRequest) -> pb.BatchGetQuestionsResponse | None:
        """The answer; None for NOT_FOUND (an unknown package)."""
        try:
            return await self._stub.BatchGetQuestions(
                request,
                metadata=(("authorization", self._credentials.authorization()),),
                timeout=DEADLINE_SECONDS,
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return None
            if error.code() == grpc.StatusCode.FAILED_PRECONDITION:
                raise PackageNotPublished() from None
            if error.code() in TRANSIENT:
                raise Unavailable(
                    "the packages service is unavailable, retry later", reason="PACKAGES_UNAVAILABLE"
                ) from None
            if error.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
                # Sync's own identity was refused (expired or missing token file): an operator's
                # problem, and the client's attempts must survive it, so retryable.
                log.error("packages refused sync's service identity: %s", error.details())
                raise Unavailable(
                    "the packages service refused this service's identity, retry later",
                    reason="PACKAGES_UNAVAILABLE",
                ) from None
            raise


def _facts(response: pb.BatchGetQuestionsResponse) -> dict[str, QuestionFacts]:
    return {
        q.question_id: QuestionFacts(
            len(q.options),
            q.correct_index,
            {tag: getattr(q, tag) if q.HasField(tag) else None for tag in SCOPE_IDS},
        )
        for q in response.questions
    }
