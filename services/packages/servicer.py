"""gRPC face of the packages service: protobuf in, one call into the use cases, protobuf out."""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf.message import Message

from services.packages import http
from services.packages.domain import Package, PackageSummary, Question
from services.packages.use_cases import PackagesUseCases
from services.runtime.auth import current_principal
from services.runtime.proto_values import dict_to_struct, struct_to_dict, timestamp
from services.runtime.scope import SCOPE_IDS, SCOPE_TAGS
from studysync.packages.v1 import packages_service_pb2 as pb
from studysync.packages.v1 import packages_service_pb2_grpc as pb_grpc
from studysync.packages.v1 import resources_pb2 as res


def _optional(message: Message, field: str) -> Any:
    """An optional field's value, or None when it is not set."""
    return getattr(message, field) if message.HasField(field) else None


def _scope_ids(
    request: pb.ListTestPackagesRequest | pb.CompareTestPackagesRequest,
) -> tuple[int | None, int | None, int | None]:
    """The request's year_id, block_id and theme_id (runtime.scope order), None where not set."""
    year_id, block_id, theme_id = (_optional(request, tag) for tag in SCOPE_IDS)
    return year_id, block_id, theme_id


def scope_from_proto(scope: int) -> str:
    """The domain's scope name: "" when unset, and a number no name has stays a number, which the
    domain refuses like any unknown scope."""
    if scope == res.SCOPE_UNSPECIFIED:
        return ""
    return res.Scope.Name(scope) if scope in res.Scope.values() else str(scope)


def question_from_proto(question: res.Question) -> Question:
    return Question(
        question.question_id,
        question.stem,
        list(question.options),
        question.correct_index,
        question.explanation,
        *(_optional(question, tag) for tag in SCOPE_TAGS),
    )


def question_to_proto(question: Question) -> res.Question:
    return res.Question(
        question_id=question.question_id,
        stem=question.stem,
        options=question.options,
        correct_index=question.correct_index,
        explanation=question.explanation,
        **{tag: getattr(question, tag) for tag in SCOPE_TAGS},
        updated_at=timestamp(question.updated_at) if question.updated_at else None,
    )


def summary_to_proto(summary: PackageSummary) -> res.TestPackageSummary:
    return res.TestPackageSummary(
        package_id=summary.package_id,
        name=summary.name,
        scope=summary.scope,  # protobuf sets an enum from its name
        scope_data=dict_to_struct(summary.scope_data),
        version=summary.version,
        version_hash=summary.version_hash,
        question_count=summary.question_count,
        published_at=timestamp(summary.published_at) if summary.published_at else None,
        updated_at=timestamp(summary.updated_at),
    )


def package_to_proto(package: Package) -> res.TestPackage:
    summary = package.summary
    return res.TestPackage(
        package_id=summary.package_id,
        name=summary.name,
        description=package.description,
        scope=summary.scope,  # protobuf sets an enum from its name
        scope_data=dict_to_struct(summary.scope_data),
        version=summary.version,
        version_hash=summary.version_hash,
        questions=[res.QuestionSnapshot(**q) for q in package.questions],
        question_count=summary.question_count,
        is_published=package.is_published,
        published_at=timestamp(summary.published_at) if summary.published_at else None,
        created_by=package.created_by,
        created_at=timestamp(package.created_at),
        updated_at=timestamp(summary.updated_at),
    )


def _header(context, key: str) -> str | None:
    """An HTTP header as Envoy forwards it: repeated lines are one comma-separated list (RFC 9110 §5.3)."""
    values = [
        v if isinstance(v, str) else v.decode() for k, v in context.invocation_metadata() or () if k == key
    ]
    return ", ".join(values) if values else None


def _scope_data(message) -> dict | None:
    return struct_to_dict(message.scope_data) if message.HasField("scope_data") else None


