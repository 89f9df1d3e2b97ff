"""Who gets in (docs/security.md): the query endpoint answers only the viewer's server (bearer token, Host
allow-list, nosniff); the viewer's password hash, as `imgassets viewer-password` makes it, in the one format both
sides read; the new secrets are validated and redacted; the local stack gives the query endpoint and the viewer
the same token; and the browser tests (frontend/e2e/security/) of the login, proxy mode, the security
headers and a refused token.

The endpoint runs for real (uvicorn in this process, `server.running`) on loopback; nothing here needs S3:
/versions reads the project's detector-versions.toml.
"""

from __future__ import annotations

import json
import os
import re
import stat
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from imgassets.cli.main import main
from imgassets.core import redaction
from imgassets.core.settings import (
    PROJECT_ROOT,
    Settings,
    SettingsError,
    get_settings,
    hash_viewer_password,
    load_settings,
    parse_password_hash,
    verify_viewer_password,
)
from imgassets.reading import server
from imgassets.stack import services
from imgassets_tests.e2e_stack import IMGASSETS, browser_tests

TOKEN = "a-query-token-for-the-tests-0123456789"
#: Made once by hash_viewer_password with fixed salts; frontend/app/lib/auth.test.ts checks the same vectors with
#: Node's crypto, so the viewer reads what the CLI writes.
VECTORS = [
    (
        "correct horse battery staple",
        "scrypt:N=32768,r=8,p=1:AAECAwQFBgcICQoLDA0ODw:eo40JB24mNWRdcaWU4xBdGepdf_laQaEJfFhiNMVnFg",
    ),
    ("pässwörd ✓", "scrypt:N=32768,r=8,p=1:EBESExQVFhcYGRobHB0eHw:mc7MQMnDsi5hR5ycjq0wTFpvIaXZSzRX5v2R6w3ggoI"),
]


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


# --- the query endpoint ---------------------------------------------------------------------------------------


@pytest.fixture
def endpoint() -> Iterator[str]:
    settings = load_settings(query_token=TOKEN, query_url="http://query-internal.example:3002")
    with server.running(settings, require_token=True) as url:
        yield url


