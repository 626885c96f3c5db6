#!/usr/bin/env bash
# Build tools/ferretdb (FerretDB v1 embedded, SQLite backend) into var/bin/rebal-ferretdb.
# Idempotent: rebuilds only when the binary is missing or its sources (main.go, go.mod, go.sum,
# this script, the Go version) changed since the last build, recorded in var/bin/rebal-ferretdb.stamp.
# Needs Go >= 1.24 and the Go module proxy (or a warm module cache); nothing else.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$root/tools/ferretdb"
out="${REBAL_FERRETDB_BIN:-$root/var/bin/rebal-ferretdb}"
stamp="$out.stamp"

if ! command -v go >/dev/null 2>&1; then
	echo "build-ferretdb: Go is not installed (needs Go >= 1.24: https://go.dev/doc/install)" >&2
	exit 1
fi

# PostgreSQL backend left out: only SQLite is used. -trimpath and -s -w: smaller, reproducible.
tags="ferretdb_no_postgresql"
digest="$(
	{
		cat "$src/main.go" "$src/go.mod" "$src/go.sum" "${BASH_SOURCE[0]}"
		go env GOVERSION GOOS GOARCH
		echo "$tags"
	} | sha256sum | cut -d' ' -f1
)"

if [[ -x "$out" && -f "$stamp" && "$(cat "$stamp")" == "$digest" ]]; then
	echo "build-ferretdb: $out is up to date"
	exit 0
fi

mkdir -p "$(dirname "$out")"
echo "build-ferretdb: building $out (first build downloads modules and compiles SQLite: ~1-3 min)"
start=$SECONDS
(
	cd "$src"
	# -mod=readonly: go.mod/go.sum are the lock, never rewritten by a build; -buildvcs=false: no
	# git needed (FerretDB checks VCS stamps only when it is the main module anyway).
	CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" go build -trimpath -tags "$tags" \
		-ldflags "-s -w" -o "$out.tmp" .
)
mv -f "$out.tmp" "$out"
echo "$digest" >"$stamp"
echo "build-ferretdb: built $out in $((SECONDS - start)) s ($(du -h "$out" | cut -f1))"
