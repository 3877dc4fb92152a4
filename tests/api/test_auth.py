"""API keys: stored hashed, roles ordered, 401 without a valid key, 403 with too low a role."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from api.__main__ import main
from api.auth import KeyStore, Role, add_key, build_keystore, hash_key, key_id, load_keys_file, parse_env_keys
from tests.api.conftest import KEYS, Env


def test_a_stored_key_is_a_salted_hash_and_verifies() -> None:
    key = "vgl_0123abcd_" + "x" * 40
    record = hash_key("ops", Role.OPERATOR, key)
    assert key not in repr(record) and "x" * 40 not in repr(record)
    assert record.id == "0123abcd" and len(record.salt) == 32 and len(record.hash) == 64
    store = KeyStore([record])
    principal = store.verify(key)
    assert principal is not None and principal.name == "ops" and principal.role is Role.OPERATOR
    assert store.verify(key[:-1] + "y") is None
    assert store.verify("") is None and store.verify("z" * 40) is None
    assert hash_key("ops", Role.OPERATOR, key).salt != record.salt  # a fresh salt every time


def test_roles_are_ordered() -> None:
    assert Role.READER < Role.OPERATOR < Role.ADMIN
    assert Role.parse(" Admin ") is Role.ADMIN
    with pytest.raises(ValueError, match="unknown role 'root'"):
        Role.parse("root")


def test_env_keys_are_parsed_and_short_ones_refused() -> None:
    assert parse_env_keys("a:reader:" + "k" * 30 + ", b:admin:" + "j" * 30) == [
        ("a", Role.READER, "k" * 30),
        ("b", Role.ADMIN, "j" * 30),
    ]
    with pytest.raises(ValueError, match="entry 1: expected name:role:key"):
        parse_env_keys("justakey")
    with pytest.raises(ValueError, match="too short"):
        build_keystore(None, {"VIGIL_API_KEYS": "a:reader:changeme"})
    store = build_keystore(None, {"VIGIL_API_KEYS": "a:reader:" + "k" * 30})
    assert store.verify("k" * 30) is not None
    assert key_id("k" * 30).startswith("h")


def test_cli_prints_a_new_key_once_and_stores_only_its_hash(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "keys.json"
    main(["keys", "add", "--name", "energy-team", "--role", "reader", "--keys-file", str(path)])
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert key.startswith("vgl_") and len(key) > 40
    text = path.read_text()
    assert key not in text and key.split("_", 2)[2] not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    principal = KeyStore(load_keys_file(path)).verify(key)
    assert principal is not None and principal.role is Role.READER
    with pytest.raises(ValueError, match="already exists"):
        add_key(path, "energy-team", Role.ADMIN)
    main(["keys", "remove", "--name", "energy-team", "--keys-file", str(path)])
    assert load_keys_file(path) == []


def test_no_key_401_bad_key_401_low_role_403(env: Env) -> None:
    params = {"start": "2024-01-01", "end": "2024-01-02"}
    missing = env.get("consumption/site", role=None, **params)
    assert missing.status_code == 401 and "missing API key" in missing.json()["detail"]
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = env.client.get("/api/v1/consumption/site", params=params, headers={"X-API-Key": "vgl_00000000_" + "a" * 30})
    assert wrong.status_code == 401 and wrong.json()["detail"] == "invalid API key"
    bearer = env.client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {KEYS[Role.OPERATOR]}"})
    assert bearer.json() == {"name": "operator", "role": "operator"}
    denied = env.client.post(
        "/api/v1/admin/rollup", json={"start": "2024-01-01"}, headers={"X-API-Key": KEYS[Role.READER]}
    )
    assert denied.status_code == 403 and "needs admin" in denied.json()["detail"]
    assert env.get("health", role=None).status_code == 200  # health needs no key
