"""Where kmb can reach people and channels in Teams: stored conversation references.

Teams needs more than a conversation id to send: the `serviceUrl` the activity came from, the
tenant and the bot's own account. Each conversation kmb hears from is kept in the
`conversation_reference` table under `conv:<id>` (channel thread suffixes removed), each team
member kmb learns of under `member:<user id>` (so a 1:1 chat can be created with them), and each
team kmb is installed in under `team:<team id>`. The JSON uses the Bot Framework's own field
names, so it reads as the Agents SDK's `ConversationReference` (and read botbuilder's before).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlmodel import Session, select

from bot.store import Store
from bot.store.models import ConversationReference
from bot.store.types import redact_json

PLATFORM = "teams"
_MAX_KEY = 200


def base_id(conversation_id: str) -> str:
    """A channel conversation id without its `;messageid=` thread suffix."""
    return conversation_id.split(";messageid=", 1)[0]


def key(kind: str, ident: str) -> str:
    """The row key for a conversation, member or team (hashed if it would be too long)."""
    raw = f"{kind}:{ident}"
    if len(raw) <= _MAX_KEY:
        return raw
    return f"{kind}#" + hashlib.sha256(ident.encode()).hexdigest()


def reference_of(activity: dict[str, Any]) -> dict[str, Any]:
    """The conversation reference an inbound activity implies (Bot Framework JSON names)."""
    conversation = dict(activity.get("conversation") or {})
    conversation["id"] = base_id(str(conversation.get("id", "")))
    tenant = conversation.get("tenantId") or _tenant(activity)
    if tenant:
        conversation["tenantId"] = tenant
    return {
        "bot": activity.get("recipient") or {},
        "conversation": conversation,
        "channelId": activity.get("channelId", "msteams"),
        "serviceUrl": activity.get("serviceUrl", ""),
        "locale": activity.get("locale"),
    }


def _tenant(activity: dict[str, Any]) -> str:
    data = activity.get("channelData") or {}
    tenant = data.get("tenant") or {}
    return str(tenant.get("id", "")) if isinstance(tenant, dict) else ""


class References:
    """Reads and writes Teams references; remembers what it wrote to skip needless writes."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._written: dict[str, str] = {}

    def save(
        self, kind: str, ident: str, data: dict[str, Any], person_id: int | None = None
    ) -> None:
        """Store (or refresh) a reference; a usable one again if it had been marked unusable."""
        row_key = key(kind, ident)
        data = redact_json(data)  # as stored (a chat's name is free text), compared as stored
        stamp = json.dumps(data, sort_keys=True)
        if self._written.get(row_key) == stamp:
            return
        with self.store.session() as s:
            row = _row(s, row_key)
            if row is None:
                s.add(
                    ConversationReference(
                        platform=PLATFORM,
                        key=row_key,
                        person_id=person_id,
                        data=data,
                        updated_at=self.store.now(),
                    )
                )
            elif row.data != data or not row.usable:
                row.data, row.usable, row.updated_at = data, True, self.store.now()
        self._written[row_key] = stamp

    def load(self, kind: str, ident: str) -> tuple[dict[str, Any], bool] | None:
        """A stored reference and whether it is still usable."""
        with self.store.session() as s:
            row = _row(s, key(kind, ident))
            return (dict(row.data), row.usable) if row is not None else None

    def mark_unusable(self, kind: str, ident: str) -> None:
        """kmb was removed from there: stop sending until it is added again."""
        row_key = key(kind, ident)
        self._written.pop(row_key, None)
        with self.store.session() as s:
            row = _row(s, row_key)
            if row is not None:
                row.usable, row.updated_at = False, self.store.now()


def _row(s: Session, row_key: str) -> ConversationReference | None:
    """The stored Teams reference under a key."""
    return s.exec(
        select(ConversationReference).where(
            ConversationReference.platform == PLATFORM, ConversationReference.key == row_key
        )
    ).first()
