"""`/metrics` as an operator's Prometheus sees it, scraped over HTTP from a running kmb."""

from __future__ import annotations

import datetime as dt

from prometheus_client.parser import text_string_to_metric_families

from bot.messages import say
from bot.outbox import notify_person
from tests.slack_harness import SlackWorld
from tests.test_slack import ENQUIRY, _ask_librarian

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(slack: SlackWorld) -> tuple[Samples, dict[str, tuple[str, str]]]:
    """Every sample by (name, labels), and each family's (type, help)."""
    async with slack.http.get(f"{slack.running.url}/metrics") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        text = await resp.text()
    samples: Samples = {}
    families = {}
    for family in text_string_to_metric_families(text):
        families[family.name] = (family.type, family.documentation)
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples, families


def _queue(slack: SlackWorld, user: str, key: str) -> None:
    store = slack.engine.store
    with store.session() as s:
        notify_person(store, s, store.person(s, "slack", user, user), say("Hello"), key)
    slack.running.delivery.wake()


async def test_metrics_follow_prometheus_conventions_and_say_what_they_are(
    slack: SlackWorld,
) -> None:
    _, families = await scrape(slack)
    for name, (kind, help_text) in families.items():
        assert name.startswith("kmb_"), name
        assert help_text, f"{name} has no help text"
        if kind == "counter":
            assert not name.endswith("_total")  # the parser strips it; the text has it
    assert families["kmb_outbox_sends"][0] == "counter"
    assert families["kmb_turn_duration_seconds"][0] == "histogram"
    assert families["kmb_outbox_messages"][0] == "gauge"


async def test_sends_429s_parked_messages_and_outbox_depth(slack: SlackWorld) -> None:
    slack.fake.fail("chat.postMessage", status=429, error="ratelimited", retry_after=30)
    _queue(slack, "U0ANN", "m:1")
    await slack.fake.wait_for("chat.postMessage")
    await slack.settle()
    slack.fake.fail("chat.postMessage", error="channel_not_found")
    _queue(slack, "U0BOB", "m:2")
    await slack.fake.wait_for("chat.postMessage", 2)
    await slack.settle()
    _queue(slack, "U0CY", "m:3")
    await slack.fake.wait_for("chat.postMessage", 3)
    await slack.settle()
    samples, _ = await scrape(slack)
    assert samples[("kmb_outbox_sends_total", (("platform", "slack"), ("result", "retry")))] == 1
    assert samples[("kmb_outbox_sends_total", (("platform", "slack"), ("result", "parked")))] == 1
    assert samples[("kmb_outbox_sends_total", (("platform", "slack"), ("result", "sent")))] == 1
    assert samples[("kmb_rate_limited_total", (("platform", "slack"),))] == 1
    depth = {
        dict(labels)["status"]: v
        for (name, labels), v in samples.items()
        if name == "kmb_outbox_messages" and dict(labels)["platform"] == "slack"
    }
    assert depth == {"pending": 1, "sending": 0, "parked": 1}  # the 429'd one waits 30 s
    slack.clock.advance(seconds=45)
    samples, _ = await scrape(slack)
    assert samples[("kmb_outbox_oldest_due_age_seconds", (("platform", "slack"),))] == 15


async def test_turn_latency_lease_holder_and_requests(slack: SlackWorld) -> None:
    await slack.command("help")
    await slack.fake.wait_responses(1)
    samples, _ = await scrape(slack)
    turns = ("kmb_turn_duration_seconds_count", (("kind", "command"), ("platform", "slack")))
    assert samples[turns] == 1
    assert samples[("kmb_http_requests_total", (("route", "/slack/events"),))] == 1
    assert samples[("kmb_scheduler_lease_held", ())] == 1
    (holder,) = [
        labels for name, labels in samples if name == "kmb_scheduler_lease_expires_in_seconds"
    ]
    assert slack.running.scheduling is not None
    assert dict(holder)["holder"] == slack.running.scheduling.key
    await slack.running.scheduling.stop()  # the lease is released: nothing schedules now
    samples, _ = await scrape(slack)
    assert samples[("kmb_scheduler_lease_held", ())] == 0


async def test_enquiries_past_their_promise(slack: SlackWorld) -> None:
    view = await _ask_librarian(slack)
    await slack.submit(view, ENQUIRY)  # due Wed 20 Jan 2027, unclaimed
    samples, _ = await scrape(slack)
    assert samples[("kmb_enquiries_past_promise", (("promise", "deadline"),))] == 0
    slack.clock.set(dt.datetime(2027, 1, 21, 10, tzinfo=dt.UTC))
    from bot.features.enquiries.promises import sweep

    sweep(slack.engine)  # the unclaimed one is nudged: its claim promise has passed
    samples, _ = await scrape(slack)
    assert samples[("kmb_enquiries_past_promise", (("promise", "deadline"),))] == 1
    assert samples[("kmb_enquiries_past_promise", (("promise", "claim"),))] == 1


async def test_a_worker_serves_its_own_metrics_when_asked(engine) -> None:
    import asyncio
    import socket

    import aiohttp

    from bot.worker import work

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    stop = asyncio.Event()
    running = asyncio.create_task(
        work(engine, {}, scheduler=False, stop=stop, metrics_at=("127.0.0.1", port))
    )
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
                        text = await resp.text()
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)  # waiting for another task to bind, not the clock
    finally:
        stop.set()
        await running
    assert "kmb_outbox_messages" in text and "kmb_scheduler_lease_held 0.0" in text
    assert "kmb_inbound_backlog" in text


def test_a_feature_adds_a_gauge_read_from_the_database(engine, monkeypatch) -> None:
    from bot import metrics

    monkeypatch.setattr(metrics, "REGISTERED", [])

    @metrics.database_gauge("kmb_inbound_backlog", "Inbound events not yet handled", ("platform",))
    def backlog(s, now):
        return [(("slack",), 3.0)]

    text = metrics.Metrics(engine.store).render().decode()
    assert "# HELP kmb_inbound_backlog Inbound events not yet handled" in text
    assert 'kmb_inbound_backlog{platform="slack"} 3.0' in text
