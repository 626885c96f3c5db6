#!/bin/bash
# The Kafka broker of deploy/docker-compose.yml (apache/kafka image, KRaft, one combined node):
# every client authenticates (SASL/SCRAM-SHA-512) and may do only what the ACLs allow
# (StandardAuthorizer, allow.everyone.if.no.acl.found=false). Listeners:
#   INTERNAL  :9092   SASL_PLAINTEXT, the services on the compose network (advertised kafka:9092);
#                     also the inter-broker listener (the broker authenticates as `broker`)
#   EXTERNAL  :29092  SASL_PLAINTEXT, published to the host (127.0.0.1 unless KAFKA_HOST_BIND)
#   CONTROLLER        PLAINTEXT on the container's loopback only: its principal, ANONYMOUS, is
#                     what the broker registers with and so a super user; nothing outside this
#                     container reaches it
# The SCRAM users `broker` and `admin` are created when the storage is formatted (first start);
# every other user, the topics and the ACLs by the one-shot `topics` job (provision.sh), as admin.
set -euo pipefail

: "${SCRAM_BROKER_PASSWORD:?empty: set KAFKA_BROKER_PASSWORD in deploy/.env (see deploy/.env.example)}"
: "${SCRAM_ADMIN_PASSWORD:?empty: set KAFKA_ADMIN_PASSWORD in deploy/.env (see deploy/.env.example)}"
if [ "$SCRAM_BROKER_PASSWORD" = change-me ] || [ "$SCRAM_ADMIN_PASSWORD" = change-me ]; then
  echo "a Kafka password is still change-me: make your own (deploy/make-env.sh)" >&2
  exit 1
fi
KAFKA_HOME="${KAFKA_HOME:-/opt/kafka}"
DATA_DIR="${KAFKA_DATA_DIR:-/var/lib/kafka/data}"
CONFIG_DIR="${KAFKA_CONFIG_DIR:-/tmp/rebal-kafka}"  # private: the files hold passwords
INTERNAL_HOST="${KAFKA_INTERNAL_HOST:-kafka}"
EXTERNAL_HOST="${KAFKA_EXTERNAL_ADVERTISED_HOST:-localhost}"
EXTERNAL_PORT="${KAFKA_EXTERNAL_PORT:-29092}"
INTERNAL_PORT="${KAFKA_INTERNAL_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"

umask 077
mkdir -p "$CONFIG_DIR"
scram="org.apache.kafka.common.security.scram.ScramLoginModule required"
cat >"$CONFIG_DIR/server.properties" <<PROPERTIES
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${CONTROLLER_PORT}
controller.listener.names=CONTROLLER
listeners=INTERNAL://:${INTERNAL_PORT},EXTERNAL://:${EXTERNAL_PORT},CONTROLLER://127.0.0.1:${CONTROLLER_PORT}
advertised.listeners=INTERNAL://${INTERNAL_HOST}:${INTERNAL_PORT},EXTERNAL://${EXTERNAL_HOST}:${EXTERNAL_PORT}
listener.security.protocol.map=INTERNAL:SASL_PLAINTEXT,EXTERNAL:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=INTERNAL
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.internal.scram-sha-512.sasl.jaas.config=${scram} username="broker" password="${SCRAM_BROKER_PASSWORD}";
listener.name.external.scram-sha-512.sasl.jaas.config=${scram};
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:broker;User:admin;User:ANONYMOUS
auto.create.topics.enable=false
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
message.max.bytes=8388608
log.dirs=${DATA_DIR}
PROPERTIES
# What the health check (and an operator inside the container) connects with.
cat >"$CONFIG_DIR/admin.properties" <<PROPERTIES
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=${scram} username="admin" password="${SCRAM_ADMIN_PASSWORD}";
PROPERTIES

if [ ! -f "$DATA_DIR/meta.properties" ]; then
  # Hex or URL-safe passwords: Kafka's [name=...,password=...] syntax has no quoting. They are on
  # this JVM's command line for its ~1 s, visible inside this container only.
  "$KAFKA_HOME/bin/kafka-storage.sh" format --ignore-formatted \
    --cluster-id "$("$KAFKA_HOME/bin/kafka-storage.sh" random-uuid)" \
    --config "$CONFIG_DIR/server.properties" \
    --add-scram "SCRAM-SHA-512=[name=broker,password=${SCRAM_BROKER_PASSWORD}]" \
    --add-scram "SCRAM-SHA-512=[name=admin,password=${SCRAM_ADMIN_PASSWORD}]"
fi
exec "$KAFKA_HOME/bin/kafka-server-start.sh" "$CONFIG_DIR/server.properties"
