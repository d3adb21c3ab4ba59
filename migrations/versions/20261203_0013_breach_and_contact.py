"""Issue 11 §2–§4: the corrected default SLA policies (SPEC §2–§4) and the handler's work contact.

- `users.contact_phone`: the direct work contact (desk phone or extension) a customer is told
  of their handler (seed 002 §5.3.1.3); never the personal `mobile`.
- The seeded default policies (ids 1..7), where an admin never changed them (still version 1),
  get version 2: first contact within 1 working day (seed 002 §5.1.1), progress updates every
  3 working days at level 2 and every 2 at level 3 (§5.3.1.5), and breaches that alert the
  handler and the supervisor tier and tell the customer of a late resolution instead of
  raising the level (§4.3, seed 000 第五条). Version 2 is in force from the moment version 1
  was (the correction applies to complaints of any age: `load_policies(as_of=...)` finds it);
  version 1 stays, with an empty span, for the deadlines planned on it.
- The open cases' deadlines are then planned again under version 2 through the complaint-change
  pipeline, with a `deadlines.replanned` event each, by the worker's housekeeping (run at its
  start-up; shared.application.replan), never by raw SQL here: the deadline rules plan them.

Downgrade: version 1 is in force again (deadlines planned on version 2 point back to it);
the column is dropped.

Revision ID: 0013
Revises: 0030
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0030"
branch_labels = None
depends_on = None

_NOTIFY = ("assignee", "supervisor")
_TO_DIRECTOR = ("assignee", "director")


def _stage(
    stage: str,
    amount: int,
    *,
    starts_on: str = "registration",
    repeats: bool = False,
    notify: tuple[str, ...] = _NOTIFY,
    tell_customer_within: int | None = None,
) -> dict[str, Any]:
    return {
        "stage": stage,
        "amount": amount,
        "unit": "working_days",
        "warn_ratio": 0.75,
        "starts_on": starts_on,
        "repeats": repeats,
        "on_breach": {
            "escalate": False,
            "notify": list(notify),
            "tell_customer_within": tell_customer_within,
        },
    }


def _resolution(days: int, notify: tuple[str, ...] = _NOTIFY) -> dict[str, Any]:
    return _stage("resolution", days, notify=notify, tell_customer_within=2)


# Policy id → its version-2 stages (shared.domain.sla.DEFAULT_POLICIES; a test compares them).
STAGES_V2: dict[int, list[dict[str, Any]]] = {
    1: [
        _stage("acknowledgement", 1),
        _stage("first_contact", 1),
        _stage("investigation", 2, starts_on="assignment"),
        _stage("result_to_customer", 1, starts_on="result_known"),
        _stage("progress_update", 5, repeats=True),
    ],
    2: [_resolution(3)],
    3: [_resolution(7), _stage("progress_update", 3, repeats=True)],
    4: [_resolution(15, _TO_DIRECTOR), _stage("progress_update", 2, repeats=True)],
    5: [_stage("acknowledgement", 1), _resolution(3)],
    6: [_stage("acknowledgement", 1), _resolution(3)],
    7: [_stage("regulator_reply", 10, notify=_TO_DIRECTOR)],
}

_policies = sa.table(
    "sla_policies",
    sa.column("id", sa.Integer),
    sa.column("version", sa.Integer),
    sa.column("stages", postgresql.JSONB),
    sa.column("updated_at", postgresql.TIMESTAMP(timezone=True)),
)
_versions = sa.table(
    "sla_policy_versions",
    sa.column("policy_id", sa.Integer),
    sa.column("version", sa.Integer),
    sa.column("document", postgresql.JSONB),
    sa.column("valid_from", postgresql.TIMESTAMP(timezone=True)),
    sa.column("valid_until", postgresql.TIMESTAMP(timezone=True)),
    sa.column("changed_by", sa.Text),
)
_deadlines = sa.table(
    "deadlines", sa.column("policy_id", sa.Integer), sa.column("policy_version", sa.Integer)
)
_CHANGED_BY = "migration 0013 (issue 11: SPEC §2–§4 corrected)"


def upgrade() -> None:
    op.add_column("users", sa.Column("contact_phone", sa.Text(), nullable=True))
    bind = op.get_bind()
    now = datetime.now(UTC)
    for policy_id, stages in STAGES_V2.items():
        current = bind.execute(
            sa.select(_versions.c.document, _versions.c.valid_from).where(
                _versions.c.policy_id == policy_id,
                _versions.c.version == 1,
                _versions.c.valid_until.is_(None),
            )
        ).first()
        if current is None:
            continue  # changed by an admin since: their version stands
        document = {**current.document, "version": 2, "stages": stages}
        op.execute(
            _versions.update()
            .where(_versions.c.policy_id == policy_id, _versions.c.version == 1)
            .values(valid_until=current.valid_from)
        )
        op.execute(
            _versions.insert().values(
                policy_id=policy_id,
                version=2,
                document=document,
                valid_from=current.valid_from,
                valid_until=None,
                changed_by=_CHANGED_BY,
            )
        )
        op.execute(
            _policies.update()
            .where(_policies.c.id == policy_id)
            .values(version=2, stages=stages, updated_at=now)
        )


def downgrade() -> None:
    bind = op.get_bind()
    now = datetime.now(UTC)
    rows = bind.execute(
        sa.select(_versions.c.policy_id).where(
            _versions.c.version == 2, _versions.c.changed_by == _CHANGED_BY
        )
    ).all()
    for (policy_id,) in rows:
        first = bind.execute(
            sa.select(_versions.c.document).where(
                _versions.c.policy_id == policy_id, _versions.c.version == 1
            )
        ).scalar_one()
        op.execute(
            _deadlines.update()
            .where(_deadlines.c.policy_id == policy_id, _deadlines.c.policy_version == 2)
            .values(policy_version=1)
        )
        op.execute(
            _versions.delete().where(_versions.c.policy_id == policy_id, _versions.c.version == 2)
        )
        op.execute(
            _versions.update()
            .where(_versions.c.policy_id == policy_id, _versions.c.version == 1)
            .values(valid_until=None)
        )
        op.execute(
            _policies.update()
            .where(_policies.c.id == policy_id)
            .values(version=1, stages=first["stages"], updated_at=now)
        )
    op.drop_column("users", "contact_phone")
