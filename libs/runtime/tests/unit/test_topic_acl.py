"""The table of who may write what (`rebal_runtime.topic_acl`) against the documents, without Kafka.

- Its writers of every topic are exactly the producer column of DESIGN §2 (`../shared/DESIGN.md`,
  when it is there) and of the README's "Topics" table, read the way a person reads them
  ("clients" are the `client` role and the `api` service, a client of the platform like any other).
- The ACLs it makes are for existing topics only, grant no write the table does not name, never let
  one principal's consumer group pattern cover another's group, and are the same whether applied
  in one request (the launcher) or as `kafka-acls` commands (a deployment).
- The README's "Security" table is the one the module renders.
- Services authenticate as their principal from the REBAL_KAFKA_SASL_* settings, and fail at start
  without them.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from rebal_runtime import topic_acl
from rebal_runtime.apache_kafka import repo_root
from rebal_runtime.kafka_security import (
    KafkaCredentialsMissing,
    aiokafka_security,
    faststream_security,
    sasl_env,
)
from rebal_runtime.settings import RuntimeSettings
from rebal_runtime.topic_acl import AclBinding, Operation, PatternType, ResourceType
from rebal_schemas import ALL_TOPICS

ROOT = repo_root(Path(__file__).resolve().parent)
assert ROOT is not None
README = ROOT / "README.md"
DESIGN = ROOT / "docs" / "design.md"
# The team's shared design, when checked out beside the repository: the repo's copy must not drift.
SHARED_DESIGN = ROOT.parent / "shared" / "DESIGN.md"

# The five services of DESIGN ("any service" may dead-letter); the broker simulator is not one.
DESIGN_SERVICES = {"optimizer", "order-router", "settlement-tracker", "scheduler", "api"}
VOCABULARY: dict[str, set[str]] = {
    **{name: {name} for name in DESIGN_SERVICES},
    "clients": {"client", "api"},
    "price feed": {"price-feed"},
    "a price feed": {"price-feed"},
    "external optimizers": {"external-optimizer"},
    "client middleware": {"middleware"},
    "the client's middleware": {"middleware"},
    "the client's middleware in client-integrated mode": {"middleware"},
    "every service": DESIGN_SERVICES,
    "any service": DESIGN_SERVICES,
    # The optimizer refuses requests about portfolios and models, the settlement-tracker the
    # cancel of a run that is final or unknown (it owns runs).
    "the service that refused": {"optimizer", "settlement-tracker"},
}


# Topics docs/design.md adds to the team's shared design: run.execution carries "the start of
# execution" that the shared design's §1 has the order-router tell the settlement-tracker, without
# naming a topic for it.
ADDED_TO_THE_SHARED_DESIGN = {"run.execution"}


def producers(phrase: str) -> set[str]:
    """The principals a producer cell names: parentheses are comments ("(manual run)"), parts
    are separated by commas and "or"."""
    plain = re.sub(r"\([^)]*\)", "", phrase.replace("`", ""))
    found: set[str] = set()
    for part in re.split(r",|\bor\b", plain):
        words = part.strip().lower()
        if words:
            assert words in VOCABULARY, f"producer {words!r} (in {phrase!r}): extend VOCABULARY"
            found |= VOCABULARY[words]
    return found


def producer_column(text: str, heading: str) -> dict[str, str]:
    """topic -> producer cell of the first table after `heading`."""
    section = text.split(heading, 1)[1]
    column: dict[str, str] = {}
    for line in section.splitlines():
        if not line.startswith("|"):
            if column:
                break
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        topic = cells[0].strip("`")
        if topic in ("topic", "") or set(topic) <= {"-"}:
            continue
        column[topic] = cells[1]
    return column


def documents() -> list[tuple[str, dict[str, str]]]:
    docs = [("README.md", producer_column(README.read_text(), "\n## Topics\n"))]
    docs.append(("docs/design.md", producer_column(DESIGN.read_text(), "\n## 2. Topics\n")))
    if SHARED_DESIGN.exists():
        docs.append(("DESIGN.md", producer_column(SHARED_DESIGN.read_text(), "\n## 2. Topics\n")))
    return docs


@pytest.mark.parametrize(
    ("name", "column"), documents(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_writers_are_the_producer_column(name: str, column: dict[str, str]) -> None:
    existing = {t.name for t in ALL_TOPICS}
    if name == "DESIGN.md":
        existing -= ADDED_TO_THE_SHARED_DESIGN
    assert existing <= set(column), f"{name} lacks topics {sorted(existing - set(column))}"
    for topic, cell in column.items():
        if topic in existing or topic in topic_acl.PLANNED_TOPICS:
            assert set(topic_acl.writers(topic)) == producers(cell), (name, topic, cell)


def test_design_is_read_when_present() -> None:
    if not DESIGN.exists():
        pytest.skip(f"{DESIGN} is not here (the README's column is still checked)")
    column = producer_column(DESIGN.read_text(), "\n## 2. Topics\n")
    # Every DESIGN topic is in the table: existing, or planned (no ACL until it exists).
    assert set(column) == set(topic_acl.table_topics())


def test_the_finding_of_issue_17_is_closed_by_the_table() -> None:
    """A client forged optimization.ready, order.filled and run.completed: none is a client's."""
    for topic in ("optimization.ready", "order.filled", "order.closed", "run.completed"):
        assert "client" not in topic_acl.writers(topic)
    assert topic_acl.writers("optimization.ready") == ("optimizer",)
    assert topic_acl.writers("run.completed") == ("settlement-tracker",)
    assert set(topic_acl.writers("order.filled")) == {"order-router", "middleware"}
    assert topic_acl.WRITES["broker-simulator"] == ()


