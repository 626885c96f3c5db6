#!/bin/bash
# Writes deploy/.env from deploy/.env.example with a random hex secret for every `change-me`
# (mode 0600; refuses to overwrite an existing deploy/.env).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TARGET="$HERE/.env"
if [ -e "$TARGET" ]; then
  echo "$TARGET exists; remove it first to make new secrets" >&2
  exit 1
fi
umask 077
while IFS= read -r line; do
  if [[ "$line" == *=change-me ]]; then
    echo "${line%change-me}$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
  else
    echo "$line"
  fi
done <"$HERE/.env.example" >"$TARGET"
echo "wrote $TARGET"
