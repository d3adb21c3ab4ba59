"""compose.yaml agrees with the Makefile and the settings (no Docker engine runs here, so this
parses the file and checks what it would do)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.config import Settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return data


def _make_recipe(target: str) -> str:
    makefile = (ROOT / "Makefile").read_text()
    match = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert match, f"no make target {target}"
    return match.group(1).strip()


def _settings_env_names() -> set[str]:
    names = set()
    for name, field in Settings.model_fields.items():
        names.add(f"KESU_{name.upper()}")
        alias = field.validation_alias
        if alias is not None and hasattr(alias, "choices"):
            names.update(str(c) for c in alias.choices)
    return names


def test_services_images_and_health_checks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "migrate", "api", "worker"}
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    for name in ("postgres", "redis", "api", "worker"):
        assert services[name]["healthcheck"]["test"], name
    for name in ("api", "worker"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


@pytest.mark.parametrize(
    ("service", "target"), [("migrate", "migrate"), ("api", "api"), ("worker", "worker")]
)
def test_commands_are_the_makefile_targets(
    compose: dict[str, Any], service: str, target: str
) -> None:
    command = " ".join(compose["services"][service]["command"])
    recipe = _make_recipe(target).replace("$(PY)", "python")
    assert command == recipe


def test_environment_is_what_the_settings_read(compose: dict[str, Any]) -> None:
    known = _settings_env_names()
    for name in ("migrate", "api", "worker"):
        env = compose["services"][name]["environment"]
        assert {"DATABASE_URL", "REDIS_URL"} <= set(env), name
        assert set(env) <= known, f"{name}: {set(env) - known} are read by nothing"
        # The URLs point at the compose services, with the compose database credentials.
        assert "@postgres:5432/" in env["DATABASE_URL"]
        assert env["REDIS_URL"].startswith("redis://redis:6379")
    postgres_env = compose["services"]["postgres"]["environment"]
    url = compose["services"]["api"]["environment"]["DATABASE_URL"]
    user, password = postgres_env["POSTGRES_USER"], postgres_env["POSTGRES_PASSWORD"]
    assert url == f"postgresql://{user}:{password}@postgres:5432/{postgres_env['POSTGRES_DB']}"


def test_api_listens_where_the_port_mapping_points(compose: dict[str, Any]) -> None:
    api = compose["services"]["api"]
    port = int(api["environment"]["PORT"])
    assert api["environment"]["KESU_HOST"] == "0.0.0.0"  # noqa: S104 - inside the container
    assert f"{port}:{port}" in api["ports"]
    assert str(port) in " ".join(api["healthcheck"]["test"])
