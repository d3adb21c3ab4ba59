"""compose.yaml agrees with the Makefile and the settings, and each Kesu service starts the way
its container would (no Docker engine runs here): its command, with only the environment compose
gives it (values from a `.env.example`-like file, the servers pointed at the test's PostgreSQL
and Redis), in a read-only copy of what the Dockerfile copies into /app, as a non-root user."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from shared.config import Settings
from tests.support.forward import over_tcp
from tests.support.live import free_port
from tests.support.servers import Servers, create_database, drop_database

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


def _env_example() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


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
        assert env["REDIS_URL"].startswith("redis://:${REDIS_PASSWORD:?")
        assert env["REDIS_URL"].endswith("@redis:6379/0")
    postgres_env = compose["services"]["postgres"]["environment"]
    url = compose["services"]["api"]["environment"]["DATABASE_URL"]
    user, password = postgres_env["POSTGRES_USER"], postgres_env["POSTGRES_PASSWORD"]
    assert url == f"postgresql://{user}:{password}@postgres:5432/{postgres_env['POSTGRES_DB']}"


def test_every_secret_comes_from_the_environment(compose: dict[str, Any]) -> None:
    """No password or key is written in the file: each is a required variable (`${X:?…}`),
    the same for every Kesu service; Redis requires its password."""
    services = compose["services"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith(
        "${POSTGRES_PASSWORD:?"
    )
    for name in ("migrate", "api", "worker"):
        env = services[name]["environment"]
        for secret in ("KESU_JWT_SECRET", "KESU_NOTIFY_KEY_SECRET"):
            assert env[secret].startswith(f"${{{secret}:?"), (name, secret)
        assert ":${POSTGRES_PASSWORD:?" in env["DATABASE_URL"]
        assert env["KESU_PUBLIC_BASE_URL"].startswith("${KESU_PUBLIC_BASE_URL:?")
        assert services[name]["read_only"] is True
    redis = services["redis"]
    assert "--requirepass" in " ".join(redis["command"])
    assert redis["environment"]["REDIS_PASSWORD"].startswith("${REDIS_PASSWORD:?")
    assert "REDISCLI_AUTH" in " ".join(redis["healthcheck"]["test"])


def test_env_example_sets_what_compose_reads() -> None:
    """`.env.example` names every variable compose.yaml reads, and each required one has a
    value there."""
    text = (ROOT / "compose.yaml").read_text()
    example = _env_example()
    for name, operator in re.findall(r"\$\{([A-Z0-9_]+)(:[?-])?", text):
        assert name in example, name
        if operator == ":?":
            assert example[name], name
    assert "KESU_NOTIFY_KEY_SECRET" in (ROOT / "README.md").read_text()


def test_api_listens_where_the_port_mapping_points(compose: dict[str, Any]) -> None:
    api = compose["services"]["api"]
    port = int(api["environment"]["PORT"])
    assert api["environment"]["KESU_HOST"] == "0.0.0.0"  # noqa: S104 - inside the container
    assert any(mapping.endswith(f":{port}") for mapping in api["ports"])
    assert str(port) in " ".join(api["healthcheck"]["test"])


# --- each service as its container runs it ------------------------------------------------------


def _interpolate(value: str, variables: dict[str, str]) -> str:
    """compose's `${X}`, `${X:-default}`, `${X:?error}` and `$$`."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, operator, rest = match.group(1), match.group(2), match.group(3) or ""
        found = variables.get(name, "")
        if operator == ":?" and not found:
            raise AssertionError(f"compose would refuse to start: {name} unset ({rest})")
        if operator == ":-" and not found:
            return rest
        return found

    return re.sub(r"\$\$|\$\{([A-Z0-9_]+)(?:(:[?-])([^}]*))?\}", one, value)


def _image_files() -> list[str]:
    """What the Dockerfile copies into /app (its COPY lines)."""
    names: list[str] = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            names += line.split()[1:-1]
    return names


@dataclass(frozen=True)
class Image:
    app: Path  # /app
    python: str  # its `python`


