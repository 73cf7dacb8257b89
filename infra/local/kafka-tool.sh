#!/usr/bin/env bash
# Kafka's own command-line tools from the stack's jars (no Kafka distribution needed).
# Usage: bash infra/local/kafka-tool.sh <tool> [args...]
#   topics            kafka-topics              (org.apache.kafka.tools.TopicCommand)
#   consumer-groups   kafka-consumer-groups     (org.apache.kafka.tools.consumer.group.ConsumerGroupCommand)
#   producer-perf-test kafka-producer-perf-test (org.apache.kafka.tools.ProducerPerformance)
#   consumer-perf-test kafka-consumer-perf-test (org.apache.kafka.tools.ConsumerPerformance)
#   console-consumer, console-producer, get-offsets, delete-records, configs, metadata-quorum, storage
# Example: bash infra/local/kafka-tool.sh topics --bootstrap-server 127.0.0.1:39092 --list
# The tools' own --bootstrap-server is required, as with the upstream scripts.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
PERPFLOW_ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=stack.env
source "$HERE/stack.env"
KAFKA_VERSION=${KAFKA_VERSION:-$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$HERE/kafka/pom.xml")}
LIBS="${PERPFLOW_KAFKA_CACHE:-$HERE/.cache/kafka-$KAFKA_VERSION}/libs"
tool=${1:-}
case $tool in
  topics) main=org.apache.kafka.tools.TopicCommand ;;
  consumer-groups) main=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
  producer-perf-test) main=org.apache.kafka.tools.ProducerPerformance ;;
  consumer-perf-test) main=org.apache.kafka.tools.ConsumerPerformance ;;
  console-consumer) main=org.apache.kafka.tools.consumer.ConsoleConsumer ;;
  console-producer) main=kafka.tools.ConsoleProducer ;;
  get-offsets) main=org.apache.kafka.tools.GetOffsetShell ;;
  delete-records) main=org.apache.kafka.tools.DeleteRecordsCommand ;;
  configs) main=kafka.admin.ConfigCommand ;;
  metadata-quorum) main=org.apache.kafka.tools.MetadataQuorumCommand ;;
  storage) main=kafka.tools.StorageTool ;;
  *)
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2 ;;
esac
shift
[ -f "$LIBS/kafka_2.13-$KAFKA_VERSION.jar" ] || { echo "kafka-tool: jars missing in $LIBS: run npm run setup" >&2; exit 1; }
exec java -Xmx"${KAFKA_TOOL_HEAP:-256m}" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
  -Dlog4j.configuration="file:$HERE/kafka/tools-log4j.properties" -cp "$LIBS/*" "$main" "$@"
