"""Producer signatures: what verifies, what does not, and how keys reach each process."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import ValidationError

from rebal_runtime.outbox import AiokafkaSender
from rebal_runtime.settings import RuntimeSettings
from rebal_runtime.signing import (
    SIGNATURE_HEADER,
    SIGNING_KEY_ENV,
    TRUSTED_SIGNERS_ENV,
    Signer,
    format_trusted_signers,
    new_signing_keys,
    parse_trusted_signers,
    signer_from_settings,
    signing_env,
    trusted_keys,
    verify,
    verify_record,
)
from rebal_runtime.store import OutboxMessage

KEY = b"k" * 32
ROUTER = Signer("order-router", KEY)
TRUSTED = {"order-router": KEY}
TOPIC, RECORD_KEY, VALUE = "order.filled", b"pf-1", b'{"filled_qty":"15"}'


def signed(signer: Signer = ROUTER, **changes: Any) -> list[tuple[str, bytes]]:
    parts = {"topic": TOPIC, "record_key": RECORD_KEY, "value": VALUE, **changes}
    return [("event_id", b"e1"), signer.header(**parts)]


def test_a_signed_record_verifies_as_its_signer() -> None:
    verdict = verify(signed(), TOPIC, RECORD_KEY, VALUE, TRUSTED)
    assert verdict.signer == "order-router" and verdict.signed


@pytest.mark.parametrize(
    ("topic", "record_key", "value"),
    [
        ("order.closed", RECORD_KEY, VALUE),  # moved to another topic
        (TOPIC, b"pf-2", VALUE),  # another portfolio's key
        (TOPIC, None, VALUE),  # no key is not an empty key
        (TOPIC, RECORD_KEY, b'{"filled_qty":"1000"}'),  # the value changed
    ],
)
def test_any_change_to_topic_key_or_value_breaks_the_signature(
    topic: str, record_key: bytes | None, value: bytes
) -> None:
    verdict = verify(signed(), topic, record_key, value, TRUSTED)
    assert verdict.signer is None
    assert verdict.problem == "bad signature claiming 'order-router'"


def test_framing_keeps_key_and_value_apart() -> None:
    # b"ab" + b"c" and b"a" + b"bc" concatenate alike; the signature must tell them apart
    headers = signed(record_key=b"ab", value=b"c")
    assert verify(headers, TOPIC, b"a", b"bc", TRUSTED).signer is None


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ([("event_id", b"e1")], "no signature"),
        ([(SIGNATURE_HEADER, b"order-router:zz")], "malformed signature header"),
        ([(SIGNATURE_HEADER, b"\xff\xfe")], "malformed signature header"),
        ([(SIGNATURE_HEADER, None)], "malformed signature header"),
        (signed(Signer("order-router", b"guessed")), "bad signature claiming 'order-router'"),
        (signed(Signer("middleware", KEY)), "signed by untrusted signer 'middleware'"),
        (signed() + signed(), "2 signature headers"),
    ],
)
def test_unsigned_or_badly_signed_records_have_no_signer(
    headers: list[tuple[str, bytes | None]], problem: str
) -> None:
    verdict = verify(headers, TOPIC, RECORD_KEY, VALUE, TRUSTED)
    assert verdict.signer is None and not verdict.signed
    assert verdict.problem == problem


def test_signed_headers_replace_an_earlier_signature() -> None:
    forged = [(SIGNATURE_HEADER, b"order-router:" + b"0" * 64), ("event_id", b"e1")]
    headers = ROUTER.signed_headers(TOPIC, RECORD_KEY, VALUE, forged)
    assert [k for k, _ in headers] == ["event_id", SIGNATURE_HEADER]
    assert verify(headers, TOPIC, RECORD_KEY, VALUE, TRUSTED).signer == "order-router"


@dataclass
class Record:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]] = field(default_factory=tuple)


def test_verify_record_reads_a_consumer_record() -> None:
    record = Record(TOPIC, RECORD_KEY, VALUE, signed())
    assert verify_record(record, TRUSTED).signer == "order-router"
    assert verify_record(Record(TOPIC, RECORD_KEY, VALUE), TRUSTED).problem == "no signature"


def test_a_signer_never_shows_its_key() -> None:
    assert "k" * 8 not in repr(ROUTER)
    with pytest.raises(ValueError, match="empty"):
        Signer("order-router", b"")
    for bad in ("", "a:b", "a=b", "a,b", "x" * 65):
        with pytest.raises(ValueError):
            Signer(bad, KEY)


# ---- configuration ----------------------------------------------------------------------


def test_trusted_signers_parse_from_name_key_pairs() -> None:
    assert parse_trusted_signers(" order-router = k1 , other=k2,") == {
        "order-router": "k1",
        "other": "k2",
    }
    assert parse_trusted_signers("") == {}
    for bad in ("order-router", "order-router=", "a=1,a=2", "a:b=1"):
        with pytest.raises(ValueError):
            parse_trusted_signers(bad)
    assert parse_trusted_signers(format_trusted_signers({"b": "2", "a": "1"})) == {
        "a": "1",
        "b": "2",
    }


def test_settings_read_keys_from_the_environment_and_never_show_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(SIGNING_KEY_ENV, "own-secret-key")
    monkeypatch.setenv(TRUSTED_SIGNERS_ENV, "order-router=router-secret-key")
    settings = RuntimeSettings(service_name="settlement-tracker")
    assert trusted_keys(settings) == {"order-router": b"router-secret-key"}
    signer = signer_from_settings(settings)
    assert signer == Signer("settlement-tracker", b"own-secret-key")
    shown = repr(settings) + str(settings.model_dump())
    assert "secret-key" not in shown


def test_json_trusted_signers_are_accepted_too() -> None:
    settings = RuntimeSettings(trusted_signers='{"order-router": "k1"}')  # type: ignore[arg-type]
    assert trusted_keys(settings) == {"order-router": b"k1"}


def test_an_unreadable_trusted_signers_value_fails_without_quoting_it() -> None:
    with pytest.raises(ValidationError) as failure:
        RuntimeSettings(trusted_signers="order-router:top-secret")  # type: ignore[arg-type]
    assert "top-secret" not in str(failure.value)
    assert TRUSTED_SIGNERS_ENV in str(failure.value)


def test_no_key_means_no_signer() -> None:
    assert signer_from_settings(RuntimeSettings()) is None
    assert trusted_keys(RuntimeSettings()) == {}


def test_new_keys_are_random_and_signing_env_hands_out_only_what_a_service_needs() -> None:
    services = ["optimizer", "order-router", "settlement-tracker", "api"]
    keys = new_signing_keys(services)
    assert set(keys) == set(services)
    assert len(set(keys.values())) == len(services)
    assert all(len(k) == 64 and int(k, 16) >= 0 for k in keys.values())
    assert new_signing_keys(services) != keys

    tracker = signing_env("settlement-tracker", keys)
    assert tracker == {
        SIGNING_KEY_ENV: keys["settlement-tracker"],
        TRUSTED_SIGNERS_ENV: f"order-router={keys['order-router']}",
    }
    # the order-router's key goes to its verifier only: the api (client-facing) cannot forge it
    assert signing_env("api", keys) == {SIGNING_KEY_ENV: keys["api"]}
    assert signing_env("order-router", keys) == {SIGNING_KEY_ENV: keys["order-router"]}
    assert signing_env("scheduler", keys) == {}
    assert signing_env("settlement-tracker", {}) == {}
    settings = RuntimeSettings(
        service_name="settlement-tracker",
        signing_key=tracker[SIGNING_KEY_ENV],  # type: ignore[arg-type]
        trusted_signers=tracker[TRUSTED_SIGNERS_ENV],  # type: ignore[arg-type]
    )
    assert trusted_keys(settings) == {"order-router": keys["order-router"].encode()}


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, topic: str, **kwargs: Any) -> Any:
        import asyncio

        self.sent.append({"topic": topic, **kwargs})
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


async def test_the_outbox_sender_signs_every_record_with_the_service_key() -> None:
    message = OutboxMessage("e1", TOPIC, RECORD_KEY, VALUE, (("event_id", b"e1"),))
    for key, expected in ((None, None), ("router-key", "order-router")):
        settings = RuntimeSettings(service_name="order-router", signing_key=key)  # type: ignore[arg-type]
        sender = AiokafkaSender(settings)
        producer = FakeProducer()
        sender._producer = producer
        assert await sender.send_batch([message]) == [None]
        [sent] = producer.sent
        assert sent["value"] == VALUE and sent["key"] == RECORD_KEY
        trusted = {"order-router": b"router-key"}
        verdict = verify(sent["headers"], TOPIC, RECORD_KEY, VALUE, trusted)
        assert verdict.signer == expected
        assert ("event_id", b"e1") in sent["headers"]
