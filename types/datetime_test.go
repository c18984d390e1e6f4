package types

import (
	"math/rand"
	"testing"
	"time"
)

func TestCivilDaysMatchTimePackage(t *testing.T) {
	for d := int64(-800000); d <= 800000; d += 7 {
		tm := time.Unix(d*86400, 0).UTC()
		y, m, dd := civilFromDays(d)
		if y != int64(tm.Year()) || m != int64(tm.Month()) || dd != int64(tm.Day()) {
			t.Fatalf("civilFromDays(%d) = %d-%d-%d, want %s", d, y, m, dd, tm.Format("2006-01-02"))
		}
		if got := daysFromCivil(y, m, dd); got != d {
			t.Fatalf("daysFromCivil(%d-%d-%d) = %d, want %d", y, m, dd, got, d)
		}
	}
}

func TestTimestampFormattingMatchesTimePackage(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	for i := 0; i < 20000; i++ {
		ms := r.Int63n(1<<48) - 1<<47 // years about -2490..6430
		if r.Intn(2) == 0 {
			ms = r.Int63n(1<<42) - 1<<41
		}
		v := TimestampValue(ms, int32(r.Intn(nanosPerMilli)))
		tm := ValueToTime(v)
		if tm.Year() < 0 {
			continue // Go and ISO disagree on the text of negative years
		}
		if got, want := string(FormatTimestamp(nil, v, 9)), tm.Format("2006-01-02 15:04:05.000000000"); got != want {
			t.Fatalf("FormatTimestamp(%d, %d) = %s, want %s", v.I, v.N, got, want)
		}
		if back := TimestampFromTime(tm); back != v {
			t.Fatalf("TimestampFromTime(ValueToTime(%v)) = %v", v, back)
		}
		p := r.Intn(10)
		tr := TruncateTimestamp(v, p)
		wantT := tm.Truncate(time.Duration(pow10[9-p]))
		if ValueToTime(tr) != wantT {
			t.Fatalf("TruncateTimestamp(%s, %d) = %s, want %s", FormatTimestamp(nil, v, 9), p, FormatTimestamp(nil, tr, 9), wantT)
		}
		// Text round trip through the parser.
		txt := string(FormatTimestamp(nil, v, 9))
		if tm.Year() < 10000 {
			pv, err := ParseTimestamp(txt, 9)
			if err != nil || pv != v {
				t.Fatalf("ParseTimestamp(%q) = %v, %v, want %v", txt, pv, err, v)
			}
		}
	}
}

func TestDateTimeParseFormat(t *testing.T) {
	d, err := ParseDate("2020-01-31")
	if err != nil || d.I != 18292 {
		t.Fatalf("ParseDate = %v, %v; want 18292", d, err)
	}
	if got := string(FormatDate(nil, DateValue(-719162))); got != "0001-01-01" {
		t.Errorf("FormatDate(-719162) = %s", got)
	}
	tv, err := ParseTime("12:34:56.789")
	if err != nil || tv.I != ((12*60+34)*60+56)*nanosPerSecond+789*nanosPerMilli {
		t.Fatalf("ParseTime = %v, %v", tv, err)
	}
	if got := string(FormatTime(nil, tv, 2)); got != "12:34:56.78" {
		t.Errorf("FormatTime(p=2) = %s", got)
	}
	ts, err := ParseTimestamp("1970-01-01 00:00:00.001", 3)
	if err != nil || ts != TimestampValue(1, 0) {
		t.Fatalf("ParseTimestamp = %v, %v", ts, err)
	}
	ts, _ = ParseTimestamp("1969-12-31 23:59:59.9995", 9)
	if ts != TimestampValue(-1, 500000) {
		t.Errorf("pre-epoch timestamp = %v, want millis -1 nanos 500000", ts)
	}
	if got := string(FormatTimestamp(nil, ts, 4)); got != "1969-12-31 23:59:59.9995" {
		t.Errorf("FormatTimestamp = %s", got)
	}
	for _, bad := range []string{"", "2020-01-01 x", "2020-01-01 12", "2020-01-01 12:00:00.", "2020-00-10", "x"} {
		if _, err := ParseTimestamp(bad, 3); err == nil {
			t.Errorf("ParseTimestamp(%q): want error", bad)
		}
	}
}

func TestTimeZoneConversion(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	wall := func(s string) Value {
		v, err := ParseTimestamp(s, 9)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct{ wall, utc string }{
		{"2020-07-01 12:00:00", "2020-07-01 16:00:00"},
		{"2020-01-01 12:00:00", "2020-01-01 17:00:00"},
		{"2020-03-08 02:30:00", "2020-03-08 07:30:00"}, // gap: shifted forward like java.time
		{"2020-11-01 01:30:00", "2020-11-01 05:30:00"}, // overlap: earlier instant (EDT)
		{"2020-11-01 02:30:00", "2020-11-01 07:30:00"},
	} {
		got := TimestampFromLocal(wall(c.wall), ny)
		if got != wall(c.utc) {
			t.Errorf("TimestampFromLocal(%s) = %s UTC, want %s", c.wall, FormatTimestamp(nil, got, 0), c.utc)
		}
	}
	inst := wall("2020-11-01 05:30:00")
	if got := string(FormatTimestamp(nil, TimestampToLocal(inst, ny), 0)); got != "2020-11-01 01:30:00" {
		t.Errorf("TimestampToLocal = %s", got)
	}
	// Round trip for ordinary wall clocks in many zones.
	r := rand.New(rand.NewSource(11))
	for _, name := range []string{"Asia/Shanghai", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata", "America/Sao_Paulo"} {
		loc := mustLoc(t, name)
		for i := 0; i < 2000; i++ {
			inst := TimestampValue(r.Int63n(2e12), 0)
			local := TimestampToLocal(inst, loc)
			want := ValueToTime(inst).In(loc)
			if string(FormatTimestamp(nil, local, 0)) != want.Format("2006-01-02 15:04:05") {
				t.Fatalf("%s: TimestampToLocal(%d) = %s, want %s", name, inst.I, FormatTimestamp(nil, local, 0), want)
			}
			back := TimestampFromLocal(local, loc)
			if back != inst {
				// Only acceptable in a DST overlap, where the earlier instant is chosen.
				if back.I >= inst.I || TimestampToLocal(back, loc) != local {
					t.Fatalf("%s: TimestampFromLocal(TimestampToLocal(%d)) = %d", name, inst.I, back.I)
				}
			}
		}
	}
}

func TestTruncateOutOfRangePrecision(t *testing.T) {
	v := TimestampValue(1234567, 999)
	if got := TruncateTimestamp(v, -5); got != TimestampValue(1234000, 0) {
		t.Errorf("TruncateTimestamp(p=-5) = %v", got)
	}
	if got := TruncateTimestamp(v, 12); got != v {
		t.Errorf("TruncateTimestamp(p=12) = %v", got)
	}
	if got := TruncateTime(TimeValue(1_500_000_000), -20); got.I != 1_000_000_000 {
		t.Errorf("TruncateTime(p=-20) = %v", got)
	}
	if got := string(FormatTimestamp(nil, v, 12)); got != "1970-01-01 00:20:34.567000999" {
		t.Errorf("FormatTimestamp(p=12) = %s", got)
	}
}
