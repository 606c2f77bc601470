"""Pacing the outbox: each platform's send limits, a sliding-window pacer, retry backoff.

Slack allows about one message a second per channel within a workspace budget; Teams at most
seven a second and sixty in thirty seconds per conversation, thirty a second per tenant. The
delivery loop books a slot with `Pacer.reserve` before each send, and waits `backoff` seconds
before retrying a transient failure.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, replace

BACKOFF_CAP_S = 300.0


def backoff(attempts: int, rng: random.Random | None = None) -> float:
    """Seconds to wait before attempt `attempts + 1`: 2, 4, 8 … capped, with ±20 % jitter."""
    base = min(BACKOFF_CAP_S, 2.0**attempts)
    return base * (0.8 + 0.4 * (rng or random).random())


Window = tuple[int, float]  # at most `count` sends per `seconds`


@dataclass(frozen=True)
class Limits:
    """A platform's send limits: per conversation, and per workspace/tenant."""

    per_conversation: tuple[Window, ...]
    per_workspace: tuple[Window, ...]


PLATFORM_LIMITS: dict[str, Limits] = {
    "slack": Limits(per_conversation=((1, 1.0),), per_workspace=((50, 1.0),)),
    "teams": Limits(per_conversation=((7, 1.0), (60, 30.0)), per_workspace=((30, 1.0),)),
    # A library's queue: a trust relay or helpdesk API, gently (one a second to each queue).
    "email": Limits(per_conversation=((1, 1.0),), per_workspace=((5, 1.0),)),
    "libanswers": Limits(per_conversation=((1, 1.0),), per_workspace=((2, 1.0),)),
}
UNLIMITED = Limits((), ())


def platform_limits(slack_per_second: float, teams_per_second: float) -> dict[str, Limits]:
    """The platforms' limits with the configured workspace/tenant budgets."""
    return {
        "slack": replace(PLATFORM_LIMITS["slack"], per_workspace=_budget(slack_per_second)),
        "teams": replace(PLATFORM_LIMITS["teams"], per_workspace=_budget(teams_per_second)),
    }


def _budget(per_second: float) -> tuple[Window, ...]:
    """At most `per_second` in any second, spread evenly with 2 % headroom: requests reach the
    platform with a few milliseconds of jitter, and a burst at a window's edge earns a 429."""
    budget = max(1, int(per_second))
    return ((budget, 1.0), (1, 1.02 / budget))


class Pacer:
    """Sliding-window budgets: when may the next send to a conversation go?"""

    def __init__(self, limits: Limits, now: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.now = now
        self._sent: dict[str, deque[float]] = defaultdict(deque)
        self._blocked: dict[str, float] = {}

    def _earliest(self, key: str, windows: tuple[Window, ...], at: float) -> float:
        stamps = self._sent[key]
        earliest = max(at, self._blocked.get(key, 0.0))
        for count, seconds in windows:
            recent = [t for t in stamps if t > earliest - seconds]
            if len(recent) >= count:
                earliest = max(earliest, recent[-count] + seconds)
        return earliest

    def reserve(self, conversation: str) -> float:
        """Book the earliest slot for a send; seconds from now until it."""
        at = self.now()
        slot = at
        for _ in range(3):  # the two budgets settle in a step or two
            slot = self._earliest("conv:" + conversation, self.limits.per_conversation, slot)
            slot = self._earliest("workspace", self.limits.per_workspace, slot)
        for key, windows in (
            ("conv:" + conversation, self.limits.per_conversation),
            ("workspace", self.limits.per_workspace),
        ):
            stamps = self._sent[key]
            stamps.append(slot)
            longest = max((s for _, s in windows), default=0.0)
            while stamps and stamps[0] < slot - longest - 1:
                stamps.popleft()
        return max(0.0, slot - at)

    def block(self, conversation: str, seconds: float) -> None:
        """A 429 said to wait: nothing to this conversation before then."""
        key = "conv:" + conversation
        self._blocked[key] = max(self._blocked.get(key, 0.0), self.now() + seconds)
