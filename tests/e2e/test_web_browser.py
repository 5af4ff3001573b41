"""The web client in Debian's Chromium (playwright-core) against the real stack through Envoy.

One stack (SQLite, no Redis) for the suite, with short sync intervals and backoffs in its
/app-config.json; each scenario runs in a new browser profile with its own user and profile id
(scenario 1 plays as the dev config's own profile), and checks the server's truth through the API.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator

import pytest

from clients.packages_admin import load_sample
from devstack.stack import Stack, web_app_config
from tests.e2e.webclient import DIST, RUN_ARTIFACTS, new_run_artifacts, require_browser_build, run_scenario
from tests.e2e.webstack import web_stack

pytestmark = pytest.mark.e2e

# Short enough that backoff and the interval timer act within a scenario's generous deadlines.
SUITE_TIMINGS = {"sync_interval_ms": 1000, "backoff_base_ms": 200, "backoff_max_ms": 1500}


@pytest.fixture(scope="module")
def web_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require_browser_build()
    artifacts = new_run_artifacts()
    state = tmp_path_factory.mktemp("web-browser")
    # A copy: a rebuild during the run (npm run build empties dist/) cannot pull files from under Envoy.
    dist = shutil.copytree(DIST, state / "dist")
    stack = web_stack(state, dist, web_app_config(state, **SUITE_TIMINGS))
    stack.start()
    try:
        load_sample(stack.grpc_target("packages"), stack.token("e2e-admin", [], ["admin"]))
        print(f"browser suite: {stack.http_url}/  screenshots: {artifacts}  logs: {state / 'logs'}")
        yield stack
    finally:
        stack.stop()


def scenario_env(stack: Stack, name: str, profile: str | None = None) -> dict[str, str]:
    """A user and profile of the scenario's own, so the server's read-back holds only its items."""
    profile = profile or f"kid-{name}-{uuid.uuid4().hex[:8]}"
    sub = "dev-user" if profile == "kid-1" else f"e2e-{name}-{uuid.uuid4().hex[:8]}"
    return {"APP_URL": stack.http_url, "PROFILE": profile, "TOKEN": stack.token(sub, [profile])}


def test_offline_play_is_pending_survives_a_reload_and_syncs_exactly_once(web_app):
    run_scenario(web_app, "offline_play", scenario_env(web_app, "offline", profile="kid-1"))


def test_a_lost_response_is_retried_and_answered_duplicate(web_app):
    run_scenario(web_app, "lost_response", scenario_env(web_app, "lost"))


def test_items_wait_out_a_503_and_a_refused_item_shows_its_reason(web_app):
    run_scenario(web_app, "server_unavailable", scenario_env(web_app, "unavailable"))


def test_two_tabs_sync_one_at_a_time_and_every_item_reaches_the_server_once(web_app):
    run_scenario(web_app, "two_tabs", scenario_env(web_app, "tabs"))


def test_practice_offline_across_a_browser_restart_scores_on_the_server(web_app):
    run_scenario(web_app, "practice_offline", scenario_env(web_app, "practice"))


def test_another_devices_items_appear_on_progress_after_a_sync(web_app):
    run_scenario(web_app, "other_device", scenario_env(web_app, "other"))


def test_screenshots_were_saved(web_app):
    """Play (pending), Progress and Practice at desktop and phone sizes, for a person to look at."""
    wanted = [
        f"{page}-{size}.png"
        for page in ("play-pending", "progress", "practice")
        for size in ("desktop", "phone")
    ]
    missing = [name for name in wanted if not (RUN_ARTIFACTS / name).is_file()]
    print(f"screenshots in {RUN_ARTIFACTS}")
    assert not missing, f"missing screenshots in {RUN_ARTIFACTS}: {missing}"
