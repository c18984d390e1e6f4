-- Avro with a Schema Registry, on the embedded services:
--   go run ./cmd/sql-client --embedded -f examples/avro.sql
-- The table is Flink 1.12's avro-confluent example, unchanged (1.12 option names).
SET 'table.dml-sync' = 'true';

CREATE TABLE user_behavior (user_id BIGINT, item_id BIGINT, category_id BIGINT, behavior STRING, ts TIMESTAMP(3))
WITH ('connector' = 'kafka', 'properties.bootstrap.servers' = '${SLUICE_KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:9092}', 'topic' = 'user_behavior',
      'format' = 'avro-confluent',
      'avro-confluent.schema-registry.url' = '${SLUICE_SCHEMA_REGISTRY_URL:-http://127.0.0.1:8081}',
      'avro-confluent.schema-registry.subject' = 'user_behavior-value',
      'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset');

CREATE TABLE gen (user_id BIGINT, item_id BIGINT, category_id BIGINT, behavior STRING, ts TIMESTAMP(3))
WITH ('connector' = 'datagen', 'number-of-rows' = '50',
      'fields.user_id.min' = '1', 'fields.user_id.max' = '5', 'fields.category_id.min' = '1', 'fields.category_id.max' = '3',
      'fields.behavior.length' = '1');

-- Writing registers the table's Avro schema under the subject and frames each record (magic byte, schema id).
INSERT INTO user_behavior SELECT * FROM gen;

-- Reading fetches the writer schema by id once, then decodes every record.
CREATE TABLE per_user (user_id BIGINT, events BIGINT, categories BIGINT) WITH ('connector' = 'print');
INSERT INTO per_user SELECT user_id, COUNT(*), COUNT(DISTINCT category_id) FROM user_behavior GROUP BY user_id;
