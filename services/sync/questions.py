"""The sync service's view of the packages service: one BatchGetQuestions per question source."""

from __future__ import annotations

import logging
from collections import OrderedDict

import grpc

from services.runtime.auth import ServiceCredentials
from services.runtime.errors import Unavailable
from services.runtime.scope import SCOPE_IDS
from services.sync.domain import PackageNotPublished, QuestionFacts
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
        self, channel: grpc.aio.Channel, credentials: ServiceCredentials, cached_packages: int = 256
    ) -> None:
        self._stub = pb_grpc.PackagesServiceStub(channel)
        # BatchGetQuestions is internal: sync calls it as itself (role `service`), not as the user.
        self._credentials = credentials
        # A package's snapshot never changes once made, so it can be kept as long as there is room.
        self._snapshots: OrderedDict[str, dict[str, QuestionFacts]] = OrderedDict()
        self._cached_packages = cached_packages

    async def fetch(self, question_ids: list[str], package_id: str | None) -> dict[str, QuestionFacts]:
        """Questions by id from the bank, or a published package's frozen snapshot. An unknown
        package → {}; a draft → PackageNotPublished. Packages unreachable → Unavailable (503): the
        client keeps its attempts and retries."""
        if package_id and package_id in self._snapshots:
            self._snapshots.move_to_end(package_id)
            return self._snapshots[package_id]
        request = (
            pb.BatchGetQuestionsRequest(package_id=package_id)
            if package_id
            else pb.BatchGetQuestionsRequest(question_ids=pb.QuestionIds(ids=question_ids))
        )
        try:
            response = await self._stub.BatchGetQuestions(
                request,
                metadata=(("authorization", self._credentials.authorization()),),
                timeout=DEADLINE_SECONDS,
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return {}
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
        facts = {
            q.question_id: QuestionFacts(
                len(q.options),
                q.correct_index,
                {tag: getattr(q, tag) if q.HasField(tag) else None for tag in SCOPE_IDS},
            )
            for q in response.questions
        }
        if package_id:
            self._snapshots[package_id] = facts
            if len(self._snapshots) > self._cached_packages:
                self._snapshots.popitem(last=False)
        return facts
