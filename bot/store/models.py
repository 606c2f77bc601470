"""Database tables. Datetimes are timezone-aware and stored as UTC."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.store.types import FreeJSON, FreeText


def _text(default: str | None = None, max_length: int | None = None, **kw: Any) -> Any:
    """A free-text column: what a person typed or a platform sent, guarded on the way in."""
    if default is not None:
        kw["default"] = default
    return Field(max_length=max_length, sa_type=FreeText(max_length), **kw)


def _json(nullable: bool = False) -> Any:
    """A JSON column whose strings are free text, guarded on the way in."""
    return Column(FreeJSON, nullable=nullable)


def _fk(target: str, ondelete: str, nullable: bool = False) -> Any:
    return Column(Integer, ForeignKey(target, ondelete=ondelete), nullable=nullable, index=True)


class Person(SQLModel, table=True):
    """Someone kmb talks to, on one platform."""

    __table_args__ = (UniqueConstraint("platform", "external_id"),)
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=20)
    external_id: str = Field(max_length=200)
    display_name: str = _text("", 200)
    timezone: str | None = Field(default=None, max_length=64)
    nation: str = Field(default="england", max_length=20)
    roles: str = Field(default="member", max_length=100)
    reachable: bool = True
    profile: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    created_at: dt.datetime


class Project(SQLModel, table=True):
    """A piece of work whose team learns before, during and after it."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = _text(max_length=120, index=True)
    lead_id: int | None = Field(default=None, sa_column=_fk("person.id", "SET NULL", True))
    start_date: dt.date
    end_date: dt.date
    template: str = Field(default="retrospect", max_length=40)
    status: str = Field(default="active", max_length=20)  # active | paused | closed
    created_at: dt.datetime
    start_template: str = Field(default="bar", max_length=40)
    checkin_weeks: int = 0  # 0: no check-ins
    window_days: int = 5  # working days each occasion stays open
    channel: dict[str, Any] | None = Field(default=None, sa_column=_json(True))
    members_from_channel: bool = False  # the channel's members, resolved by the adapter


class Membership(SQLModel, table=True):
    """A person's place in a project."""

    __table_args__ = (UniqueConstraint("project_id", "person_id"),)
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(sa_column=_fk("project.id", "CASCADE"))
    person_id: int = Field(sa_column=_fk("person.id", "CASCADE"))


class Occasion(SQLModel, table=True):
    """One round of prompts for a project: a template asked of every member in a window.

    `slot` names its place in the plan (`before`, `checkin:2`, `after`, or `now:<n>` for one
    started by hand), unique per project, so re-planning moves an occasion, never duplicates it.
    Status: planned → open → closed (or cancelled when re-planning drops it).
    """

    __table_args__ = (UniqueConstraint("project_id", "slot", name="uq_occasion_project_slot"),)
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(sa_column=_fk("project.id", "CASCADE"))
    template: str = Field(max_length=40)
    opens_at: dt.datetime
    closes_at: dt.datetime
    status: str = Field(default="open", max_length=20)
    slot: str = Field(default="", max_length=40)
    opens_on: dt.date | None = None  # the project date it is planned for


class Prompt(SQLModel, table=True):
    """One template sent to one person for one occasion."""

    __table_args__ = (UniqueConstraint("occasion_id", "person_id"),)
    id: int | None = Field(default=None, primary_key=True)
    occasion_id: int = Field(sa_column=_fk("occasion.id", "CASCADE"))
    person_id: int = Field(sa_column=_fk("person.id", "CASCADE"))
    status: str = Field(default="pending", max_length=20)  # scheduled|pending|started|done
    anonymous: bool = False
    share: bool = False
    answered_at: dt.datetime | None = None
    invite_at: dt.datetime | None = Field(default=None, index=True)  # the person's local morning
    invited_at: dt.datetime | None = None
    remind_at: dt.datetime | None = Field(default=None, index=True)
    reminded_at: dt.datetime | None = None


class Answer(SQLModel, table=True):
    """One answer to one question; anonymous answers outlive their author, unlinked."""

    __table_args__ = (UniqueConstraint("prompt_id", "question_id"),)
    id: int | None = Field(default=None, primary_key=True)
    occasion_id: int = Field(sa_column=_fk("occasion.id", "CASCADE"))
    prompt_id: int | None = Field(default=None, sa_column=_fk("prompt.id", "SET NULL", True))
    question_id: str = Field(max_length=40)
    text: str = _text()
    late: bool = False
    updated_at: dt.datetime


class Lesson(SQLModel, table=True):
    """An answer its author chose to share with the organisation."""

    id: int | None = Field(default=None, primary_key=True)
    answer_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("answer.id", ondelete="CASCADE"))
    )
    author_id: int | None = Field(default=None, sa_column=_fk("person.id", "SET NULL", True))
    project_name: str = _text(max_length=120)
    question: str = _text(max_length=300)
    text: str = _text()
    created_at: dt.datetime


