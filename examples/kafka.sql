-- Kafka round trip on the embedded broker:  go run ./cmd/sql-client --embedded -f examples/kafka.sql
-- 1. datagen writes 100 orders as JSON records to the topic 'orders' (keyed by customer);
-- 2. a bounded read of the topic, with Kafka metadata columns, is aggregated per customer and printed.
SET 'table.dml-sync' = 'true';

CREATE TABLE gen (
  id BIGINT, customer STRING, amount DECIMAL(10, 2)
) WITH (
  'connector' = 'datagen', 'number-of-rows' = '100',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '100',
  'fields.customer.length' = '1', 'fields.amount.min' = '1', 'fields.amount.max' = '100'
);

CREATE TABLE orders (
  id BIGINT, customer STRING, amount DECIMAL(10, 2),
  `partition` INT METADATA VIRTUAL,
  `offset` BIGINT METADATA VIRTUAL,
  ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp'
) WITH (
  'connector' = 'kafka', 'topic' = 'orders',
  'properties.bootstrap.servers' = '${SLUICE_KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:9092}',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset',
  'key.format' = 'raw', 'key.fields' = 'customer',
  'value.format' = 'json'
);

INSERT INTO orders (id, customer, amount) SELECT id, customer, amount FROM gen;

CREATE TABLE totals (customer STRING, n BIGINT, total DECIMAL(38, 2), last_offset BIGINT) WITH ('connector' = 'print');

INSERT INTO totals
SELECT customer, COUNT(*), SUM(amount), MAX(`offset`)
FROM orders
GROUP BY customer;
