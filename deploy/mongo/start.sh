#!/bin/bash
# MongoDB of deploy/docker-compose.yml: a single-node replica set (rs0) with authentication.
# With users, a replica set needs a key file for its members' internal authentication (one
# member here, but mongod refuses auth + replSet without it); made once, kept in the config volume.
# The image's entrypoint creates the root user (MONGO_INITDB_ROOT_*) on the first start and adds
# --auth; `mongo-init` then initiates rs0 and creates one user per service.
set -euo pipefail
: "${MONGO_INITDB_ROOT_USERNAME:?empty: set MONGO_ROOT_USERNAME in deploy/.env}"
: "${MONGO_INITDB_ROOT_PASSWORD:?empty: set MONGO_ROOT_PASSWORD in deploy/.env}"
if [ "$MONGO_INITDB_ROOT_PASSWORD" = change-me ]; then
  echo "MONGO_ROOT_PASSWORD is still change-me: make your own (deploy/make-env.sh)" >&2
  exit 1
fi
KEY_FILE=/data/configdb/rebal-keyfile
if [ ! -s "$KEY_FILE" ]; then
  (umask 077 && head -c 756 /dev/urandom | base64 -w0 >"$KEY_FILE")
fi
chown mongodb:mongodb "$KEY_FILE"
chmod 400 "$KEY_FILE"
exec docker-entrypoint.sh mongod --replSet rs0 --bind_ip_all --keyFile "$KEY_FILE"
