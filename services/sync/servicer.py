"""gRPC face of the sync service: protobuf in, one call into the use cases, protobuf out."""

from __future__ import annotations

import grpc

from services.runtime.auth import current_principal
from services.runtime.proto_values import timestamp
from services.sync.domain import AttemptInput, AttemptResult
from services.sync.use_cases import SyncUseCases
from studysync.sync.v1 import resources_pb2 as res
from studysync.sync.v1 import sync_service_pb2 as pb
from studysync.sync.v1 import sync_service_pb2_grpc as pb_grpc


def attempt_from_proto(a: res.AttemptInput) -> AttemptInput:
    return AttemptInput(
        a.client_attempt_id,
        a.idempotency_key,
        a.offline_session_id,
        a.session_id,
        a.question_id,
        a.selected_option_index if a.HasField("selected_option_index") else None,
        a.answered_at,
        a.payload_hash,
        a.package_id,
    )


def response_of(results: list[AttemptResult]) -> pb.BatchSyncAttemptsResponse:
    response = pb.BatchSyncAttemptsResponse()
    add = response.results.add  # built in place: a message passed in would be copied
    for r in results:
        add(
            client_attempt_id=r.client_attempt_id,
            idempotency_key=r.idempotency_key,
            status=r.status,
            server_attempt_id=r.server_attempt_id,
            server_session_id=r.server_session_id,
            error_code=r.error_code,
            error_message=r.error_message,
        )
    return response


class SyncServicer(pb_grpc.SyncServiceServicer):
    def __init__(self, use_cases: SyncUseCases) -> None:
        self._use_cases = use_cases

    async def BatchSyncAttempts(
        self, request: pb.BatchSyncAttemptsRequest, context: grpc.aio.ServicerContext
    ) -> pb.BatchSyncAttemptsResponse:
        results = await self._use_cases.sync_batch(
            current_principal(), [attempt_from_proto(a) for a in request.attempts]
        )
        return response_of(results)

    async def GetSession(
        self, request: pb.GetSessionRequest, context: grpc.aio.ServicerContext
    ) -> res.Session:
        view, answered, correct = await self._use_cases.session(current_principal(), request.session_id)
        return res.Session(
            session_id=view.session_id,
            offline_session_id=view.offline_session_id,
            status=view.status,  # protobuf sets an enum from its name
            mode=view.mode,
            **view.scope,
            answered_count=answered,
            correct_count=correct,
            answers=[res.SessionAnswer(**a) for a in view.answers],
            created_at=timestamp(view.created_at),
            updated_at=timestamp(view.updated_at),
        )

    async def BatchGetAttemptReceipts(
        self, request: pb.BatchGetAttemptReceiptsRequest, context: grpc.aio.ServicerContext
    ) -> pb.BatchGetAttemptReceiptsResponse:
        receipts = await self._use_cases.receipts(current_principal(), list(request.idempotency_keys))
        return pb.BatchGetAttemptReceiptsResponse(
            receipts=[
                res.AttemptReceipt(
                    idempotency_key=key,
                    found=ids is not None,
                    server_attempt_id=ids[0] if ids else None,
                    server_session_id=ids[1] if ids else None,
                )
                for key, ids in receipts
            ]
        )
