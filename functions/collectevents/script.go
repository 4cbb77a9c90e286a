package collectevents

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"path"
	"strconv"
	"time"
)

//go:embed collect.js
var collectJS []byte

// ScriptPath is where CollectEvents serves collect.js (under any prefix the URL has).
const ScriptPath = "/collect.js"

// ScriptMaxAge is how long browsers and shared caches may keep collect.js without asking
// again; after it they revalidate with its ETag. Short, because the URL has no version in it:
// a fix reaches every page within this time.
const ScriptMaxAge = 5 * time.Minute

var scriptETag = func() string {
	sum := sha256.Sum256(collectJS)
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}()

func isScript(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) && path.Base(r.URL.Path) == path.Base(ScriptPath)
}

// serveScript answers GET /collect.js. It carries no cookie and needs no key: the key is in
// the page. Cross-Origin-Resource-Policy lets pages that require it (COEP) load it.
func serveScript(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(ScriptMaxAge.Seconds())))
	h.Set("ETag", scriptETag)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	if r.Header.Get("If-None-Match") == scriptETag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(collectJS)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(collectJS)
}
