"""The authenticated path, offline: a local RSA key, OpenID metadata and keys served in a thread.

The Agents SDK fetches signing keys with PyJWT's (blocking) key client in a worker thread, so
the key server may be a plain threaded HTTP server. Every bad token is refused with 401, never
500.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from adapters.teams import TeamsConfig, shape
from bot.config import Settings
from tests.teams_rig import Rig, card_text

APP_ID = "00000000-0000-0000-0000-000000000b07"
ISSUER = "https://api.botframework.com"
KID = "local-key-1"
KEYS_DELAY = {"seconds": 0.0}  # how long the local key server takes to answer


class LocalTokens:
    """Outbound tokens that never call Entra ID: a fixed token for the fake connector."""

    async def get_access_token(
        self, resource_url: str, scopes: list[str], force_refresh: bool = False
    ) -> str:
        return "local-outbound-token"


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    """kmb's trusted signing key and a stranger's key with the same key id."""
    good = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bad = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(good.public_key()))
    jwk.update({"kid": KID, "use": "sig", "endorsements": ["msteams"]})
    return {"good": good, "bad": bad, "jwks": {"keys": [jwk]}}


@pytest.fixture
def openid(keys: dict[str, Any]) -> Iterator[str]:
    """A local OpenID metadata + keys server in a thread; its metadata URL."""
    state: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.endswith("openidconfiguration"):
                body = {
                    "issuer": ISSUER,
                    "jwks_uri": state["base"] + "/keys",
                    "id_token_signing_alg_values_supported": ["RS256"],
                }
            else:
                time.sleep(KEYS_DELAY["seconds"])
                body = keys["jwks"]
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["base"] = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state["base"] + "/v1/.well-known/openidconfiguration"
    server.shutdown()
    server.server_close()


def _token(keys: dict[str, Any], service_url: str, **changes: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": APP_ID,
        "serviceurl": service_url,
        "nbf": now - 10,
        "iat": now - 10,
        "exp": now + 3600,
    }
    signer = keys["bad"] if changes.pop("wrong_key", False) else keys["good"]
    claims.update(changes)
    return jwt.encode(claims, signer, algorithm="RS256", headers={"kid": KID})


def _config(openid: str) -> TeamsConfig:
    return TeamsConfig(
        app_id=APP_ID,
        app_password="not-used-offline",
        tenant_id="00000000-0000-0000-0000-00000000c0de",
        openid_metadata_url=openid,
        token_provider=LocalTokens(),
        connector_hosts=("127.0.0.1",),  # the fake connector stands in for Microsoft's
    )


async def test_a_valid_token_is_accepted_and_the_reply_is_authorised(engine, openid, keys) -> None:
    async with Rig(engine, _config(openid)) as rig:
        token = _token(keys, rig.connector.url)
        status, _ = await rig.post(
            rig.activity("personal_message"), {"Authorization": f"Bearer {token}"}
        )
        assert status == 200
        reply = rig.connector.calls[-1]
        assert "`help` — this list" in card_text(reply.body)
        assert reply.headers["authorization"] == "Bearer local-outbound-token"


@pytest.mark.parametrize(
    "bad",
    [
        {"exp": int(time.time()) - 3600, "nbf": int(time.time()) - 7200},  # expired
        {"wrong_key": True},  # signed by someone else
        {"aud": "11111111-1111-1111-1111-111111111111"},  # for another bot
        {"iss": "https://evil.example.com"},  # not the Bot Framework
        {"serviceurl": "https://attacker.example.com/"},  # redirects kmb's replies
    ],
    ids=["expired", "wrong-signature", "wrong-audience", "wrong-issuer", "serviceurl-mismatch"],
)
async def test_a_bad_token_is_refused_with_401(engine, openid, keys, bad) -> None:
    async with Rig(engine, _config(openid)) as rig:
        token = _token(keys, rig.connector.url, **bad)
        status, body = await rig.post(
            rig.activity("personal_message"), {"Authorization": f"Bearer {token}"}
        )
        assert status == 401 and body == {"error": "unauthorized"}
        assert rig.connector.calls == []


@pytest.mark.parametrize("header", [None, "Bearer not-a-jwt", "Basic abc"])
async def test_a_missing_or_malformed_header_is_refused_with_401(engine, openid, header) -> None:
    async with Rig(engine, _config(openid)) as rig:
        headers = {"Authorization": header} if header else {}
        status, _ = await rig.post(rig.activity("personal_message"), headers)
        assert status == 401
        assert rig.connector.calls == []


async def test_a_signed_service_url_off_microsofts_connectors_is_refused(
    engine, openid, keys
) -> None:
    attacker = "https://attacker.example.com/"
    async with Rig(engine, _config(openid)) as rig:
        token = _token(keys, attacker)  # the claim matches the activity: only the host is wrong
        activity = rig.activity("personal_message") | {"serviceUrl": attacker}
        status, body = await rig.post(activity, {"Authorization": f"Bearer {token}"})
        assert status == 400 and "connector" in body["error"]
        assert rig.connector.calls == []


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://smba.trafficmanager.net/emea/", True),
        ("https://smba.infra.gcc.teams.microsoft.com/teams", True),
        ("https://smba.infra.gov.teams.microsoft.us/teams", True),
        ("https://smba.infra.dod.teams.microsoft.us/teams", True),
        ("https://webchat.botframework.com/", True),
        ("https://europe.webchat.botframework.com/", True),
        ("https://directline.botframework.azure.us/", True),
        ("http://smba.trafficmanager.net/emea/", False),  # never in clear text
        ("https://evil.trafficmanager.net/", False),  # anyone can make one of these
        ("https://botframework.com.evil.example/", False),
        ("https://evilbotframework.com/", False),
        ("https://127.0.0.1:3978/", False),
        ("", False),
        (None, False),
    ],
)
def test_only_microsofts_connector_hosts_are_answered_with_credentials(url, ok) -> None:
    assert (shape.service_url_problem(url, authenticated=True) is None) is ok


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("http://127.0.0.1:53000/", True),
        ("http://localhost:3978/", True),
        ("http://[::1]:3978/", True),
        ("https://smba.trafficmanager.net/emea/", False),
        ("http://127.0.0.1.evil.example/", False),
        ("file:///etc/passwd", False),
    ],
)
def test_emulator_mode_answers_loopback_only(url, ok) -> None:
    assert (shape.service_url_problem(url, authenticated=False) is None) is ok


async def test_fetching_signing_keys_does_not_block_the_event_loop(engine, openid, keys) -> None:
    """botbuilder fetched them with a blocking call on the loop; the SDK fetches in a thread."""
    KEYS_DELAY["seconds"] = 1.0
    try:
        async with Rig(engine, _config(openid)) as rig:
            gaps: list[float] = []
            done = asyncio.Event()

            async def tick() -> None:
                last = time.perf_counter()
                while not done.is_set():
                    await asyncio.sleep(0.01)
                    now = time.perf_counter()
                    gaps.append(now - last)
                    last = now

            ticker = asyncio.ensure_future(tick())
            token = _token(keys, rig.connector.url)
            status, _ = await rig.post_only(
                rig.activity("personal_message"), {"Authorization": f"Bearer {token}"}
            )
            done.set()
            await ticker
            assert status == 200
            assert max(gaps) < 0.5  # a blocking fetch would stall the loop for the whole second
    finally:
        KEYS_DELAY["seconds"] = 0.0


@pytest.mark.parametrize(
    ("app_type", "tenant", "auth_type"),
    [
        ("SingleTenant", "00000000-0000-0000-0000-00000000c0de", "ClientSecret"),
        ("MultiTenant", "botframework.com", "ClientSecret"),
        ("UserAssignedMSI", "00000000-0000-0000-0000-00000000c0de", "UserManagedIdentity"),
    ],
)
def test_the_contracts_variables_become_the_sdks_service_connection(
    app_type, tenant, auth_type
) -> None:
    settings = Settings(
        microsoft_app_id=APP_ID,
        microsoft_app_password="secret",
        microsoft_app_tenant_id="00000000-0000-0000-0000-00000000c0de",
        microsoft_app_type=app_type,
    )
    sdk = TeamsConfig.from_settings(settings).sdk_settings()
    assert sdk["CLIENTID"] == APP_ID and sdk["TENANTID"] == tenant
    assert sdk["AUTHTYPE"] == auth_type and sdk["VALIDATE_ISSUER"] is True
    assert sdk.get("CLIENTSECRET") == (None if auth_type == "UserManagedIdentity" else "secret")
