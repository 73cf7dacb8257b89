#!/usr/bin/env bash
# Copies the Kafka broker + tools jars (pom.xml beside this file) into
# infra/local/.cache/kafka-<version>/libs (or $PERPFLOW_KAFKA_CACHE/libs).
# A no-op when that cache is complete and newer than the pom; Maven runs offline
# first (~/.m2 may already hold everything) and goes to Maven Central only if needed.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
VERSION=${KAFKA_VERSION:-$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$HERE/pom.xml")}
CACHE="${PERPFLOW_KAFKA_CACHE:-$(cd "$HERE/.." && pwd)/.cache/kafka-$VERSION}"
LIBS="$CACHE/libs"
if [ -f "$CACHE/.complete" ] && [ "$CACHE/.complete" -nt "$HERE/pom.xml" ]; then
  echo "kafka $VERSION: cached ($(ls "$LIBS" | wc -l) jars in $LIBS)"
  exit 0
fi
command -v mvn >/dev/null || { echo "kafka jars: Maven (mvn) is needed: apt-get install -y maven" >&2; exit 1; }
rm -rf "$LIBS" "$CACHE/.complete"
mkdir -p "$LIBS"
copy() { mvn -q -B "$@" -Dkafka.version="$VERSION" -f "$HERE/pom.xml" dependency:copy-dependencies -DoutputDirectory="$LIBS" -DincludeScope=runtime; }
if copy -o >/dev/null 2>&1; then how="offline, from ~/.m2"; else
  rm -rf "$LIBS" && mkdir -p "$LIBS"
  copy >"$CACHE/mvn.log" 2>&1 || { echo "kafka jars: mvn failed, see $CACHE/mvn.log" >&2; tail -20 "$CACHE/mvn.log" >&2; exit 1; }
  how="downloaded from Maven Central"
fi
[ -f "$LIBS/kafka_2.13-$VERSION.jar" ] || { echo "kafka jars: kafka_2.13-$VERSION.jar missing in $LIBS" >&2; exit 1; }
touch "$CACHE/.complete"
echo "kafka $VERSION: $(ls "$LIBS" | wc -l) jars in $LIBS ($how)"
