"""Producer signatures: a consumer can tell which service produced a record (docs/design.md §4).

The broker's ACLs decide who may write a topic; a topic with several legitimate producers
(`order.filled`: the order-router for PLATFORM runs, a client's middleware for CLIENT runs) cannot
tell its consumers which one wrote a given record, and the `producer` field is self-declared. So a
service with a signing key signs every record its outbox relay publishes with a header

    rebal-signature: <signer>:<hex HMAC-SHA256 over signer, topic, key and value>

and a consumer holding that signer's key verifies it (`verify_record`). HMAC keys are symmetric:
whoever can verify a signature can also make one. A key therefore goes only to the service that
signs with it and to the consumers that check it (`VERIFIERS`, `signing_env`), never to every
service.

What a signature proves: the record's topic, key and value were produced by a holder of the
signer's key. It does not prove freshness: a signed record replayed on the same topic is the same
event (same `event_id`), which the inbox makes a no-op.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from rebal_runtime.settings import RuntimeSettings

SIGNATURE_HEADER: Final = "rebal-signature"
SIGNING_KEY_ENV: Final = "REBAL_SIGNING_KEY"
TRUSTED_SIGNERS_ENV: Final = "REBAL_TRUSTED_SIGNERS"
_DOMAIN: Final = b"rebal-signature/v1\x00"  # a MAC made for anything else never verifies here
_DIGEST_HEX: Final = 64
MAX_SIGNER_LENGTH: Final = 64

#: Which signers each consumer verifies. Only these consumers receive a signer's key.
VERIFIERS: Final[Mapping[str, tuple[str, ...]]] = {
    "settlement-tracker": ("order-router",),
}
#: Every service that signs what it publishes: a launcher makes a key for each.
SIGNERS: Final[tuple[str, ...]] = tuple(sorted({s for v in VERIFIERS.values() for s in v}))


def _framed(part: bytes | None) -> bytes:
    # Length-prefixed, so that no two (topic, key, value) triples give the same input;
    # -1 tells an absent key from an empty one.
    if part is None:
        return struct.pack(">q", -1)
    return struct.pack(">q", len(part)) + part


def _mac(signer: str, key: bytes, topic: str, record_key: bytes | None, value: bytes) -> str:
    message = b"".join(
        (_DOMAIN, _framed(signer.encode()), _framed(topic.encode()), _framed(record_key))
    )
    return hmac.new(key, message + _framed(value), hashlib.sha256).hexdigest()


def _check_signer_name(signer: str) -> None:
    if not signer or ":" in signer or "=" in signer or "," in signer:
        raise ValueError(f"signer name {signer!r} must be non-empty without ':', '=' or ','")
    if len(signer) > MAX_SIGNER_LENGTH or not signer.isprintable():
        raise ValueError("signer name too long or not printable")


@dataclass(frozen=True)
class Signer:
    """Signs records as `name` (the service name) with `key`."""

    name: str
    key: bytes

    def __post_init__(self) -> None:
        _check_signer_name(self.name)
        if not self.key:
            raise ValueError("a signing key must not be empty")

    def __repr__(self) -> str:  # never show the key
        return f"Signer(name={self.name!r})"

    def header(self, topic: str, record_key: bytes | None, value: bytes) -> tuple[str, bytes]:
        mac = _mac(self.name, self.key, topic, record_key, value)
        return SIGNATURE_HEADER, f"{self.name}:{mac}".encode()

    def signed_headers(
        self,
        topic: str,
        record_key: bytes | None,
        value: bytes,
        headers: Iterable[tuple[str, bytes]] = (),
    ) -> list[tuple[str, bytes]]:
        """`headers` without any earlier signature header, plus this signer's signature."""
        kept = [(k, v) for k, v in headers if k != SIGNATURE_HEADER]
        return [*kept, self.header(topic, record_key, value)]


