"""The MQTT secrets file: private, stable, extended in place."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from ops.secrets import load_or_create_secrets


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_creates_private_file_with_random_passwords(tmp_path: Path) -> None:
    path = tmp_path / "var" / "secrets.json"
    got = load_or_create_secrets(path, ["gw-a", "collector"])
    assert list(got) == ["gw-a", "collector"]
    assert len(set(got.values())) == 2 and all(len(p) >= 40 for p in got.values())
    assert _mode(path) == 0o600
    assert json.loads(path.read_text()) == got


def test_is_idempotent_and_extends_without_changing_old_passwords(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    first = load_or_create_secrets(path, ["gw-a"])
    assert load_or_create_secrets(path, ["gw-a"]) == first
    before = path.stat().st_mtime_ns

    both = load_or_create_secrets(path, ["gw-a", "gw-b"])
    assert both["gw-a"] == first["gw-a"] and both["gw-b"] != first["gw-a"]
    assert path.stat().st_mtime_ns >= before
    # Asking for fewer accounts returns fewer, but forgets none.
    assert load_or_create_secrets(path, ["gw-b"]) == {"gw-b": both["gw-b"]}
    assert set(json.loads(path.read_text())) == {"gw-a", "gw-b"}
    assert not list(tmp_path.glob(".*.tmp"))


def test_tightens_a_world_readable_file(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    load_or_create_secrets(path, ["gw-a"])
    os.chmod(path, 0o644)
    load_or_create_secrets(path, ["gw-a"])
    assert _mode(path) == 0o600


@pytest.mark.parametrize("account", ["", "a:b"])
def test_refuses_account_names_mosquitto_cannot_store(tmp_path: Path, account: str) -> None:
    with pytest.raises(ValueError):
        load_or_create_secrets(tmp_path / "s.json", [account])


@pytest.mark.parametrize("text", ["not json", "[]", '{"gw-a": 1}', '{"gw-a": ""}'])
def test_refuses_a_corrupt_file_instead_of_overwriting_it(tmp_path: Path, text: str) -> None:
    path = tmp_path / "secrets.json"
    path.write_text(text)
    with pytest.raises(ValueError, match="secrets file"):
        load_or_create_secrets(path, ["gw-a"])
    assert path.read_text() == text
