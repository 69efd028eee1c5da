"""tap-bigcartel-connect against the emulator, over real HTTP, as a subprocess.

The test plays the browser: it reads the authorize URL the CLI prints, asks the emulator (which
approves or denies per ``store.authorize_decision``) and follows its redirect to the CLI's local
listener, or pastes the redirect URL on the CLI's stdin for a non-loopback redirect URI.
"""

from __future__ import annotations

import json
import os
import queue
import stat
import subprocess
import sys
import threading
import typing as t
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import dotenv
import pytest
import requests

from bigcartel_core.oauth import Grant
from bigcartel_core.webhook_store import WebhookStore
from bigcartel_sandbox import Sandbox, SandboxConfig
from tap_bigcartel.envfile import ENV_VARS, update_env_file

WAIT = 30.0
CLIENT_ID = "connect-test-client"
CLIENT_SECRET = "connect-test-secret-do-not-print"


@pytest.fixture
def sandbox() -> t.Iterator[Sandbox]:
    config = SandboxConfig(
        shops=2,
        orders_per_shop=1,
        products_per_shop=1,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    with Sandbox(config) as sb:
        yield sb


class Cli:
    """The CLI in a subprocess, its output pumped by threads so every wait can be bounded."""

    def __init__(self, args: list[str], cwd: Path, client_secret: str = CLIENT_SECRET) -> None:
        env = {
            **os.environ,
            "BIGCARTEL_CLIENT_ID": CLIENT_ID,
            "BIGCARTEL_CLIENT_SECRET": client_secret,
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tap_bigcartel.connect", *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stdout_lines: queue.Queue[str | None] = queue.Queue()
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._threads = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, True), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, False), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _pump(self, stream: t.IO[str], is_stdout: bool) -> None:
        for line in stream:
            if is_stdout:
                self.stdout_lines.put(line)
            else:
                self.stderr.append(line)
        if is_stdout:
            self.stdout_lines.put(None)

    def authorize_url(self) -> str:
        """The URL the CLI asks the shop owner to open."""
        while True:
            line = self.stdout_lines.get(timeout=WAIT)
            if line is None:
                self.finish()
                pytest.fail(f"the CLI ended without an authorize URL: {self.output()}")
            self.stdout.append(line)
            if "/oauth/authorize?" in line:
                return line.strip()

    def paste(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.close()

    def finish(self) -> int:
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        code = self.proc.wait(timeout=WAIT)
        for thread in self._threads:
            thread.join(timeout=WAIT)
        while not self.stdout_lines.empty():
            line = self.stdout_lines.get_nowait()
            if line is not None:
                self.stdout.append(line)
        return code

    def output(self) -> str:
        return "".join(self.stdout) + "".join(self.stderr)


def cli_args(sandbox: Sandbox, env_file: Path, *extra: str) -> list[str]:
    return [
        "--no-browser",
        "--oauth-base-url",
        sandbox.url,
        "--api-url",
        sandbox.url,
        "--env-file",
        str(env_file),
        "--timeout",
        str(WAIT),
        *extra,
    ]


def stored(env_file: Path) -> dict[str, list[dict[str, str]]]:
    """The accounts as Meltano sees them: through python-dotenv, the last assignment winning."""
    values = dotenv.dotenv_values(env_file)
    return {name: json.loads(values[name] or "[]") for name in ENV_VARS if name in values}


def leftovers(directory: Path, name: str = ".env") -> list[str]:
    """Files other than the env file and its lock: a temp file left behind would show here."""
    return sorted(
        path.name for path in directory.iterdir() if path.name not in {name, f"{name}.lock"}
    )


def accounts_status(sandbox: Sandbox, token: str) -> requests.Response:
    return requests.get(
        f"{sandbox.url}/v1/accounts",
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.api+json",
            "User-Agent": "tap-bigcartel tests (+https://example.com)",
        },
        timeout=WAIT,
    )


def connect(sandbox: Sandbox, env_file: Path) -> Cli:
    """A full, approved connect; the browser follows the redirect to the CLI's listener."""
    cli = Cli(cli_args(sandbox, env_file), env_file.parent)
    browser = requests.get(cli.authorize_url(), timeout=WAIT)
    assert browser.status_code == 200, browser.text
    assert cli.finish() == 0, cli.output()
    return cli


def assert_no_secrets(cli: Cli, *tokens: str) -> None:
    output = cli.output()
    for secret in (CLIENT_SECRET, *tokens):
        assert secret not in output


