#!/usr/bin/env bash
# Put the Apache Kafka broker's runtime jars in var/kafka/<line>/libs (from Maven Central, through
# tools/kafka/pom.xml), for rebal_runtime.apache_kafka. No Docker engine is needed: Java 17 + Maven.
#
#   scripts/fetch-kafka.sh        # Kafka 3.9 (the default line, what compose and CI run)
#   scripts/fetch-kafka.sh 4.1    # Kafka 4.x (the pom's `kafka4` profile), in var/kafka/4.1/libs
#
# Cached: when the folder already holds the jars of this pom and line it does nothing, so `make test`
# can depend on it. A fetch goes to a temporary folder first, so an interrupted one leaves no
# half-filled folder that would look complete.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pom="$root/tools/kafka/pom.xml"
line="${1:-3.9}"
case "$line" in
  3.9) profile=kafka3 ;;
  4.1) profile=kafka4 ;;
  *) echo "usage: $0 [3.9|4.1]" >&2; exit 2 ;;
esac
out="$root/var/kafka/$line/libs"
stamp="$out/.fetched"
# The stamp names what was fetched: editing the pom (a version bump) fetches again.
want="$(sha256sum "$pom" | cut -d' ' -f1) $profile"

summary() { # jars, size
  echo "$(find "$1" -name '*.jar' | wc -l) jars, $(du -sm "$1" | cut -f1) MiB"
}

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "Kafka $line jars already in ${out#"$root"/} ($(summary "$out")); nothing to fetch"
  exit 0
fi

for tool in java mvn; do
  command -v "$tool" >/dev/null || {
    echo "fetch-kafka: '$tool' not found; Apache Kafka needs Java 17 and Maven (apt-get install openjdk-17-jre-headless maven)" >&2
    exit 1
  }
done

# Where Maven keeps its downloads: its growth is what this fetch downloaded.
repo="$HOME/.m2/repository"
if [[ "${MAVEN_OPTS:-}" =~ -Dmaven\.repo\.local=([^[:space:]]+) ]]; then repo="${BASH_REMATCH[1]}"; fi
repo_mib() { if [[ -d "$repo" ]]; then du -sm "$repo" | cut -f1; else echo 0; fi; }

mkdir -p "$root/var/kafka"
tmp="$(mktemp -d "$root/var/kafka/.fetch.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

echo "fetching Apache Kafka $line (profile $profile of tools/kafka/pom.xml) from Maven Central..."
before="$(repo_mib)"
started="$(date +%s.%N)"
# -q: Maven prints only errors; the sed drops the colour codes Maven 3.8 emits even in batch mode.
mvn -B -q -Dstyle.color=never -f "$pom" -P "$profile" dependency:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$tmp/libs" 2>&1 | sed -e 's/\x1b\[[0-9;]*m//g' -e '/^$/d'
elapsed="$(echo "$(date +%s.%N) - $started" | bc)"
after="$(repo_mib)"

echo "$want" >"$tmp/libs/.fetched"
rm -rf "$out"
mkdir -p "$(dirname "$out")"
mv "$tmp/libs" "$out"
printf 'Kafka %s: %s in %s; downloaded %s MiB into %s in %.1f s\n' \
  "$line" "$(summary "$out")" "${out#"$root"/}" "$((after - before))" "$repo" "$elapsed"