class Enquiry(SQLModel, table=True):
    """A request to the library team."""

    # The desk's queue: open ones, soonest deadline first. (Not created_at: statistics read a
    # period's rows, mostly all of them, and on SQLite a scan beats an index by ten times.)
    __table_args__ = (Index("ix_enquiry_status_deadline", "status", "deadline"),)
    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=20, unique=True)
    requester_id: int | None = Field(default=None, sa_column=_fk("person.id", "SET NULL", True))
    assignee_id: int | None = Field(default=None, sa_column=_fk("person.id", "SET NULL", True))
    question: str = _text()
    pico: str = _text("")
    purpose: str = Field(max_length=40)
    deadline: dt.date
    patient_decision: bool = False
    output: str = Field(default="", max_length=40)
    date_range: str = _text("")
    known_papers: str = _text("")
    status: str = Field(default="new", max_length=20)
    outcome: str = _text("")
    created_at: dt.datetime
    claimed_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    languages: str = _text("", 200)
    requester_role: str = _text("", 120)
    requester_team: str = _text("", 120)
    organisation: str = _text("", 120)
    team: str = Field(default="", max_length=40, index=True)  # the library team it is with
    minutes_spent: int | None = None
    read_level: int | None = None  # the READ scale of effort, 1–6
    satisfaction: int | None = None  # the requester's 1–5
    impact: str = _text("")
    nudged_at: dt.datetime | None = None  # unclaimed nudge sent to the library channel
    reminded_at: dt.datetime | None = None  # deadline reminder sent to the assignee
    overdue_at: dt.datetime | None = None  # flagged overdue


class EnquiryMessage(SQLModel, table=True):
    """A reply, a note or an event in an enquiry's history."""

    __tablename__ = "enquiry_message"
    id: int | None = Field(default=None, primary_key=True)
    enquiry_id: int = Field(sa_column=_fk("enquiry.id", "CASCADE"))
    author_id: int | None = Field(default=None, sa_column=_fk("person.id", "SET NULL", True))
    kind: str = Field(max_length=20)
    text: str = _text()
    created_at: dt.datetime


class ConversationReference(SQLModel, table=True):
    """Where to reach a person or channel later (platform-specific JSON)."""

    __tablename__ = "conversation_reference"
    __table_args__ = (UniqueConstraint("platform", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=20)
    key: str = Field(max_length=200)
    person_id: int | None = Field(default=None, sa_column=_fk("person.id", "CASCADE", True))
    data: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    usable: bool = True
    updated_at: dt.datetime


class ProcessedEvent(SQLModel, table=True):
    """An inbound event id already handled, so a platform retry never doubles an effect."""

    __tablename__ = "processed_event"
    platform: str = Field(primary_key=True, max_length=20)
    event_id: str = Field(primary_key=True, max_length=200)
    at: dt.datetime


class InboxItem(SQLModel, table=True):
    """Something a platform sent, saved before kmb acknowledged it: a 2xx means this row exists.

    Keyed by the platform's own id for it (Slack `event_id`, a trigger id, a view's id, hash and
    values; a Teams activity id in its conversation), so a retry or replay finds the row and is
    not handled twice. `pending` rows are worked through by `bot.inbox`; a row becomes `done` in
    the same transaction as its turn's effects and outbox rows. Synchronous turns (modal
    submissions, card invokes) insert their row as `done`, with their effects.
    """

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("platform", "key", name="uq_inbox_platform_key"),
        Index("ix_inbox_status_due", "status", "due_at"),  # what the workers look for
        # Ids never come back after a row is pruned: replies' outbox keys are made of them.
        {"sqlite_autoincrement": True},
    )
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=20)
    key: str = Field(max_length=200)
    status: str = Field(default="pending", max_length=20)  # pending | done | failed
    # What was sent, guarded at the door like every other free text (ids are machine keys).
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    attempts: int = 0
    last_error: str = _text("")
    received_at: dt.datetime
    due_at: dt.datetime
    done_at: dt.datetime | None = None


class Dialog(SQLModel, table=True):
    """A multi-step conversation in progress; a restart resumes from this row."""

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(sa_column=_fk("person.id", "CASCADE"))
    flow: str = Field(max_length=40)
    state: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    updated_at: dt.datetime


class OutboxMessage(SQLModel, table=True):
    """A proactive message: a row first, then delivered by an adapter."""

    __tablename__ = "outbox"
    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=200, unique=True)
    kind: str = Field(default="post", max_length=10)  # post | update
    subject: str = Field(default="", max_length=80, index=True)  # e.g. enquiry:12
    platform: str = Field(max_length=20)
    person_id: int | None = Field(default=None, sa_column=_fk("person.id", "CASCADE", True))
    conversation: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    due_at: dt.datetime = Field(index=True)
    status: str = Field(default="pending", max_length=20, index=True)
    attempts: int = 0
    last_error: str = _text("")
    created_at: dt.datetime
    sent_at: dt.datetime | None = None
    message_id: str | None = Field(default=None, max_length=200, index=True)  # platform's id
    target_id: str | None = Field(default=None, max_length=200)  # the message an update replaces
    parent_key: str | None = Field(default=None, max_length=200)  # thread under that row's post
    claimed_by: str | None = Field(default=None, max_length=80)  # the worker sending it
    claimed_at: dt.datetime | None = None


