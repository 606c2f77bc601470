"""Email as kmb writes and reads it: Message-IDs, routed addresses, composing and trimming.

Pure functions, no I/O: `compose` turns a queued mail into a MIME message (plain text and
HTML); `parse` reads a received one into what kmb needs to match and relay it, with quoted
history and signatures trimmed and the reasons it must not be relayed (a bounce, an
automatic reply, an attachment).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import format_datetime, getaddresses, parseaddr

from bot.messages import Actions, Element, Facts, Reply, Section, Text

REFERENCE = re.compile(r"\bENQ-\d{4}-\d{4,}\b", re.IGNORECASE)
MSGID = re.compile(r"<[^<>\s]+>")


def domain_of(address: str) -> str:
    """The part after the @ (lower case)."""
    return address.rpartition("@")[2].lower()


def message_id_for(outbox_key: str, mail_from: str) -> str:
    """The Message-ID of the mail queued under an outbox key: the same on every resend, so a
    send repeated after a crash is the same message to the receiving side."""
    # Short enough never to be folded (a folded Message-ID trips some mail systems).
    digest = hashlib.sha256(f"{outbox_key}|{mail_from}".encode()).hexdigest()[:24]
    return f"<kmb.{digest}@{domain_of(mail_from) or 'kmb.invalid'}>"


def routed_address(mail_from: str, reference: str) -> str:
    """kmb's address plus-addressed with the reference: replies to it find their enquiry."""
    local, _, domain = mail_from.partition("@")
    return f"{local}+{reference}@{domain}"


def reference_in_address(address: str, mail_from: str) -> str:
    """The reference an address was routed with (`kmb+ENQ-2026-0001@…`), or ''."""
    local, _, domain = address.lower().partition("@")
    mine, _, my_domain = mail_from.lower().partition("@")
    if domain != my_domain or not local.startswith(mine + "+"):
        return ""
    tag = local[len(mine) + 1 :]
    return tag.upper() if REFERENCE.fullmatch(tag) else ""


# --- writing ---------------------------------------------------------------------------------


def plain_text(elements: tuple[Element, ...]) -> str:
    parts = []
    for el in elements:
        if isinstance(el, Actions):
            continue  # chat buttons mean nothing in a mailbox
        if isinstance(el, Section):
            parts.append(f"{el.title}\n\n{plain_text(el.elements)}")
        elif isinstance(el, Facts):
            parts.append("\n".join(f"{k}: {v}" for k, v in el.pairs))
        else:
            parts.append(el.to_text())
    return "\n\n".join(p.replace("*", "") for p in parts if p)


def _esc(text: str) -> str:
    bold = re.sub(r"\*([^*\n]+)\*", r"<b>\1</b>", html.escape(text))
    return bold.replace("\n", "<br>\n")


def _html(elements: tuple[Element, ...]) -> str:
    out = []
    for el in elements:
        if isinstance(el, Actions):
            continue
        if isinstance(el, Section):
            out.append(f"<h2>{html.escape(el.title)}</h2>\n{_html(el.elements)}")
        elif isinstance(el, Facts):
            rows = "".join(
                f"<tr><th align='left' valign='top'>{html.escape(k)}</th><td>{_esc(v)}</td></tr>\n"
                for k, v in el.pairs
            )
            out.append(f"<table cellpadding='4'>\n{rows}</table>")
        elif isinstance(el, Text):
            out.append(f"<p>{_esc(el.text)}</p>")
        else:
            out.append(f"<p>{_esc(el.to_text())}</p>")
    return "\n".join(out)


@dataclass(frozen=True)
class Envelope:
    """The headers of one queued mail (from its `HandoffMail` row)."""

    to: str
    subject: str
    message_id: str
    reply_to: str
    in_reply_to: str = ""
    references: str = ""
    priority: bool = False


def compose(envelope: Envelope, reply: Reply, mail_from: str, when: dt.datetime) -> EmailMessage:
    """A well-formed message: plain text and HTML alternatives, threaded, with priority."""
    msg = EmailMessage()
    msg["From"] = f"kmb library enquiries <{mail_from}>"
    msg["To"] = envelope.to
    msg["Reply-To"] = envelope.reply_to
    msg["Subject"] = envelope.subject
    msg["Message-ID"] = envelope.message_id
    if envelope.in_reply_to:
        msg["In-Reply-To"] = envelope.in_reply_to
    if envelope.references:
        msg["References"] = envelope.references
    msg["Date"] = format_datetime(when)
    if envelope.priority:  # what Outlook, Thunderbird and helpdesks each read
        msg["Importance"] = "High"
        msg["X-Priority"] = "1 (Highest)"
        msg["Priority"] = "urgent"
    msg["X-Auto-Response-Suppress"] = "OOF, AutoReply"  # no out-of-office replies to kmb
    msg.set_content(plain_text(reply.elements) + "\n")
    body = _html(reply.elements)
    msg.add_alternative(
        f"<!DOCTYPE html>\n<html><body style='font-family: Arial, sans-serif'>\n{body}\n"
        "</body></html>\n",
        subtype="html",
    )
    return msg


# --- reading ---------------------------------------------------------------------------------

_QUOTE_START = (
    re.compile(r"^\s*On\b.{0,300}\bwrote:\s*$", re.IGNORECASE),
    re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}", re.IGNORECASE),
    re.compile(r"^\s*_{10,}\s*$"),
    re.compile(r"^\s*>"),
    re.compile(r"^\s*-- ?$"),  # the signature delimiter
    re.compile(r"^\s*Sent from my \w+", re.IGNORECASE),
    re.compile(r"^\s*Get Outlook for ", re.IGNORECASE),
    re.compile(r"^\s*\*{5,}\s*$"),
    re.compile(r"^\s*(This (e-?mail|message)\b.*\bconfidential|DISCLAIMER\b)", re.IGNORECASE),
)
_HEADER_BLOCK = re.compile(r"^\s*From:\s*\S", re.IGNORECASE)
_SIGN_OFF = re.compile(
    r"^\s*(((kind|best|warm|many)\s+)?(regards|wishes|thanks)|thank you|cheers|all the best|best)"
    r"[ ,.!]*$",
    re.IGNORECASE,
)


