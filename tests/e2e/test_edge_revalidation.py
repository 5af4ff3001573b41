"""Package revalidations answered by Envoy itself (gateway/edge_revalidation.lua): a published
package's 304 never reaches the packages service once the edge has seen it served, and the edge
never says 304 where the service would not.

The proof that Envoy answered is the packages service's own counter: studysync_package_downloads
moves for every revalidation the service answers and stays still for one the edge answers. Each
test keeps one HTTP/1.1 connection, so every request meets the same Envoy worker (each worker
learns for itself).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import httpx
import jwt
import pytest

from devstack.stack import Stack
from services.runtime.keys import JWKS_FILE, PRIVATE_KEY_FILE
from tests.e2e.conftest import assert_json_error
from tests.e2e.test_packages_e2e import CACHE_CONTROL, published  # noqa: F401  (the fixture)
from tests.helpers import IF_NONE_MATCH_FORMS, metric_value

pytestmark = pytest.mark.e2e

PACKAGES = "/api/v1/tests/packages/"


@pytest.fixture
def client(stack: Stack) -> Iterator[httpx.Client]:
    """One keep-alive connection: one Envoy worker."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    with httpx.Client(base_url=stack.http_url, timeout=30, limits=limits) as one:
        yield one


def sign(stack: Stack, claims: dict, header: dict | None = None) -> str:
    """A token signed with the stack's dev key, with exactly these claims (no defaults added)."""
    kid = json.loads((stack.state / JWKS_FILE).read_text())["keys"][0]["kid"]
    key = (stack.state / PRIVATE_KEY_FILE).read_bytes()
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": kid} if header is None else header)


OMIT = object()  # a claim left out (None is JSON null)


def claims(**changes: object) -> dict:
    """A user's claims as `studysync token` mints them, with these changes. Issued a moment ago:
    the edge reads the seconds clock, which can lag Python's by a tick as a second turns, and it
    then leaves a token issued "this second" to the service (a 304 all the same, but not the edge's)."""
    now = int(time.time())
    base = {"iss": "studysync", "sub": "edge-user", "profiles": ["kid-1"], "roles": [], "iat": now - 2}
    base["exp"] = now + 3600
    base.update(changes)
    return {name: value for name, value in base.items() if value is not OMIT}


class Downloads:
    """The packages service's studysync_package_downloads, read before and after."""

    def __init__(self, stack: Stack) -> None:
        self._url = f"http://127.0.0.1:{stack.metrics_ports['packages']}/metrics"
        self._start = self._read()

    def _read(self) -> dict[str, float]:
        text = httpx.get(self._url, timeout=10).text
        return {r: metric_value(text, "studysync_package_downloads_total", result=r) for r in ("200", "304")}

    def moved(self) -> dict[str, float]:
        now = self._read()
        return {r: now[r] - self._start[r] for r in now if now[r] != self._start[r]}


def revalidate(client: httpx.Client, token: str, package_id: str, tag: str | list[str] | None, method="GET"):
    headers = [("Authorization", f"Bearer {token}")]
    lines = [tag] if isinstance(tag, str) else tag or []
    headers += [("If-None-Match", line) for line in lines]
    return client.request(method, PACKAGES + package_id, headers=headers)


@pytest.fixture
def learned(stack: Stack, client: httpx.Client, published: dict) -> dict:  # noqa: F811
    """A published package whose first revalidation the service answered on this connection."""
    downloads = Downloads(stack)
    first = revalidate(client, stack.token("edge-user", ["kid-1"]), published["package_id"], etag(published))
    assert first.status_code == 304
    assert downloads.moved() == {"304": 1}  # the service answered: the counter works
    return published


def etag(package: dict) -> str:
    return f'"{package["version_hash"]}"'


def assert_edge_304(response: httpx.Response, package: dict) -> None:
    assert response.status_code == 304, response.text
    assert response.content == b""
    assert response.headers["etag"] == etag(package)
    assert response.headers["cache-control"] == CACHE_CONTROL
    assert response.headers["content-type"] == "application/json"  # as the service's 304 says
    assert "content-length" not in response.headers
    for leaked in ("x-http-status", "x-studysync-edge"):
        assert leaked not in response.headers


FORMS = IF_NONE_MATCH_FORMS


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("form", sorted(FORMS))
def test_second_revalidation_is_answered_by_the_edge(stack, client, learned, form, method):
    downloads = Downloads(stack)
    token = sign(stack, claims(sub="someone-else", profiles=["kid-2"]))  # any user: packages are public
    for _ in range(3):
        assert_edge_304(
            revalidate(client, token, learned["package_id"], FORMS[form](etag(learned)), method), learned
        )
    assert downloads.moved() == {}


