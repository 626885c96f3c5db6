"""Apache Kafka with authentication and ACLs: who may write what is enforced by the broker.

docs/design.md §4 "Who may write what": one principal per service and per client role, and the Kafka ACLs
of `rebal_runtime.topic_acl`. `SecuredApacheKafka` is `ApacheKafka` (same jars, ports, interface)
with:

- one client listener, SASL_PLAINTEXT with SCRAM-SHA-512, on loopback; it is also the
  inter-broker listener (the broker authenticates as `broker`). The KRaft controller listener
  stays PLAINTEXT on loopback: its principal, `User:ANONYMOUS`, is what the broker registers
  with, so it must be a super user; whoever reaches the controller port is one (see the README,
  "Security");
- the KRaft `StandardAuthorizer` with `allow.everyone.if.no.acl.found=false`: nothing is
  allowed without an ACL; super users `broker`, `admin` (topics and ACLs) and ANONYMOUS;
- SCRAM credentials for `broker`, `admin` and every principal, created when the storage is
  formatted (`kafka-storage format --add-scram 'SCRAM-SHA-512=[name=...,password=...]'`), with
  passwords generated per launcher (`secrets`), handed to callers by `credentials(name)`,
  `client_options(name)` or `service_env(name)`, never logged or printed;
- after start, as `admin`: every project topic created with its partitions, then every ACL of
  the table in one CreateAcls request (aiokafka has the protocol but no admin method for it; one
  `kafka-acls` JVM per principal and kind of access would take ~1.7 s each, ~35 s for the table),
  and a wait until the broker's authorizer shows them all (the controller commits them; the
  broker applies them a moment later).

`python -m rebal_runtime.apache_kafka_security [PORT] [ENV_DIR]` runs one in the foreground and
writes one `<principal>.env` file (mode 0600) per principal into ENV_DIR (default: a temporary
folder) for services and clients to source.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import socket
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.protocol.admin import CreateAclsRequest_v1, DescribeAclsRequest
from aiokafka.protocol.api import Request

from rebal_runtime import topic_acl
from rebal_runtime.apache_kafka import ApacheKafka
from rebal_runtime.embedded import run_in_foreground
from rebal_runtime.kafka_security import sasl_env
from rebal_schemas import ALL_TOPICS

MECHANISM = "SCRAM-SHA-512"
PROTOCOL = "SASL_PLAINTEXT"
LISTENER = "SASL"
"""The client (and inter-broker) listener's name in server.properties."""
_CREDENTIALS_FILE = "scram-credentials.json"


class _CreateAcls(Request[CreateAclsRequest_v1]):  # type: ignore[misc]  # aiokafka is untyped
    """CreateAcls with many creations in one request: aiokafka's `CreateAclsRequest` carries one,
    and Kafka answers the requests of one connection one after the other, each after a metadata
    commit (~37 ms here: 100 ACLs one by one took 3.7 s, in one request 0.25 s for 300)."""

    API_KEY = 30  # v1 (with pattern types): Kafka 3.x and 4.x both take it

    def __init__(self, bindings: Sequence[topic_acl.AclBinding]) -> None:
        self.bindings = bindings

    def build(self, request_struct_class: type[Any]) -> Any:
        return request_struct_class([wire_acl(b) for b in self.bindings])


WireAcl = tuple[int, str, int, str, str, int, int]
"""(resource type, resource name, pattern type, principal, host, operation, permission): an ALLOW
ACL as Kafka's CreateAcls v1 and DescribeAcls v1 carry it."""
ANY = 1  # the ANY code of resource type, pattern type, operation and permission filters


def wire_acl(b: topic_acl.AclBinding) -> WireAcl:
    return (
        int(b.resource_type),
        b.resource_name,
        int(b.pattern_type),
        b.kafka_principal,
        b.host,
        int(b.operation),
        topic_acl.ALLOW,
    )