class Setting(SQLModel, table=True):
    """A setting changed in chat by an admin (e.g. the librarian channel)."""

    key: str = Field(primary_key=True, max_length=80)
    value: dict[str, Any] = Field(default_factory=dict, sa_column=_json())


class AuditEntry(SQLModel, table=True):
    """Who did what, for accountability (no free text from answers)."""

    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime
    actor_id: int | None = Field(default=None, sa_column=_fk("person.id", "SET NULL", True))
    action: str = Field(max_length=60)
    # whom the action was about (a role granted, data exported), so erasure can unlink it
    subject_id: int | None = Field(default=None, sa_column=_fk("person.id", "SET NULL", True))
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=_json())


class Absence(SQLModel, table=True):
    """Out-of-office days (inclusive): no prompts or reminders go out on them."""

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(sa_column=_fk("person.id", "CASCADE"))
    starts: dt.date
    ends: dt.date


class Lease(SQLModel, table=True):
    """Who holds a named duty (the scheduler) until when; renewed by a heartbeat."""

    name: str = Field(primary_key=True, max_length=80)
    holder: str = Field(max_length=120)
    expires_at: dt.datetime
    renewed_at: dt.datetime


class CampaignRun(SQLModel, table=True):
    """A campaign (e.g. KNOWvember) switched on for one channel."""

    __tablename__ = "campaign_run"
    __table_args__ = (UniqueConstraint("slug", "platform", "channel_id"),)
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=40)
    platform: str = Field(max_length=20)
    channel_id: str = Field(max_length=200)
    conversation: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    active: bool = True
    started_by: int | None = Field(default=None, sa_column=_fk("person.id", "SET NULL", True))
    created_at: dt.datetime


class CampaignAnswer(SQLModel, table=True):
    """An answer to one day's campaign prompt, in its thread or by DM."""

    __tablename__ = "campaign_answer"
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(sa_column=_fk("campaign_run.id", "CASCADE"))
    person_id: int | None = Field(default=None, sa_column=_fk("person.id", "SET NULL", True))
    day: int
    text: str = _text()
    created_at: dt.datetime


class DeskLink(SQLModel, table=True):
    """A one-time sign-in link to the web desk, sent in chat: only its token's hash is kept."""

    __tablename__ = "desk_link"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    person_id: int = Field(sa_column=_fk("person.id", "CASCADE"))
    created_at: dt.datetime
    expires_at: dt.datetime
    used_at: dt.datetime | None = None


class DeskSession(SQLModel, table=True):
    """A signed-in web desk session (the cookie holds the token; this row only its hash)."""

    __tablename__ = "desk_session"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    person_id: int = Field(sa_column=_fk("person.id", "CASCADE"))
    csrf: str = Field(max_length=64)  # the token every form posted in this session carries
    created_at: dt.datetime
    last_seen_at: dt.datetime
    expires_at: dt.datetime  # the latest it may last, however active
    flash: str = _text(default="", max_length=2000)  # what the last action did, shown once


class EnquiryHandoff(SQLModel, table=True):
    """An enquiry handed to its library team's own queue (a mailbox, or a LibAnswers ticket)."""

    __tablename__ = "enquiry_handoff"
    id: int | None = Field(default=None, primary_key=True)
    enquiry_id: int = Field(sa_column=_fk("enquiry.id", "CASCADE"))
    kind: str = Field(max_length=20)  # email | libanswers
    target: str = Field(max_length=200)  # the queue's address, or the LibAnswers queue id
    ticket_id: str = Field(default="", max_length=40)
    ticket_url: str = Field(default="", max_length=300)
    created_at: dt.datetime


class HandoffMail(SQLModel, table=True):
    """One email about an enquiry: sent to the library's queue, or read back from kmb's mailbox.

    Incoming mail is recorded by Message-ID before anything is relayed, so a message is
    processed once even across restarts; mail that is not relayed is kept (`held`) with why.
    Only trimmed, PII-guarded text is stored, never the raw message.
    """

    __tablename__ = "handoff_mail"
    __table_args__ = (UniqueConstraint("direction", "message_id"),)
    id: int | None = Field(default=None, primary_key=True)
    enquiry_id: int | None = Field(default=None, sa_column=_fk("enquiry.id", "CASCADE", True))
    direction: str = Field(max_length=3)  # out | in
    message_id: str = Field(max_length=250)
    in_reply_to: str = Field(default="", max_length=250)
    refs: str = ""  # the References header: the thread's Message-IDs, oldest first
    outbox_key: str | None = Field(default=None, max_length=200, unique=True)
    address: str = Field(default="", max_length=250)  # to (out) or from (in)
    subject: str = _text("", 250)
    text: str = _text("")
    priority: bool = False
    status: str = Field(default="queued", max_length=20)  # queued | relayed | held | dismissed
    reason: str = _text("", 250)  # why incoming mail was held (may quote a file's name)
    created_at: dt.datetime
