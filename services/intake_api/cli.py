"""`python -m services.intake_api.cli create-admin --username NAME`: the first admin, by hand.

The password comes from KESU_ADMIN_PASSWORD or is asked for (never on the command line, where
it would land in shell history). Nothing happens when an active admin exists already.
`make admin USERNAME=...` runs this against the embedded database when DATABASE_URL is unset.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from datetime import UTC, datetime

from services.intake_api.auth.secrets import password_hasher
from services.intake_api.auth.service import Passwords, ensure_admin
from shared.config import get_settings
from shared.db.engine import Database


async def _create_admin(username: str, password: str) -> bool:
    db = Database(get_settings().require_database_url(), pool_size=1, max_overflow=0)
    try:
        return await ensure_admin(
            db,
            Passwords(password_hasher()),
            username=username,
            password=password,
            now=datetime.now(UTC),
        )
    finally:
        await db.dispose()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.intake_api.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-admin", help="create the first admin account")
    create.add_argument("--username", required=True)
    args = parser.parse_args(argv)
    password = os.environ.get("KESU_ADMIN_PASSWORD") or getpass.getpass("Password (12+ chars): ")
    try:
        created = asyncio.run(_create_admin(args.username, password))
    except ValueError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    print("admin created" if created else "an active admin exists already: nothing done")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
