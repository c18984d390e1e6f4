// Package web holds the gateway's dashboard pages: plain HTML, CSS and hand-written JavaScript, embedded in
// the binary (no build step). The gateway serves them under /ui/ (gateway/dashboard.go).
package web

import "embed"

// Files are index.html, app.js and style.css.
//
//go:embed index.html app.js style.css
var Files embed.FS
