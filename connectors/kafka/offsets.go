package kafka

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicesql/sluice/options"
)

// offsetSpec is a start or stop position: a scan.startup.* or scan.bounded.* mode with its parameters.
type offsetSpec struct {
	mode      string
	millis    int64
	specific  map[int32]int64
	group     string
	reset     string // group-offsets at start: auto.offset.reset ("" = none, as Flink)
	committed bool   // isolation.level=read_committed: latest means the last stable offset
}

func parseStart(r *options.Resolved, c *clientConfig) (offsetSpec, error) {
	sp := offsetSpec{mode: StartupMode.Get(r), group: c.groupID, reset: c.resetOffset, committed: c.readCommitted}
	if err := sp.parse(r, "scan.startup", StartupTimestampMillis, StartupSpecificOffsets); err != nil {
		return sp, err
	}
	if sp.mode == modeGroup && sp.group == "" {
		return sp, &options.Error{Keys: []string{"properties.group.id", "scan.startup.mode"},
			Msg: "Option 'properties.group.id' is required when 'scan.startup.mode' is 'group-offsets' (the default): the source starts from the offsets committed by that group. Set 'properties.group.id', or choose another 'scan.startup.mode' (e.g. 'earliest-offset')."}
	}
	return sp, nil
}

func parseStop(r *options.Resolved, c *clientConfig) (offsetSpec, error) {
	sp := offsetSpec{mode: BoundedMode.Get(r), group: c.groupID, committed: c.readCommitted}
	if err := sp.parse(r, "scan.bounded", BoundedTimestampMillis, BoundedSpecificOffsets); err != nil {
		return sp, err
	}
	if sp.mode == modeGroup && sp.group == "" {
		return sp, &options.Error{Keys: []string{"properties.group.id", "scan.bounded.mode"},
			Msg: "Option 'properties.group.id' is required when 'scan.bounded.mode' is 'group-offsets': the source stops at the offsets committed by that group."}
	}
	return sp, nil
}

func (sp *offsetSpec) parse(r *options.Resolved, prefix string, millisKey options.Key[int64], specificKey options.Key[string]) error {
	modeKey := prefix + ".mode"
	millis, hasMillis := millisKey.Lookup(r)
	spec, hasSpec := specificKey.Lookup(r)
	switch sp.mode {
	case modeTimestamp:
		if !hasMillis {
			return &options.Error{Keys: []string{millisKey.Key()},
				Msg: fmt.Sprintf("'%s' is required in 'timestamp' %s mode but missing.", millisKey.Key(), modeWord(prefix))}
		}
		if millis < 0 {
			return &options.Error{Keys: []string{millisKey.Key()},
				Msg: fmt.Sprintf("Invalid value for option '%s': '%d' must not be negative", millisKey.Key(), millis)}
		}
		sp.millis = millis
	case modeSpecific:
		if !hasSpec {
			return &options.Error{Keys: []string{specificKey.Key()},
				Msg: fmt.Sprintf("'%s' is required in 'specific-offsets' %s mode but missing.", specificKey.Key(), modeWord(prefix))}
		}
		m, err := parseSpecificOffsets(spec)
		if err != nil {
			return &options.Error{Keys: []string{specificKey.Key()},
				Msg: fmt.Sprintf("Invalid properties '%s' should follow the format 'partition:0,offset:42;partition:1,offset:300', but is '%s' (%s).", specificKey.Key(), spec, err.Error())}
		}
		sp.specific = m
	}
	if hasMillis && sp.mode != modeTimestamp {
		return &options.Error{Keys: []string{millisKey.Key(), modeKey},
			Msg: fmt.Sprintf("Option '%s' only applies when '%s' is 'timestamp', not '%s'.", millisKey.Key(), modeKey, sp.mode)}
	}
	if hasSpec && sp.mode != modeSpecific {
		return &options.Error{Keys: []string{specificKey.Key(), modeKey},
			Msg: fmt.Sprintf("Option '%s' only applies when '%s' is 'specific-offsets', not '%s'.", specificKey.Key(), modeKey, sp.mode)}
	}
	return nil
}

func modeWord(prefix string) string {
	if prefix == "scan.startup" {
		return "startup"
	}
	return "bounded"
}

// parseSpecificOffsets reads 'partition:0,offset:42;partition:1,offset:300'.
func parseSpecificOffsets(s string) (map[int32]int64, error) {
	out := map[int32]int64{}
	for _, entry := range strings.Split(s, ";") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		ps, os, ok := strings.Cut(entry, ",")
		pv, okp := strings.CutPrefix(strings.TrimSpace(ps), "partition:")
		ov, oko := strings.CutPrefix(strings.TrimSpace(os), "offset:")
		if !ok || !okp || !oko {
			return nil, fmt.Errorf("entry '%s' is not 'partition:<n>,offset:<n>'", entry)
		}
		p, err := strconv.ParseInt(strings.TrimSpace(pv), 10, 32)
		if err != nil || p < 0 {
			return nil, fmt.Errorf("partition '%s' is not a non-negative integer", pv)
		}
		o, err := strconv.ParseInt(strings.TrimSpace(ov), 10, 64)
		if err != nil || o < 0 {
			return nil, fmt.Errorf("offset '%s' is not a non-negative integer", ov)
		}
		if _, dup := out[int32(p)]; dup {
			return nil, fmt.Errorf("partition %d is listed twice", p)
		}
		out[int32(p)] = o
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no partition given")
	}
	return out, nil
}

// topicPartition names one partition.
type topicPartition struct {
	topic     string
	partition int32
}

func (tp topicPartition) String() string {
	return fmt.Sprintf("topic '%s' partition %d", tp.topic, tp.partition)
}

// offsetLister is the part of kadm the resolution needs.
type offsetLister struct {
	adm *kadm.Client
}

