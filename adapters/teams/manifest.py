"""`kmb teams manifest`: the sideloadable Teams app package (manifest.json + two icons, zipped).

The icons are drawn here with the standard library (zlib + struct PNG writer): a 192×192 colour
icon and a 32×32 white-on-transparent outline icon, as Teams requires.
"""

from __future__ import annotations

import json
import re
import struct
import uuid
import zipfile
import zlib
from pathlib import Path
from typing import Any

MANIFEST_SCHEMA = (
    "https://developer.microsoft.com/en-us/json-schemas/teams/v1.19/MicrosoftTeams.schema.json"
)
MANIFEST_VERSION = "1.19"
COMMANDS = (
    ("help", "What kmb does and every command"),
    ("tool", "Find a knowledge-mobilisation tool for what you need"),
    ("librarian", "Ask the library team for an evidence search"),
    ("lessons", "Search lessons teams chose to share"),
    ("project", "Create a project and its team's retro prompts"),
    ("my data", "Export what kmb holds about you"),
)
# Resource-specific consent: the team owner (or chat member) who installs kmb lets it receive
# every message in that team's channels (or that chat) without an @mention, so a reply in the
# thread under an enquiry card or a prompt reaches kmb as it does in Slack. kmb acts only on
# messages under its own posts and keeps nothing of the others.
RSC = (
    ("ChannelMessage.Read.Group", "replies in the threads under kmb's posts in a team"),
    ("ChatMessage.Read.Chat", "the same in a group chat"),
)
PLACEHOLDER_PRIVACY = "https://github.com/kmb-nhs/kmb#privacy"
PLACEHOLDER_TERMS = "https://github.com/kmb-nhs/kmb#licence"
NHS_BLUE = (0, 94, 184)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def manifest(
    app_id: str,
    domain: str = "",
    version: str = "1.0.0",
    privacy_url: str = PLACEHOLDER_PRIVACY,
    terms_url: str = PLACEHOLDER_TERMS,
) -> dict[str, Any]:
    """The manifest for a bot registered with `app_id` (personal, team and group chat).

    `privacy_url` and `terms_url` are the trust's own privacy notice and terms of use, shown
    to people when they add kmb.
    """
    if not _GUID.match(app_id):
        raise ValueError(f"the app id must be the Azure Bot's Microsoft App ID (a GUID): {app_id}")
    for label, url in (("privacy", privacy_url), ("terms", terms_url)):
        if not url.startswith("https://") or len(url) > 2048:
            raise ValueError(f"the {label} URL must be an https:// address: {url[:80]}")
    scopes = ["personal", "team", "groupChat"]
    return {
        "$schema": MANIFEST_SCHEMA,
        "manifestVersion": MANIFEST_VERSION,
        "version": version,
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"kmb-teams-app:{app_id}")),
        "developer": {
            "name": "kmb",
            "websiteUrl": "https://github.com/kmb-nhs/kmb",
            "privacyUrl": privacy_url,
            "termsOfUseUrl": terms_url,
        },
        "name": {"short": "kmb", "full": "kmb: learning before, during and after"},
        "description": {
            "short": "Knowledge mobilisation for NHS teams: tools, retros, lessons, librarians.",
            "full": (
                "kmb helps NHS clinical teams learn before, during and after their work: it "
                "suggests knowledge-mobilisation tools, asks the team the right questions at the "
                "right moment, keeps lessons teams choose to share, and puts clinicians in touch "
                "with their library's knowledge specialists. Never share patient-identifiable "
                "information with kmb."
            ),
        },
        "icons": {"color": "color.png", "outline": "outline.png"},
        "accentColor": "#005EB8",
        "bots": [
            {
                "botId": app_id,
                "scopes": scopes,
                "supportsFiles": False,
                "isNotificationOnly": False,
                "commandLists": [
                    {
                        "scopes": scopes,
                        "commands": [{"title": t, "description": d} for t, d in COMMANDS],
                    }
                ],
            }
        ],
        "composeExtensions": [
            {
                "botId": app_id,
                "commands": [
                    {
                        "id": "askLibrarian",
                        "type": "action",
                        "context": ["message"],
                        "fetchTask": True,
                        "title": "Ask a librarian about this",
                        "description": "Send this message to your library team as an enquiry",
                    }
                ],
            }
        ],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": [domain] if domain else [],
        # RSC needs webApplicationInfo; its `resource` is unused by RSC but must be present.
        "webApplicationInfo": {"id": app_id, "resource": "https://RscBasedStoreApp"},
        "authorization": {
            "permissions": {
                "resourceSpecific": [{"name": name, "type": "Application"} for name, _ in RSC]
            }
        },
    }


def png(size: int, pixel: Any) -> bytes:
    """A PNG image (RGBA) whose pixel (x, y) colour is `pixel(x, y)`."""
    rows = b"".join(
        b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(size)) for y in range(size)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def _ring(size: int, x: int, y: int) -> bool:
    """A lightbulb-like ring with a bar: kmb's mark, in any size."""
    c = (size - 1) / 2
    r = ((x - c) ** 2 + (y - c) ** 2) ** 0.5
    ring = size * 0.28 <= r <= size * 0.40
    bar = abs(x - c) <= size * 0.06 and size * 0.30 <= y <= size * 0.70
    return ring or bar


def color_icon() -> bytes:
    """192×192, white mark on NHS blue."""
    return png(192, lambda x, y: (255, 255, 255, 255) if _ring(192, x, y) else (*NHS_BLUE, 255))


def outline_icon() -> bytes:
    """32×32, white mark on a transparent background."""
    return png(32, lambda x, y: (255, 255, 255, 255) if _ring(32, x, y) else (0, 0, 0, 0))


def build(
    app_id: str,
    out: Path,
    domain: str = "",
    privacy_url: str = PLACEHOLDER_PRIVACY,
    terms_url: str = PLACEHOLDER_TERMS,
) -> Path:
    """Write the zip Teams accepts for upload (files at the zip's root)."""
    found = manifest(app_id, domain, privacy_url=privacy_url, terms_url=terms_url)
    content = json.dumps(found, indent=2)  # refuses a bad id or URL before writing
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("manifest.json", content)
        z.writestr("color.png", color_icon())
        z.writestr("outline.png", outline_icon())
    return out
