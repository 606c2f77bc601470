"""Settings from the environment (and a `.env` file): the contract's variables."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """kmb's configuration; every field maps to an environment variable of the contract."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = "sqlite:///kmb.db"
    host: str = "127.0.0.1"
    port: int = 3978
    kmb_timezone: str = "Europe/London"
    kmb_content_dir: str = ""
    kmb_retention: str = ""  # overrides content/retention.yaml, e.g. "audit=1095,lessons=null"
    kmb_public_url: str = ""  # where people reach kmb (desk links); default: where serve listens
    kmb_turn_workers: int = 0  # threads handling turns; 0: 1 on SQLite, 4 on PostgreSQL
    kmb_slack_workspace_per_second: float = 50.0  # outbox pacing: Slack's workspace budget
    kmb_teams_tenant_per_second: float = 30.0  # outbox pacing: Teams' per-tenant limit
    slack_bot_token: str = ""
    slack_signing_secret: str = ""
    slack_app_token: str = ""
    slack_bot_user_id: str = ""  # optional: lets kmb skip its own messages sooner
    slack_api_url: str = "https://slack.com/api/"
    kmb_slack_librarian_channel: str = ""
    microsoft_app_id: str = ""
    microsoft_app_password: str = ""
    microsoft_app_tenant_id: str = ""
    microsoft_app_type: str = "SingleTenant"
    kmb_privacy_url: str = ""  # the trust's privacy notice, for the Teams app package
    kmb_terms_url: str = ""  # the trust's terms of use, for the Teams app package
    # Slow clients: seconds to send a request's headers (also how long an idle keep-alive
    # connection stays open), seconds to send its body, and open connections at most (0: half
    # the process's file-descriptor limit, at most 4096).
    kmb_header_timeout: float = 10.0
    kmb_body_timeout: float = 30.0
    kmb_max_connections: int = 0
    # Hand-off to a library's own queue (issue 15): the relay that sends mail, the mailbox that
    # replies come back to (its address, plus-addressed per enquiry, is the Reply-To), and
    # LibAnswers API credentials. See README, "Connect your library's queue".
    kmb_smtp_url: str = ""  # smtp://user:pass@host:587 (STARTTLS) or smtps://…:465
    kmb_imap_url: str = ""  # imaps://user:pass@host:993/INBOX (imap:// only on loopback)
    kmb_mail_from: str = ""  # kmb's address, e.g. kmb@trust.nhs.uk (the mailbox above)
    kmb_mail_poll_seconds: float = 60.0
    kmb_libanswers_client_id: str = ""
    kmb_libanswers_client_secret: str = ""
    # Tests only: an ISO 8601 instant (with its offset) that every clock reading returns, so a
    # test driving the `kmb` command gets the same answers at any hour, weekday or year.
    kmb_fake_now: str = ""
