package console

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var static embed.FS

// contentSecurityPolicy lets the console load its own files and talk to
// its own origin, nothing else: no inline script, no other host.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Index serves the console's page.
func Index(w http.ResponseWriter, r *http.Request) {
	serve(w, r, "index.html")
}

// Asset serves the console file named by the last element of the path
// (GET /ui/{file}); 404 for any other.
func Asset(w http.ResponseWriter, r *http.Request) {
	serve(w, r, path.Base(r.URL.Path))
}

// Has reports whether the console has a file of this name.
func Has(name string) bool {
	if name == "" || strings.ContainsAny(name, `/\`) {
		return false
	}
	_, err := fs.Stat(static, "static/"+name)
	return err == nil
}

var types = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

func serve(w http.ResponseWriter, r *http.Request, name string) {
	if !Has(name) {
		http.NotFound(w, r)
		return
	}
	b, err := fs.ReadFile(static, "static/"+name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", types[path.Ext(name)])
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	_, _ = w.Write(b) //nolint:errcheck // the client may have gone
}
