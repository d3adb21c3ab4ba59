"""What the SLA policy endpoints accept and return."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, model_validator

from services.intake_api.complaints.schemas import LocalTime
from shared.domain.enums import Category, Channel, Kind, Level
from shared.domain.sla import SlaPolicy, SlaStage
from shared.domain.values import ShortText

APPLIES_TO = (
    "Changes apply to complaints registered from now on (更改只对此后受理的投诉生效): deadlines "
    "already planned keep the policy version they were planned with, and complaints already "
    "registered keep following the versions in force when they were registered."
)


class PolicyIn(BaseModel):
    """A whole policy: which complaints it matches (null = any) and its stages."""

    model_config = ConfigDict(extra="forbid")

    name: ShortText = Field(examples=["物流投诉首次联系时限"])
    kind: Kind | None = None
    level: Level | None = None
    category: Category | None = None
    channel: Channel | None = None
    priority: StrictInt = Field(
        default=0, ge=-1000, le=1000, description="Higher wins; then the more specific wins"
    )
    active: StrictBool = True
    stages: list[SlaStage] = Field(min_length=1, max_length=7)

    @model_validator(mode="after")
    def _one_entry_per_stage(self) -> PolicyIn:
        stages = [s.stage for s in self.stages]
        if len(stages) != len(set(stages)):
            raise ValueError("a policy lists each stage at most once")
        return self

    def policy(self) -> SlaPolicy:
        return SlaPolicy.model_validate({**self.model_dump(), "stages": tuple(self.stages)})


class PolicyOut(BaseModel):
    id: int
    version: int = Field(description="Bumped by every change; also the ETag")
    name: str
    kind: Kind | None
    level: Level | None
    category: Category | None
    channel: Channel | None
    priority: int
    active: bool
    stages: list[SlaStage]
    created_at: LocalTime
    updated_at: LocalTime


class PolicyChangeOut(PolicyOut):
    applies_to: str = Field(default=APPLIES_TO, description="Which complaints the change affects")


class PolicyVersionOut(BaseModel):
    version: int
    valid_from: LocalTime = Field(description="Complaints registered from then on use it")
    valid_until: LocalTime | None = Field(description="Null for the current version")
    changed_by: str | None
    document: dict[str, Any]
