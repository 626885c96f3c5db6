"""What deploy/docker-compose.yml exposes and with which credentials (README, "Security"), read from
the file itself (no Docker engine needed): only Kafka's authenticated listener and the api's HTTP
port (HTTP Basic) are published to the host, on 127.0.0.1 by default; every service is its own
SASL/SCRAM user; MongoDB requires users; the simulator's /admin/* have their own token; the
`topics` job creates every principal's user and the ACLs of `rebal_runtime.topic_acl`; no secret is
written in the file, each comes from deploy/.env (documented in deploy/.env.example)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from rebal_runtime import topic_acl

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$")
RUNTIME_SERVICES = ("optimizer", "order-router", "settlement-tracker", "scheduler", "api")


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return data


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def env_of(name: str) -> dict[str, str]:
    environment = services()[name].get("environment") or {}
    assert isinstance(environment, dict), f"{name}: environment as a mapping"
    return {k: str(v) for k, v in environment.items()}


def with_defaults(value: str) -> str:
    """`value` as compose makes it with no deploy/.env: every ${VAR:-default} its default."""
    return VARIABLE.sub(lambda m: m.group(2) or "", value)


def from_env_file(value: str) -> str | None:
    """The variable `value` is taken from, if it is exactly one `${VAR...}` (no literal)."""
    match = VARIABLE.fullmatch(value)
    return match.group(1) if match else None


def example_env() -> dict[str, str]:
    pairs = {}
    for line in (DEPLOY / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            pairs[name.strip()] = value.strip()
    return pairs


def kafka_services() -> list[str]:
    """Every compose service that runs a rebal process (and so connects to Kafka)."""
    return [n for n, s in services().items() if isinstance(s.get("build"), dict)]


# --- what the host sees -------------------------------------------------------------------------


def test_only_kafka_and_the_api_are_published_on_loopback() -> None:
    published = {name: spec["ports"] for name, spec in services().items() if spec.get("ports")}
    assert sorted(published) == ["api", "kafka"], (
        f"host ports beyond Kafka's and the api's: {published}"
    )
    [port] = published["kafka"]
    bind, host_port, container_port = with_defaults(str(port)).split(":")
    assert bind == "127.0.0.1", "published to every interface unless configured"
    # the host port is the advertised one: clients there are sent back to it
    assert host_port == container_port == "29092" == env_of("kafka")["KAFKA_EXTERNAL_PORT"]
    start = (DEPLOY / "kafka" / "start.sh").read_text()
    assert "EXTERNAL://:${EXTERNAL_PORT}" in start
    protocols = re.search(r"^listener\.security\.protocol\.map=(.+)$", start, re.M)
    assert protocols is not None
    assert dict(p.split(":") for p in protocols.group(1).split(",")) == {
        "INTERNAL": "SASL_PLAINTEXT",
        "EXTERNAL": "SASL_PLAINTEXT",
        "CONTROLLER": "PLAINTEXT",
    }
    # The PLAINTEXT controller (its ANONYMOUS principal is a super user) on the container's
    # loopback only.
    assert "CONTROLLER://127.0.0.1:${CONTROLLER_PORT}" in start
    assert "controller.quorum.voters=1@127.0.0.1:" in start
    for name, spec in services().items():
        assert spec.get("network_mode") != "host", name


def test_kafka_authorizes_every_request() -> None:
    start = (DEPLOY / "kafka" / "start.sh").read_text()
    properties = dict(
        line.split("=", 1) for line in start.splitlines() if re.match(r"^[a-z.\-]+=", line)
    )
    assert (
        properties["authorizer.class.name"]
        == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    )
    assert properties["allow.everyone.if.no.acl.found"] == "false"
    assert properties["super.users"] == "User:broker;User:admin;User:ANONYMOUS"
    assert properties["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert properties["auto.create.topics.enable"] == "false"
    assert services()["kafka"]["entrypoint"] == ["/bin/bash", "/opt/rebal/start.sh"]


def test_the_api_port_is_on_loopback_and_needs_its_credentials() -> None:
    [port] = services()["api"]["ports"]
    bind, host_port, container_port = with_defaults(str(port)).split(":")
    assert bind == "127.0.0.1", "published to every interface unless configured"
    env = env_of("api")
    assert host_port == container_port == env["REBAL_HTTP_PORT"]
    assert env["REBAL_HTTP_HOST"] == "0.0.0.0"  # inside its container; the host sees loopback
    assert from_env_file(env["REBAL_API_KEY"]) == "REBAL_API_KEY"
    assert from_env_file(env["REBAL_API_SECRET"]) == "REBAL_API_SECRET"
    assert "REBAL_API_KEY" not in env_of("broker-simulator")


# --- who is who -----------------------------------------------------------------------------------


def test_every_service_is_its_own_sasl_user() -> None:
    users = {}
    for name in kafka_services():
        env = env_of(name)
        assert env["REBAL_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT", name
        assert env["REBAL_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512", name
        assert env["REBAL_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092", name
        assert env["REBAL_KAFKA_CREATE_TOPICS"] == "false", name
        user = env["REBAL_KAFKA_SASL_USERNAME"]
        assert user == env["REBAL_SERVICE_NAME"] == name, "the principal is the service's name"
        assert user in topic_acl.SERVICES
        password = from_env_file(env["REBAL_KAFKA_SASL_PASSWORD"])
        assert password == f"KAFKA_{name.upper().replace('-', '_')}_PASSWORD", name
        users[name] = password
    assert set(users) == {*RUNTIME_SERVICES, "broker-simulator"}
    assert len(set(users.values())) == len(users), "one password per service"


def test_the_topics_job_makes_every_principal_topics_and_acls() -> None:
    job = services()["topics"]
    assert job["entrypoint"] == ["/bin/bash", "/opt/rebal/provision.sh"]
    assert "./kafka:/opt/rebal:ro" in job["volumes"]
    env = env_of("topics")
    assert from_env_file(env["SCRAM_ADMIN_PASSWORD"]) == "KAFKA_ADMIN_PASSWORD"
    scram_users = {
        name.removeprefix("SCRAM_PASSWORD_").lower().replace("_", "-"): from_env_file(value)
        for name, value in env.items()
        if name.startswith("SCRAM_PASSWORD_")
    }
    assert set(scram_users) == set(topic_acl.PRINCIPALS)
    for principal, variable in scram_users.items():
        assert variable == f"KAFKA_{principal.upper().replace('-', '_')}_PASSWORD"
    # the broker's and admin's users exist from the format on (start.sh), before any job
    start = (DEPLOY / "kafka" / "start.sh").read_text()
    assert '--add-scram "SCRAM-SHA-512=[name=broker,' in start
    assert '--add-scram "SCRAM-SHA-512=[name=admin,' in start
    provision = (DEPLOY / "kafka" / "provision.sh").read_text()
    assert '. "$HERE/acls.sh"' in provision
    for name in kafka_services():
        depends = services()[name]["depends_on"]
        assert depends["topics"] == {"condition": "service_completed_successfully"}, name


def test_the_acl_job_runs_exactly_the_table() -> None:
    """deploy/kafka/acls.sh is `python -m rebal_runtime.topic_acl --kafka-acls`, regenerated:
    `python -m rebal_runtime.topic_acl --kafka-acls` after the comment lines of the file."""
    generated = subprocess.run(
        [sys.executable, "-m", "rebal_runtime.topic_acl", "--kafka-acls"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    committed = [
        line
        for line in (DEPLOY / "kafka" / "acls.sh").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert committed == generated, "deploy/kafka/acls.sh is stale: regenerate it"
    assert len(committed) == len(topic_acl.kafka_acls_commands())


# --- MongoDB and the simulator -------------------------------------------------------------------


def test_mongo_requires_a_user_and_publishes_nothing() -> None:
    mongo = services()["mongo"]
    assert not mongo.get("ports")
    env = env_of("mongo")
    assert from_env_file(env["MONGO_INITDB_ROOT_USERNAME"]) == "MONGO_ROOT_USERNAME"
    assert from_env_file(env["MONGO_INITDB_ROOT_PASSWORD"]) == "MONGO_ROOT_PASSWORD"
    start = (DEPLOY / "mongo" / "start.sh").read_text()
    assert "--keyFile" in start and "MONGO_INITDB_ROOT_PASSWORD:?" in start
    init = (DEPLOY / "mongo" / "init.js").read_text()
    for name in RUNTIME_SERVICES:
        env = env_of(name)
        database = env["REBAL_STORE_DATABASE"]
        url = env["REBAL_STORE_URL"]
        match = re.fullmatch(r"mongodb://([a-z\-]+):(\$\{[A-Z_]+:-\})@mongo:27017/\?(.+)", url)
        assert match, f"{name}: {url} has no user and password"
        user, password, query = match.groups()
        assert user == name
        variable = from_env_file(password)
        assert variable == f"MONGO_{name.upper().replace('-', '_')}_PASSWORD"
        assert f"authSource={database}" in query.split("&")
        assert f'["{name}", "{database}", "{variable}"]' in init, "mongo-init creates the user"
        assert variable in env_of("mongo-init")


def test_the_simulator_admin_endpoints_have_their_own_credentials() -> None:
    env = env_of("broker-simulator")
    assert from_env_file(env["REBAL_SIM_ADMIN_TOKEN"]) == "REBAL_SIM_ADMIN_TOKEN"
    assert env["REBAL_SIM_REQUIRE_AUTH"] == "true"
    # The trading keys, shared with the order-router only, are not the admin token.
    assert from_env_file(env["BROKER_SIM_KEY"]) == "REBAL_BROKER_KEY"
    assert from_env_file(env["BROKER_SIM_SECRET"]) == "REBAL_BROKER_SECRET"
    router = env_of("order-router")
    assert router["REBAL_BROKER_KEY"] == env["BROKER_SIM_KEY"]
    assert "REBAL_SIM_ADMIN_TOKEN" not in router


# --- secrets --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(services()))
def test_no_secret_is_written_in_the_compose_file(name: str) -> None:
    for key, value in env_of(name).items():
        if SECRET_NAME.search(key):
            assert from_env_file(value), f"{name}.{key} is a literal, not from deploy/.env"
            assert with_defaults(value) == "", f"{name}.{key} has a default secret"


def test_the_env_example_documents_every_variable_without_a_secret() -> None:
    used = set(VARIABLE.findall(COMPOSE_FILE.read_text()))
    documented = example_env()
    assert {name for name, _ in used} <= set(documented)
    for name, value in documented.items():
        if SECRET_NAME.search(name):
            assert value == "change-me", f"{name}: a real-looking secret in .env.example"
    assert (DEPLOY / ".gitignore").read_text().splitlines()[-1] == ".env"
    assert ".env" in (ROOT / ".dockerignore").read_text().splitlines()
