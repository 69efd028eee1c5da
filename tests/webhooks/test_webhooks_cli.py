"""The ``bigcartel-webhooks`` command: list, show, mark-failed, and serve's secret handling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from webhooks_helpers import envelope, served

from bigcartel_core.webhook_store import WebhookStore
from bigcartel_webhooks.__main__ import main
from bigcartel_webhooks.app import signature


def test_list_show_and_mark_failed(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    store = WebhookStore(db_url)
    order, _ = store.record(
        envelope(id="1"),
        account_id="10",
        topic="order.updated",
        status="received",
        payload=json.dumps({"id": "1"}),
    )
    store.record(
        envelope(id="2"),
        account_id="20",
        topic="product.deleted",
        status="ignored",
        payload=json.dumps({"id": "2"}),
    )
    store.close()

    assert main(["--db", db_url, "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["id", "topic", "account", "status", "received"]
    assert [line.split()[1:4] for line in lines[1:]] == [
        ["order.updated", "10", "received"],
        ["product.deleted", "20", "ignored"],
    ]

    assert main(["--db", db_url, "list", "--status", "ignored", "--account", "20"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2

    assert main(["--db", db_url, "show", str(order.id)]) == 0
    assert json.loads(capsys.readouterr().out) == {"id": "1"}

    assert main(["--db", db_url, "mark-failed", str(order.id), "--error", "no stock"]) == 0
    assert main(["--db", db_url, "list", "--status", "failed"]) == 0
    assert "order.updated" in capsys.readouterr().out

    assert main(["--db", db_url, "show", "999999"]) == 1
    assert main(["--db", db_url, "mark-failed", "999999", "--error", "x"]) == 1


def test_disconnected_and_reconnect(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    store = WebhookStore(db_url)
    store.record(
        envelope("account.deauthorized", 30, id=30),
        account_id="30",
        topic="account.deauthorized",
        status="received",
        payload=json.dumps({"id": 30}),
    )
    store.close()
    assert main(["--db", db_url, "disconnected"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["account", "since", "reason"]
    assert [line.split()[0] for line in lines[1:]] == ["30"]

    assert main(["--db", db_url, "reconnect", "30"]) == 0
    assert main(["--db", db_url, "disconnected"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == []


def test_serve_takes_the_secret_from_the_environment_and_never_prints_it(tmp_path: Path) -> None:
    secret = "very-secret-value-123"
    db = f"sqlite:///{tmp_path / 'served.db'}"
    body = envelope("product.updated", 77, id="5")
    headers = {"X-Webhook-Signature": signature(secret, body)}
    with served(db, secret=secret) as server:
        response = requests.post(server.url, data=body, headers=headers, timeout=5)
        assert response.status_code == 200
    assert secret not in server.output
    store = WebhookStore(db)
    assert [(e.topic, e.account_id) for e in store.list_events()] == [("product.updated", "77")]
    store.close()


def test_serve_refuses_to_start_without_a_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("BIGCARTEL_CLIENT_SECRET", raising=False)
    assert main(["--db", f"sqlite:///{tmp_path / 'x.db'}", "serve"]) == 2
