"""What the complaint endpoints return. Times are shown in Asia/Shanghai (+08:00)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from starlette.responses import Response

from services.intake_api.paging import Page, PageQuery
from shared.db.complaints import state_from_row
from shared.domain.access import Principal, mask_customer, sees_contact_data
from shared.domain.complaint import Actor, ActorKind, ComplaintState
from shared.domain.enums import (
    Category,
    CauseClass,
    Channel,
    CustomerType,
    DeadlineStatus,
    DurationUnit,
    Kind,
    Level,
    Satisfaction,
    Stage,
    Status,
)
from shared.domain.handling import Context, available_actions
from shared.domain.intake import Attachment, ComplaintSubject, Product, Wish
from shared.domain.records import (
    Approval,
    CorrectiveAction,
    FollowUp,
    FollowUpAttempt,
    Investigation,
    RegulatorReply,
    SignOff,
    Solution,
)
from shared.domain.reference import REFERENCE_PATTERN, SHANGHAI
from shared.domain.rules import Rules
from shared.domain.search import OWN_WORDS, snippet
from shared.domain.values import Code, Instant, SearchText, mask_phone

LocalTime = Annotated[datetime, AfterValidator(lambda t: t.astimezone(SHANGHAI))]


# The domain's records keep their times as stored (UTC); what the API shows is in +08:00.
class ApprovalView(Approval):
    at: LocalTime


class SolutionView(Solution):
    proposed_at: LocalTime
    # The same list, each shown in +08:00 (pydantic revalidates it; mypy sees lists invariant).
    approvals: list[ApprovalView] = Field(default_factory=list)  # type: ignore[assignment]
    implemented_at: LocalTime | None = None


class InvestigationView(Investigation):
    recorded_at: LocalTime


class CorrectiveActionView(CorrectiveAction):
    created_at: LocalTime
    updated_at: LocalTime


class RegulatorReplyView(RegulatorReply):
    replied_at: LocalTime
    recorded_at: LocalTime


class SignOffView(SignOff):
    at: LocalTime


class FollowUpAttemptView(FollowUpAttempt):
    attempted_at: LocalTime


class FollowUpView(FollowUp):
    # The same list, each shown in +08:00 (pydantic revalidates it; mypy sees lists invariant).
    attempts: list[FollowUpAttemptView] = Field(default_factory=list)  # type: ignore[assignment]
    unreachable_at: LocalTime | None = None


class ActorView(BaseModel):
    """Who did something: a staff account, an integration key, the customer or the system,
    with the name to show (display name, key name) when there is one."""

    kind: ActorKind
    id: str | None = None
    name: str | None = Field(default=None, examples=["李娜"])

    @classmethod
    def of(cls, actor: Mapping[str, Any] | Actor, names: Mapping[str, str]) -> ActorView:
        a = actor if isinstance(actor, Actor) else Actor.model_validate(actor)
        return cls(kind=a.kind, id=a.id, name=names.get(a.id) if a.id else None)


@dataclass(frozen=True)
class Viewer:
    """Who reads complaints, and what their answers need besides the rows: the rules in force
    (what this caller may do now) and the names of the staff and keys the rows name."""

    principal: Principal
    rules: Rules
    now: datetime
    names: Mapping[str, str]

    @property
    def contact_visible(self) -> bool:
        return sees_contact_data(self.principal)


def named_ids(row: Mapping[str, Any]) -> list[uuid.UUID]:
    """The account ids a complaint row shows a name for (assignee, who registered it)."""
    ids = [row.get("assignee_id")]
    if row.get("created_by_kind") in (ActorKind.USER, ActorKind.INTEGRATION):
        ids.append(_uuid(row.get("created_by_id")))
    return [i for i in ids if isinstance(i, uuid.UUID)]


def local_times(python: Any, json: Any) -> Any:
    """`json` (a model's JSON-mode dump) with every time shown in +08:00: `python` is the same
    model's Python-mode dump, which tells which strings are times. For payloads kept as free
    JSON (event payloads), where no field type can say it."""
    if isinstance(python, datetime):
        return python.astimezone(SHANGHAI).isoformat()
    if isinstance(python, dict) and isinstance(json, dict):
        return {k: local_times(python.get(k), v) for k, v in json.items()}
    if isinstance(python, list | tuple) and isinstance(json, list):
        return [local_times(p, j) for p, j in zip(python, json, strict=False)]
    return json


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        return None


class CustomerView(BaseModel):
    """The customer; phone, email, address and id number may be masked (e.g. 138****1234)."""

    name: str
    phone: str | None = None
    email: str | None = None
    address: str | None = None
    customer_type: CustomerType
    id_number: str | None = None


class ChannelMetaView(BaseModel):
    call_id: str | None = None
    caller_number: str | None = None
    agent_id: str | None = None
    regulator: str | None = None
    regulator_case_number: str | None = None
    source_url: str | None = None


class SearchMatch(BaseModel):
    """Where a search's terms were found: a window of the searchable text with the matches as
    [start, end) character offsets (mark them as you like: nothing in the text is markup)."""

    rank: Literal["own_words", "handling"] | None = Field(
        description="`own_words`: the complaint's own text (content, product, 受理号, the "
        "customer's wish) holds every term; `handling`: only its handling records (findings, "
        "root cause, solution, notes, replies). Null when `sort` was given"
    )
    snippet: str
    highlights: list[tuple[int, int]]

    @classmethod
    def of(cls, row: dict[str, Any], terms: tuple[str, ...]) -> SearchMatch:
        """From a search page's row (`search_text`, and `search_tier` when ranked)."""
        cut = snippet(row.get("search_text") or "", terms)
        tier = row.get("search_tier")
        rank = None if tier is None else ("own_words" if tier == OWN_WORDS else "handling")
        return cls(rank=rank, snippet=cut.text, highlights=cut.highlights)


class ComplaintOut(BaseModel):
    """A complaint as registered and handled so far."""

    model_config = ConfigDict(from_attributes=False)

    id: uuid.UUID
    reference: str = Field(description="受理号, e.g. KS-20261125-000123")
    version: int = Field(description="Increases with every event; the ETag")
    status: Status
    kind: Kind
    category: Category
    subcategory: str | None
    cause_class: CauseClass | None
    level: Level
    channel: Channel
    customer: CustomerView
    product: Product | None
    content: str
    desired_resolution: Wish | None
    attachments: list[Attachment]
    subject: ComplaintSubject | None
    channel_meta: ChannelMetaView
    notify_customer: bool
    department: str | None
    assignee_id: uuid.UUID | None
    assignee_name: str | None = Field(default=None, description="The assignee's display name")
    repeat_of: uuid.UUID | None
    group_id: uuid.UUID | None = Field(
        default=None, description="集体投诉: the group (its first complaint), if any"
    )
    created_by: ActorView
    created_at: LocalTime
    updated_at: LocalTime
    level_reasons: list[str] = Field(
        description="Why the level is what it is: the suggestion's signals (e.g. keyword:曝光, "
        "channel:regulator, repeat) and `staff_override` once staff set another level"
    )
    status_before_pause: Status | None = None
    paused_at: LocalTime | None = None
    last_contact_at: LocalTime | None = None
    contact_count: int = 0
    investigation: InvestigationView | None = None
    root_cause: str | None = None
    solution: SolutionView | None = None
    corrective_actions: list[CorrectiveActionView] = []
    satisfaction: Satisfaction | None = None
    satisfaction_source: str | None = None
    management_review: bool = Field(description="Level 3 rated 4–5: for the management meeting")
    regulator_reply: RegulatorReplyView | None = None
    resolved_at: LocalTime | None = None
    closed_at: LocalTime | None = None
    resolved_by: str | None = Field(
        default=None, description="Who told the customer the current result (its handler)"
    )
    review: SignOffView | None = Field(default=None, description="审核: who signed the result off")
    followup: FollowUpView | None = Field(
        default=None, description="回访: failed attempts, and whether the customer was unreachable"
    )
    allowed_actions: list[str] = Field(
        default=[],
        description="What this caller may do now, spelled as the action's URL "
        "(`POST /api/v1/complaints/{id}/<action>`): role, tier, approval state and the "
        "action's rules included, so an action offered is refused only for its body",
        examples=[["log-contact", "add-note", "reply-to-customer", "escalate"]],
    )
    match: SearchMatch | None = Field(
        default=None, description="Only in a text search (`q`): where the terms were found"
    )

    @classmethod
    def from_row(
        cls, row: dict[str, Any], *, viewer: Viewer, state: ComplaintState | None = None
    ) -> ComplaintOut:
        """The complaint as a principal may see it: contact data masked unless the viewer sees
        contact data, identity numbers always masked (the reveal call shows them).

        `state`: the row's state when the caller holds it (a change just decided, whose row is
        `row_from_state(state)`): reading it back from the row would validate the whole
        complaint again (its e-mail address included) on every registration and action."""
        contact_visible = viewer.contact_visible
        data = dict(row)
        ctx = Context(principal=viewer.principal, now=viewer.now, rules=viewer.rules)
        state = state if state is not None else state_from_row(row)
        data["allowed_actions"] = [a.slug for a in available_actions(state, ctx)]
        actor = {"kind": data.pop("created_by_kind"), "id": data.pop("created_by_id")}
        data["created_by"] = ActorView.of(actor, viewer.names)
        if data.get("assignee_id") is not None:
            data["assignee_name"] = viewer.names.get(str(data["assignee_id"]))
        data.pop("customer_phone", None)
        data.pop("subject_user_id", None)
        data.pop("survey_nonce", None)  # part of a survey credential: never shown
        for name in ("search_notes", "search_vector", "search_text", "search_tier"):
            data.pop(name, None)
        data["customer"] = mask_customer(data["customer"], contact_visible=contact_visible)
        caller = (data.get("channel_meta") or {}).get("caller_number")
        if caller and not contact_visible:
            data["channel_meta"] = {**data["channel_meta"], "caller_number": mask_phone(caller)}
        return cls.model_validate(data)


def json_response(out: BaseModel, status: int, headers: dict[str, str]) -> Response:
    """The model serialised once, here: FastAPI would validate it again against the
    response_model first, which costs time on the hottest endpoints (registration, read by
    id) and, after a change was written, could fail with the change already committed."""
    return Response(out.model_dump_json(), status, headers, media_type="application/json")


class PersonalData(BaseModel):
    """Everything personal about the complainant, in clear (an audited reveal)."""

    customer: CustomerView
    caller_number: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> PersonalData:
        caller = (row.get("channel_meta") or {}).get("caller_number")
        return cls.model_validate({"customer": row["customer"], "caller_number": caller})


class SimilarOut(BaseModel):
    """A complaint like the one asked about, and why (相似投诉)."""

    complaint: ComplaintOut
    reasons: list[Literal["same_customer", "same_order", "same_product", "similar_text"]] = Field(
        description="The same customer (phone or e-mail), the same order number, the same "
        "product unit (serial number), similar text (bigram overlap ≥ 0.3)"
    )
    text_similarity: float = Field(
        description="Jaccard similarity of the two complaints' texts (character bigrams), 0–1"
    )


class ComplaintPage(Page[ComplaintOut]):
    pass


class SimilarPage(Page[SimilarOut]):
    pass


class EventOut(BaseModel):
    id: int = Field(description="Global event id (increasing)")
    seq: int = Field(description="Position in this complaint's log, from 1")
    type: str
    actor: ActorView
    occurred_at: LocalTime
    payload: dict[str, Any]


class EventPage(Page[EventOut]):
    pass


class StatusLookup(BaseModel):
    """The customer's proof: the reference number and the phone number given at registration."""

    model_config = ConfigDict(extra="forbid")

    reference: str = Field(min_length=1, max_length=32, examples=["KS-20261125-000123"])
    phone: str = Field(min_length=3, max_length=32, examples=["13812345678"])


class StatusView(BaseModel):
    """Only the status: no personal data."""

    reference: str
    kind: Kind
    status: Status
    stage: str = Field(description="The stage in words, in Chinese (e.g. 处理中)")
    registered_at: LocalTime
    updated_at: LocalTime
    next_deadline: LocalTime | None = Field(
        default=None, description="When the customer can next expect to hear from us"
    )


# Event payload fields never shown: the survey nonce is part of the customer's survey credential
# (ComplaintOut drops it too).
HIDDEN_EVENT_FIELDS = frozenset({"survey_nonce"})


def mask_event(event: dict[str, Any], *, contact_visible: bool) -> dict[str, Any]:
    """An event as a principal may see it: the personal data an event carries (the customer
    and caller number of the registration) is masked like the complaint's, and credentials
    are left out."""
    payload = {k: v for k, v in event["payload"].items() if k not in HIDDEN_EVENT_FIELDS}
    intake = payload.get("intake")
    if not isinstance(intake, dict):
        return {**event, "payload": payload}
    intake = {
        **intake,
        "customer": mask_customer(intake["customer"], contact_visible=contact_visible),
    }
    caller = (intake.get("channel_meta") or {}).get("caller_number")
    if caller and not contact_visible:
        intake["channel_meta"] = {**intake["channel_meta"], "caller_number": mask_phone(caller)}
    return {**event, "payload": {**payload, "intake": intake}}


class DeadlineOut(BaseModel):
    """One deadline (时限): a stage to meet by `due_at`, warned at `warn_at`."""

    id: int
    stage: Stage
    cycle: int = Field(description="Repeated or re-planned stages count up from 1")
    status: DeadlineStatus
    unit: DurationUnit
    amount: int
    started_at: LocalTime
    due_at: LocalTime
    warn_at: LocalTime
    provisional: bool = Field(
        description="Computed on days whose official schedule (调休) the calendar does not know"
    )
    paused: bool
    remaining_seconds: int | None = Field(
        description="Time left (negative: overdue), in working time for working units; "
        "null once met, breached or cancelled"
    )
    met_at: LocalTime | None = None
    warned_at: LocalTime | None = None
    breached_at: LocalTime | None = None
    cancelled_at: LocalTime | None = None
    policy_id: int
    policy_version: int


class DeadlinePage(Page[DeadlineOut]):
    pass


class ComplaintQuery(PageQuery):
    """The complaint list's query as received: the service turns it into SQL filters
    (the phone normalised, "due within N working hours" on the business calendar)."""

    status: list[Status] = Field(default_factory=list, description="One or more statuses")
    kind: Kind | None = None
    category: Category | None = None
    level: Level | None = None
    channel: Channel | None = None
    department: Code | None = None
    assignee_id: uuid.UUID | None = None
    created_from: Instant | None = Field(default=None, description="Inclusive")
    created_to: Instant | None = Field(default=None, description="Exclusive")
    customer_phone: str | None = Field(
        default=None,
        max_length=32,
        description="The customer's phone number. Searching by contact data needs access to "
        "contact data (staff who contact customers, keys with `pii:read`), is audited like a "
        "reveal, and is rate-limited per caller",
    )
    reference: str | None = Field(default=None, pattern=REFERENCE_PATTERN)
    queue: Literal["mine", "unassigned"] | None = Field(
        default=None,
        description="`mine`: the cases you hold; `unassigned`: your tier's queue of cases nobody "
        "holds yet (claim one with `POST …/claim`)",
    )
    management_review: bool | None = Field(
        default=None,
        description="`true`: the level-3 cases rated 4–5, for the management meeting (总经理例会)",
    )
    due_within_hours: int | None = Field(
        default=None,
        ge=1,
        le=2000,
        description="Only complaints with a running deadline due within this many working hours",
    )
    overdue: bool | None = Field(default=None, description="Only those with a deadline past due")
    breached: bool | None = Field(default=None, description="Only those with a recorded breach")
    q: SearchText | None = Field(
        default=None,
        description="Full-text search (全文检索): every whitespace-separated term must appear "
        "(Chinese needs no spaces: `漏水`, `XQG100 漏水`, `退款 320`). Searches the complaint's "
        "text, product fields (model, serial and order numbers), findings, root cause, solution, "
        "notes and replies; the customer's name and phone only for callers who see contact "
        "data. Ranked by relevance, then recency, unless `sort` is given; each item carries "
        "a highlighted `match.snippet`.",
        examples=["漏水", "XQG100 漏水"],
    )
    sort: Literal["relevance", "created_at", "-created_at"] | None = Field(
        default=None,
        description="Newest first (`-created_at`) by default; with `q`: `relevance` (the "
        "complaint's own words before its handling records, then newest first)",
    )

    def contact_filters(self) -> list[str]:
        """The filters that search by a customer's contact data (a phone-number oracle for
        whoever sees only masked numbers)."""
        return [name for name in CONTACT_FILTERS if getattr(self, name) is not None]


CONTACT_FILTERS = ("customer_phone",)