def test_a_service_token_is_answered_like_the_service_answers_it(stack, client, learned):
    """sync's identity (no profiles, role `service`): the service would say 304, so may the edge."""
    downloads = Downloads(stack)
    service = sign(stack, claims(sub="service:sync", profiles=[], roles=["service"]))
    assert_edge_304(revalidate(client, service, learned["package_id"], etag(learned)), learned)
    assert downloads.moved() == {}


def test_a_mismatch_gets_the_full_body_from_the_service(stack, client, learned):
    downloads = Downloads(stack)
    token = stack.token("edge-user", ["kid-1"])
    for stale in (f'"{"0" * 64}"', f'W/"{learned["version_hash"][:-1]}"', learned["version_hash"], ""):
        full = revalidate(client, token, learned["package_id"], stale)
        assert full.status_code == 200 and full.json()["package_id"] == learned["package_id"]
        assert full.headers["etag"] == etag(learned) and len(full.json()["questions"]) == 4
    plain = revalidate(client, token, learned["package_id"], None)
    assert plain.status_code == 200 and plain.json()["version_hash"] == learned["version_hash"]
    assert downloads.moved() == {"200": 5}


def test_a_draft_unknown_or_malformed_id_is_never_304(stack, client, learned, bearer):
    admin = bearer("admin-1", roles=["admin"])
    scope = {"scope": "BLOCK", "scope_data": {"block_id": learned["scope_data"]["block_id"]}}
    draft = client.post("/api/v1/admin/tests/packages", json={"name": "Draft", **scope}, headers=admin)
    assert draft.status_code == 200, draft.text
    token = stack.token("edge-user", ["kid-1"])
    tags = [etag(learned), "*", etag(draft.json()), f"W/{etag(learned)}"]
    for _ in range(2):  # a second round: nothing was learned from the first
        for tag in tags:
            for package_id in (draft.json()["package_id"], str(uuid.uuid4())):
                assert_json_error(revalidate(client, token, package_id, tag), 404)
                head = revalidate(client, token, package_id, tag, "HEAD")
                assert head.status_code == 404 and head.content == b""
            malformed = assert_json_error(revalidate(client, token, "not-a-uuid", tag), 400)
            assert malformed["details"][0]["metadata"]["field"] == "package_id"
            upper = learned["package_id"].upper() + "0"  # one digit too many
            assert_json_error(revalidate(client, token, upper, tag), 400)


def test_a_query_string_goes_to_the_service(stack, client, learned):
    downloads = Downloads(stack)
    response = client.get(
        PACKAGES + learned["package_id"] + "?scope=BLOCK",
        headers={"Authorization": f"Bearer {stack.token('edge-user')}", "If-None-Match": etag(learned)},
    )
    assert response.status_code == 304
    assert downloads.moved() == {"304": 1}


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_no_bad_or_expired_token_is_401_at_the_edge(stack, client, learned, method):
    now = int(time.time())
    other_key = jwt.encode(claims(), _another_key(), algorithm="ES256", headers={"kid": "other"})
    refused = {
        "none": None,
        "garbage": "not.a.token",
        "expired": sign(stack, claims(exp=now - 5)),  # within Envoy's default 60 s skew: not here
        "no exp": sign(stack, claims(exp=OMIT)),
        "not yet valid": sign(stack, claims(nbf=now + 600)),
        "another issuer": sign(stack, claims(iss="someone-else")),
        "another key": other_key,
    }
    downloads = Downloads(stack)
    for name, token in refused.items():
        headers = {"If-None-Match": etag(learned)}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        response = client.request(method, PACKAGES + learned["package_id"], headers=headers)
        assert response.status_code == 401, name
        if method == "GET":
            assert_json_error(response, 401, "UNAUTHENTICATED")  # Envoy's own (services say so too)
    assert downloads.moved() == {}  # none of them reached the service


def _another_key() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def test_expiry_is_judged_with_the_least_clock_skew_at_the_edge(stack, client, learned):
    """Envoy's default skew (60 s) would let a token expired seconds ago through to the service."""
    response = revalidate(client, sign(stack, claims(exp=int(time.time()) - 2)), learned["package_id"], "*")
    body = assert_json_error(response, 401)
    assert body["message"] == "Jwt is expired"  # jwt_authn's words, not the service's "token expired"


def test_a_token_expiring_this_second_is_left_to_the_service(stack, client, learned):
    """Within Envoy's one second of skew the token passes jwt_authn, but the service (no skew) refuses
    it: the edge must not answer 304 for it."""
    downloads = Downloads(stack)
    token = sign(stack, claims(exp=int(time.time())))
    response = revalidate(client, token, learned["package_id"], etag(learned))
    assert_json_error(response, 401, "UNAUTHENTICATED")
    assert downloads.moved() == {}


