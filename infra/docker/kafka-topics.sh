#!/usr/bin/env bash
# kafka-init (docker-compose.yml): creates the pipeline's topics with the replication
# factor of the chosen profile before any service starts. The services' own
# ensureTopics would create missing ones with replication factor 1; created here,
# they replicate as configured. Existing topics are left alone (a partition count
# is never changed: that would move keys between partitions).
# The table equals pipelineTopics() in packages/kafka/src/topics.ts
# (test/e2e/compose.test.ts compares them).
set -euo pipefail
bootstrap=${KAFKA_BOOTSTRAP:?}
rf=${REPLICATION_FACTOR:-1}
bin=/opt/kafka/bin

# Wait until as many brokers as the replication factor have registered.
for _ in $(seq 1 60); do
  n=$("$bin/kafka-broker-api-versions.sh" --bootstrap-server "$bootstrap" 2>/dev/null | grep -c '(id:' || true)
  [ "$n" -ge "$rf" ] && break
  echo "kafka-init: $n of $rf brokers up; waiting"
  sleep 2
done

# topic                        partitions  retention.ms
while read -r topic partitions retention; do
  [ -z "$topic" ] && continue
  "$bin/kafka-topics.sh" --bootstrap-server "$bootstrap" --create --if-not-exists \
    --topic "$topic" --partitions "$partitions" --replication-factor "$rf" \
    --config "retention.ms=$retention" --config "min.insync.replicas=$(( rf > 1 ? 2 : 1 ))"
done <<'TOPICS'
perpflow.raw.ohlcv.v1            12  604800000
perpflow.raw.open_interest.v1    12  604800000
perpflow.raw.funding.v1          12  604800000
perpflow.raw.liquidation.v1      12  604800000
perpflow.aligned.bar.v1          12  604800000
perpflow.dlq.v1                  3   2592000000
TOPICS
"$bin/kafka-topics.sh" --bootstrap-server "$bootstrap" --list
echo "kafka-init: topics ready (replication factor $rf)"
