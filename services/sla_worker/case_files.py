"""The yearly case file (案宗) by hand, and its check.

    python -m services.sla_worker.case_files build --year 2026
    python -m services.sla_worker.case_files verify \
        --key case-files/2026/kesu-case-files-2026.tar.gz
    python -m services.sla_worker.case_files verify --file ./kesu-case-files-2026.tar.gz

`build` writes the year's archive(s) to the configured storage (the filesystem under the data
directory, or S3 with `KESU_S3_*`) and prints what it wrote as JSON; running it again writes
the same bytes. `verify` checks every file of an archive against its manifest and exits 1 on
any difference. `make case-files YEAR=2026` and `make case-files-verify KEY=…` run these
against the embedded database when DATABASE_URL is unset.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from shared.application import bootstrap
from shared.application.case_files import Verified, build_year, verify_file, verify_key
from shared.config import get_settings


async def _build(year: int) -> list[dict[str, object]]:
    collab = bootstrap.build(get_settings(), pool_size=2, max_overflow=0)
    try:
        await collab.require_storage().prepare()
        return [b.__dict__ for b in await build_year(collab, year)]
    finally:
        await collab.aclose()


async def _verify_key(key: str) -> Verified:
    return await verify_key(bootstrap.build_storage(get_settings()), key)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.sla_worker.case_files")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build a year's case files into storage")
    build.add_argument("--year", type=int, required=True)
    verify = commands.add_parser("verify", help="check an archive against its manifest")
    where = verify.add_mutually_exclusive_group(required=True)
    where.add_argument("--key", help="the archive's key in the configured storage")
    where.add_argument("--file", type=Path, help="an archive on disk")
    args = parser.parse_args(argv)
    if args.command == "build":
        print(json.dumps(asyncio.run(_build(args.year)), ensure_ascii=False, indent=2))
        return 0
    result = verify_file(args.file) if args.file else asyncio.run(_verify_key(args.key))
    print(json.dumps(result.__dict__, ensure_ascii=False, indent=2))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
