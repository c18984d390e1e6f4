-- upsert-kafka on the embedded broker:  go run ./cmd/sql-client --embedded -f examples/upsert.sql
-- 1. an updating aggregate is written to a compacted-style topic (a record per change, keyed by user_id);
-- 2. another job reads it back as a changelog (ChangelogNormalize), aggregates it again and joins it.
SET 'table.dml-sync' = 'true';

CREATE TABLE orders (user_id BIGINT, amount DECIMAL(10, 2)) WITH (
  'connector' = 'datagen', 'number-of-rows' = '200',
  'fields.user_id.min' = '1', 'fields.user_id.max' = '5', 'fields.amount.min' = '1', 'fields.amount.max' = '50');

CREATE TABLE user_totals (
  user_id BIGINT, n BIGINT, total DECIMAL(38, 2),
  PRIMARY KEY (user_id) NOT ENFORCED
) WITH ('connector' = 'upsert-kafka', 'topic' = 'user_totals', 'properties.bootstrap.servers' = '${SLUICE_KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:9092}',
        'key.format' = 'json', 'value.format' = 'json', 'value.fields-include' = 'EXCEPT_KEY',
        'scan.bounded.mode' = 'latest-offset');

INSERT INTO user_totals SELECT user_id, COUNT(*), SUM(amount) FROM orders GROUP BY user_id;

-- Read back: the final table in batch mode...
SET 'execution.runtime-mode' = 'batch';
SELECT * FROM user_totals;

-- ... and, in streaming mode, aggregated again and joined with a dimension table.
SET 'execution.runtime-mode' = 'streaming';
CREATE TABLE users (id BIGINT, name STRING) WITH ('connector' = 'datagen', 'number-of-rows' = '5',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '5', 'fields.name.length' = '6');
CREATE TABLE report (name STRING, total DECIMAL(38, 2), PRIMARY KEY (name) NOT ENFORCED) WITH ('connector' = 'print');
INSERT INTO report SELECT u.name, t.total FROM user_totals t JOIN users u ON t.user_id = u.id;
