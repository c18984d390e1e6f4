package gateway

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestCrossSiteRequestsRefused: requests a hostile web page could make the user's browser send to a gateway
// on loopback are refused with 403 (a forged cross-site POST, a DNS-rebinding Host); curl-like and same-origin
// requests pass.
func TestCrossSiteRequestsRefused(t *testing.T) {
	open := startGateway(t, Config{})
	withToken := startGateway(t, Config{Token: "tok"})
	send := func(base, method, path, host string, hdr map[string]string) (int, string) {
		req, err := http.NewRequest(method, base+path, strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			req.Host = host
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	self := strings.TrimPrefix(open, "http://")
	for _, tc := range []struct {
		name, base, method, host string
		hdr                      map[string]string
		want                     int
		msg                      string
	}{
		{"curl, no Origin", open, "POST", "", nil, 200, ""},
		{"same-origin page", open, "POST", "", map[string]string{"Origin": open, "Sec-Fetch-Site": "same-origin"}, 200, ""},
		{"forged form post", open, "POST", "", map[string]string{"Origin": "http://evil.example", "Content-Type": "text/plain"}, 403, "another origin"},
		{"cross-site fetch metadata", open, "POST", "", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, "another site"},
		{"opaque origin", open, "POST", "", map[string]string{"Origin": "null"}, 403, "another origin"},
		{"rebinding without token", open, "GET", "evil.example:" + strings.Split(self, ":")[1], nil, 403, "only answers requests addressed to an IP address or 'localhost'"},
		{"localhost", open, "POST", "localhost:" + strings.Split(self, ":")[1], nil, 200, ""},
		{"rebinding with token, no bearer", withToken, "POST", "evil.example", nil, 401, "Unauthorized"},
		{"host name with token and bearer", withToken, "POST", "gateway.internal", map[string]string{"Authorization": "Bearer tok"}, 200, ""},
	} {
		code, body := send(tc.base, tc.method, "/v1/sessions", tc.host, tc.hdr)
		if tc.method == "GET" {
			code, body = send(tc.base, "GET", "/v1/info", tc.host, tc.hdr)
		}
		if code != tc.want || !strings.Contains(body, tc.msg) {
			t.Errorf("%s: %d %s, want %d %q", tc.name, code, body, tc.want, tc.msg)
		}
	}
}
