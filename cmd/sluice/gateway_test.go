package main

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// sluice gateway serves the REST API on the address it prints, asks for the token when one is set, and
// stops on cancellation.
func TestGatewayCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"gateway", "--listen", "127.0.0.1:0", "--token", "t0k"}, &stdout, &stderr)
	}()
	re := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	var base string
	for deadline := time.Now().Add(10 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
		}
	}
	if base == "" {
		t.Fatalf("no address printed: %q %q", stdout.String(), stderr.String())
	}
	get := func(token string) int {
		req, _ := http.NewRequest("GET", base+"/v1/info", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(""); code != 401 {
		t.Fatalf("without token: %d", code)
	}
	if code := get("t0k"); code != 200 {
		t.Fatalf("with token: %d", code)
	}
	cancel()
	if code := <-done; code != 0 || !strings.Contains(stdout.String(), "stopped") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
	if code := run(context.Background(), []string{"gateway", "extra"}, &stdout, &stderr); code != 2 {
		t.Fatalf("unexpected argument: exit %d", code)
	}
}
