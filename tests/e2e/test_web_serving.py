"""Envoy serves the built web client at / on the API's origin, and the dev-only /app-config.json.

A small stand-in for `dist/` (the real build is exercised by the browser suite) and Envoy alone: the
static routes and the token check at the edge need no service behind it.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from devstack.stack import _wait, envoy_binary, free_port
from gateway import codegen
from gateway.render import GatewayConfig, config_from_env, render
from services.runtime.keys import ensure_dev_keys
from tests.e2e.conftest import assert_json_error

pytestmark = pytest.mark.e2e

INDEX = b"<!doctype html><html><head><title>StudySync</title></head><body>app</body></html>\n"
DEV_CONFIG = {"token": "dev-jwt", "profile_id": "kid-1", "sync_interval_ms": 500}


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `vite build` writes: index.html, hashed assets, and public/ files copied as they are."""
    folder = tmp_path_factory.mktemp("dist")
    (folder / "assets").mkdir()
    (folder / "index.html").write_bytes(INDEX)
    (folder / "assets" / "index-B1x2y3z4.js").write_text('console.log("app")\n')
    (folder / "assets" / "index-C5d6e7f8.css").write_text("body { margin: 0 }\n")
    # Larger than Envoy's default 4 KiB direct-response limit, and not text.
    (folder / "assets" / "logo-D9e8f7a6.png").write_bytes(bytes(range(256)) * 400)
    (folder / "sw.js").write_text("self.addEventListener('fetch', () => {})\n")
    (folder / "manifest.webmanifest").write_text('{"name": "StudySync"}\n')
    (folder / "icon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>\n")
    return folder


def dev_config(state: Path, dist: Path, **overrides: object) -> GatewayConfig:
    codegen.generate_descriptor(codegen.DESCRIPTOR_OUT)
    config = GatewayConfig(
        http_port=free_port(),
        admin_port=free_port(),
        descriptor_path=codegen.DESCRIPTOR_OUT,
        jwks_path=ensure_dev_keys(state),
        web_dist=dist,
        app_config=DEV_CONFIG,
    )
    return dataclasses.replace(config, **overrides)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory, dist: Path) -> Iterator[httpx.Client]:
    """Envoy alone, rendered as the dev stack renders it, serving `dist`."""
    state = tmp_path_factory.mktemp("web-state")
    config = dev_config(state, dist)
    path = state / "envoy.yaml"
    path.write_text(render(config))
    log = (state / "envoy.log").open("wb")
    envoy = subprocess.Popen(
        [envoy_binary(), "-c", str(path), "--disable-hot-restart", "--log-level", "warn"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{config.http_port}"

    def answering() -> bool:
        try:
            return httpx.get(f"{url}/index.html", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        _wait("envoy serving the web client", answering, 60, envoy)
        with httpx.Client(base_url=url, timeout=30) as client:
            yield client
    finally:
        envoy.terminate()
        envoy.wait(15)
        log.close()


@pytest.mark.parametrize("path", ["/", "/index.html"])
def test_root_and_index_serve_index_html_revalidated(web, path):
    response = web.get(path)
    assert response.status_code == 200
    assert response.content == INDEX
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_head_of_a_file_has_its_headers_and_length_without_a_body(web):
    response = web.head("/index.html")
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-length"] == str(len(INDEX))
    assert response.headers["content-type"] == "text/html; charset=utf-8"


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/assets/index-B1x2y3z4.js", "text/javascript; charset=utf-8"),
        ("/assets/index-C5d6e7f8.css", "text/css; charset=utf-8"),
        ("/assets/logo-D9e8f7a6.png", "image/png"),
    ],
)
def test_hashed_assets_have_their_content_type_and_are_immutable(web, dist, path, content_type):
    response = web.get(path)
    assert response.status_code == 200
    assert response.content == (dist / path.lstrip("/")).read_bytes()
    assert response.headers["content-type"] == content_type
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/sw.js", "text/javascript; charset=utf-8"),
        ("/manifest.webmanifest", "application/manifest+json"),
        ("/icon.svg", "image/svg+xml"),
    ],
)
def test_unhashed_files_are_revalidated_so_a_release_reaches_the_browser(web, dist, path, content_type):
    response = web.get(path)
    assert response.status_code == 200
    assert response.content == (dist / path.lstrip("/")).read_bytes()
    assert response.headers["content-type"] == content_type
    assert response.headers["cache-control"] == "no-cache"


def test_dev_render_serves_the_app_config_uncached(web):
    response = web.get("/app-config.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == DEV_CONFIG


def test_a_path_that_is_no_file_is_a_json_404(web):
    assert_json_error(web.get("/assets/missing-0000.js"), 404)
    assert_json_error(web.get("/index.htm"), 404)


@pytest.mark.parametrize(
    "path", ["/api/v1/progress?profile_id=kid-1", "/assets/../api/v1/progress?profile_id=kid-1"]
)
def test_the_api_beside_the_app_still_needs_a_token(web, path):
    assert_json_error(web.get(path), 401)


def routes(config_yaml: str) -> dict[str, dict]:
    listener = yaml.safe_load(config_yaml)["static_resources"]["listeners"][0]
    manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
    [host] = manager["route_config"]["virtual_hosts"]
    # exact-path routes by path, prefix routes as "prefix:<p>"
    return {r["match"].get("path") or "prefix:" + r["match"]["prefix"]: r for r in host["routes"]}


def test_a_production_render_has_no_app_config(tmp_path, dist):
    """compose renders from the environment: no dev token is ever handed out, the page signs in."""
    env = {"STUDYSYNC_STATE_DIR": str(tmp_path), "STUDYSYNC_HTTP_PORT": "8080"}
    production = dev_config(tmp_path, dist, app_config=config_from_env(env).app_config)
    rendered = routes(render(production))
    assert "/app-config.json" not in rendered
    assert rendered["/"]["direct_response"]["status"] == 200
    assert "/app-config.json" in routes(render(dev_config(tmp_path, dist)))


def test_without_a_build_root_says_how_to_build_it(tmp_path):
    rendered = routes(render(dev_config(tmp_path, tmp_path / "no-dist")))
    root = rendered["/"]["direct_response"]
    assert root["status"] == 503
    assert "make web" in root["body"]["inline_string"]
    assert not any(path.startswith("/assets/") for path in rendered)


@pytest.mark.parametrize("built", [True, False], ids=["built", "not-built"])
def test_rendered_web_routes_pass_envoy_validate(tmp_path, dist, built):
    config = tmp_path / "envoy.yaml"
    config.write_text(render(dev_config(tmp_path, dist if built else tmp_path / "no-dist")))
    result = subprocess.run(
        [envoy_binary(), "--mode", "validate", "-c", str(config)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_assets_folder_copies_the_build_for_an_envoy_container(tmp_path, dist, monkeypatch):
    from gateway import render as render_module

    monkeypatch.setenv("STUDYSYNC_WEB_DIST", str(dist))
    monkeypatch.setenv("STUDYSYNC_STATE_DIR", str(tmp_path))
    render_module.main(["--out", str(tmp_path / "envoy.yaml"), "--assets", str(tmp_path / "assets")])
    rendered = routes((tmp_path / "envoy.yaml").read_text())
    body = rendered["/index.html"]["direct_response"]["body"]["filename"]
    assert Path(body) == (tmp_path / "assets" / "web" / "index.html").resolve()
    assert Path(body).read_bytes() == INDEX
    assert json.dumps(rendered).count("app-config") == 0
