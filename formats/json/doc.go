// Package json is the 'json' format: one JSON object per message, its fields matched to the row's fields by
// name, as Flink's json format does.
//
// Decoding uses a hand-rolled scanner over the message bytes instead of encoding/json: it decodes straight
// into types.Value per the column type (DECIMAL exactly from the number text), never builds an intermediate
// tree, and allocates nothing per record beyond the strings, byte strings and composite values it produces.
// Encoding appends to the caller's buffer.
//
// Options (without prefix): fail-on-missing-field, ignore-parse-errors, timestamp-format.standard (SQL,
// ISO-8601), map-null-key.mode (FAIL, DROP, LITERAL), map-null-key.literal, encode.decimal-as-plain-number,
// encode.ignore-null-fields.
package json
