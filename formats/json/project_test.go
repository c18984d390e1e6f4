package json_test

import (
	"fmt"
	"testing"

	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/formattest"
	"github.com/sluicesql/sluice/formats/json"
	"github.com/sluicesql/sluice/types"
)

// The Nexmark event shape: a bid event with the person and auction ROWs present but null, and a query that
// reads event_type and four of the bid's seven members.
var nexmarkSchema = formattest.MustSchema(`event_type INT,
  person ROW<id BIGINT, name STRING, emailAddress STRING, creditCard STRING, city STRING, state STRING, dateTime TIMESTAMP(3), extra STRING>,
  auction ROW<id BIGINT, itemName STRING, description STRING, initialBid BIGINT, reserve BIGINT, dateTime TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, extra STRING>,
  bid ROW<auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING, dateTime TIMESTAMP(3), extra STRING>`)

var nexmarkBid = []byte(`{"event_type":2,"person":null,"auction":null,"bid":{"auction":1007,"bidder":2001,"price":8765,"channel":"Google","url":"https://www.nexmark.com/abc/def/item.htm?query=1&channel_id=123","dateTime":"2024-05-06 07:08:09.123","extra":"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"}}`)

// q1Projection needs event_type and bid.{auction, bidder, price, dateTime}.
func q1Projection() *formats.Projection {
	return &formats.Projection{
		Need: []bool{true, false, false, true},
		Sub:  []*formats.Projection{nil, nil, nil, {Need: []bool{true, true, true, false, false, true, false}}},
	}
}

func TestProjection(t *testing.T) {
	f := json.NewFactory()
	full, _ := f.CreateDecoder(formats.Context{RowType: nexmarkSchema})
	proj, _ := f.CreateDecoder(formats.Context{RowType: nexmarkSchema})
	proj.(formats.Projector).Project(q1Projection())
	a, b := make([]types.Value, 4), make([]types.Value, 4)
	if ok, err := full.Decode(nexmarkBid, a); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if ok, err := proj.Decode(nexmarkBid, b); !ok || err != nil {
		t.Fatal(ok, err)
	}
	bidType := nexmarkSchema.Fields[3].Type
	if got := fmt.Sprint(b[0].I); got != "2" {
		t.Errorf("event_type: got %s", got)
	}
	fb, pb := a[3].Fields(), b[3].Fields()
	for i, want := range []bool{true, true, true, false, false, true, false} {
		name := bidType.Fields[i].Name
		if want {
			if !types.Equal(fb[i], pb[i], bidType.Fields[i].Type) {
				t.Errorf("bid.%s: projected %v, full %v", name, pb[i], fb[i])
			}
		} else if !pb[i].IsNull() {
			t.Errorf("bid.%s is not needed but was materialized: %v", name, pb[i])
		}
	}
	// A malformed record is still an error when the bad part is in a skipped field.
	if _, err := proj.Decode([]byte(`{"event_type":2,"person":{"id":"x",},"bid":null}`), b); err == nil {
		t.Error("a syntax error inside a skipped field was not reported")
	}
}

func BenchmarkNexmarkBidDecode(b *testing.B) {
	for _, projected := range []bool{false, true} {
		b.Run(fmt.Sprintf("projected=%t", projected), func(b *testing.B) {
			dec, err := json.NewFactory().CreateDecoder(formats.Context{RowType: nexmarkSchema})
			if err != nil {
				b.Fatal(err)
			}
			if projected {
				dec.(formats.Projector).Project(q1Projection())
			}
			row := make([]types.Value, 4)
			b.ReportAllocs()
			b.SetBytes(int64(len(nexmarkBid)))
			for b.Loop() {
				if ok, err := dec.Decode(nexmarkBid, row); !ok || err != nil {
					b.Fatal(ok, err)
				}
			}
		})
	}
}
