package catalog

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sluicesql/sluice/sql"
)

// Legacy DDL: the connector properties of Flink 1.10 and earlier ('connector.type' = 'kafka',
// 'connector.topic', 'format.type', 'update-mode', ...), as older scripts (Nexmark's among them) still
// write them. A table that has 'connector.type' and no 'connector' gets its options mapped onto today's
// spelling, and a warning shows the WITH clause to write instead. Legacy keys without a modern equivalent
// are refused with the reason.

// legacyKafkaKeys maps 'connector.*' keys of the legacy Kafka connector to today's keys.
var legacyKafkaKeys = map[string]string{
	"connector.topic":                    "topic",
	"connector.startup-mode":             "scan.startup.mode",
	"connector.specific-offsets":         "scan.startup.specific-offsets",
	"connector.startup-timestamp-millis": "scan.startup.timestamp-millis",
	"connector.sink-partitioner":         "sink.partitioner",
}

// legacyDropped are legacy keys that today's connectors no longer need, with the reason shown in the warning.
var legacyDropped = map[string]string{
	"connector.version":                      "the 'kafka' connector is Flink's universal connector",
	"connector.property-version":             "property versions are gone",
	"format.property-version":                "property versions are gone",
	"format.derive-schema":                   "formats always derive their schema from the table",
	"connector.properties.zookeeper.connect": "Kafka clients do not use ZooKeeper",
	"update-mode":                            "",
}

// legacyRefused are legacy keys Sluice cannot map, with what to do instead.
var legacyRefused = map[string]string{
	"connector.sink-partitioner-class": "custom partitioners are Java classes; use 'sink.partitioner' = 'fixed' or 'round-robin'",
	"format.json-schema":               "formats derive their schema from the table's columns; remove it",
	"format.schema":                    "formats derive their schema from the table's columns; remove it",
	"format.avro-schema":               "formats derive their schema from the table's columns; remove it",
	"format.record-class":              "Avro record classes are Java classes; remove it",
}

// mapLegacyOptions rewrites t's options when they use the legacy spelling. It returns the warning to show
// (empty when the options are modern).
func mapLegacyOptions(t *Table, st *sql.CreateTable) (string, error) {
	ctype, ok := t.Options["connector.type"]
	if !ok {
		return "", nil
	}
	pos := func(key string) sql.Pos {
		for _, o := range st.Options {
			if o.Key == key {
				return o.P
			}
		}
		return st.Name.P
	}
	if _, ok := t.Options["connector"]; ok {
		return "", sql.Errorf(pos("connector.type"), ErrValidation, "table %s mixes 'connector' with the legacy 'connector.type'; remove 'connector.type' and the other legacy 'connector.*' and 'format.*' options", t.Name)
	}
	var conn string
	switch ctype {
	case "kafka", "filesystem":
		conn = ctype
	default:
		return "", sql.Errorf(pos("connector.type"), ErrValidation, "legacy option 'connector.type' = '%s' is not supported; Sluice maps the legacy 'kafka' and 'filesystem' connectors onto today's options, write 'connector' = '...' with today's options instead", ctype)
	}
	if v := t.Options["connector.version"]; conn == "kafka" && v != "" && v != "universal" && v != "0.11" && v != "0.10" {
		return "", sql.Errorf(pos("connector.version"), ErrValidation, "legacy option 'connector.version' = '%s' is not a Kafka connector version ('universal', '0.11' or '0.10')", v)
	}
	if v, ok := t.Options["update-mode"]; ok && v != "append" {
		hint := "the 'filesystem' sink writes append-only"
		if conn == "kafka" {
			hint = "use the 'upsert-kafka' connector for updates"
		}
		return "", sql.Errorf(pos("update-mode"), ErrValidation, "legacy option 'update-mode' = '%s' is not supported: %s", v, hint)
	}
	format := t.Options["format.type"]
	out := map[string]string{"connector": conn}
	keys := []string{"connector"}
	set := func(k, v string) {
		if _, dup := out[k]; !dup {
			keys = append(keys, k)
		}
		out[k] = v
	}
	var notes []string
	for _, k := range t.OptionKeys {
		v := t.Options[k]
		if k == "connector.type" || k == "format.type" {
			continue
		}
		if why, ok := legacyRefused[k]; ok {
			return "", sql.Errorf(pos(k), ErrValidation, "legacy option '%s' is not supported: %s", k, why)
		}
		if why, ok := legacyDropped[k]; ok {
			if why != "" {
				notes = append(notes, fmt.Sprintf("'%s' is dropped: %s", k, why))
			}
			continue
		}
		switch {
		case conn == "kafka" && legacyKafkaKeys[k] != "":
			if k == "connector.sink-partitioner" && v == "custom" {
				return "", sql.Errorf(pos(k), ErrValidation, "legacy option 'connector.sink-partitioner' = 'custom' is not supported: custom partitioners are Java classes; use 'fixed' or 'round-robin'")
			}
			set(legacyKafkaKeys[k], v)
		case conn == "kafka" && strings.HasPrefix(k, "connector.properties."):
			rest := strings.TrimPrefix(k, "connector.properties.")
			if rest == "" || rest[0] >= '0' && rest[0] <= '9' {
				return "", sql.Errorf(pos(k), ErrValidation, "legacy option '%s': the indexed form ('connector.properties.0.key' / '.value') is not supported; write 'connector.properties.<name>' = '<value>'", k)
			}
			set("properties."+rest, v)
		case conn == "filesystem" && k == "connector.path":
			set("path", v)
		case strings.HasPrefix(k, "format."):
			if format == "" {
				return "", sql.Errorf(pos(k), ErrValidation, "legacy option '%s' needs 'format.type'", k)
			}
			set(format+"."+strings.TrimPrefix(k, "format."), v)
		default:
			set(k, v) // a modern option, or an unknown one the connector refuses
		}
	}
	if format != "" {
		keys = append(keys[:1], append([]string{"format"}, keys[1:]...)...)
		out["format"] = format
	}
	t.Options, t.OptionKeys = out, keys
	var b strings.Builder
	fmt.Fprintf(&b, "[WARNING] Table %s uses the legacy connector options of Flink 1.10 and earlier; Sluice maps them onto today's options. Write instead:\n  WITH (\n", t.Name)
	for i, k := range keys {
		sep := ","
		if i == len(keys)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "    '%s' = '%s'%s\n", k, strings.ReplaceAll(out[k], "'", "''"), sep)
	}
	b.WriteString("  )")
	sort.Strings(notes)
	for _, n := range notes {
		b.WriteString("\n  (" + n + ")")
	}
	return b.String(), nil
}
