"""The admin side as an operator uses it: the sample bank and `studysync packages …`."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

from clients.packages_admin import load_sample

pytestmark = pytest.mark.e2e


def cli(stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "devstack.cli",
            "packages",
            "--target",
            stack.grpc_target("packages"),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "STUDYSYNC_STATE_DIR": str(stack.state)},
    )


def test_sample_bank_loads_one_package_per_block_and_reloading_changes_nothing(stack, http, bearer):
    token = stack.token("admin-1", roles=["admin"])
    first = load_sample(stack.grpc_target("packages"), token)
    assert len(first) == 4 and all(r.package.is_published for r in first)
    again = load_sample(stack.grpc_target("packages"), token)
    assert not any(r.created for r in again)
    assert [r.package.package_id for r in again] == [r.package.package_id for r in first]
    listed = http.get(
        "/api/v1/tests/packages", params={"scope": "BLOCK", "year_id": 1}, headers=bearer()
    ).json()
    assert {p["package_id"] for p in listed["packages"]} >= {r.package.package_id for r in first[:2]}


def test_cli_imports_csv_generates_and_lists(stack, tmp_path):
    block = 900_000 + uuid.uuid4().int % 100_000
    csv_file = tmp_path / "bank.csv"
    rows = ["question_id,stem,option_1,option_2,option_3,correct_index,explanation,year_id,block_id"]
    rows += [f"{uuid.uuid4()},Question {n}?,A,B,C,{n % 3},Why {n},3,{block}" for n in range(3)]
    csv_file.write_text("\n".join(rows) + "\n")
    imported = cli(stack, "import", str(csv_file))
    assert imported.returncode == 0, imported.stderr
    assert "imported 3 questions" in imported.stdout
    generated = cli(stack, "generate", "--scope", "BLOCK", "--scope-data", f'{{"block_id": {block}}}')
    assert generated.returncode == 0, generated.stderr
    assert generated.stdout.startswith("created:")
    unchanged = cli(stack, "generate", "--scope", "BLOCK", "--scope-data", f'{{"block_id": {block}}}')
    assert unchanged.stdout.startswith("unchanged:")
    listed = cli(stack, "list")
    assert generated.stdout.split()[1] in listed.stdout
    [line] = [line for line in listed.stdout.splitlines() if generated.stdout.split()[1] in line]
    assert f'{{"block_id": {block}}}' in line  # an integer, not {block}.0


def test_cli_options_work_after_the_action_too(stack):
    after = subprocess.run(
        [
            sys.executable,
            "-m",
            "devstack.cli",
            "packages",
            "list",
            "--target",
            stack.grpc_target("packages"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "STUDYSYNC_STATE_DIR": str(stack.state)},
    )
    assert after.returncode == 0, after.stderr
    assert after.stdout == cli(stack, "list").stdout


def test_cli_list_into_a_closed_pipe_ends_quietly(stack):
    for _ in range(3):  # enough packages that the listing outgrows what `head -1` reads
        load_sample(stack.grpc_target("packages"), stack.token("admin-1", roles=["admin"]))
    command = (
        f"{sys.executable} -m devstack.cli packages --target {stack.grpc_target('packages')} list"
        " | head -c 1 >/dev/null"
    )
    result = subprocess.run(
        ["bash", "-c", command],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "STUDYSYNC_STATE_DIR": str(stack.state)},
    )
    assert "Broken pipe" not in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_cli_reports_a_bad_file_without_a_traceback(stack, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"questions": [{"question_id": "nope", "stem": "Q", "options": ["a", "b"]}]}')
    result = cli(stack, "import", str(bad))
    assert result.returncode != 0
    assert "questions[0].question_id" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_publishes_a_draft_and_publishing_again_changes_nothing(stack, http, bearer):
    import grpc

    from studysync.packages.v1 import packages_service_pb2 as pb
    from studysync.packages.v1 import packages_service_pb2_grpc as pb_grpc
    from studysync.packages.v1 import resources_pb2 as res

    token = stack.token("admin-1", roles=["admin"])
    metadata = (("authorization", f"Bearer {token}"),)
    load_sample(stack.grpc_target("packages"), token)
    with grpc.insecure_channel(stack.grpc_target("packages")) as channel:
        request = pb.CreateTestPackageRequest(name="Year 2 review", scope=res.YEAR)
        request.scope_data.update({"year_id": 2})
        draft = pb_grpc.PackagesServiceStub(channel).CreateTestPackage(request, metadata=metadata)
    assert draft.question_count == 20 and not draft.is_published
    first = cli(stack, "publish", draft.package_id)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"published: {draft.package_id} v{draft.version}"
    assert cli(stack, "publish", draft.package_id).returncode == 0
    served = http.get(f"/api/v1/tests/packages/{draft.package_id}", headers=bearer())
    assert served.status_code == 200 and served.headers["etag"] == f'"{draft.version_hash}"'
    assert draft.package_id in cli(stack, "list").stdout


def test_cli_names_the_bad_line_of_a_csv_without_a_traceback(stack, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(f"question_id,stem,option_1,option_2,correct_index\n{uuid.uuid4()},Q?,a,b,first\n")
    result = cli(stack, "import", str(bad))
    assert result.returncode == 1
    assert result.stderr.startswith("error: line 2:") and "Traceback" not in result.stderr