class PackagesServicer(pb_grpc.PackagesServiceServicer):
    def __init__(self, use_cases: PackagesUseCases) -> None:
        self._use_cases = use_cases

    async def ListTestPackages(
        self, request: pb.ListTestPackagesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListTestPackagesResponse:
        current_principal()
        packages, token = await self._use_cases.list_packages(
            scope_from_proto(request.scope),
            *_scope_ids(request),
            request.page_size,
            request.page_token,
        )
        return pb.ListTestPackagesResponse(
            packages=[summary_to_proto(p) for p in packages], next_page_token=token
        )

    async def GetTestPackage(
        self, request: pb.GetTestPackageRequest, context: grpc.aio.ServicerContext
    ) -> res.TestPackage:
        current_principal()
        held = http.held_versions(_header(context, "if-none-match"))
        download = await self._use_cases.get_package(request.package_id, held)
        validators = http.validators(download.version_hash)
        if download.package is None:  # the Lua filter turns this into a bodiless 304
            await context.send_initial_metadata((*validators, ("x-http-status", "304")))
            return res.TestPackage()
        await context.send_initial_metadata(validators)
        return package_to_proto(download.package)

    async def CompareTestPackages(
        self, request: pb.CompareTestPackagesRequest, context: grpc.aio.ServicerContext
    ) -> pb.CompareTestPackagesResponse:
        current_principal()
        result = await self._use_cases.compare(
            [(h.package_id, h.version_hash) for h in request.held],
            scope_from_proto(request.scope),
            *_scope_ids(request),
            request.page_size,
            request.page_token,
        )
        return pb.CompareTestPackagesResponse(
            current=[res.HeldPackage(package_id=i, version_hash=h) for i, h in result.current],
            stale=[
                res.StalePackage(package_id=i, version_hash=h, latest=summary_to_proto(s))
                for i, h, s in result.stale
            ],
            gone=[res.HeldPackage(package_id=i, version_hash=h) for i, h in result.gone],
            new_packages=[summary_to_proto(s) for s in result.new_packages],
            next_page_token=result.next_page_token,
        )

    async def BatchCreateQuestions(
        self, request: pb.BatchCreateQuestionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.BatchCreateQuestionsResponse:
        stored = await self._use_cases.import_questions(
            current_principal(), [question_from_proto(q) for q in request.questions]
        )
        return pb.BatchCreateQuestionsResponse(questions=[question_to_proto(q) for q in stored])

    async def CreateTestPackage(
        self, request: pb.CreateTestPackageRequest, context: grpc.aio.ServicerContext
    ) -> res.TestPackage:
        package = await self._use_cases.create_draft(
            current_principal(),
            request.name,
            request.description,
            scope_from_proto(request.scope),
            _scope_data(request),
            list(request.question_ids),
        )
        return package_to_proto(package)

    async def PublishTestPackage(
        self, request: pb.PublishTestPackageRequest, context: grpc.aio.ServicerContext
    ) -> res.TestPackage:
        return package_to_proto(await self._use_cases.publish(current_principal(), request.package_id))

    async def GenerateTestPackage(
        self, request: pb.GenerateTestPackageRequest, context: grpc.aio.ServicerContext
    ) -> pb.GenerateTestPackageResponse:
        package, created = await self._use_cases.generate(
            current_principal(),
            scope_from_proto(request.scope),
            _scope_data(request),
            request.name,
            request.description,
        )
        return pb.GenerateTestPackageResponse(package=package_to_proto(package), created=created)

    async def BatchGetQuestions(
        self, request: pb.BatchGetQuestionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.BatchGetQuestionsResponse:
        current_principal()
        found = await self._use_cases.questions(list(request.question_ids.ids), request.package_id)
        return pb.BatchGetQuestionsResponse(
            questions=[question_to_proto(q) for q in found.questions],
            bank_version=found.bank_version,
            bank_version_key=found.keys.version if found.keys else "",
            bank_writers_key=found.keys.writers if found.keys else "",
        )