def test_the_table_names_known_principals_and_topics_only() -> None:
    assert topic_acl.PRINCIPALS == topic_acl.SERVICES + topic_acl.CLIENT_ROLES
    assert set(topic_acl.WRITES) == set(topic_acl.READS) == set(topic_acl.PRINCIPALS)
    known = set(topic_acl.table_topics())
    for principal in topic_acl.PRINCIPALS:
        assert set(topic_acl.WRITES[principal]) <= known, principal
        if topic_acl.READS[principal] != topic_acl.EVERY_TOPIC:
            assert set(topic_acl.READS[principal]) <= known, principal
    assert set(topic_acl.PUBLIC_OUTPUTS) <= known
    assert {topic_acl.ADMIN, topic_acl.BROKER}.isdisjoint(topic_acl.PRINCIPALS)
    for topic in ALL_TOPICS:
        assert topic_acl.writers(topic.name), f"nobody may write {topic.name}"


def test_acls_are_made_for_existing_topics_only_and_grant_exactly_the_table() -> None:
    existing = {t.name for t in ALL_TOPICS}
    bindings = topic_acl.bindings()
    topics = [b for b in bindings if b.resource_type is ResourceType.TOPIC]
    assert {b.resource_name for b in topics} == existing
    assert all(b.pattern_type is PatternType.LITERAL for b in topics)
    written = {(b.principal, b.resource_name) for b in topics if b.operation is Operation.WRITE}
    assert written == {
        (p, t) for p in topic_acl.PRINCIPALS for t in topic_acl.WRITES[p] if t in existing
    }
    read = {(b.principal, b.resource_name) for b in topics if b.operation is Operation.READ}
    assert ("client", "run.completed") in read
    assert ("client", "order.filled") not in read  # not a public output
    assert ("broker-simulator", "market.prices") in read
    assert {t for p, t in read if p == "optimizer"} == existing
    assert len(bindings) == len(set(bindings))
    # A topic that rebal_schemas adds later gets its ACLs from the same table.
    planned = topic_acl.bindings(["settlement-tracker"], topics=["run.settled"])
    assert (
        AclBinding(
            "settlement-tracker",
            ResourceType.TOPIC,
            "run.settled",
            PatternType.LITERAL,
            Operation.WRITE,
        )
        in planned
    )


def test_no_principal_may_use_another_principals_consumer_group() -> None:
    """Group READ allows committing offsets: a client that could commit in the optimizer's group
    could make it skip messages. Services use exactly their name, client roles a prefix."""
    groups = {p: topic_acl.group_of(p) for p in topic_acl.PRINCIPALS}
    for principal, (group, prefixed) in groups.items():
        assert group == principal
        assert prefixed == (principal in topic_acl.CLIENT_ROLES)
        for other, (other_group, other_prefixed) in groups.items():
            if other == principal:
                continue
            if prefixed:
                assert not other_group.startswith(group), (principal, other)
            if prefixed and other_prefixed:
                assert not group.startswith(other_group), (principal, other)
            if not prefixed and not other_prefixed:
                assert group != other_group


def _parse_command(command: list[str]) -> set[AclBinding]:
    principal = command[command.index("--allow-principal") + 1].removeprefix("User:")
    operation = Operation[command[command.index("--operation") + 1].upper()]
    pattern = PatternType.PREFIXED if "--resource-pattern-type" in command else PatternType.LITERAL
    found = set()
    for option, value in itertools.pairwise(command):
        if option in ("--topic", "--group"):
            kind = ResourceType.TOPIC if option == "--topic" else ResourceType.GROUP
            found.add(AclBinding(principal, kind, value, pattern, operation))
    return found


def test_kafka_acls_commands_make_the_same_acls() -> None:
    commands = topic_acl.kafka_acls_commands()
    made = set().union(*(_parse_command(c) for c in commands))
    assert made == set(topic_acl.bindings())
    assert len(commands) <= 2 * len(topic_acl.PRINCIPALS) + len(topic_acl.CLIENT_ROLES)


def test_the_readme_security_table_is_the_rendered_one() -> None:
    text = README.read_text()
    begin, end = "<!-- topic-acl:begin -->\n", "<!-- topic-acl:end -->"
    assert begin in text, "README: the Security table's markers are missing"
    current = text.split(begin, 1)[1].split(end, 1)[0]
    assert current == topic_acl.markdown_table(), (
        "README Security table is stale: paste `python -m rebal_runtime.topic_acl`"
    )


def test_a_service_authenticates_as_its_principal_from_its_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in sasl_env("optimizer", "s3cret-pw").items():
        monkeypatch.setenv(key, value)
    settings = RuntimeSettings()
    assert aiokafka_security(settings) == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "optimizer",
        "sasl_plain_password": "s3cret-pw",
    }
    security = faststream_security(settings)
    assert type(security).__name__ == "SASLScram512"
    assert "s3cret-pw" not in repr(settings)  # SecretStr: never in a log line


@pytest.mark.parametrize("missing", ["REBAL_KAFKA_SASL_USERNAME", "REBAL_KAFKA_SASL_PASSWORD"])
def test_a_sasl_protocol_without_credentials_fails_at_start(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    for key, value in sasl_env("optimizer", "pw").items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv(missing)
    settings = RuntimeSettings()
    with pytest.raises(KafkaCredentialsMissing, match="REBAL_KAFKA_SASL_USERNAME"):
        aiokafka_security(settings)
    with pytest.raises(KafkaCredentialsMissing):
        faststream_security(settings)
