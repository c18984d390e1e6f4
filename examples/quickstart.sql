-- Sluice quickstart: a bounded datagen source, an updating aggregation, and Flink's print sink.
-- Run it with:  go run ./cmd/sql-client -f examples/quickstart.sql
-- The print sink shows the changelog: +I for a new customer, -U/+U when its totals change.

CREATE TABLE orders (
  id       BIGINT,
  customer STRING,
  amount   DECIMAL(10, 2),
  ts       TIMESTAMP(3)
) WITH (
  'connector' = 'datagen',
  'number-of-rows' = '1000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '1000',
  'fields.customer.length' = '1',
  'fields.amount.min' = '1', 'fields.amount.max' = '100'
);

CREATE TABLE totals (
  customer STRING,
  n        BIGINT,
  total    DECIMAL(38, 2)
) WITH ('connector' = 'print');

INSERT INTO totals
SELECT customer, COUNT(*), SUM(amount)
FROM orders
GROUP BY customer;