@dataclass(frozen=True)
class Verdict:
    """Who signed a record (`signer`, None when nobody verifiably did) and, if nobody, why."""

    signer: str | None
    problem: str = ""

    @property
    def signed(self) -> bool:
        return self.signer is not None


def verify(
    headers: Iterable[tuple[str, bytes | None]],
    topic: str,
    record_key: bytes | None,
    value: bytes | None,
    trusted: Mapping[str, bytes],
) -> Verdict:
    """The verified signer of a record, given the keys of the signers this consumer trusts."""
    found = [v for k, v in headers if k == SIGNATURE_HEADER]
    if not found:
        return Verdict(None, "no signature")
    if len(found) > 1:
        return Verdict(None, f"{len(found)} signature headers")
    raw = found[0] or b""
    try:
        claimed, _, mac = raw.decode("ascii").partition(":")
    except UnicodeDecodeError:
        return Verdict(None, "malformed signature header")
    shown = claimed[:MAX_SIGNER_LENGTH] if claimed.isprintable() else repr(claimed[:16])
    if len(mac) != _DIGEST_HEX:
        return Verdict(None, "malformed signature header")
    key = trusted.get(claimed)
    if key is None:
        return Verdict(None, f"signed by untrusted signer {shown!r}")
    expected = _mac(claimed, key, topic, record_key, value or b"")
    if not hmac.compare_digest(expected, mac.lower()):
        return Verdict(None, f"bad signature claiming {shown!r}")
    return Verdict(claimed)


def verify_record(record: Any, trusted: Mapping[str, bytes]) -> Verdict:
    """`verify` for an aiokafka `ConsumerRecord` (topic, key, value, headers)."""
    return verify(record.headers or (), record.topic, record.key, record.value, trusted)


# ---- configuration ----------------------------------------------------------------------


def signer_from_settings(settings: RuntimeSettings) -> Signer | None:
    """This service's signer (named after the service), or None without a signing key."""
    if settings.signing_key is None or not settings.signing_key.get_secret_value():
        return None
    return Signer(settings.service_name, settings.signing_key.get_secret_value().encode())


def trusted_keys(settings: RuntimeSettings) -> dict[str, bytes]:
    """The keys of the signers this service verifies, by signer name."""
    return {name: key.get_secret_value().encode() for name, key in settings.trusted_signers.items()}


def parse_trusted_signers(text: str) -> dict[str, str]:
    """`"order-router=<key>,other=<key>"` as a mapping (whitespace around items is ignored)."""
    signers: dict[str, str] = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, key = item.partition("=")
        name, key = name.strip(), key.strip()
        if not sep or not key:
            raise ValueError("trusted signers must read name=key[,name=key...]")
        _check_signer_name(name)
        if name in signers:
            raise ValueError(f"signer {name!r} given twice")
        signers[name] = key
    return signers


def format_trusted_signers(keys: Mapping[str, str]) -> str:
    for name in keys:
        _check_signer_name(name)
    return ",".join(f"{name}={key}" for name, key in sorted(keys.items()))


def new_signing_keys(services: Sequence[str] | Iterable[str]) -> dict[str, str]:
    """A fresh random key per service (256 bits, hex), for a launcher to hand out."""
    keys = {service: secrets.token_hex(32) for service in services}
    for name in keys:
        _check_signer_name(name)
    return keys


def signing_env(service: str, keys: Mapping[str, str]) -> dict[str, str]:
    """The environment a launcher gives `service`'s process: its own signing key (when `keys`
    has one for it) and the keys of the signers it verifies (`VERIFIERS`), nothing else."""
    env: dict[str, str] = {}
    own = keys.get(service)
    if own:
        env[SIGNING_KEY_ENV] = own
    trusted = {s: keys[s] for s in VERIFIERS.get(service, ()) if keys.get(s)}
    if trusted:
        env[TRUSTED_SIGNERS_ENV] = format_trusted_signers(trusted)
    return env
