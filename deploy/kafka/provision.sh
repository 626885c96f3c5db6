#!/bin/bash
# The one-shot `topics` job of deploy/docker-compose.yml, as the Kafka super user `admin`:
#   1. a SCRAM-SHA-512 user per SCRAM_PASSWORD_<PRINCIPAL> variable (ORDER_ROUTER -> order-router;
#      an empty one is an error), re-run safe: an existing user gets the password again;
#   2. every topic given as NAME:PARTITIONS argument (--if-not-exists);
#   3. the ACLs of rebal_runtime.topic_acl (acls.sh, generated from the table).
# Services wait for it to exit 0.
set -euo pipefail

: "${SCRAM_ADMIN_PASSWORD:?empty: set KAFKA_ADMIN_PASSWORD in deploy/.env (see deploy/.env.example)}"
KAFKA_HOME="${KAFKA_HOME:-/opt/kafka}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BOOTSTRAP="${KAFKA_BOOTSTRAP:-kafka:9092}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
umask 077
ADMIN_CONFIG="$WORK/admin.properties"
cat >"$ADMIN_CONFIG" <<PROPERTIES
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${SCRAM_ADMIN_PASSWORD}";
PROPERTIES

kafka-topics() { "$KAFKA_HOME/bin/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_CONFIG" "$@"; }
kafka-configs() { "$KAFKA_HOME/bin/kafka-configs.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_CONFIG" "$@"; }
kafka-acls() { "$KAFKA_HOME/bin/kafka-acls.sh" "$@"; }  # acls.sh passes the bootstrap and config

for _ in $(seq 60); do kafka-topics --list >/dev/null 2>&1 && break; sleep 2; done
kafka-topics --list >/dev/null

users=0
for variable in $(compgen -e | grep '^SCRAM_PASSWORD_' || true); do
  principal="$(echo "${variable#SCRAM_PASSWORD_}" | tr 'A-Z_' 'a-z-')"
  password="${!variable}"
  if [ -z "$password" ] || [ "$password" = change-me ]; then
    echo "$variable is empty or change-me: set it in deploy/.env (deploy/make-env.sh)" >&2
    exit 1
  fi
  # On this JVM's command line for its ~1.5 s, visible inside this container only (kafka-configs'
  # --add-config-file does not take SCRAM credentials).
  kafka-configs --alter --entity-type users --entity-name "$principal" \
    --add-config "SCRAM-SHA-512=[iterations=8192,password=${password}]" >/dev/null
  users=$((users + 1))
done
echo "SCRAM users: $users"

for spec in "$@"; do
  kafka-topics --create --if-not-exists --topic "${spec%%:*}" \
    --partitions "${spec##*:}" --replication-factor 1
done
echo "topics ready"

# shellcheck source=acls.sh
. "$HERE/acls.sh" >/dev/null
echo "ACLs ready"
