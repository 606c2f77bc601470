"""What every table holds about a person: one rule per table, for export and for erasure.

A subject-access export and an erasure walk the same registry, table by table, so they cannot
disagree. `tests/test_personal_data.py` checks the registry against the schema: a table without
a rule, or a column that can name a person (a foreign key to `person`, a person-ish name, a JSON
column) that its rule does not account for, fails the build — so a table added later has to say
how it is exported and erased before it can ship.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session

from bot.store.data_subject import Rule, subject
from bot.store.models import (
    Absence,
    CampaignAnswer,
    CampaignRun,
    DeskLink,
    DeskSession,
    Dialog,
    Lesson,
    Membership,
    Person,
    Project,
    Prompt,
)
from bot.store.personal_rows import (
    erase_answers,
    erase_audit,
    erase_enquiries,
    erase_inbox,
    erase_mail,
    erase_messages,
    erase_outbox,
    erase_refs,
    find_answers,
    find_audit,
    find_campaign_runs,
    find_enquiries,
    find_handled,
    find_inbox,
    find_mail,
    find_messages,
    find_outbox,
    find_projects,
    find_refs,
    owned_by,
    unlinked,
)

# Erasure runs in this order: copies (outbox) and dependants first, the person row last.
RULES: tuple[Rule, ...] = (
    Rule(
        "outbox",
        ("person_id", "subject", "conversation", "payload"),
        "deleted when sent to them or about their enquiries and prompts (a copy already posted "
        "in a channel is replaced by a notice); elsewhere their name and erased words are "
        "replaced by “(deleted)”",
        find_outbox,
        erase_outbox,
    ),
    Rule(
        "audit_log",
        ("actor_id", "subject_id"),
        "kept, with the link to them (as actor or subject) cut",
        find_audit,
        erase_audit,
        impersonal=("detail",),
    ),
    Rule(
        "answer",
        ("prompt_id",),
        "named answers deleted; anonymous answers kept, unlinked from the prompt",
        find_answers,
        erase_answers,
        key="answers",
    ),
    Rule("lesson", ("author_id",), "deleted", *owned_by(Lesson, "author_id"), key="lessons"),
    Rule(
        "enquiry_message",
        ("author_id", "text"),
        "deleted on their enquiries; on others' kept with the author link cut and their name "
        "replaced by “(deleted)”",
        find_messages,
        erase_messages,
        key="enquiry_messages",
    ),
    Rule(
        "handoff_mail",
        ("enquiry_id", "text", "subject", "address"),
        "mail about their enquiries (to and from the library's own queue) deleted",
        find_mail,
        erase_mail,
        key="library_queue_mail",
    ),
    Rule(
        "enquiry_handoff",
        (),
        "holds no personal data (the queue's address and ticket number); removed with the enquiry",
    ),
    Rule(
        "enquiry",
        ("requester_id", "assignee_id", "requester_role", "requester_team", "organisation"),
        "their enquiries deleted; enquiries they handled kept with the assignee link cut",
        find_enquiries,
        erase_enquiries,
        key="enquiries",
    ),
    Rule("prompt", ("person_id",), "deleted", *owned_by(Prompt, "person_id"), key="prompts"),
    Rule(
        "membership",
        ("person_id",),
        "deleted",
        *owned_by(Membership, "person_id"),
        key="memberships",
    ),
    Rule(
        "project",
        ("lead_id",),
        "kept (the team's), with the lead link cut",
        find_projects,
        unlinked(Project, "lead_id")[1],
        key="projects",
        impersonal=("channel",),
    ),
    Rule(
        "dialog", ("person_id", "state"), "deleted", *owned_by(Dialog, "person_id"), key="drafts"
    ),
    Rule(
        "conversation_reference",
        ("person_id", "key", "data"),
        "deleted when it is theirs (their private chat, their Teams member record); in a "
        "channel's or group chat's details their name is replaced by “(deleted)”",
        find_refs,
        erase_refs,
        key="conversation_references",
    ),
    Rule("absence", ("person_id",), "deleted", *owned_by(Absence, "person_id"), key="absences"),
    Rule(
        "campaign_answer",
        ("person_id",),
        "deleted",
        *owned_by(CampaignAnswer, "person_id"),
        key="campaign_answers",
    ),
    Rule(
        "campaign_run",
        ("started_by",),
        "kept (the channel's), with the link to who started it cut",
        find_campaign_runs,
        unlinked(CampaignRun, "started_by")[1],
        key="campaign_runs",
        impersonal=("conversation",),
    ),
    Rule(
        "inbox",
        ("key", "payload"),
        "events they sent, or that name them, deleted (handled ones hold no payload)",
        find_inbox,
        erase_inbox,
        key="inbound_events",
    ),
    Rule(
        "desk_link", ("person_id",), "deleted", *owned_by(DeskLink, "person_id"), key="desk_links"
    ),
    Rule(
        "desk_session",
        ("person_id",),
        "deleted",
        *owned_by(DeskSession, "person_id"),
        key="desk_sessions",
    ),
    Rule("occasion", (), "holds no personal data"),
    Rule("processed_event", (), "holds no personal data (platform event ids only)"),
    Rule("setting", (), "holds no personal data", impersonal=("value",)),
    Rule("lease", (), "holds no personal data"),
    Rule(
        "person",
        ("id", "external_id", "display_name", "profile"),
        "deleted",
        *owned_by(Person, "id"),
        key="person",
    ),
)
BY_TABLE = {r.table: r for r in RULES}


def export(s: Session, person_id: int) -> dict[str, Any] | None:
    """Every row about one person, by table (None when there is no such person)."""
    p = subject(s, person_id)
    if p is None:
        return None
    data: dict[str, Any] = {}
    for rule in reversed(RULES):  # the person first
        if rule.find is None:
            continue
        rows = rule.find(s, p)
        data[rule.key or rule.table] = rows[0] if rule.table == "person" else rows
        if rule.table == "enquiry":
            data["enquiries_handled"] = find_handled(s, p)
    return data


def erase(s: Session, person_id: int, at: dt.datetime) -> dict[str, int] | None:
    """Erase one person in the caller's transaction: how many rows of each table were about
    them (deleted, unlinked or scrubbed); None when there is no such person."""
    p = subject(s, person_id)
    if p is None:
        return None
    p.at = at
    counts: dict[str, int] = {}
    for rule in RULES:
        if rule.erase is None or rule.find is None:
            continue
        found = len(rule.find(s, p))
        if rule.table == "enquiry":
            found += len(find_handled(s, p))
        rule.erase(s, p)
        s.flush()
        if found:
            counts[rule.table] = found
    return counts
