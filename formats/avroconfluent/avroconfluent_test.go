package avroconfluent_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/avroconfluent"
	"github.com/sluicesql/sluice/formats/formattest"
	"github.com/sluicesql/sluice/formats/json"
	"github.com/sluicesql/sluice/schemaregistry"
	"github.com/sluicesql/sluice/types"
)

func startRegistry(t testing.TB, opts ...schemaregistry.Option) *schemaregistry.Server {
	t.Helper()
	srv, err := schemaregistry.Start(context.Background(), "127.0.0.1:0", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func jsonRow(t testing.TB, rowType types.Type, line string) []types.Value {
	t.Helper()
	dec, err := json.NewFactory().CreateDecoder(formats.Context{RowType: rowType})
	if err != nil {
		t.Fatal(err)
	}
	row := make([]types.Value, len(rowType.Fields))
	if ok, err := dec.Decode([]byte(line), row); !ok || err != nil {
		t.Fatalf("json %s: %v", line, err)
	}
	return row
}

// TestAvroConfluent runs testdata/avroconfluent against a real registry on 127.0.0.1:
//
//	write [options]   columns, then JSON rows: encoded (hex shown, header separated) and kept as "the topic"
//	read [options]    columns: every kept message decoded
//	raw [options]     columns, then hex messages: decoded
//	config <subject> <level>   PUT /config/<subject>
//	stop              stop the registry (it stays down for the rest of the file)
//	clear             forget the kept messages
//
// Options are the format's, without prefix; 'url' defaults to the registry.
func TestAvroConfluent(t *testing.T) {
	f := avroconfluent.NewFactory()
	{
		path := "testdata/avroconfluent"
		srv := startRegistry(t, schemaregistry.WithBasicAuth("sluice", "s3cret"))
		var topic [][]byte
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			lines := strings.Split(d.Input, "\n")
			opts := map[string]string{"url": srv.URL(), "basic-auth.user-info": "sluice:s3cret"}
			for _, a := range d.CmdArgs {
				opts[a.Key] = strings.Join(a.Vals, ",")
			}
			var out strings.Builder
			switch d.Cmd {
			case "config":
				req, _ := http.NewRequest(http.MethodPut, srv.URL()+"/config/"+d.CmdArgs[0].Key, strings.NewReader(`{"compatibility":"`+d.CmdArgs[1].Key+`"}`))
				req.SetBasicAuth("sluice", "s3cret")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.Status + "\n"
			case "stop":
				if err := srv.Close(); err != nil {
					t.Fatal(err)
				}
				return ""
			case "clear":
				topic = nil
				return ""
			case "write":
				rowType := formattest.MustSchema(lines[0])
				enc, err := f.CreateEncoder(formats.Context{RowType: rowType, Options: opts})
				if err != nil {
					return "create error: " + err.Error() + "\n"
				}
				for _, line := range lines[1:] {
					msg, err := enc.Encode([]byte("keep"), jsonRow(t, rowType, line))
					if err != nil {
						if string(msg) != "keep" {
							t.Errorf("failed Encode changed dst to %q", msg)
						}
						fmt.Fprintf(&out, "error: %v\n", err)
						continue
					}
					msg = msg[4:]
					topic = append(topic, msg)
					fmt.Fprintf(&out, "%x %x\n", msg[:5], msg[5:])
				}
			case "read", "raw":
				rowType := formattest.MustSchema(lines[0])
				dec, err := f.CreateDecoder(formats.Context{RowType: rowType, Options: opts})
				if err != nil {
					return "create error: " + err.Error() + "\n"
				}
				msgs := topic
				if d.Cmd == "raw" {
					msgs = nil
					for _, l := range lines[1:] {
						b, err := hex.DecodeString(strings.ReplaceAll(l, " ", ""))
						if err != nil {
							t.Fatal(err)
						}
						msgs = append(msgs, b)
					}
				}
				dst := make([]types.Value, len(rowType.Fields))
				for _, msg := range msgs {
					ok, err := dec.Decode(msg, dst)
					switch {
					case err != nil:
						var re *formats.RecordError
						if errors.As(err, &re) && errors.Is(err, formats.ErrDecode) {
							fmt.Fprintf(&out, "record error (field %q): %v\n", re.Field, err)
						} else {
							fmt.Fprintf(&out, "error: %v\n", err)
						}
					case !ok:
						out.WriteString("skipped\n")
					default:
						out.WriteString(formattest.DumpRow(dst, rowType) + "\n")
					}
				}
			default:
				t.Fatalf("unknown command %s", d.Cmd)
			}
			return strings.ReplaceAll(out.String(), strings.TrimPrefix(srv.URL(), "http://"), "REGISTRY")
		})
	}
}
