"""The first admin by hand (`make admin`): created once, then left alone."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.servers import Servers, create_database, drop_database


def test_create_admin_command_creates_the_first_admin_only(test_servers: Servers) -> None:
    url = create_database(test_servers.admin_url)
    env = {**os.environ, "DATABASE_URL": url, "KESU_ADMIN_PASSWORD": "a-long-admin-password"}
    command = [sys.executable, "-m", "services.intake_api.cli", "create-admin"]
    try:
        first = subprocess.run(
            [*command, "--username", "Li.Na"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert first.returncode == 0, first.stderr
        assert "admin created" in first.stdout
        second = subprocess.run(
            [*command, "--username", "other"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert "exists already" in second.stdout
        short = subprocess.run(
            [*command, "--username", "x"],
            env={**env, "KESU_ADMIN_PASSWORD": "short"},
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert short.returncode == 2
    finally:
        drop_database(test_servers.admin_url, url)