def test_connect_stores_a_working_token(sandbox: Sandbox, tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    cli = connect(sandbox, env_file)

    shop = sandbox.shops[0]
    values = stored(env_file)
    assert set(values) == set(ENV_VARS)
    assert values[ENV_VARS[0]] == values[ENV_VARS[1]]
    [entry] = values[ENV_VARS[0]]
    assert entry["account_id"] == str(shop.account_id)
    response = accounts_status(sandbox, entry["access_token"])
    assert response.status_code == 200
    assert [account["id"] for account in response.json()["data"]] == [str(shop.account_id)]

    assert str(shop.account_id) in "".join(cli.stdout)
    assert_no_secrets(cli, entry["access_token"])
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert leftovers(tmp_path) == []


def test_default_env_file_is_in_the_cwd(sandbox: Sandbox, tmp_path: Path) -> None:
    args = cli_args(sandbox, tmp_path / "unused")
    del args[args.index("--env-file") : args.index("--env-file") + 2]
    cli = Cli(args, tmp_path)
    requests.get(cli.authorize_url(), timeout=WAIT)
    assert cli.finish() == 0, cli.output()
    assert set(stored(tmp_path / ".env")) == set(ENV_VARS)


def test_a_second_shop_is_added_and_other_lines_kept(sandbox: Sandbox, tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("# my settings\nTARGET_FULFILLMENT_BACKEND=file\n\nFOO='bar baz'\n")
    first, second = sandbox.shops
    connect(sandbox, env_file)
    sandbox.store.authorize_account_id = second.account_id
    cli = connect(sandbox, env_file)
    # Reconnecting the first shop replaces its entry instead of adding a second one.
    sandbox.store.authorize_account_id = first.account_id
    connect(sandbox, env_file)

    lines = env_file.read_text().splitlines()
    assert lines[:4] == ["# my settings", "TARGET_FULFILLMENT_BACKEND=file", "", "FOO='bar baz'"]
    values = stored(env_file)
    for name in ENV_VARS:
        assert sorted(entry["account_id"] for entry in values[name]) == sorted(
            [str(first.account_id), str(second.account_id)]
        )
        for entry in values[name]:
            assert accounts_status(sandbox, entry["access_token"]).status_code == 200
            assert_no_secrets(cli, entry["access_token"])
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600


def test_denied_stores_nothing(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.store.authorize_decision = "deny"
    env_file = tmp_path / ".env"
    cli = Cli(cli_args(sandbox, env_file), tmp_path)
    requests.get(cli.authorize_url(), timeout=WAIT)
    assert cli.finish() != 0
    assert "denied access" in "".join(cli.stderr)
    assert "access_denied" not in "".join(cli.stderr)
    assert not env_file.exists()
    assert_no_secrets(cli)


def test_unknown_client_id_is_explained(sandbox: Sandbox, tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    cli = Cli([*cli_args(sandbox, env_file), "--client-id", "nobody"], tmp_path)
    requests.get(cli.authorize_url(), timeout=WAIT)
    assert cli.finish() != 0
    assert "does not know this client id" in "".join(cli.stderr)
    assert not env_file.exists()


def test_mismatched_state_is_refused(sandbox: Sandbox, tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    cli = Cli(cli_args(sandbox, env_file), tmp_path)
    parts = urlsplit(cli.authorize_url())
    query = {**dict(parse_qsl(parts.query)), "state": "forged-by-a-third-party"}
    requests.get(urlunsplit(parts._replace(query=urlencode(query))), timeout=WAIT)
    assert cli.finish() != 0
    assert "state does not match" in "".join(cli.stderr)
    assert not env_file.exists()


def test_pasted_redirect_for_a_non_loopback_uri(sandbox: Sandbox, tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    redirect_uri = "https://connect.example.com/bigcartel/callback"
    cli = Cli(cli_args(sandbox, env_file, "--redirect-uri", redirect_uri), tmp_path)
    url = cli.authorize_url()
    assert dict(parse_qsl(urlsplit(url).query))["redirect_uri"] == redirect_uri
    answer = requests.get(url, allow_redirects=False, timeout=WAIT)
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(redirect_uri)
    cli.paste(location)
    assert cli.finish() == 0, cli.output()
    [entry] = stored(env_file)[ENV_VARS[0]]
    assert entry["account_id"] == str(sandbox.shops[0].account_id)
    assert accounts_status(sandbox, entry["access_token"]).status_code == 200
    assert_no_secrets(cli, entry["access_token"])


def test_no_redirect_within_the_timeout(sandbox: Sandbox, tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    args = [*cli_args(sandbox, env_file), "--timeout", "0.2"]
    cli = Cli(args, tmp_path)
    cli.authorize_url()
    assert cli.finish() != 0
    assert "No answer from Big Cartel" in "".join(cli.stderr)
    assert not env_file.exists()


def test_revoke_removes_the_shop(sandbox: Sandbox, tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    first, second = sandbox.shops
    connect(sandbox, env_file)
    sandbox.store.authorize_account_id = second.account_id
    connect(sandbox, env_file)
    tokens = {entry["account_id"]: entry["access_token"] for entry in stored(env_file)[ENV_VARS[0]]}

    sandbox.clear_requests()
    cli = Cli(cli_args(sandbox, env_file, "--revoke", str(first.account_id)), tmp_path)
    assert cli.finish() == 0, cli.output()
    revokes = [
        (entry["method"], entry["path"], entry["status"])
        for entry in sandbox.requests
        if "deauthorize" in entry["path"]
    ]
    assert revokes == [("POST", f"/oauth/deauthorize/{first.account_id}", 204)]

    assert accounts_status(sandbox, tokens[str(first.account_id)]).status_code == 401
    assert accounts_status(sandbox, tokens[str(second.account_id)]).status_code == 200
    values = stored(env_file)
    for name in ENV_VARS:
        assert [entry["account_id"] for entry in values[name]] == [str(second.account_id)]
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert_no_secrets(cli, *tokens.values())


def test_revoke_errors_are_plain(sandbox: Sandbox, tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    unknown = Cli(cli_args(sandbox, env_file, "--revoke", "999999999"), tmp_path)
    assert unknown.finish() != 0
    assert "no account 999999999" in "".join(unknown.stderr)

    account_id = str(sandbox.shops[0].account_id)
    wrong = Cli(
        cli_args(sandbox, env_file, "--revoke", account_id), tmp_path, client_secret="wrong"
    )
    assert wrong.finish() != 0
    assert "refused the app's credentials" in "".join(wrong.stderr)
    assert not env_file.exists()
    assert_no_secrets(unknown)


def test_update_env_file_reads_double_quoted_values(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        'export TAP_BIGCARTEL_ACCOUNTS="[{\\"account_id\\": 1, \\"access_token\\": \\"a\\"}]"\n'
    )
    update_env_file(env_file, add=Grant(account_id="2", access_token="b"))
    values = stored(env_file)
    assert values["TAP_BIGCARTEL_ACCOUNTS"] == [
        {"account_id": "1", "access_token": "a"},
        {"account_id": "2", "access_token": "b"},
    ]
    assert values["TARGET_FULFILLMENT_ACCOUNTS"] == [{"account_id": "2", "access_token": "b"}]


def test_connecting_marks_a_deauthorized_shop_connected(sandbox: Sandbox, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'webhooks.db'}"
    store = WebhookStore(url)
    shop = str(sandbox.shops[0].account_id)
    store.record(
        b'{"type": "account.deauthorized"}',
        account_id=shop,
        topic="account.deauthorized",
        status="received",
        payload="{}",
    )
    assert set(store.disconnected()) == {shop}
    env_file = tmp_path / ".env"
    cli = Cli([*cli_args(sandbox, env_file), "--webhook-db-url", url], tmp_path)
    assert requests.get(cli.authorize_url(), timeout=WAIT).status_code == 200
    assert cli.finish() == 0, cli.output()
    assert store.disconnected() == {}
    store.close()


def test_an_unusable_webhook_store_is_reported_after_storing_the_token(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    env_file = tmp_path / ".env"
    url = "postgresql+psycopg://fulfil:s3cret-pw@127.0.0.1:1/webhooks"
    cli = Cli([*cli_args(sandbox, env_file), "--webhook-db-url", url], tmp_path)
    assert requests.get(cli.authorize_url(), timeout=WAIT).status_code == 200
    assert cli.finish() == 1
    assert "bigcartel-webhooks reconnect" in "".join(cli.stderr)
    assert "s3cret-pw" not in cli.output()
    assert set(stored(env_file)) == set(ENV_VARS)


# --- editing the env file: concurrency, the assignment in effect, symlinks ----------------------


@pytest.fixture
def four_shops() -> t.Iterator[Sandbox]:
    config = SandboxConfig(
        shops=4,
        orders_per_shop=1,
        products_per_shop=1,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    with Sandbox(config) as sb:
        yield sb


def follow_together(urls: list[str]) -> None:
    """The browser follows every redirect at the same moment, so the CLIs store at once."""
    barrier = threading.Barrier(len(urls))
    errors: list[BaseException] = []

    def follow(url: str) -> None:
        try:
            barrier.wait(timeout=WAIT)
            requests.get(url, timeout=WAIT)
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=follow, args=(url,)) for url in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT)
    assert errors == []


def test_concurrent_connects_to_one_env_file_all_land(four_shops: Sandbox, tmp_path: Path) -> None:
    """Four CLIs get their codes, then all four redirects are released at once, ten times."""
    sandbox = four_shops
    expected = sorted(str(shop.account_id) for shop in sandbox.shops)
    for attempt in range(10):
        env_file = tmp_path / str(attempt) / ".env"
        env_file.parent.mkdir()
        env_file.write_text("# shops\nFOO=bar\n")
        clis = [Cli(cli_args(sandbox, env_file), env_file.parent) for _ in sandbox.shops]
        redirects = []
        for cli, shop in zip(clis, sandbox.shops, strict=True):
            sandbox.store.authorize_account_id = shop.account_id
            answer = requests.get(cli.authorize_url(), allow_redirects=False, timeout=WAIT)
            assert answer.status_code == 302, answer.text
            redirects.append(answer.headers["Location"])

        follow_together(redirects)
        for cli in clis:
            assert cli.finish() == 0, cli.output()

        values = stored(env_file)
        for name in ENV_VARS:
            landed = sorted(entry["account_id"] for entry in values[name])
            assert landed == expected, f"attempt {attempt}: {name} has {landed}"
        assert env_file.read_text().startswith("# shops\nFOO=bar\n")
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        assert leftovers(env_file.parent) == []
        tokens = [entry["access_token"] for entry in values[ENV_VARS[0]]]
        for cli in clis:
            assert_no_secrets(cli, *tokens)


WRITER = """
import sys
from pathlib import Path
from bigcartel_core.oauth import Grant
from tap_bigcartel.envfile import update_env_file

env_file, first, count = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
print("ready", flush=True)
sys.stdin.readline()
for account in range(first, first + count):
    update_env_file(env_file, add=Grant(account_id=str(account), access_token=f"t{account}"))
"""


@pytest.mark.parametrize("kind", ["processes", "threads"])
def test_concurrent_writers_lose_no_shop(kind: str, tmp_path: Path) -> None:
    """Writers started together, each adding its own 25 shops: none may be lost."""
    env_file = tmp_path / ".env"
    writers, per_writer = 4, 25
    if kind == "processes":
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", WRITER, str(env_file), str(n * 100), str(per_writer)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for n in range(writers)
        ]
        for proc in procs:  # every writer has imported everything before any starts
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.close()
        assert [proc.wait(timeout=WAIT) for proc in procs] == [0] * writers
    else:
        barrier = threading.Barrier(writers)
        errors: list[BaseException] = []

        def write(first: int) -> None:
            try:
                barrier.wait(timeout=WAIT)
                for account in range(first, first + per_writer):
                    grant = Grant(account_id=str(account), access_token=f"t{account}")
                    update_env_file(env_file, add=grant)
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=write, args=(n * 100,)) for n in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=WAIT)
        assert errors == []

    expected = sorted(str(n * 100 + i) for n in range(writers) for i in range(per_writer))
    values = stored(env_file)
    for name in ENV_VARS:
        assert sorted(entry["account_id"] for entry in values[name]) == expected
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert leftovers(tmp_path) == []


def test_the_assignment_in_effect_is_updated(sandbox: Sandbox, tmp_path: Path) -> None:
    """dotenv reads the last of repeated assignments, so that is the one to edit."""
    env_file = tmp_path / ".env"
    before = [
        "# old shops, overridden below",
        """TAP_BIGCARTEL_ACCOUNTS='[{"account_id":"1","access_token":"overridden"}]'""",
        "FOO=bar  # a comment",
        """export TAP_BIGCARTEL_ACCOUNTS='[{"account_id":"7","access_token":"in-effect"}]'"""
        "  # managed by tap-bigcartel-connect",
        "TARGET_FULFILLMENT_ACCOUNTS=",
        """TARGET_FULFILLMENT_ACCOUNTS='[{"account_id":"7","access_token":"in-effect"}]'""",
        "",
        "# the end",
    ]
    env_file.write_text("\n".join(before) + "\n")
    env_file.chmod(0o644)
    cli = connect(sandbox, env_file)

    shop = str(sandbox.shops[0].account_id)
    after = env_file.read_text().splitlines()
    assert len(after) == len(before)
    for index in (0, 1, 2, 4, 6, 7):
        assert after[index] == before[index]
    assert after[3].startswith("export TAP_BIGCARTEL_ACCOUNTS=")
    assert after[3].endswith("'  # managed by tap-bigcartel-connect")
    assert after[5].startswith("TARGET_FULFILLMENT_ACCOUNTS=")
    values = stored(env_file)
    for name in ENV_VARS:
        assert [entry["account_id"] for entry in values[name]] == ["7", shop]
    assert dotenv.dotenv_values(env_file)["FOO"] == "bar"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert_no_secrets(cli, values[ENV_VARS[0]][1]["access_token"])


def test_a_symlinked_env_file_stays_a_symlink(sandbox: Sandbox, tmp_path: Path) -> None:
    """The link is kept and its target, where the settings really live, is what is updated."""
    real = tmp_path / "config" / "shops.env"
    real.parent.mkdir()
    real.write_text("# shared settings\nFOO=bar\n")
    real.chmod(0o644)
    env_file = tmp_path / ".env"
    link = os.path.join("config", "shops.env")
    env_file.symlink_to(link)
    cli = connect(sandbox, env_file)

    assert env_file.is_symlink()
    assert os.readlink(env_file) == link
    [entry] = stored(real)[ENV_VARS[0]]
    assert entry["account_id"] == str(sandbox.shops[0].account_id)
    assert stored(real)[ENV_VARS[1]] == [entry]
    assert real.read_text().startswith("# shared settings\nFOO=bar\n")
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert leftovers(real.parent, "shops.env") == []
    assert_no_secrets(cli, entry["access_token"])


def test_revoke_edits_the_assignment_in_effect(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    first = """TAP_BIGCARTEL_ACCOUNTS='[{"account_id":"1","access_token":"a"}]'\n"""
    env_file.write_text(
        first + """TAP_BIGCARTEL_ACCOUNTS='[{"account_id":"2","access_token":"b"}]'\n"""
    )
    assert update_env_file(env_file, remove="2") is True
    assert env_file.read_text().startswith(first)
    assert stored(env_file) == {"TAP_BIGCARTEL_ACCOUNTS": []}
    assert update_env_file(env_file, remove="1") is False


def test_a_multiline_value_that_looks_like_an_assignment_is_left_alone(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    certificate = "-----BEGIN-----\nTAP_BIGCARTEL_ACCOUNTS=not json\n-----END-----"
    text = f'# a certificate\nCERT="{certificate}"\n'
    env_file.write_text(text)
    update_env_file(env_file, add=Grant(account_id="2", access_token="b"))
    assert env_file.read_text().startswith(text)
    assert dotenv.dotenv_values(env_file)["CERT"] == certificate
    for name in ENV_VARS:
        assert stored(env_file)[name] == [{"account_id": "2", "access_token": "b"}]


def test_quotes_and_backslashes_in_a_token_survive(tmp_path: Path) -> None:
    """The stored line must read back through dotenv exactly, whatever the token holds."""
    env_file = tmp_path / ".env"
    odd = Grant(account_id="3", access_token="a'b\\c\"d\\'e")
    update_env_file(env_file, add=odd)
    update_env_file(env_file, add=Grant(account_id="4", access_token="f"))
    for name in ENV_VARS:
        assert stored(env_file)[name] == [
            {"account_id": "3", "access_token": odd.access_token},
            {"account_id": "4", "access_token": "f"},
        ]


def test_line_endings_and_a_byte_order_mark_are_kept(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_bytes(b"\xef\xbb\xbfA=1\r\nTAP_BIGCARTEL_ACCOUNTS= # none yet\r\nB='x #y' # z")
    update_env_file(env_file, add=Grant(account_id="2", access_token="b"))
    entry = '[{"account_id":"2","access_token":"b"}]'
    assert env_file.read_bytes().decode() == (
        f"\ufeffA=1\r\nTAP_BIGCARTEL_ACCOUNTS='{entry}' # none yet\r\nB='x #y' # z\n"
        f"TARGET_FULFILLMENT_ACCOUNTS='{entry}'\n"
    )
    assert dotenv.dotenv_values(env_file)["B"] == "x #y"
