"""The contract stays honest (buf lint), and compose.yaml agrees with the services and the gateway."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from devstack.registry import SPECS
from gateway.render import config_from_env, render
from tests.helpers import buf_setup

ROOT = Path(__file__).resolve().parents[2]


def test_buf_lint_passes():
    result = buf_setup().run_buf(["lint"])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_compose_has_the_whole_stack(compose):
    assert {"postgres", "redis", "progress", "packages", "sync", "envoy", "gateway-config"} <= set(
        compose["services"]
    )
    assert compose["services"]["envoy"]["image"].startswith("envoyproxy/envoy:v1.40")


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_each_service_listens_where_compose_and_the_gateway_expect(compose, spec):
    service = compose["services"][spec.name]
    env = service["environment"]
    prefix = spec.name.upper()
    assert service["command"] == ["python", "-m", f"services.{spec.name}"]
    assert int(env[f"{prefix}_PORT"]) == spec.default_port
    assert int(env[f"{prefix}_METRICS_PORT"]) == spec.default_metrics_port
    assert env[f"{prefix}_DATABASE_URL"].startswith("postgresql+asyncpg://")
    gateway_env = compose["services"]["gateway-config"]["environment"]
    assert gateway_env[f"STUDYSYNC_{prefix}_ADDR"] == f"{spec.name}:{spec.default_port}"


def test_the_gateway_rendered_from_compose_env_points_at_the_compose_services(compose, tmp_path):
    env = {k: str(v) for k, v in compose["services"]["gateway-config"]["environment"].items()}
    env["STUDYSYNC_STATE_DIR"] = str(tmp_path)
    config = yaml.safe_load(render(config_from_env(env)))
    clusters = {
        c["name"]: c["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"][
            "socket_address"
        ]
        for c in config["static_resources"]["clusters"]
    }
    for spec in SPECS:
        assert clusters[spec.name] == {"address": spec.name, "port_value": spec.default_port}
    listener = config["static_resources"]["listeners"][0]["address"]["socket_address"]
    assert listener["address"] == "0.0.0.0" and listener["port_value"] == 8080


def test_compose_traces_go_to_jaeger_from_envoy_and_every_service(compose, tmp_path):
    assert "jaeger" in compose["services"]
    for spec in SPECS:
        assert (
            compose["services"][spec.name]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"]
            == "http://jaeger:4317"
        )
    env = {k: str(v) for k, v in compose["services"]["gateway-config"]["environment"].items()}
    env["STUDYSYNC_STATE_DIR"] = str(tmp_path)
    config = yaml.safe_load(render(config_from_env(env)))
    manager = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    assert manager["tracing"]["provider"]["name"] == "envoy.tracers.opentelemetry"
    [otlp] = [c for c in config["static_resources"]["clusters"] if c["name"] == "otlp"]
    address = otlp["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]
    assert address["socket_address"] == {"address": "jaeger", "port_value": 4317}


def test_without_a_collector_the_gateway_does_not_trace(tmp_path):
    config = yaml.safe_load(render(config_from_env({"STUDYSYNC_STATE_DIR": str(tmp_path)})))
    manager = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    assert "tracing" not in manager
    assert "otlp" not in {c["name"] for c in config["static_resources"]["clusters"]}