def trim(text: str) -> str:
    """The new words of a reply: quoted history, signatures and disclaimers cut away."""
    lines = text.replace("\r\n", "\n").split("\n")
    end = len(lines)
    for i, line in enumerate(lines):
        joined = f"{line} {lines[i + 1]}" if i + 1 < len(lines) else line
        quoted = any(p.match(line) for p in _QUOTE_START) or _QUOTE_START[0].match(joined)
        # Outlook's quoted header: From: … then Sent:/Date: within a few lines
        outlook = _HEADER_BLOCK.match(line) and any(
            re.match(r"^\s*(Sent|Date):", x, re.IGNORECASE) for x in lines[i + 1 : i + 4]
        )
        if quoted or outlook:
            end = i
            break
    lines = lines[:end]
    # A sign-off after the message keeps itself and the name under it; the job title, phone
    # numbers and logos of a signature go. Only short lines count as a signature.
    for i in range(len(lines) - 1, max(-1, len(lines) - 10), -1):
        if _SIGN_OFF.match(lines[i]) and any(x.strip() for x in lines[:i]):
            rest = [x for x in lines[i + 1 :] if x.strip()]
            if all(len(x) <= 80 for x in rest):
                lines = lines[: i + 1] + rest[:1]
            break
    return "\n".join(lines).strip()


def html_to_text(markup: str) -> str:
    """Readable text from an HTML-only mail, quoted history (blockquote, Outlook) cut away."""
    cut = re.search(
        r"<blockquote|<div[^>]+(gmail_quote|divRplyFwdMsg|moz-cite-prefix)|<hr\b",
        markup,
        re.IGNORECASE,
    )
    if cut:
        markup = markup[: cut.start()]
    markup = re.sub(r"(?is)<(style|script|head)\b.*?</\1>", "", markup)
    markup = re.sub(r"(?i)<br\s*/?>|</(p|div|tr|li|h\d)>", "\n", markup)
    text = html.unescape(re.sub(r"<[^>]+>", "", markup))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(x.strip() for x in text.split("\n"))).strip()


@dataclass
class Received:
    """What kmb reads from one received mail."""

    message_id: str
    subject: str
    from_name: str
    from_address: str
    recipients: list[str]
    thread_ids: list[str]  # In-Reply-To, then References newest first
    text: str
    attachments: list[str] = field(default_factory=list)
    unsafe: str = ""  # why it must not be relayed: a bounce or an automatic reply


def _auto_reason(msg: Message, from_address: str) -> str:
    ctype = msg.get_content_type()
    report = str(msg.get_param("report-type", "") or "").lower()
    local = from_address.partition("@")[0].lower()
    if ctype == "multipart/report" and report == "delivery-status":
        return "a bounce (a delivery status notification)"
    if local in ("mailer-daemon", "postmaster") or str(msg.get("Return-Path", "")) == "<>":
        return "a bounce (from the mail system)"
    auto = str(msg.get("Auto-Submitted", "no")).strip().lower()
    if auto and auto != "no":
        return f"an automatic reply (Auto-Submitted: {auto[:40]})"
    for header in ("X-Autoreply", "X-Autorespond", "X-Autoreply-From"):
        if msg.get(header) is not None:
            return f"an automatic reply ({header})"
    precedence = str(msg.get("Precedence", "")).strip().lower()
    if precedence in ("auto_reply", "bulk", "junk", "list"):
        return f"an automatic or bulk message (Precedence: {precedence})"
    subject = str(msg.get("Subject", "")).lower()
    if subject.startswith(("automatic reply:", "auto-reply:", "out of office")):
        return "an automatic reply (out of office)"
    return ""


def parse(raw: bytes, fallback_id: str) -> Received:
    """Read a received mail (RFC 5322 bytes); `fallback_id` stands in for a missing Message-ID."""
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    name, address = parseaddr(str(msg.get("From", "")))
    headers = ("To", "Cc", "Delivered-To", "X-Original-To")
    values = [str(v) for h in headers for v in msg.get_all(h, [])]
    recipients = [a.lower() for _, a in getaddresses(values) if a]
    ids = MSGID.findall(str(msg.get("In-Reply-To", "")))
    ids += list(reversed(MSGID.findall(str(msg.get("References", "")))))
    attachments = []
    plain, markup = "", ""
    for part in msg.walk():
        if part.is_multipart():
            continue
        if part.get_content_disposition() == "attachment" or part.get_content_type() in (
            "message/rfc822",
        ):
            attachments.append(part.get_filename() or part.get_content_type())
            continue
        if part.get_content_type() == "text/plain" and not plain:
            plain = str(part.get_content())
        elif part.get_content_type() == "text/html" and not markup:
            markup = str(part.get_content())
    text = trim(plain) if plain else trim(html_to_text(markup))
    message_id = (MSGID.findall(str(msg.get("Message-ID", ""))) or [fallback_id])[0]
    return Received(
        message_id=message_id[:250],
        subject=str(msg.get("Subject", ""))[:250],
        from_name=name,
        from_address=address.lower(),
        recipients=recipients,
        thread_ids=list(dict.fromkeys(ids)),
        text=text,
        attachments=attachments,
        unsafe=_auto_reason(msg, address),
    )