@pytest.fixture(scope="module")
def image() -> Iterator[Image]:
    """A read-only copy of the image's /app (files 0444, directories 0555, owned by root) and
    an interpreter every user may run."""
    parent = Path(tempfile.mkdtemp(prefix="kesu-image-"))
    # The non-root user must reach /app (pytest's own temp directories are 0700).
    parent.chmod(0o755)
    app = parent / "app"
    app.mkdir()
    for name in _image_files():
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, app / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, app / name)
    for path in [app, *app.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    yield Image(app, _image_python(parent))
    for path in [app, *app.rglob("*")]:
        path.chmod(0o700 if path.is_dir() else 0o600)
    shutil.rmtree(parent)


@pytest.fixture(scope="module")
def deployment(test_servers: Servers) -> Iterator[dict[str, str]]:
    """The values a deployment's `.env` holds (`.env.example`'s), with a fresh, unmigrated
    database of the test's server and its Redis standing in for the compose ones."""
    values = _env_example()
    url = create_database(test_servers.admin_url, migrate=False)
    # Over TCP, as a container reaches them: the embedded servers' sockets are root's.
    with over_tcp(url, test_servers.redis_url) as (database_url, redis_url):
        values.update(
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            KESU_PUBLIC_BASE_URL="http://kesu.test/h5",
        )
        yield values
    drop_database(test_servers.admin_url, url)


def _as_container(
    compose: dict[str, Any], service: str, values: dict[str, str], **extra: str
) -> dict[str, str]:
    """The environment of `service`'s container: the image's ENV and compose's, interpolated
    from `values`; the servers' URLs are the test's. Nothing from this process leaks in."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    for name, value in compose["services"][service]["environment"].items():
        env[name] = _interpolate(str(value), values)
    run = uuid.uuid4().hex[:8]
    env.update(
        DATABASE_URL=values["DATABASE_URL"],
        REDIS_URL=values["REDIS_URL"],
        KESU_REDIS_PREFIX=f"kesu-compose-{run}",
        KESU_QUEUE_NAME=f"kesu-compose-{run}:queue",
        **extra,
    )
    return env


def _image_python(parent: Path) -> str:
    """An interpreter every user may run, with this one's packages, as the image's
    /usr/local/bin/python is: this virtualenv's own may be a link into /root (pyenv), which
    a non-root user cannot reach, nor could the devstack's children it starts. A venv built
    by hand on the system's Python 3.11 sharing this one's site-packages."""
    system = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
    if os.geteuid() != 0 or not system.exists():
        return sys.executable
    venv = parent / "python"
    (venv / "bin").mkdir(parents=True)
    lib = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    lib.mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(system)
    (lib / "site-packages").symlink_to(sysconfig.get_paths()["purelib"])
    (venv / "pyvenv.cfg").write_text(
        f"home = {system.parent}\ninclude-system-site-packages = false\n"
        f"version = {sys.version_info.major}.{sys.version_info.minor}\n"
    )
    for path in [venv, *venv.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)
    return str(venv / "bin" / "python")


def _as_user(command: list[str], image: Image) -> list[str]:
    """`command` as the image's user would run it: not root (nobody, when the test is root)."""
    argv = [image.python if part == "python" else part for part in command]
    if os.geteuid() != 0:
        return argv
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *argv]


def _start(command: list[str], env: dict[str, str], image: Image) -> subprocess.Popen[str]:
    app = str(image.app)
    env = {**env, "HOME": app, "TMPDIR": app}  # nowhere writable either
    return subprocess.Popen(
        _as_user(command, image),
        cwd=app,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _run(command: list[str], env: dict[str, str], image: Image) -> tuple[int, str]:
    process = _start(command, env, image)
    output, _ = process.communicate(timeout=120)
    return process.returncode, output


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output


@pytest.fixture(scope="module")
def migrated(compose: dict[str, Any], deployment: dict[str, str], image: Image) -> dict[str, str]:
    code, output = _run(
        compose["services"]["migrate"]["command"],
        _as_container(compose, "migrate", deployment),
        image,
    )
    assert code == 0, output
    return deployment


def test_migrate_runs_read_only_as_a_non_root_user(migrated: dict[str, str]) -> None:
    """The one-shot migration needs no secret on disk (it used to write .data/jwt-secret)."""
    assert migrated["DATABASE_URL"]


def test_the_api_starts_read_only_as_a_non_root_user(
    compose: dict[str, Any], migrated: dict[str, str], image: Image
) -> None:
    port = free_port()
    env = _as_container(compose, "api", migrated, PORT=str(port))
    process = _start(compose["services"]["api"]["command"], env, image)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, _stop(process)
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, _stop(process)
            time.sleep(0.2)
        # The first admin from the environment signs in; the customers' pages are served.
        token = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/auth/token",
            data={
                "username": migrated["KESU_ADMIN_USERNAME"],
                "password": migrated["KESU_ADMIN_PASSWORD"],
            },
        )
        assert token.status_code == 200, token.text
        assert httpx.get(f"http://127.0.0.1:{port}/h5/").status_code == 200
        # compose's health check, pointed at this port.
        check = [
            part.replace(":8000/", f":{port}/")
            for part in compose["services"]["api"]["healthcheck"]["test"][1:]
        ]
        code, output = _run(check, env, image)
        assert code == 0, output
    finally:
        output = _stop(process)
    assert process.returncode == 0, output
    assert "Permission denied" not in output, output


def test_the_worker_starts_read_only_as_a_non_root_user(
    compose: dict[str, Any], migrated: dict[str, str], image: Image
) -> None:
    env = _as_container(compose, "worker", migrated)
    process = _start(compose["services"]["worker"]["command"], env, image)
    check = compose["services"]["worker"]["healthcheck"]["test"][1:]
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, _stop(process)
            code, _ = _run(check, env, image)  # compose's health check
            if code == 0:
                break
            assert time.monotonic() < deadline, _stop(process)
            time.sleep(0.5)
    finally:
        output = _stop(process)
    assert process.returncode == 0, output
    assert "SLA worker stopped" in output, output
    assert "Permission denied" not in output, output