// listed returns offsets per partition of a listing, failing on per-partition errors.
func listed(lo kadm.ListedOffsets, err error, what string) (map[topicPartition]int64, error) {
	if err != nil {
		return nil, fmt.Errorf("list %s offsets: %w", what, err)
	}
	out := map[topicPartition]int64{}
	var errs []string
	lo.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			errs = append(errs, fmt.Sprintf("topic '%s' partition %d: %s", o.Topic, o.Partition, o.Err.Error()))
			return
		}
		out[topicPartition{o.Topic, o.Partition}] = o.Offset
	})
	if len(errs) > 0 {
		sort.Strings(errs)
		return nil, fmt.Errorf("list %s offsets: %s", what, strings.Join(errs, "; "))
	}
	return out, nil
}

// resolve returns the offset of spec for every partition of parts (start=true: where to begin; false: where
// to stop, exclusive).
func (l offsetLister) resolve(ctx context.Context, sp offsetSpec, parts []topicPartition, start bool) (map[topicPartition]int64, error) {
	if len(parts) == 0 {
		return map[topicPartition]int64{}, nil
	}
	topicSet := map[string]bool{}
	for _, tp := range parts {
		topicSet[tp.topic] = true
	}
	topics := make([]string, 0, len(topicSet))
	for t := range topicSet {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	earliest := func() (map[topicPartition]int64, error) {
		lo, err := l.adm.ListStartOffsets(ctx, topics...)
		return listed(lo, err, "earliest")
	}
	// With read_committed, 'latest' is the last stable offset listed now, as Flink lists the end offsets with
	// the consumer's isolation level: every record below it belongs to a decided transaction, so a bounded scan
	// reads exactly the rows committed when it started and never waits for a transaction still open. (On a
	// real broker EndTxn returns before the coordinator has written the commit markers, so a scan started in
	// the next milliseconds can list a last stable offset before that transaction's records; kfake writes
	// the markers before it answers.) A scan ends a partition at the first record at or past the stop offset
	// too (source.go), since an aborted transaction's records below it are skipped and its marker may lie past it.
	latest := func() (map[topicPartition]int64, error) {
		if sp.committed {
			lo, err := l.adm.ListCommittedOffsets(ctx, topics...)
			return listed(lo, err, "last stable")
		}
		lo, err := l.adm.ListEndOffsets(ctx, topics...)
		return listed(lo, err, "latest")
	}
	committed := func() (map[topicPartition]int64, error) {
		resp, err := l.adm.FetchOffsetsForTopics(ctx, sp.group, topics...)
		if errors.Is(err, kerr.GroupIDNotFound) {
			return map[topicPartition]int64{}, nil // a group that never committed
		}
		if err != nil {
			return nil, fmt.Errorf("fetch the offsets committed by group '%s': %w", sp.group, err)
		}
		if err := resp.Error(); err != nil {
			return nil, fmt.Errorf("fetch the offsets committed by group '%s': %w", sp.group, err)
		}
		out := map[topicPartition]int64{}
		resp.Each(func(o kadm.OffsetResponse) {
			if o.At >= 0 {
				out[topicPartition{o.Topic, o.Partition}] = o.At
			}
		})
		return out, nil
	}

	out := map[topicPartition]int64{}
	var base map[topicPartition]int64
	var err error
	switch sp.mode {
	case modeEarliest:
		base, err = earliest()
	case modeLatest:
		base, err = latest()
	case modeTimestamp:
		var lo kadm.ListedOffsets
		lo, err = l.adm.ListOffsetsAfterMilli(ctx, sp.millis, topics...)
		base, err = listed(lo, err, "timestamp")
	case modeGroup:
		base, err = committed()
		if err == nil {
			var fallback map[topicPartition]int64
			for _, tp := range parts {
				if _, ok := base[tp]; ok {
					continue
				}
				if !start || sp.reset == "" || sp.reset == "none" {
					what := "start"
					hint := "Set 'properties.auto.offset.reset' = 'earliest' or 'latest', or choose another 'scan.startup.mode'."
					if !start {
						what, hint = "stop", "Choose another 'scan.bounded.mode'."
					}
					return nil, fmt.Errorf("group '%s' has no committed offset for %s, so the source cannot %s there (Flink's reset strategy is 'none' unless 'properties.auto.offset.reset' says otherwise). %s",
						sp.group, tp, what, hint)
				}
				if fallback == nil {
					if sp.reset == "earliest" {
						fallback, err = earliest()
					} else {
						fallback, err = latest()
					}
					if err != nil {
						return nil, err
					}
				}
				base[tp] = fallback[tp]
			}
		}
	case modeSpecific:
		// Unlisted partitions: the group's committed offset, else the earliest offset (as Flink).
		base = map[topicPartition]int64{}
		var missing bool
		for _, tp := range parts {
			if o, ok := sp.specific[tp.partition]; ok {
				base[tp] = o
			} else {
				missing = true
			}
		}
		if missing {
			var com map[topicPartition]int64
			if sp.group != "" {
				if com, err = committed(); err != nil {
					return nil, err
				}
			}
			ear, err := earliest()
			if err != nil {
				return nil, err
			}
			for _, tp := range parts {
				if _, ok := base[tp]; ok {
					continue
				}
				if o, ok := com[tp]; ok {
					base[tp] = o
				} else {
					base[tp] = ear[tp]
				}
			}
		}
	default:
		return nil, fmt.Errorf("unknown offset mode '%s'", sp.mode)
	}
	if err != nil {
		return nil, err
	}
	for _, tp := range parts {
		o, ok := base[tp]
		if !ok {
			return nil, fmt.Errorf("no offset listed for %s", tp)
		}
		out[tp] = o
	}
	return out, nil
}
