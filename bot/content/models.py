"""Pydantic models for the YAML content in `content/`: tools, templates and campaigns."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

Phase = Literal["before", "during", "after", "any"]
QuestionKind = Literal["text", "choice", "scale", "yesno"]
SLUG = r"^[a-z0-9]+(-[a-z0-9]+)*$"


class _Strict(BaseModel):
    """Base for content models: unknown fields are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Tool(_Strict):
    """A knowledge-mobilisation technique in the catalogue."""

    slug: str = Field(pattern=SLUG)
    name: str = Field(min_length=2, max_length=80)
    phases: list[Phase] = Field(min_length=1)
    purpose: str = Field(min_length=10, max_length=200)
    when: str = Field(min_length=10, max_length=600)
    steps: list[str] = Field(min_length=3, max_length=8)
    time_needed: str = Field(min_length=2, max_length=120)
    group_size: str = Field(min_length=2, max_length=120)
    situations: list[str] = Field(min_length=3)
    synonyms: list[str] = Field(default_factory=list)
    related: list[str] = Field(default_factory=list)
    start_action: Literal["librarian", "project", "none"] = "project"
    source: HttpUrl
    owner: str = Field(min_length=2)
    last_reviewed: dt.date

    @field_validator("steps", "situations", "synonyms")
    @classmethod
    def _no_blank_items(cls, items: list[str]) -> list[str]:
        if any(not item.strip() for item in items):
            raise ValueError("items must not be blank")
        return items


class Question(_Strict):
    """One question of a template."""

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    text: str = Field(min_length=5, max_length=300)
    kind: QuestionKind = "text"
    required: bool = True
    max_length: int = Field(default=2000, ge=1, le=10000)
    choices: list[str] = Field(default_factory=list)
    help: str = ""

    @model_validator(mode="after")
    def _choices_match_kind(self) -> Question:
        if self.kind == "choice" and len(self.choices) < 2:
            raise ValueError("a choice question needs at least two choices")
        if self.kind != "choice" and self.choices:
            raise ValueError("only choice questions have choices")
        return self


class Template(_Strict):
    """A question set such as After Action Review or Retrospect."""

    slug: str = Field(pattern=SLUG)
    name: str = Field(min_length=2, max_length=80)
    phase: Phase
    tool: str = Field(pattern=SLUG)
    intro: str = Field(min_length=10, max_length=600)
    questions: list[Question] = Field(min_length=1, max_length=20)
    source: HttpUrl
    owner: str = Field(min_length=2)
    last_reviewed: dt.date

    @model_validator(mode="after")
    def _unique_question_ids(self) -> Template:
        ids = [q.id for q in self.questions]
        if len(ids) != len(set(ids)):
            raise ValueError("question ids must be unique")
        return self


class CampaignPrompt(_Strict):
    """One daily prompt of a campaign, tied to a tool."""

    day: int = Field(ge=1, le=31, description="working day of the month, 1 = first")
    tool: str = Field(pattern=SLUG)
    title: str = Field(min_length=3, max_length=80)
    text: str = Field(min_length=20, max_length=600)


class Campaign(_Strict):
    """A campaign of daily prompts, e.g. KNOWvember."""

    slug: str = Field(pattern=SLUG)
    name: str
    month: int = Field(ge=1, le=12)
    intro: str = Field(min_length=10)
    prompts: list[CampaignPrompt] = Field(min_length=1)
    source: HttpUrl
    owner: str = Field(min_length=2)
    last_reviewed: dt.date

    @model_validator(mode="after")
    def _days_unique(self) -> Campaign:
        days = [p.day for p in self.prompts]
        if len(days) != len(set(days)):
            raise ValueError("each working day has at most one prompt")
        return self


class Synonyms(_Strict):
    """Words clinicians use, mapped to the catalogue's words, for the tool finder."""

    groups: list[list[str]] = Field(min_length=1)


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class OpeningHours(_Strict):
    """When a library team works (local time in `timezone`); bank holidays are closed."""

    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(min_length=1)
    open: dt.time
    close: dt.time
    timezone: str = "Europe/London"
    nation: Literal["england", "wales", "scotland", "northern-ireland"] = "england"

    @model_validator(mode="after")
    def _opens_before_closing(self) -> OpeningHours:
        if self.open >= self.close:
            raise ValueError("open must be before close")
        return self


# What an enquiry is for: asked in the enquiry form, matched by library.yaml's routes.
PURPOSES = (
    ("patient-care", "Patient care"),
    ("research", "Research"),
    ("audit-qi", "Audit or quality improvement"),
    ("education", "Education or teaching"),
    ("policy-guideline", "Policy or guideline"),
    ("service-development", "Service development"),
    ("business-case", "Business case"),
    ("coursework", "Coursework or assessed work"),
    ("other", "Other"),
)


class RouteMatch(_Strict):
    """What sends an enquiry to a team: any organisation, purpose or keyword listed."""

    organisations: list[str] = Field(default_factory=list)
    purposes: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)


class Handoff(_Strict):
    """Where a team's new enquiries are handed on, besides (or instead of) its chat channel.

    `email`: each enquiry is mailed to `address` (a shared mailbox or a LibAnswers queue's
    address). `libanswers`: a ticket is created in queue `queue_id` on `site` (the LibAnswers
    address, e.g. https://trust.libanswers.com); `address`, when given, is the queue's email,
    where the requester's later messages go.
    """

    kind: Literal["email", "libanswers"]
    address: str = Field(default="", pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=200)
    site: str = Field(default="", pattern=r"^$|^https?://[^\s]+$", max_length=200)
    queue_id: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _complete(self) -> Handoff:
        if self.kind == "email" and not self.address:
            raise ValueError("an email hand-off needs the queue's address")
        if self.kind == "libanswers" and (not self.site or self.queue_id is None):
            raise ValueError("a libanswers hand-off needs site and queue_id")
        return self


class LibraryTeam(_Strict):
    """A library team that receives enquiries in its own channel and/or its own queue."""

    slug: str = Field(pattern=SLUG)
    name: str = Field(min_length=2, max_length=80)
    hours: OpeningHours
    claim_within_hours: float = Field(default=4, gt=0, le=80)
    remind_days_before: int = Field(default=2, ge=0, le=20)
    match: RouteMatch = Field(default_factory=RouteMatch)
    handoff: Handoff | None = None


class Library(_Strict):
    """The library teams and the default one (content/library.yaml)."""

    source: HttpUrl
    default: str = Field(pattern=SLUG)
    teams: list[LibraryTeam] = Field(min_length=1)

    @model_validator(mode="after")
    def _default_exists(self) -> Library:
        slugs = [t.slug for t in self.teams]
        if len(set(slugs)) != len(slugs):
            raise ValueError("team slugs must be unique")
        if self.default not in slugs:
            raise ValueError(f"default team '{self.default}' is not one of the teams")
        return self


class Retention(_Strict):
    """How long each kind of record is kept, in days (content/retention.yaml); None: for ever.

    What happens at the end (delete or anonymise) is fixed per kind, in `bot.retention`.
    """

    closed_enquiries: int | None = Field(default=730, ge=1)
    retro_answers: int | None = Field(default=1095, ge=1)
    lessons: int | None = Field(default=2190, ge=1)
    campaign_answers: int | None = Field(default=365, ge=1)
    sent_outbox: int | None = Field(default=30, ge=1)
    processed_events: int | None = Field(default=7, ge=1)
    dialogs: int | None = Field(default=30, ge=1)
    absences: int | None = Field(default=90, ge=1)
    audit: int | None = Field(default=2190, ge=1)
