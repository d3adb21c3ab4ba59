"""SLA policies: the seeded defaults, reading, and admin changes as new versions.

Tests create their own policies (inactive, or matching a combination no other test uses) and
never change the seeded ones, which plan every other test's deadlines.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from shared.db import sla as repo
from shared.db.engine import Database
from shared.domain.enums import Category, Channel, Kind, Level, Stage
from shared.domain.sla import DEFAULT_POLICIES, select_policy
from tests.support.principals import Account, create_user
from tests.support.servers import Servers, create_database, drop_database

BASE = "/api/v1/sla-policies"


@pytest.fixture(scope="module")
async def manager(anon: httpx.AsyncClient, admin_headers: dict[str, str]) -> Account:
    return await create_user(anon, admin_headers, role="manager")


def policy_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "测试规则：传真建议",
        "kind": "suggestion",
        "level": 3,
        "category": "other",
        "channel": "fax",
        "active": False,
        "stages": [
            {
                "stage": "resolution",
                "amount": 2,
                "unit": "working_days",
                "warn_ratio": 0.5,
                "on_breach": {"escalate": False, "notify": ["director"]},
            },
        ],
    }
    body.update(overrides)
    return body


async def _create(anon: httpx.AsyncClient, admin: dict[str, str], **overrides: Any) -> Any:
    response = await anon.post(BASE, json=policy_body(**overrides), headers=admin)
    assert response.status_code == 201, response.text
    return response


def test_the_migration_seeds_exactly_the_domain_defaults(test_servers: Servers) -> None:
    """On a database of its own: other tests (and the API fuzzer) may add policies."""
    url = create_database(test_servers.admin_url)

    async def read() -> list[Any]:
        db = Database(url, pool_size=1, max_overflow=0)
        try:
            async with db.connect() as conn:
                current = await repo.list_policies(conn)
                as_of_2001 = await repo.load_policies(conn, as_of=datetime(2001, 1, 1, tzinfo=UTC))
                return [current, as_of_2001, await repo.get_version(conn, 4, 2)]
        finally:
            await db.dispose()

    try:
        current, as_of_2001, level3 = asyncio.run(read())
    finally:
        drop_database(test_servers.admin_url, url)
    # Migration 0013 stored the corrected SPEC §2–§4 defaults as version 2 of each.
    expected = [
        p.model_copy(update={"id": i, "version": 2})
        for i, p in enumerate(DEFAULT_POLICIES, start=1)
    ]
    assert current == expected
    assert as_of_2001 == expected  # in force for complaints of any age
    assert level3 == expected[3]


async def test_staff_read_the_policies(
    anon: httpx.AsyncClient, admin_headers: dict[str, str], manager: Account
) -> None:
    """On a policy of its own: this module runs after the API fuzzer, which may have changed
    the seeded ones (their content is checked on a fresh database above)."""
    created = (await _create(anon, admin_headers, name="测试：读取")).json()
    listed = await anon.get(BASE, headers=manager.headers)
    assert listed.status_code == 200
    assert len(listed.json()["items"]) >= len(DEFAULT_POLICIES) + 1
    assert created["id"] in {p["id"] for p in listed.json()["items"]}
    inactive = await anon.get(BASE, params={"active": "false"}, headers=manager.headers)
    assert created["id"] in {p["id"] for p in inactive.json()["items"]}
    one = await anon.get(f"{BASE}/{created['id']}", headers=manager.headers)
    assert one.status_code == 200
    assert one.headers["etag"] == '"1"'
    stage = one.json()["stages"][0]
    assert (stage["stage"], stage["amount"], stage["unit"], stage["warn_ratio"]) == (
        "resolution",
        2,
        "working_days",
        0.5,
    )
    assert stage["on_breach"] == {
        "escalate": False,
        "notify": ["director"],
        "tell_customer_within": None,
    }
    assert (await anon.get(f"{BASE}/999999", headers=manager.headers)).status_code == 404


async def test_only_admins_change_policies(
    anon: httpx.AsyncClient, client: httpx.AsyncClient, manager: Account
) -> None:
    assert (await anon.get(BASE)).status_code == 401
    assert (await client.get(BASE)).status_code == 403  # integration keys do not read them
    for method, url in (("POST", BASE), ("PUT", f"{BASE}/1")):
        assert (await anon.request(method, url, json=policy_body())).status_code == 401
        refused = await anon.request(method, url, json=policy_body(), headers=manager.headers)
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"


async def test_create_then_change_makes_a_new_version_for_new_complaints(
    anon: httpx.AsyncClient, admin_headers: dict[str, str], db: Database
) -> None:
    created = await _create(anon, admin_headers)
    body = created.json()
    policy_id = body["id"]
    assert body["version"] == 1
    assert "registered from now on" in body["applies_to"]
    assert created.headers["location"] == f"{BASE}/{policy_id}"
    changed_stages = [{"stage": "resolution", "amount": 4, "unit": "working_days"}]
    stale = await anon.put(
        f"{BASE}/{policy_id}",
        json=policy_body(stages=changed_stages),
        headers={**admin_headers, "If-Match": '"7"'},
    )
    assert stale.status_code == 412
    changed = await anon.put(
        f"{BASE}/{policy_id}",
        json=policy_body(stages=changed_stages),
        headers={**admin_headers, "If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2
    assert changed.headers["etag"] == '"2"'
    versions = (await anon.get(f"{BASE}/{policy_id}/versions", headers=admin_headers)).json()[
        "items"
    ]
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[0]["valid_until"] == versions[1]["valid_from"]
    assert versions[1]["valid_until"] is None
    assert versions[0]["document"]["stages"][0]["amount"] == 2
    async with db.connect() as conn:
        old = await repo.get_version(conn, policy_id, 1)
        new = await repo.get_policy(conn, policy_id)
    assert old is not None
    assert new is not None
    assert old.stages[0].amount == 2  # what deadlines planned with version 1 still refer to
    assert (new.version, new.stages[0].amount) == (2, 4)
    audit = await anon.get(
        "/api/v1/audit-events",
        params={"target_type": "sla_policy", "target_id": str(policy_id)},
        headers=admin_headers,
    )
    assert sorted(e["action"] for e in audit.json()["items"]) == [
        "sla_policy.create",
        "sla_policy.update",
    ]


async def test_policies_in_force_at_registration_time(
    anon: httpx.AsyncClient, admin_headers: dict[str, str], db: Database
) -> None:
    """Activating a policy applies it to complaints registered afterwards only."""
    created = (await _create(anon, admin_headers, name="测试：启用前后")).json()
    policy_id = created["id"]
    before = datetime.now(UTC)
    await asyncio.sleep(0.01)
    try:
        activated = await anon.put(
            f"{BASE}/{policy_id}", json=policy_body(active=True), headers=admin_headers
        )
        assert activated.status_code == 200
        async with db.connect() as conn:
            now_in_force = await repo.load_policies(conn)
            earlier = await repo.load_policies(conn, as_of=before)
        assert policy_id in {p.id for p in now_in_force}
        assert policy_id not in {p.id for p in earlier}
        facts = {
            "kind": Kind.SUGGESTION,
            "level": Level.VERY_SERIOUS,
            "category": Category.OTHER,
            "channel": Channel.FAX,
        }
        chosen = select_policy(now_in_force, **facts, stage=Stage.RESOLUTION)
        assert chosen is not None
        assert chosen.id == policy_id  # the most specific wins
        fallback = select_policy(earlier, **facts, stage=Stage.RESOLUTION)
        assert fallback is not None
        assert fallback.name == "建议答复时限"
    finally:
        off = await anon.put(
            f"{BASE}/{policy_id}", json=policy_body(active=False), headers=admin_headers
        )
        assert off.status_code == 200
    async with db.connect() as conn:
        assert policy_id not in {p.id for p in await repo.load_policies(conn)}


async def test_the_policy_cache_sees_changes_of_this_process_at_once(
    anon: httpx.AsyncClient, admin_headers: dict[str, str], db: Database
) -> None:
    ticks = [0.0]
    cache = repo.PolicyCache(recheck_after=60, clock=lambda: ticks[0])
    async with db.connect() as conn:
        first = await cache.get(conn)
        created = (await _create(anon, admin_headers, name="测试：缓存")).json()
        assert await cache.get(conn) is first  # within the recheck interval
        ticks[0] = 61
        assert created["id"] not in {p.id for p in await cache.get(conn)}  # inactive
        cache.invalidate()
        assert await cache.get(conn) is not first


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"stages": []}, ["body", "stages"]),
        (
            {
                "stages": [
                    {"stage": "resolution", "amount": 1, "unit": "hours"},
                    {"stage": "resolution", "amount": 2, "unit": "hours"},
                ]
            },
            ["body"],
        ),
        (
            {"stages": [{"stage": "resolution", "amount": 1, "unit": "hours", "warn_ratio": 2}]},
            ["body", "stages", 0, "warn_ratio"],
        ),
        (
            {"stages": [{"stage": "resolution", "amount": 1, "unit": "fortnights"}]},
            ["body", "stages", 0, "unit"],
        ),
        ({"level": 4}, ["body", "level"]),
        ({"name": ""}, ["body", "name"]),
    ],
)
async def test_invalid_policies_are_refused(
    anon: httpx.AsyncClient, admin_headers: dict[str, str], change: dict[str, Any], where: list[Any]
) -> None:
    response = await anon.post(BASE, json=policy_body(**change), headers=admin_headers)
    assert response.status_code == 422, response.text
    locs = [e["loc"] for e in response.json()["errors"]]
    assert any(loc[: len(where)] == where for loc in locs), locs
