"""The outbox's sender for LibAnswers: a new enquiry becomes a ticket in the library's queue.

An OAuth2 client-credentials token from `/api/1.1/oauth/token`, then
`POST /api/1.1/ticket/create`. An expired token (401) is fetched again once; 429 becomes the
outbox's retry after `Retry-After`; 5xx and network trouble retry with backoff; other refusals
park the row with LibAnswers' words. The ticket's address is kept on the enquiry's hand-off
and shown to librarians. The ticket's patron email is kmb's routed address, so LibAnswers'
replies come back through the mailbox (`bot.handoff.imap`) into the requester's chat.

LibAnswers has no idempotency key: a crash after the ticket is made and before the outbox
records it makes a second ticket on the resend (at-least-once, unlike mail).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp
from sqlmodel import col, select

from bot.handoff.mail import plain_text, routed_address
from bot.messages import ConversationRef, Reply
from bot.outbox import SENDING_KEY, SendResult
from bot.store import Store
from bot.store.models import Enquiry, EnquiryHandoff, Person

DEFAULT_RETRY_S = 60.0


def _retry_after(headers: Any) -> float:
    try:
        return max(1.0, float(headers.get("Retry-After", DEFAULT_RETRY_S)))
    except ValueError:
        return DEFAULT_RETRY_S


class LibAnswersSender:
    """Delivers outbox rows on platform `libanswers` (conversation id `QUEUE_ID@SITE`)."""

    platform = "libanswers"

    def __init__(
        self,
        store: Store,
        client_id: str,
        client_secret: str,
        mail_from: str,
        timeout: float = 30.0,
    ) -> None:
        self.store = store
        self.client_id = client_id
        self.client_secret = client_secret
        self.mail_from = mail_from
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._tokens: dict[str, str] = {}
        self.tokens_fetched = 0

    def _enquiry(self, enquiry_id: int) -> tuple[Enquiry, str] | None:
        with self.store.session() as s:
            e = s.get(Enquiry, enquiry_id)
            if e is None:
                return None
            person = s.get(Person, e.requester_id) if e.requester_id else None
            return e, person.display_name if person else ""

    def _keep(self, enquiry_id: int, ticket_id: str, url: str) -> None:
        with self.store.session() as s:
            row = s.exec(
                select(EnquiryHandoff)
                .where(EnquiryHandoff.enquiry_id == enquiry_id)
                .where(EnquiryHandoff.kind == "libanswers")
                .order_by(col(EnquiryHandoff.id).desc())
            ).first()
            if row is not None:
                row.ticket_id, row.ticket_url = ticket_id[:40], url[:300]

    async def _token(self, http: aiohttp.ClientSession, site: str) -> str | SendResult:
        async with http.post(
            f"{site}/api/1.1/oauth/token",
            data={
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "grant_type": "client_credentials",
            },
        ) as resp:
            body = await resp.text()
            if resp.status == 429:
                wait = _retry_after(resp.headers)
                return SendResult.failed("LibAnswers asked kmb to slow down", retry_after=wait)
            if resp.status >= 500:
                return SendResult.failed(f"LibAnswers token: {resp.status} {body[:200]}")
            if resp.status != 200:
                return SendResult.failed(
                    f"LibAnswers refused kmb's client id and secret ({resp.status} {body[:200]}): "
                    "check KMB_LIBANSWERS_CLIENT_ID and KMB_LIBANSWERS_CLIENT_SECRET",
                    permanent=True,
                )
            token = str((await resp.json(content_type=None)).get("access_token", ""))
        if not token:
            return SendResult.failed("LibAnswers gave no access token", permanent=True)
        self.tokens_fetched += 1
        self._tokens[site] = token
        return token

    async def send(self, conversation: ConversationRef, reply: Reply) -> SendResult:
        """Create the ticket for the enquiry this outbox row hands off."""
        quid, _, site = conversation.id.partition("@")
        found = re.match(r"enquiry:(\d+):", SENDING_KEY.get() or "")
        info = await asyncio.to_thread(self._enquiry, int(found.group(1))) if found else None
        if info is None:
            return SendResult.failed("the enquiry for this ticket is gone", permanent=True)
        e, requester = info
        form = {
            "quid": quid,
            "pquestion": f"[{e.reference}] {' '.join(e.question.split())}"[:250],
            "pdetails": plain_text(reply.elements),
            "pname": requester or "kmb requester",
        }
        if self.mail_from:  # LibAnswers' replies to the patron reach kmb's mailbox
            form["pemail"] = routed_address(self.mail_from, e.reference)
        try:
            async with aiohttp.ClientSession(timeout=self.timeout) as http:
                return await self._create(http, site.rstrip("/"), form, e)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return SendResult.failed(f"could not reach LibAnswers at {site} ({exc!r})")

    async def _create(
        self, http: aiohttp.ClientSession, site: str, form: dict[str, str], e: Enquiry
    ) -> SendResult:
        for attempt in (1, 2):
            token = self._tokens.get(site) or await self._token(http, site)
            if isinstance(token, SendResult):
                return token
            async with http.post(
                f"{site}/api/1.1/ticket/create",
                data=form,
                headers={"Authorization": f"Bearer {token}"},
            ) as resp:
                body = await resp.text()
                if resp.status == 401 and attempt == 1:  # the token expired: once more
                    self._tokens.pop(site, None)
                    continue
                if resp.status == 429:
                    return SendResult.failed(
                        "LibAnswers asked kmb to slow down", retry_after=_retry_after(resp.headers)
                    )
                if resp.status >= 500:
                    return SendResult.failed(f"LibAnswers: {resp.status} {body[:200]}")
                if resp.status != 200:
                    return SendResult.failed(
                        f"LibAnswers refused the ticket ({resp.status} {body[:200]})",
                        permanent=True,
                    )
                data = await resp.json(content_type=None)
            break
        ticket_id = str(data.get("ticketId") or data.get("id") or "")
        url = str(data.get("ticketUrl") or data.get("url") or "")
        assert e.id is not None
        await asyncio.to_thread(self._keep, e.id, ticket_id, url)
        return SendResult.sent((url or ticket_id)[:200] or None)

    async def update(
        self, conversation: ConversationRef, message_id: str, reply: Reply
    ) -> SendResult:
        """A ticket is not rewritten from chat."""
        return SendResult.failed("a LibAnswers ticket is not updated from chat", permanent=True)
