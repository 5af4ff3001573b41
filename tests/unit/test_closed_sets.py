"""The closed sets of the protos (enums) and of the domain (plain strings) name the same values, the
servicers convert between them, and the gateway knows every enum's names for its 400s."""

from __future__ import annotations

import pytest
import yaml

from gateway.render import GatewayConfig, enum_names, render
from services.packages import domain
from services.packages.servicer import scope_from_proto
from services.runtime.errors import InvalidField
from services.runtime.scope import SCOPE_KINDS
from studysync.packages.v1 import resources_pb2 as pres
from studysync.sync.v1 import resources_pb2 as sres


def test_every_scope_kind_is_a_scope_name_and_the_other_way_round():
    assert [n for n in pres.Scope.keys() if n != "SCOPE_UNSPECIFIED"] == list(SCOPE_KINDS)


@pytest.mark.parametrize(
    ("value", "name"), [(pres.SCOPE_UNSPECIFIED, ""), (pres.PROGRAM, "PROGRAM"), (pres.THEME, "THEME")]
)
def test_a_scope_converts_to_the_domains_name(value, name):
    assert scope_from_proto(value) == name


def test_a_number_no_scope_name_has_is_refused_by_the_domain_naming_scope():
    with pytest.raises(InvalidField) as refused:
        domain.parse_scope(scope_from_proto(99), {"block_id": 1})
    assert refused.value.field == "scope"


def test_the_session_strings_sync_stores_are_enum_names():
    assert sres.SessionStatus.Name(sres.SessionStatus.Value("ACTIVE")) == "ACTIVE"
    assert sres.SessionMode.Name(sres.SessionMode.Value("TUTOR")) == "TUTOR"


def test_the_gateway_routes_carry_each_enums_names_for_the_lua_filter(tmp_path):
    assert enum_names()["studysync.packages.v1.Scope"] == "PROGRAM, YEAR, BLOCK, THEME"
    assert enum_names()["studysync.sync.v1.SessionStatus"] == "ACTIVE"
    config = yaml.safe_load(render(GatewayConfig(jwks_path=tmp_path / "jwks.json")))
    listener = config["static_resources"]["listeners"][0]
    manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
    routes = manager["route_config"]["virtual_hosts"][0]["routes"]
    api = [r for r in routes if r["match"].get("prefix", "").startswith("/api/v1/")]
    assert len(api) == 5
    for route in api:
        assert route["metadata"]["filter_metadata"]["envoy.filters.http.lua"]["enum_names"] == enum_names()
