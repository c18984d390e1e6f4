package gateway

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Browsers and the gateway: a web page the user visits must not drive a gateway on the user's loopback.
//   - Cross-site requests: a browser names the page's origin in 'Origin' (and 'Sec-Fetch-Site'); a request
//     whose Origin is not the gateway's own (the scheme and the Host it was sent to) is refused with 403,
//     so a forged form post or fetch from another site runs nothing. Clients that are not browsers (curl,
//     sql-client) send no Origin and are not affected; the dashboard's pages are same-origin.
//   - DNS rebinding: a page on a hostile name that resolves to 127.0.0.1 is same-origin with itself, but
//     its requests carry that name in 'Host'. Without a token, the gateway only answers requests addressed
//     to an IP literal or 'localhost'; with a token, the hostile page does not know it.

// crossSite returns why r must be refused ("" when it may proceed).
func (s *Server) crossSite(r *http.Request) string {
	if s.cfg.Token == "" && !localHost(r.Host) {
		return "Forbidden: this gateway has no token, so it only answers requests addressed to an IP address or 'localhost' (Host '" + r.Host + "'); set --token to serve other host names."
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
		return "Forbidden: a request from another site's page (Sec-Fetch-Site: " + site + ")."
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || o == "null" || !strings.EqualFold(u.Host, r.Host) {
			return "Forbidden: a request from the page of another origin (" + o + ")."
		}
	}
	return ""
}

// localHost reports whether a Host header names an IP address or localhost.
func localHost(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return net.ParseIP(h) != nil || strings.EqualFold(h, "localhost")
}