def test_query_endpoint_requires_the_bearer_token(endpoint: str) -> None:
    status, headers, body = _get(f"{endpoint}/versions")
    assert status == 401 and "bearer token" in json.loads(body)["error"]
    assert headers["www-authenticate"].startswith("Bearer")
    for wrong in (f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", TOKEN, f"Basic {TOKEN}", "Bearer ", "Bearer ä"):
        assert _get(f"{endpoint}/versions", {"Authorization": wrong})[0] == 401, wrong
    for path in ("/search?last=1d", "/search.csv?last=1d", "/hours/2026-11-25-04:00", "/versions/conf03/compare"):
        assert _get(f"{endpoint}{path}")[0] == 401, path
    status, headers, body = _get(f"{endpoint}/versions", {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and "conf03" in {v["name"] for v in json.loads(body)["versions"]}
    assert headers["x-content-type-options"] == "nosniff"


def test_query_endpoint_health_is_open(endpoint: str) -> None:
    status, headers, body = _get(f"{endpoint}/health")
    assert (status, json.loads(body)) == (200, {"ok": True})
    assert headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "host, allowed",
    [
        ("127.0.0.1:3002", True),
        ("localhost", True),
        ("[::1]:3002", True),
        ("query:3002", True),  # compose's service name
        ("query-internal.example:3002", True),  # the host of IMGASSETS_QUERY_URL
        ("attacker.example", False),
        ("attacker.example:3002", False),
        ("127.0.0.1.attacker.example", False),
        ("", False),
    ],
)
def test_query_endpoint_answers_only_known_host_names(endpoint: str, host: str, allowed: bool) -> None:
    """A page that rebinds its own name to this address (DNS rebinding) sends its own name as Host: refused."""
    status, headers, _ = _get(f"{endpoint}/versions", {"Host": host, "Authorization": f"Bearer {TOKEN}"})
    assert (status == 200) if allowed else (status == 400), (host, status)
    assert headers["x-content-type-options"] == "nosniff"
    if not allowed:
        assert _get(f"{endpoint}/health", {"Host": host})[0] == 400


def test_the_in_process_endpoint_of_tests_and_benchmarks_needs_no_token() -> None:
    """`running` (bench-queries, the tests) calls itself, on loopback, for its own life: no token asked for, even
    when one is configured; the Host check stays."""
    with server.running(load_settings(query_token=TOKEN)) as url:
        assert _get(f"{url}/versions")[0] == 200
        assert _get(f"{url}/versions", {"Host": "attacker.example"})[0] == 400


def test_query_endpoint_does_not_start_without_a_token(fresh_settings: None) -> None:
    with pytest.raises(SettingsError, match="IMGASSETS_QUERY_TOKEN must be set"):
        server.app(load_settings())
    result = CliRunner().invoke(main, ["serve-queries", "--port", "1"])
    assert result.exit_code == 1 and "IMGASSETS_QUERY_TOKEN must be set" in result.output


def test_allowed_hosts_setting() -> None:
    settings = load_settings(query_allowed_hosts="q.internal, *.example.com", query_url="http://[fd00::5]:3002")
    assert settings.query_hosts == ["q.internal", "*.example.com", "[fd00::5]"]
    assert load_settings().query_hosts == ["localhost", "127.0.0.1", "[::1]", "query"]
    for bad in ("", "a,,b", "exa*mple.com", "*example.com"):
        with pytest.raises(SettingsError, match="IMGASSETS_QUERY_ALLOWED_HOSTS"):
            load_settings(query_allowed_hosts=bad)


# --- the viewer's password hash and the new secrets -----------------------------------------------------------


@pytest.mark.parametrize("password, encoded", VECTORS)
def test_the_shared_hash_vectors_verify(password: str, encoded: str) -> None:
    assert verify_viewer_password(password, encoded)
    assert not verify_viewer_password(password + " ", encoded)
    salt = parse_password_hash(encoded).salt
    assert hash_viewer_password(password, salt=salt) == encoded


def test_hashes_get_fresh_salts_and_no_dollar_signs() -> None:
    """No `$`: docker compose would expand it when it reads the value from .env."""
    first, second = hash_viewer_password("same password"), hash_viewer_password("same password")
    assert first != second and "$" not in first
    assert re.fullmatch(r"scrypt:N=32768,r=8,p=1:[A-Za-z0-9_-]{22}:[A-Za-z0-9_-]{43}", first)
    assert verify_viewer_password("same password", second)


def test_viewer_password_command_prints_a_hash_from_stdin() -> None:
    result = CliRunner().invoke(main, ["viewer-password"], input="correct horse battery staple\n")
    assert result.exit_code == 0, result.output
    (printed,) = result.stdout.splitlines()
    assert verify_viewer_password("correct horse battery staple", printed)
    short = CliRunner().invoke(main, ["viewer-password"], input="short\n")
    assert short.exit_code == 1 and "at least 8 characters" in short.output


@pytest.mark.parametrize(
    "variable, value",
    [
        ("IMGASSETS_VIEWER_PASSWORD_HASH", "hunter2"),
        ("IMGASSETS_VIEWER_PASSWORD_HASH", VECTORS[0][1].replace("N=32768", "N=1024")),
        ("IMGASSETS_VIEWER_SESSION_SECRET", "too-short"),
        ("IMGASSETS_VIEWER_SESSION_SECRET", "CHANGE_ME_session_secret_0123456789abcdef"),
        ("IMGASSETS_QUERY_TOKEN", "CHANGE_ME_query_token"),
        ("IMGASSETS_QUERY_TOKEN", "short"),
        ("IMGASSETS_VIEWER_AUTH", "maybe"),
        ("IMGASSETS_VIEWER_PROXY_USER_HEADER", "X User"),
    ],
)
def test_invalid_access_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable) as raised:
        load_settings()
    assert value not in str(raised.value) or len(value) < 8


def test_blank_access_settings_are_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """`IMGASSETS_VIEWER_USER=` in .env means unset, as the viewer reads it; it breaks no Python process."""
    for name in ("VIEWER_USER", "VIEWER_PASSWORD_HASH", "VIEWER_SESSION_SECRET", "VIEWER_COOKIE_SECURE", "QUERY_TOKEN"):
        monkeypatch.setenv(f"IMGASSETS_{name}", " ")
    settings = load_settings()
    assert settings.viewer_user is None and settings.viewer_password_hash is None
    assert settings.viewer_session_secret is None and settings.query_token is None
    assert settings.viewer_cookie_secure is None


def test_new_secrets_are_hidden_and_redacted(fresh_settings: None, monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        "IMGASSETS_VIEWER_PASSWORD_HASH": VECTORS[0][1],
        "IMGASSETS_VIEWER_SESSION_SECRET": "s" * 20 + os.urandom(8).hex(),
        "IMGASSETS_QUERY_TOKEN": "t" * 10 + os.urandom(8).hex(),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings = get_settings()
    for value in values.values():
        assert value not in repr(settings)
        assert value in redaction.known_secrets()
        assert redaction.redact(f"token {value} sent") == "token *** sent"


# --- the local stack --------------------------------------------------------------------------------------------


def test_local_stack_gives_the_query_endpoint_and_the_viewer_one_token(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path / "home")
    paths = services.Paths(settings.home)
    query = services.query_service(settings, paths, {})
    viewer = services.viewer_service(settings, paths, {})
    token = query.env["IMGASSETS_QUERY_TOKEN"]
    assert len(token) >= 40 and viewer.env["IMGASSETS_QUERY_TOKEN"] == token
    kept = paths.home / "query-token"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    # Kept: a restart of either service alone still matches the other.
    assert services.query_service(settings, paths, {}).env["IMGASSETS_QUERY_TOKEN"] == token
    # The viewer listens on loopback (no login in `auto`) and gets the access settings as resolved here.
    assert viewer.env["HOST"] == "127.0.0.1" and viewer.env["IMGASSETS_VIEWER_AUTH"] == "auto"
    assert "IMGASSETS_VIEWER_PASSWORD_HASH" not in viewer.env
    # A configured token wins.
    configured = load_settings(home=tmp_path / "home", query_token=TOKEN)
    assert services.query_service(configured, paths, {}).env["IMGASSETS_QUERY_TOKEN"] == TOKEN
    assert services.viewer_service(configured, paths, {}).env["IMGASSETS_QUERY_TOKEN"] == TOKEN


def test_login_settings_reach_the_local_viewer(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,
        home=tmp_path,
        viewer_auth="login",
        viewer_user="alice",
        viewer_password_hash=VECTORS[0][1],
        viewer_session_secret="x" * 40,
        viewer_cookie_secure=True,
    )
    env = services.viewer_service(settings, services.Paths(tmp_path), {}).env
    assert env["IMGASSETS_VIEWER_AUTH"] == "login" and env["IMGASSETS_VIEWER_USER"] == "alice"
    assert env["IMGASSETS_VIEWER_PASSWORD_HASH"] == VECTORS[0][1]
    assert env["IMGASSETS_VIEWER_SESSION_SECRET"] == "x" * 40
    assert env["IMGASSETS_VIEWER_COOKIE_SECURE"] == "true"


# --- in a real browser ------------------------------------------------------------------------------------------


@pytest.mark.e2e  # a browser and the built viewer; kept out of the fast tier (`make test-unit`) like the others
def test_login_proxy_headers_and_tokens_in_a_real_browser() -> None:
    services.prepare_viewer()  # builds the viewer when its sources changed
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMGASSETS_")} | {"IMGASSETS_CLI": IMGASSETS}
    browser_tests(env, "security")


def test_the_browser_test_uses_the_documented_settings() -> None:
    """The names the browser tests set are the settings' (a renamed variable would leave them testing nothing): the
    security suite's specs (frontend/e2e/security/) and the modules they share (frontend/e2e/support/), the other
    suites' too."""
    text = "\n".join(path.read_text() for path in sorted((PROJECT_ROOT / "frontend" / "e2e").rglob("*.ts")))
    used = set(re.findall(r"IMGASSETS_[A-Z0-9_]+", text))
    assert {"IMGASSETS_VIEWER_AUTH", "IMGASSETS_QUERY_TOKEN"} <= used, "the browser tests were not found"
    known = {f"IMGASSETS_{name.upper()}" for name in Settings.model_fields} | {"IMGASSETS_ENV_FILE", "IMGASSETS_CLI"}
    assert used <= known, used - known
