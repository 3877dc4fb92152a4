"""API keys with roles: reader (energy data) < operator (alerts) < admin.

Keys are random (`vgl_<id>_<secret>`, 43 characters of secret), shown once when created, and stored only as
salted scrypt hashes in a keys file (JSON, mode 0600). Keys can also be provisioned from the environment,
`VIGIL_API_KEYS="name:role:key,..."`; they are hashed on start-up and the plaintext is not kept. A request
presents its key in `X-API-Key` (or `Authorization: Bearer`); the key's id picks the one record to check, the
comparison is constant-time, and a verified key is remembered (by its SHA-256) so scrypt runs once per key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path

logger = logging.getLogger(__name__)

ENV_VAR = "VIGIL_API_KEYS"
KEY_PREFIX = "vgl"
MIN_KEY_LENGTH = 24
_KEY_RE = re.compile(r"^vgl_([0-9a-f]{8})_[A-Za-z0-9_-]{20,}$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
# scrypt cost: ~16 MiB and some tens of ms per check; a verified key is cached, so this is paid once.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


class Role(IntEnum):
    """What a key may do; a higher role may do everything a lower one may."""

    READER = 1
    OPERATOR = 2
    ADMIN = 3

    @classmethod
    def parse(cls, text: str) -> Role:
        """Role by name ("reader", "operator", "admin")."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown role {text!r}: use reader, operator or admin") from None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request is: the key's name and role."""

    name: str
    role: Role


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """One key as stored: never the key itself."""

    id: str
    name: str
    role: str
    salt: str  # hex
    hash: str  # hex scrypt(key, salt)
    n: int = SCRYPT_N
    r: int = SCRYPT_R
    p: int = SCRYPT_P
    created: str = ""


def key_id(key: str) -> str:
    """The record id a presented key is looked up by: its embedded id, or a short hash for provisioned keys."""
    match = _KEY_RE.match(key)
    if match:
        return match.group(1)
    return "h" + hashlib.sha256(key.encode()).hexdigest()[:12]


def _scrypt(key: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(key.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=32)


def hash_key(name: str, role: Role, key: str, created: str = "") -> KeyRecord:
    """A storable record of a key."""
    if not _NAME_RE.match(name):
        raise ValueError(f"invalid key name {name!r}")
    if len(key) < MIN_KEY_LENGTH:
        raise ValueError(f"API key {name!r} is too short: at least {MIN_KEY_LENGTH} characters")
    salt = secrets.token_bytes(16)
    digest = _scrypt(key, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return KeyRecord(key_id(key), name, role.name.lower(), salt.hex(), digest.hex(), created=created)


def new_key() -> str:
    """A fresh random key."""
    return f"{KEY_PREFIX}_{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}"


def parse_env_keys(text: str) -> list[tuple[str, Role, str]]:
    """Parse `name:role:key,...`; raise ValueError naming the bad entry (never echoing a key)."""
    out = []
    for i, entry in enumerate(e.strip() for e in text.split(",")):
        if not entry:
            continue
        parts = entry.split(":", 2)
        if len(parts) != 3 or not parts[2]:
            raise ValueError(f"{ENV_VAR} entry {i + 1}: expected name:role:key")
        name, role, key = parts
        out.append((name.strip(), Role.parse(role), key.strip()))
    return out


class KeyStore:
    """The keys a server accepts."""

    def __init__(self, records: Iterable[KeyRecord] = (), cache_size: int = 1024) -> None:
        self._records: dict[str, KeyRecord] = {}
        for record in records:
            if record.id in self._records:
                raise ValueError(f"two API keys with id {record.id} ({self._records[record.id].name}, {record.name})")
            Role.parse(record.role)
            self._records[record.id] = record
        self._cache: OrderedDict[bytes, Principal] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._records)

    @property
    def records(self) -> list[KeyRecord]:
        """Stored records, by name."""
        return sorted(self._records.values(), key=lambda r: r.name)

    def verify(self, key: str) -> Principal | None:
        """The principal of a presented key, None if it is not a valid key."""
        if not key or len(key) > 512:
            return None
        fingerprint = hashlib.sha256(key.encode()).digest()
        with self._lock:
            hit = self._cache.get(fingerprint)
            if hit is not None:
                self._cache.move_to_end(fingerprint)
                return hit
        record = self._records.get(key_id(key))
        if record is None:
            return None
        digest = _scrypt(key, bytes.fromhex(record.salt), record.n, record.r, record.p)
        if not hmac.compare_digest(digest, bytes.fromhex(record.hash)):
            return None
        principal = Principal(record.name, Role.parse(record.role))
        with self._lock:
            self._cache[fingerprint] = principal
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return principal


def load_keys_file(path: Path) -> list[KeyRecord]:
    """Records of a keys file ([] if it does not exist)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read API keys file: {exc}") from exc
    try:
        return [KeyRecord(**entry) for entry in data.get("keys", [])]
    except TypeError as exc:
        raise ValueError(f"{path}: malformed API key record: {exc}") from exc


def save_keys_file(path: Path, records: Iterable[KeyRecord]) -> None:
    """Write a keys file atomically, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"keys": [asdict(r) for r in records]}, handle, indent=2)
    os.replace(tmp, path)


def add_key(path: Path, name: str, role: Role) -> str:
    """Create a key named `name` in the keys file and return it (the only time it is seen)."""
    records = load_keys_file(path)
    if any(r.name == name for r in records):
        raise ValueError(f"an API key named {name!r} already exists in {path}")
    key = new_key()
    records.append(hash_key(name, role, key, created=datetime.now(UTC).isoformat(timespec="seconds")))
    save_keys_file(path, records)
    return key


def remove_key(path: Path, name: str) -> bool:
    """Delete the key named `name`; False if there was none."""
    records = load_keys_file(path)
    kept = [r for r in records if r.name != name]
    if len(kept) == len(records):
        return False
    save_keys_file(path, kept)
    return True


def build_keystore(keys_file: Path | None, environ: Mapping[str, str] = os.environ) -> KeyStore:
    """The keys of the keys file plus those provisioned in VIGIL_API_KEYS."""
    records = load_keys_file(keys_file) if keys_file is not None else []
    env = environ.get(ENV_VAR, "")
    for name, role, key in parse_env_keys(env):
        records.append(hash_key(name, role, key))
    if not records:
        logger.warning("no API keys: every /api/v1 request will be refused (add one with `python -m api keys add`)")
    return KeyStore(records)
