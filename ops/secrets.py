"""MQTT account passwords: one private JSON file, created once and extended as accounts appear."""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

logger = logging.getLogger(__name__)

_MODE = 0o600


def load_or_create_secrets(path: Path, accounts: Iterable[str]) -> dict[str, str]:
    """Return a password per account, generating and saving any that are missing."""
    path = Path(path)
    wanted = list(dict.fromkeys(accounts))
    for account in wanted:
        if not account or ":" in account:
            raise ValueError(f"invalid MQTT account name {account!r}")
    existing = _read(path) if path.exists() else {}
    missing = [a for a in wanted if a not in existing]
    if missing or not path.exists():
        merged = {**existing, **{a: secrets.token_urlsafe(32) for a in missing}}
        _write_private(path, merged)
        logger.info("secrets file %s: added %d account(s): %s", path, len(missing), ", ".join(missing))
        existing = merged
    elif path.stat().st_mode & 0o077:
        os.chmod(path, _MODE)
        logger.warning("secrets file %s was readable by others; mode reset to 0600", path)
    return {a: existing[a] for a in wanted}


def _read(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read secrets file: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) and v for k, v in data.items()):
        raise ValueError(f"{path}: secrets file must be a JSON object of non-empty strings")
    return data


def _write_private(path: Path, data: dict[str, str]) -> None:
    # Write a sibling temp file created 0600 from the start, then rename: the secrets are never
    # world-readable, and a crash mid-write leaves the old file intact.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _MODE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _MODE)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
