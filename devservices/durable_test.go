package devservices_test

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/devservices"
)

// copyDir copies a running broker's data directory: the files as a crash at this moment would leave them
// (the operating system's cache included), without the writes a clean Close adds.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(dst)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCrashImageKeepsAutoCreatedTopic starts a broker on a copy of the data directory taken while the first
// broker still runs: an auto-created topic and its records must be there, as after a kill -9.
func TestCrashImageKeepsAutoCreatedTopic(t *testing.T) {
	dir := t.TempDir()
	s, err := devservices.Start(context.Background(), devservices.Config{KafkaAddr: "127.0.0.1:0", DataDir: dir, Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	produce(t, s.KafkaAddr(), "auto", "one", "two", "three")
	crashed := t.TempDir()
	copyDir(t, dir, crashed)

	s2, err := devservices.Start(context.Background(), devservices.Config{KafkaAddr: "127.0.0.1:0", DataDir: crashed, Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got := consume(t, s2.KafkaAddr(), "auto", 3)
	if strings.Join(got, ",") != "one,two,three" {
		t.Fatalf("after a crash the auto-created topic holds %v, want one,two,three", got)
	}
}

// TestCrashImageAbortsOpenTransaction restarts on a crash image taken while a transaction is open: the open
// transaction's records stay invisible to read_committed readers, and a new transaction of the same producer
// in the same partition is visible (the restart wrote the abort marker that a reader needs to get past the
// aborted records).
func TestCrashImageAbortsOpenTransaction(t *testing.T) {
	dir := t.TempDir()
	s, err := devservices.Start(context.Background(), devservices.Config{KafkaAddr: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	txn := func(addr string, vals []string, commit bool) {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation(), kgo.TransactionalID("sink"))
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "tx", Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if commit {
			if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
				t.Fatal(err)
			}
			cl.Close()
		}
		// An uncommitted transaction stays open: the client is left running until the test ends.
	}
	txn(s.KafkaAddr(), []string{"a", "b"}, true)
	txn(s.KafkaAddr(), []string{"lost-1", "lost-2"}, false)
	crashed := t.TempDir()
	copyDir(t, dir, crashed)

	s2, err := devservices.Start(context.Background(), devservices.Config{KafkaAddr: "127.0.0.1:0", DataDir: crashed})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	txn(s2.KafkaAddr(), []string{"c"}, true)
	cl, err := kgo.NewClient(kgo.SeedBrokers(s2.KafkaAddr()), kgo.ConsumeTopics("tx"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got []string
	for len(got) < 3 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("read_committed after the crash: got %v, then %v", got, err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if strings.Join(got, ",") != "a,b,c" {
		t.Fatalf("read_committed after the crash = %v, want a,b,c", got)
	}
}