@dataclass
class SecuredApacheKafka(ApacheKafka):
    """`ApacheKafka` whose clients must authenticate and may do only what `topic_acl` allows.

    `principals` get a SCRAM user and the table's ACLs; `extra_users` a SCRAM user and no ACL
    (what an unknown party with valid credentials can do: nothing). Passwords are made on the
    first start and kept for restarts of the same launcher, and in `work_dir` (mode 0600) when
    there is one, since its formatted storage keeps the credentials."""

    principals: tuple[str, ...] = topic_acl.PRINCIPALS
    extra_users: tuple[str, ...] = ()
    topics: tuple[tuple[str, int], ...] | None = None
    """Created as admin after start, with their partitions; default: every project topic."""
    acls: bool = True
    """Apply the table's ACLs after start (False: authenticated, but nothing allowed)."""
    timings: dict[str, float] = field(default_factory=dict, init=False)
    """Seconds of the last start: `format+broker` (up to answering), `topics`, `acls`, `total`."""
    _passwords: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    _started_at: float = field(default=0.0, init=False, repr=False)

    # --- credentials --------------------------------------------------------------------------

    def users(self) -> tuple[str, ...]:
        named = (topic_acl.BROKER, topic_acl.ADMIN, *self.principals, *self.extra_users)
        return tuple(dict.fromkeys(named))

    def credentials(self, principal: str) -> tuple[str, str]:
        """(user, password) of `principal`, once started."""
        try:
            return principal, self._passwords[principal]
        except KeyError:
            state = "is not started" if not self._passwords else f"has no user {principal!r}"
            raise KeyError(f"SecuredApacheKafka {state}") from None

    def client_options(self, principal: str) -> dict[str, Any]:
        """aiokafka client keyword arguments authenticating as `principal`."""
        user, password = self.credentials(principal)
        return {
            "security_protocol": PROTOCOL,
            "sasl_mechanism": MECHANISM,
            "sasl_plain_username": user,
            "sasl_plain_password": password,
        }

    def service_env(self, principal: str) -> dict[str, str]:
        """Environment of a rebal process running as `principal`: its SASL settings and
        `REBAL_KAFKA_CREATE_TOPICS=false` (only `admin` may create topics; the launcher did)."""
        user, password = self.credentials(principal)
        return {
            "REBAL_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            **sasl_env(user, password, mechanism=MECHANISM, protocol=PROTOCOL),
            "REBAL_KAFKA_CREATE_TOPICS": "false",
        }

    def _make_passwords(self, folder: Path) -> None:
        stored = folder / _CREDENTIALS_FILE
        if not self._passwords and stored.exists():
            self._passwords = json.loads(stored.read_text())
        for user in self.users():
            self._passwords.setdefault(user, secrets.token_urlsafe(24))
        if self.work_dir is not None:  # a temporary folder goes with the broker
            fd = os.open(stored, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                json.dump(self._passwords, out)

    # --- the hooks of ApacheKafka -------------------------------------------------------------

    def start(self, timeout: float = 90.0) -> SecuredApacheKafka:
        self._started_at = time.monotonic()
        self.timings = {}
        super().start(timeout)
        self.timings["total"] = time.monotonic() - self._started_at
        return self

    def _folder(self) -> Path:
        """The data folder, private (server.properties holds the broker's own password), with
        the passwords made: server.properties and the format step need them next."""
        folder = super()._folder()
        folder.chmod(0o700)
        self._make_passwords(folder)
        return folder

    def _extra_properties(self) -> dict[str, str]:
        _, broker_password = self.credentials(topic_acl.BROKER)
        prefix = f"listener.name.{LISTENER.lower()}.{MECHANISM.lower()}"
        return {
            "listeners": f"{LISTENER}://127.0.0.1:{self.port},"
            f"CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"{LISTENER}://127.0.0.1:{self.port}",
            "listener.security.protocol.map": f"{LISTENER}:{PROTOCOL},CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": LISTENER,
            "sasl.enabled.mechanisms": MECHANISM,
            "sasl.mechanism.inter.broker.protocol": MECHANISM,
            # The broker's side of its own connections; the server side reads the credentials
            # from the cluster metadata (created by `format --add-scram`).
            f"{prefix}.sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule"
            f' required username="{topic_acl.BROKER}" password="{broker_password}";',
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found": "false",
            # ANONYMOUS: the broker on the PLAINTEXT controller listener (its registration).
            "super.users": f"User:{topic_acl.BROKER};User:{topic_acl.ADMIN};User:ANONYMOUS",
        }

    def _format_options(self) -> list[str]:
        # token_urlsafe passwords need no quoting in Kafka's `[name=...,password=...]` syntax.
        # They are on the format JVM's command line for its ~1 s (readable by this OS user).
        options: list[str] = []
        for user in self.users():
            password = self._passwords[user]
            options += ["--add-scram", f"{MECHANISM}=[name={user},password={password}]"]
        return options

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not _connects(self.port):
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"apache kafka exited with {self.process.returncode} on start")
            if time.monotonic() > deadline:
                raise TimeoutError(f"apache kafka did not listen on {self.port} in {timeout}s")
            time.sleep(0.1)
        asyncio.run(self._provision(deadline))

    # --- provisioning as admin ----------------------------------------------------------------

    async def _provision(self, deadline: float) -> None:
        admin = await self._admin_answering(deadline)
        try:
            self.timings["format+broker"] = time.monotonic() - self._started_at
            step = time.monotonic()
            await self._create_topics(admin, deadline)
            self.timings["topics"] = time.monotonic() - step
        finally:
            await admin.close()
        if self.acls:
            step = time.monotonic()
            await self.apply_acls(topic_acl.bindings(self.principals), deadline=deadline)
            self.timings["acls"] = time.monotonic() - step

    async def _admin_answering(self, deadline: float) -> AIOKafkaAdminClient:
        """An admin client once the broker authenticates and answers metadata requests (it
        listens before it can serve)."""
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"apache kafka exited with {self.process.returncode} on start")
            admin = AIOKafkaAdminClient(
                bootstrap_servers=self.bootstrap_servers,
                request_timeout_ms=5000,
                **self.client_options(topic_acl.ADMIN),
            )
            try:
                await admin.start()
                await admin.list_topics()
                return admin
            except Exception as exc:  # not serving yet
                last = exc
                await admin.close()
                await asyncio.sleep(0.1)
        raise TimeoutError(f"apache kafka did not answer as admin in time: {last!r}")

    async def _create_topics(self, admin: AIOKafkaAdminClient, deadline: float) -> None:
        wanted = dict(self.topics if self.topics is not None else _project_topics())
        existing = set(await admin.list_topics())
        new = [
            NewTopic(name=name, num_partitions=parts, replication_factor=1)
            for name, parts in wanted.items()
            if name not in existing
        ]
        if new:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(new)
        # The controller committed them; the broker's metadata has them a moment later.
        while True:
            described = await admin.describe_topics(list(wanted))
            seen = {t["topic"]: len(t["partitions"]) for t in described if t["error_code"] == 0}
            if all(seen.get(name) == parts for name, parts in wanted.items()):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"topics not in the metadata in time: {sorted(seen)}")
            await asyncio.sleep(0.05)

    async def apply_acls(
        self, bindings: Iterable[topic_acl.AclBinding], *, deadline: float | None = None
    ) -> None:
        """Create `bindings` (one request, as admin) and return once the broker enforces them."""
        wanted = sorted(set(bindings))
        if not wanted:
            return
        deadline = deadline if deadline is not None else time.monotonic() + 30.0
        client = AIOKafkaClient(
            bootstrap_servers=self.bootstrap_servers, **self.client_options(topic_acl.ADMIN)
        )
        await client.bootstrap()
        try:
            node = client.get_random_node()
            answer = await client.send(node, _CreateAcls(wanted))
            failed = [
                (b, code, message)
                for b, (code, message) in zip(wanted, answer.creation_responses, strict=True)
                if code != 0
            ]
            if failed:
                raise RuntimeError(f"CreateAcls refused {len(failed)} ACLs, first: {failed[0]}")
            keys = {wire_acl(b) for b in wanted}
            while not keys <= await _described_acls(client, node):
                if time.monotonic() > deadline:
                    raise TimeoutError("the broker does not show the ACLs it accepted")
                await asyncio.sleep(0.05)
        finally:
            await client.close()

    async def described_acls(self) -> set[WireAcl]:
        """Every ACL the broker enforces now."""
        client = AIOKafkaClient(
            bootstrap_servers=self.bootstrap_servers, **self.client_options(topic_acl.ADMIN)
        )
        await client.bootstrap()
        try:
            return await _described_acls(client, client.get_random_node())
        finally:
            await client.close()


