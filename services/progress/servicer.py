"""gRPC face of the progress service: protobuf in, one call into the use cases, protobuf out."""

from __future__ import annotations

import grpc

from services.progress.domain import ItemResult, ProgressItem, StoredRecord
from services.progress.use_cases import ProgressUseCases
from services.runtime.auth import current_principal
from services.runtime.interceptors import metadata_value
from services.runtime.proto_values import dict_to_struct, timestamp, value_to_python
from studysync.progress.v1 import progress_service_pb2 as pb
from studysync.progress.v1 import progress_service_pb2_grpc as pb_grpc
from studysync.progress.v1 import resources_pb2 as res

RETRY_HEADER = "x-client-retry"  # how many times the client has sent this request before (0 = first)


def item_from_proto(item: res.ProgressItem) -> ProgressItem:
    has = item.HasField  # positional, one method lookup: half the cost, 100 times a batch
    return ProgressItem(
        item.idempotency_key,
        item.activity_type,
        item.content_id,
        item.score if has("score") else None,
        item.duration_seconds if has("duration_seconds") else None,
        value_to_python(item.meta_data) if has("meta_data") else None,
        item.timestamp,
    )


def response_of(results: list[ItemResult]) -> pb.BatchRecordProgressResponse:
    response = pb.BatchRecordProgressResponse()
    add = response.results.add  # built in place: a message passed in would be copied
    for result in results:
        add(
            idempotency_key=result.idempotency_key,
            status=result.status,
            server_id=result.server_id,
            error=result.error,
            error_code=result.error_code,
        )
    return response


def record_to_proto(record: StoredRecord) -> res.ProgressRecord:
    return res.ProgressRecord(
        server_id=record.server_id,
        profile_id=record.profile_id,
        idempotency_key=record.idempotency_key,
        activity_type=record.activity_type,
        content_id=record.content_id,
        score=record.score,
        duration_seconds=record.duration_seconds,
        meta_data=dict_to_struct(record.meta_data) if record.meta_data is not None else None,
        timestamp=timestamp(record.occurred_at),
        server_received_at=timestamp(record.server_received_at),
    )


def client_retry(context: grpc.aio.ServicerContext) -> int:
    value = metadata_value(context, RETRY_HEADER) or "0"
    return int(value) if value.isdigit() else 0


class ProgressServicer(pb_grpc.ProgressServiceServicer):
    def __init__(self, use_cases: ProgressUseCases) -> None:
        self._use_cases = use_cases

    async def BatchRecordProgress(
        self, request: pb.BatchRecordProgressRequest, context: grpc.aio.ServicerContext
    ) -> pb.BatchRecordProgressResponse:
        items = [item_from_proto(item) for item in request.items]
        results = await self._use_cases.record_batch(
            current_principal(), request.profile_id, items, retry=client_retry(context)
        )
        return response_of(results)

    async def ListProgress(
        self, request: pb.ListProgressRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListProgressResponse:
        records, next_page, resume = await self._use_cases.list_progress(
            current_principal(),
            request.profile_id,
            request.page_size,
            request.page_token,
            request.resume_token,
        )
        return pb.ListProgressResponse(
            items=[record_to_proto(r) for r in records], next_page_token=next_page, resume_token=resume
        )

    async def BatchGetProgressReceipts(
        self, request: pb.BatchGetProgressReceiptsRequest, context: grpc.aio.ServicerContext
    ) -> pb.BatchGetProgressReceiptsResponse:
        receipts = await self._use_cases.receipts(
            current_principal(), request.profile_id, list(request.idempotency_keys)
        )
        return pb.BatchGetProgressReceiptsResponse(
            receipts=[
                res.ProgressReceipt(idempotency_key=key, found=server_id is not None, server_id=server_id)
                for key, server_id in receipts
            ]
        )

    async def GetFeatures(
        self, request: pb.GetFeaturesRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetFeaturesResponse:
        enabled = self._use_cases.offline_progress_enabled(current_principal(), request.profile_id)
        return pb.GetFeaturesResponse(offline_progress=enabled)
