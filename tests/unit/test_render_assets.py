"""`python -m gateway.render --assets DIR` (compose's gateway-config job): the Envoy container sees only
DIR, so every file the rendered config names must have been copied there (the JWKS is the state
folder's own, and the state folder is that same volume in compose)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import yaml

from gateway import codegen, render


def filenames(node: object) -> Iterator[str]:
    """Every `filename:` value anywhere in the config."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "filename":
                yield value
            else:
                yield from filenames(value)
    elif isinstance(node, list):
        for item in node:
            yield from filenames(item)


def test_every_file_the_config_names_is_in_the_assets_folder(tmp_path, monkeypatch):
    codegen.generate_descriptor(codegen.DESCRIPTOR_OUT)
    state, assets = tmp_path / "state", tmp_path / "assets"
    monkeypatch.setenv("STUDYSYNC_STATE_DIR", str(state))
    render.main(["--out", str(assets / "envoy.yaml"), "--assets", str(assets)])
    named = {Path(name) for name in filenames(yaml.safe_load((assets / "envoy.yaml").read_text()))}
    lua = {path for path in named if path.suffix == ".lua"}
    assert {path.name for path in lua} == {"http_status.lua", "edge_revalidation.lua"}
    outside = {path for path in named if assets not in path.parents}
    assert outside == {(state / "jwks.json").absolute()}
    assert all(path.is_file() for path in named - outside)