def _project_topics() -> list[tuple[str, int]]:
    return [(t.name, t.partitions) for t in ALL_TOPICS]


async def _described_acls(client: AIOKafkaClient, node: int) -> set[WireAcl]:
    answer = await client.send(node, DescribeAclsRequest(ANY, None, ANY, None, None, ANY, ANY))
    if answer.error_code != 0:
        raise RuntimeError(f"DescribeAcls failed: {answer.error_code} {answer.error_message}")
    return {
        (rtype, name, pattern, principal, host, operation, permission)
        for rtype, name, pattern, acls in answer.resources
        for principal, host, operation, permission in acls
    }


def _connects(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def write_env_files(kafka: SecuredApacheKafka, folder: Path) -> list[Path]:
    """One `<principal>.env` (mode 0600) per principal: what a process sources to run as it."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for principal in (topic_acl.ADMIN, *kafka.principals, *kafka.extra_users):
        path = folder / f"{principal}.env"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.writelines(f"{k}={v}\n" for k, v in kafka.service_env(principal).items())
        written.append(path)
    return written


def main() -> None:
    """`python -m rebal_runtime.apache_kafka_security [PORT] [ENV_DIR]`: run until Ctrl-C."""
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9092
    env_dir = (
        Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tempfile.mkdtemp(prefix="rebal-env-"))
    )
    kafka = SecuredApacheKafka(port=port).start()
    write_env_files(kafka, env_dir)
    run_in_foreground(
        kafka,
        f"Apache Kafka (SASL_PLAINTEXT, SCRAM-SHA-512, ACLs) on {kafka.bootstrap_servers}, ready "
        f"in {kafka.timings['total']:.1f} s; credentials: {env_dir}/<principal>.env",
    )


if __name__ == "__main__":
    main()
