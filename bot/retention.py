"""Retention: each kind of record is deleted or anonymised once it is older than its policy.

The policy is `content/retention.yaml` (validated with the content), overridden kind by kind by
`KMB_RETENTION` (`closed_enquiries=1095,audit=null`). A daily chore applies it; `kmb retention`
shows the policy and how many rows its next run would remove.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from bot.content.models import Retention
from bot.store.models import (
    Absence,
    Answer,
    AuditEntry,
    CampaignAnswer,
    Dialog,
    Enquiry,
    EnquiryMessage,
    InboxItem,
    Lesson,
    Occasion,
    OutboxMessage,
    ProcessedEvent,
    Prompt,
)

if TYPE_CHECKING:
    from bot.engine import Engine

DAY_S = 24 * 3600.0
REMOVED = "(removed at the end of its retention period)"
CHUNK = 500  # ids per statement: within every database's bound-parameter limit


class RetentionError(ValueError):
    """A `KMB_RETENTION` value that cannot be used, with a message for the operator."""


def policy(engine: Engine) -> Retention:
    """The content file's policy with `KMB_RETENTION`'s overrides."""
    base = engine.catalogue.retention
    raw = engine.settings.kmb_retention.strip()
    if not raw:
        return base
    changes: dict[str, Any] = {}
    for part in raw.split(","):
        kind, _, value = part.strip().partition("=")
        if kind not in Retention.model_fields:
            raise RetentionError(f"KMB_RETENTION: unknown kind '{kind}'")
        if value.strip().lower() in ("null", "none", "never", "forever"):
            changes[kind] = None
        elif value.strip().isdigit():
            changes[kind] = int(value)
        else:
            raise RetentionError(f"KMB_RETENTION: {kind} needs a number of days or 'null'")
    try:
        return Retention.model_validate({**base.model_dump(), **changes})
    except ValidationError as exc:
        raise RetentionError(f"KMB_RETENTION: {exc.errors()[0]['msg']}") from exc


@dataclass(frozen=True)
class Kind:
    """One kind of record: which rows are past their time, and what happens to them."""

    name: str
    action: str  # deleted | anonymised
    since: str  # from when the days are counted, in words
    due: Callable[[Session, dt.datetime], Sequence[Any]]  # ids past the cut-off
    apply: Callable[[Session, list[Any]], None]


def _ids(s: Session, query: Any) -> list[Any]:
    return list(s.exec(query).all())


def _chunks(ids: list[Any]) -> list[list[Any]]:
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]


def _deleter(model: Any, key: Any) -> Callable[[Session, list[Any]], None]:
    def apply(s: Session, ids: list[Any]) -> None:
        for chunk in _chunks(ids):
            s.execute(delete(model).where(col(key).in_(chunk)))

    return apply


# --- closed enquiries: anonymised, keeping what statistics need ------------------------------


def _enquiries_due(s: Session, cutoff: dt.datetime) -> list[Any]:
    return _ids(
        s,
        select(Enquiry.id).where(
            Enquiry.status == "closed",
            col(Enquiry.closed_at) < cutoff,
            Enquiry.question != REMOVED,
        ),
    )


def _anonymise_enquiries(s: Session, ids: list[Any]) -> None:
    for chunk in _chunks(ids):
        s.execute(delete(EnquiryMessage).where(col(EnquiryMessage.enquiry_id).in_(chunk)))
        subjects = [f"enquiry:{i}" for i in chunk]
        s.execute(delete(OutboxMessage).where(col(OutboxMessage.subject).in_(subjects)))
        s.execute(
            update(Enquiry)
            .where(col(Enquiry.id).in_(chunk))
            .values(
                requester_id=None,
                assignee_id=None,
                question=REMOVED,
                pico="",
                date_range="",
                known_papers="",
                outcome="",
                impact="",
                languages="",
                requester_role="",
                requester_team="",
                organisation="",
            )
        )


# --- retro answers: deleted with their prompts; shared lessons keep their own copy ------------


def _rounds_due(s: Session, cutoff: dt.datetime) -> list[Any]:
    """The answers and prompts (who was asked) of rounds closed before the cut-off."""
    closed = select(Occasion.id).where(Occasion.status == "closed", Occasion.closes_at < cutoff)
    answers = s.exec(select(Answer.id).where(col(Answer.occasion_id).in_(closed))).all()
    prompts = s.exec(select(Prompt.id).where(col(Prompt.occasion_id).in_(closed))).all()
    return [("answer", i) for i in answers] + [("prompt", i) for i in prompts]


def _delete_rounds(s: Session, due: list[Any]) -> None:
    answers = [i for kind, i in due if kind == "answer"]
    prompts = [i for kind, i in due if kind == "prompt"]
    for chunk in _chunks(answers):
        s.execute(update(Lesson).where(col(Lesson.answer_id).in_(chunk)).values(answer_id=None))
        s.execute(delete(Answer).where(col(Answer.id).in_(chunk)))
    for chunk in _chunks(prompts):
        s.execute(delete(Prompt).where(col(Prompt.id).in_(chunk)))


def _lessons_due(s: Session, cutoff: dt.datetime) -> list[Any]:
    return _ids(
        s,
        select(Lesson.id).where(
            col(Lesson.created_at) < cutoff, col(Lesson.author_id).is_not(None)
        ),
    )


def _unlink_lessons(s: Session, ids: list[Any]) -> None:
    for chunk in _chunks(ids):
        s.execute(update(Lesson).where(col(Lesson.id).in_(chunk)).values(author_id=None))


def _outbox_due(s: Session, cutoff: dt.datetime) -> list[Any]:
    rows = s.exec(
        select(OutboxMessage.id, OutboxMessage.subject).where(
            col(OutboxMessage.status).in_(["sent", "parked"]),
            col(OutboxMessage.created_at) < cutoff,
        )
    ).all()
    open_cards = {
        f"enquiry:{i}" for i in s.exec(select(Enquiry.id).where(Enquiry.status != "closed"))
    }
    return [i for i, subject in rows if subject not in open_cards]


def _events_due(s: Session, cutoff: dt.datetime) -> list[Any]:
    """Handled inbound events: the durable inbox's finished rows (their dedupe keys) and the
    older processed-event ids, each tagged with its table."""
    old = _ids(s, select(ProcessedEvent.at).where(col(ProcessedEvent.at) < cutoff))
    done = _ids(
        s,
        select(InboxItem.id).where(
            col(InboxItem.status) != "pending", col(InboxItem.received_at) < cutoff
        ),
    )
    return [("event", x) for x in old] + [("inbox", x) for x in done]


def _delete_events(s: Session, ids: list[Any]) -> None:
    _deleter(ProcessedEvent, ProcessedEvent.at)(s, [x for table, x in ids if table == "event"])
    _deleter(InboxItem, InboxItem.id)(s, [x for table, x in ids if table == "inbox"])


KINDS: tuple[Kind, ...] = (
    Kind(
        "closed_enquiries",
        "anonymised",
        "closed",
        _enquiries_due,
        _anonymise_enquiries,
    ),
    Kind("retro_answers", "deleted", "their round closed", _rounds_due, _delete_rounds),
    Kind("lessons", "anonymised", "shared", _lessons_due, _unlink_lessons),
    Kind(
        "campaign_answers",
        "deleted",
        "given",
        lambda s, c: _ids(s, select(CampaignAnswer.id).where(col(CampaignAnswer.created_at) < c)),
        _deleter(CampaignAnswer, CampaignAnswer.id),
    ),
    Kind(
        "sent_outbox", "deleted", "queued", _outbox_due, _deleter(OutboxMessage, OutboxMessage.id)
    ),
    Kind(
        "processed_events",
        "deleted",
        "received",
        lambda s, c: _events_due(s, c),
        lambda s, ids: _delete_events(s, ids),
    ),
    Kind(
        "dialogs",
        "deleted",
        "last changed",
        lambda s, c: _ids(s, select(Dialog.id).where(col(Dialog.updated_at) < c)),
        _deleter(Dialog, Dialog.id),
    ),
    Kind(
        "absences",
        "deleted",
        "ended",
        lambda s, c: _ids(s, select(Absence.id).where(col(Absence.ends) < c.date())),
        _deleter(Absence, Absence.id),
    ),
    Kind(
        "audit",
        "deleted",
        "written",
        lambda s, c: _ids(s, select(AuditEntry.id).where(col(AuditEntry.at) < c)),
        _deleter(AuditEntry, AuditEntry.id),
    ),
)


def _cutoffs(engine: Engine) -> list[tuple[Kind, int | None, dt.datetime | None]]:
    chosen = policy(engine)
    now = engine.store.now()
    out = []
    for kind in KINDS:
        days: int | None = getattr(chosen, kind.name)
        out.append((kind, days, now - dt.timedelta(days=days) if days else None))
    return out


def plan(engine: Engine) -> dict[str, int]:
    """How many rows of each kind the next run would remove or anonymise."""
    with engine.store.session() as s:
        return {k.name: len(k.due(s, c)) if c else 0 for k, _, c in _cutoffs(engine)}


def run_retention(engine: Engine) -> dict[str, int]:
    """Apply the policy now, in one transaction; the counts, audited."""
    done: dict[str, int] = {}
    with engine.store.session() as s:
        for kind, _, cutoff in _cutoffs(engine):
            if cutoff is None:
                continue
            ids = list(kind.due(s, cutoff))
            if ids:
                kind.apply(s, ids)
                s.flush()
            done[kind.name] = len(ids)
        if any(done.values()):
            engine.store.audit(s, None, "retention.run", {k: n for k, n in done.items() if n})
    if any(done.values()):
        engine.store.scrub_files()
    return done


def report(engine: Engine) -> list[str]:
    """`kmb retention`: the policy, kind by kind, and what the next run would do."""
    counts = plan(engine)
    lines = ["kind\tkept for\tthen\tnext run"]
    for kind, days, _ in _cutoffs(engine):
        kept = f"{days} days after {kind.since}" if days else "for ever"
        then = kind.action if days else "-"
        lines.append(f"{kind.name}\t{kept}\t{then}\t{counts[kind.name]} {kind.action}")
    with engine.store.session() as s:
        last = s.exec(
            select(AuditEntry)
            .where(AuditEntry.action == "retention.run")
            .order_by(col(AuditEntry.at).desc())
        ).first()
    if last is not None:
        done = ", ".join(f"{n} {kind}" for kind, n in last.detail.items())
        lines.append(f"Last run that removed anything: {last.at:%Y-%m-%d %H:%M} UTC ({done}).")
    lines.append(
        "Set in content/retention.yaml (KMB_RETENTION overrides); applied daily by the "
        "scheduler. Review the periods locally with your records manager."
    )
    return lines


def register(engine: Engine) -> None:
    """The daily chore (run by whichever process holds the scheduler lease)."""
    policy(engine)  # a bad KMB_RETENTION fails at start, not at the first run
    engine.every("retention", run_retention, DAY_S)
