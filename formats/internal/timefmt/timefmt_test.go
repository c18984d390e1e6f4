package timefmt

import (
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	for _, s := range []string{"1970-01-01 00:00:00", "2020-12-30 12:13:14.123", "2000-02-29 23:59:59.999999999", "1969-12-31 23:59:59.5", "0001-01-01 00:00:00"} {
		ms, n, ok := ParseTimestamp([]byte(s), ' ', false)
		if !ok {
			t.Fatalf("%s: not ok", s)
		}
		want, _ := time.Parse("2006-01-02 15:04:05.999999999", s)
		if got := time.UnixMilli(ms).Add(time.Duration(n)).UTC(); !got.Equal(want) {
			t.Errorf("%s: got %v want %v", s, got, want)
		}
		if back := string(AppendTimestamp(nil, ms, n, ' ', false)); back != s {
			t.Errorf("%s: formatted back as %s", s, back)
		}
	}
	for _, s := range []string{"2020-02-30 00:00:00", "2020-12-30T12:13:14", "2020-12-30 24:00:00", "2020-12-30 12:13:14.", "2020-12-30 12:13:14Z", "20-12-30 12:13:14"} {
		if _, _, ok := ParseTimestamp([]byte(s), ' ', false); ok {
			t.Errorf("%s: parsed", s)
		}
	}
	if ms, _, ok := ParseTimestamp([]byte("2020-12-30T12:13Z"), 'T', true); !ok || ms != time.Date(2020, 12, 30, 12, 13, 0, 0, time.UTC).UnixMilli() {
		t.Errorf("zulu: %v %v", ms, ok)
	}
	for d := int64(-800000); d < 800000; d += 997 {
		y, m, dd := CivilFromDays(d)
		if DaysFromCivil(y, m, dd) != d {
			t.Fatalf("days %d", d)
		}
	}
}
