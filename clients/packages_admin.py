"""Admin tasks over gRPC: import a question file, generate, publish, list; and the sample bank that
`make run` loads. Used by the `studysync packages …` commands (devstack.cli), which supply the
default token: this client knows nothing of signing keys."""

from __future__ import annotations

import argparse
import csv
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
from google.protobuf import json_format, struct_pb2

from studysync.packages.v1 import packages_service_pb2 as pb
from studysync.packages.v1 import packages_service_pb2_grpc as pb_grpc
from studysync.packages.v1 import resources_pb2 as res

SAMPLE_BANK = Path(__file__).with_name("sample_bank.json")
BATCH = 1000
SCOPE_IDS = ("year_id", "block_id", "theme_id")  # the Question message's whole-number scope fields


def read_questions(path: Path) -> list[res.Question]:
    """A JSON file (`{"questions": [...]}` or a list) or a CSV with option_1..option_6 columns.
    A malformed entry is a ValueError naming it (`questions[3]: …` or `line 5: …`)."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            return [_csv_question(n, row) for n, row in enumerate(csv.DictReader(handle), start=2)]
    data = json.loads(path.read_text(encoding="utf-8"))
    items = data.get("questions") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ValueError('a JSON question file is a list of questions or {"questions": [...]}')
    questions = []
    for n, item in enumerate(items):
        try:
            questions.append(json_format.ParseDict(item, res.Question()))
        except json_format.ParseError as error:
            raise ValueError(f"questions[{n}]: {error}") from None
    return questions


def _csv_question(line: int, row: dict[str, str]) -> res.Question:
    try:
        question = res.Question(
            question_id=row["question_id"],
            stem=row["stem"],
            correct_index=int(row["correct_index"]),
            explanation=row.get("explanation") or "",
            options=[row[f"option_{n}"] for n in range(1, 7) if row.get(f"option_{n}")],
        )
        if row.get("program"):
            question.program = row["program"]
        for key in SCOPE_IDS:
            if row.get(key):
                setattr(question, key, int(row[key]))
    except KeyError as missing:
        raise ValueError(f"line {line}: no {missing} column") from None
    except (TypeError, ValueError) as error:
        raise ValueError(f"line {line}: {error}") from None
    return question


def _chunks(items: list[res.Question]) -> Iterator[list[res.Question]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


def _stub(target: str) -> tuple[grpc.Channel, pb_grpc.PackagesServiceStub]:
    channel = grpc.insecure_channel(target)
    return channel, pb_grpc.PackagesServiceStub(channel)


def import_questions(target: str, token: str, questions: list[res.Question]) -> int:
    channel, stub = _stub(target)
    with channel:
        for chunk in _chunks(questions):
            stub.BatchCreateQuestions(pb.BatchCreateQuestionsRequest(questions=chunk), metadata=_auth(token))
    return len(questions)


def generate(
    target: str, token: str, scope: res.Scope | str, scope_data: dict
) -> pb.GenerateTestPackageResponse:
    data = struct_pb2.Struct()
    data.update(scope_data)
    channel, stub = _stub(target)
    with channel:
        return stub.GenerateTestPackage(
            pb.GenerateTestPackageRequest(scope=scope, scope_data=data), metadata=_auth(token)
        )


def list_packages(target: str, token: str) -> Iterator[res.TestPackageSummary]:
    """Every published package, newest first, page by page."""
    channel, stub = _stub(target)
    with channel:
        page_token = ""
        while True:
            page = stub.ListTestPackages(
                pb.ListTestPackagesRequest(page_size=200, page_token=page_token), metadata=_auth(token)
            )
            yield from page.packages
            page_token = page.next_page_token
            if not page_token:
                return


def load_sample(target: str, token: str) -> list[pb.GenerateTestPackageResponse]:
    """Imports the sample bank and generates a package per block (a no-op when nothing changed)."""
    questions = read_questions(SAMPLE_BANK)
    import_questions(target, token, questions)
    blocks = sorted({(q.year_id, q.block_id) for q in questions})
    return [
        generate(target, token, res.BLOCK, {"year_id": year, "block_id": block}) for year, block in blocks
    ]


def _auth(token: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)


def _target(args: argparse.Namespace) -> str:
    return getattr(args, "target", None) or os.environ.get("PACKAGES_ADDR", "127.0.0.1:50052")


def _token(args: argparse.Namespace) -> str:
    return getattr(args, "token", None) or args.default_token()


def scope_data_arg(text: str) -> dict:
    """--scope-data: a JSON object (argparse turns the ValueError into a usage error)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not JSON ({error.msg}): {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object such as '{{\"block_id\": 2}}', got {text!r}")
    return value


def _plain(value: object) -> object:
    """A Struct value as the user wrote it: protobuf keeps every number as a double, so 2.0 → 2."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def scope_data_text(data: struct_pb2.Struct) -> str:
    """scope_data for `packages list`: integers as integers, keys in a stable (sorted) order."""
    return json.dumps(_plain(json_format.MessageToDict(data)), sort_keys=True)


def _run(args: argparse.Namespace) -> int:
    target, token = _target(args), _token(args)
    if args.action == "import":
        print(f"imported {import_questions(target, token, read_questions(Path(args.file)))} questions")
    elif args.action == "generate":
        result = generate(target, token, args.scope, args.scope_data)
        state = "created" if result.created else "unchanged"
        print(f"{state}: {result.package.package_id} v{result.package.version} {result.package.version_hash}")
    elif args.action == "publish":
        channel, stub = _stub(target)
        with channel:
            package = stub.PublishTestPackage(
                pb.PublishTestPackageRequest(package_id=args.package_id), metadata=_auth(token)
            )
        print(f"published: {package.package_id} v{package.version}")
    elif args.action == "list":
        for p in list_packages(target, token):
            print(
                f"{p.package_id}  {res.Scope.Name(p.scope):7s} {scope_data_text(p.scope_data):32s} "
                f"v{p.version}  {p.question_count:3d} questions  {p.name}"
            )
    return 0


IMPORT_FORMAT = """\
File formats (the type is taken from the extension):

  .json   a list of questions, or {"questions": [...]}; each question is the Question message in
          its JSON form:
            {"question_id": "550e8400-e29b-41d4-a716-446655440000", "stem": "2 + 2 = ?",
             "options": ["3", "4", "5"], "correct_index": 1, "explanation": "",
             "program": "...", "year_id": 2, "block_id": 5, "theme_id": 7}
  .csv    a header row, then one question per row: question_id, stem, option_1 … option_6 (empty
          ones skipped), correct_index (0-based), and optionally explanation, program, year_id,
          block_id, theme_id.

An existing question_id is updated (published packages keep their frozen copy). A malformed entry
stops the import before anything is sent, naming it (questions[3]: … / line 5: …).
"""


def add_subcommands(commands: argparse._SubParsersAction, default_token: Callable[[], str]) -> None:
    """`packages import|generate|publish|list`; `default_token` is called when --token is not given."""
    # --target and --token work before or after the action (`packages list --target …`): the
    # action parsers share them with SUPPRESS defaults, so an option given there wins and one
    # given before the action is not overwritten by the action's default.
    connection = argparse.ArgumentParser(add_help=False)
    connection.add_argument(
        "--target",
        default=argparse.SUPPRESS,
        help="packages service gRPC address (default PACKAGES_ADDR or 127.0.0.1:50052)",
    )
    connection.add_argument(
        "--token", default=argparse.SUPPRESS, help="admin bearer token (default: minted with the dev key)"
    )
    packages = commands.add_parser(
        "packages", help="admin: question bank and test packages", parents=[connection]
    )
    actions = packages.add_subparsers(dest="action", required=True)
    actions.add_parser(
        "import",
        help="import/update questions from a .json or .csv file",
        description="Import or update questions from a .json or .csv file.",
        epilog=IMPORT_FORMAT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[connection],
    ).add_argument("file", help="a .json or .csv question file (formats below)")
    generate_parser = actions.add_parser(
        "generate", help="build the next version of a scope if it changed", parents=[connection]
    )
    scopes = [name for name in res.Scope.keys() if name != "SCOPE_UNSPECIFIED"]
    generate_parser.add_argument("--scope", required=True, choices=scopes)
    generate_parser.add_argument(
        "--scope-data", required=True, type=scope_data_arg, help="a JSON object, e.g. '{\"block_id\": 2}'"
    )
    actions.add_parser("publish", help="publish a draft", parents=[connection]).add_argument("package_id")
    actions.add_parser("list", help="list published packages", parents=[connection])
    packages.set_defaults(run=_run, default_token=default_token)