# Tokens Envoy verifies (signature, issuer, expiry) but the services refuse
# (services/runtime/auth.py with PyJWT): the edge must pass them on and the service says 401.
REFUSED_BY_THE_SERVICE = {
    "profiles a string": {"profiles": "kid-1"},
    "profiles an object": {"profiles": {}},
    "roles an object": {"roles": {}},
    "roles null": {"roles": None},
    "profiles null": {"profiles": None},
    "no sub": {"sub": OMIT},
    "sub null": {"sub": None},
    "audience": {"aud": "another-api"},
    "issued in the future": {"iat": "future"},
    "jti a number": {"jti": 7},
}


@pytest.mark.parametrize("change", sorted(REFUSED_BY_THE_SERVICE))
def test_a_token_the_service_refuses_gets_the_services_401(stack, client, learned, change):
    changes = dict(REFUSED_BY_THE_SERVICE[change])
    if changes.get("iat") == "future":
        changes["iat"] = int(time.time()) + 600
    token = sign(stack, claims(**changes))
    downloads = Downloads(stack)
    for tag in (etag(learned), "*"):
        body = assert_json_error(
            revalidate(client, token, learned["package_id"], tag), 401, "UNAUTHENTICATED"
        )
        assert body["message"] != "Jwt is expired"
    assert downloads.moved() == {}  # refused before any download was counted


@pytest.mark.parametrize(
    ("header", "status"),
    [({}, 304), ({"kid": "KID", "crit": ["exp"]}, 401), ({"kid": "KID", "x5t": "abc"}, 304)],
    ids=["no kid", "crit", "another header"],
)
def test_a_token_header_the_edge_does_not_know_is_left_to_the_service(stack, client, learned, header, status):
    """Without a kid the services try only their first key, Envoy every key; other header members
    are PyJWT's to read: the edge does not guess, the service answers (and counts a 304)."""
    kid = json.loads((stack.state / JWKS_FILE).read_text())["keys"][0]["kid"]
    token = sign(stack, claims(), header={k: kid if v == "KID" else v for k, v in header.items()})
    downloads = Downloads(stack)
    response = revalidate(client, token, learned["package_id"], etag(learned))
    assert response.status_code == status, response.text
    assert downloads.moved() == ({"304": 1} if status == 304 else {})


def test_edge_answers_are_marked_in_the_access_log(stack, client, learned):
    token = sign(stack, claims())
    marker = f"edge-log-{uuid.uuid4().hex[:8]}"
    response = client.get(
        PACKAGES + learned["package_id"],
        headers={"Authorization": f"Bearer {token}", "If-None-Match": etag(learned), "User-Agent": marker},
    )
    assert response.status_code == 304
    assert stack.log_dir is not None
    log = stack.log_dir / "envoy.log"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # Envoy flushes its access log now and then
        lines = [json.loads(line) for line in log.read_text().splitlines() if marker in line]
        if lines:
            break
        time.sleep(0.2)
    [line] = lines
    assert line["edge"] == "304" and line["status"] == 304 and line["upstream"] is None


PLAIN = f'"iss":"studysync","sub":"edge-user","exp":{4_000_000_000}'


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ('{"iss":"studysync","sub":"edge-user","exp":1e400}', 401),
        ("{" + PLAIN + ',"roles":{},"roles":[]}', 401),  # jwt_authn refuses it (PyJWT keeps the last)
        ("{" + PLAIN + ',"\\u0072oles":{}}', 401),  # "roles"
        ("{" + PLAIN + ',"\\u0072oles":[]}', 304),
    ],
    ids=[
        "exp beyond any integer",
        "a claim twice",
        "escaped, refused",
        "escaped, fine",
    ],
)
def test_a_payload_the_edge_cannot_read_plainly_is_left_to_the_service(stack, client, learned, raw, status):
    """JSON that Envoy's reader and PyJWT's may take differently: the service decides, never the edge."""
    kid = json.loads((stack.state / JWKS_FILE).read_text())["keys"][0]["kid"]
    key = (stack.state / PRIVATE_KEY_FILE).read_bytes()
    token = jwt.api_jws.encode(raw.encode(), key, algorithm="ES256", headers={"kid": kid})
    downloads = Downloads(stack)
    response = revalidate(client, token, learned["package_id"], etag(learned))
    assert response.status_code == status, response.text
    assert downloads.moved() == ({"304": 1} if status == 304 else {})
