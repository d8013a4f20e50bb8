package dashboard

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config configures a Dashboard. Store is required; the zero value of every
// other field is usable.
type Config struct {
	// Store reads and changes campaigns. Required.
	Store Store
	// Report writes a campaign's report as CSV. Nil: no download.
	Report ReportFunc
	// DashboardToken, when set, is needed to read any page. Read it from
	// SMSBLAST_DASHBOARD_TOKEN only; never log it.
	DashboardToken string
	// AdminToken is needed for actions, the report and phone numbers.
	// Empty: nobody can act. Read it from SMSBLAST_ADMIN_TOKEN only.
	AdminToken string
	// Holds adds the holds smsblast does not derive itself yet (see
	// HoldSource). Nil: pause, cancel, draft and no live sender only.
	Holds HoldSource
	// Senders lists a campaign's senders and their usage (see
	// SenderSource). Nil: the campaign's own sender.
	Senders SenderSource
	// Log receives logins and actions (never a token or a phone number).
	// Nil discards.
	Log *slog.Logger
	// Now returns the current time. Default time.Now; tests set it.
	Now func() time.Time
}

// Dashboard serves the pages. Make one with New, serve it with its
// ServeHTTP, and Close it when the server has stopped. Safe for concurrent
// use.
type Dashboard struct {
	cfg       Config
	auth      *auth
	mux       *http.ServeMux
	pages     map[string]*template.Template
	assets    map[string]string // file name → URL with a content hash
	list      *cache[struct{}, *listData]
	campaigns *cache[int64, *campaignData]
	series    chartSeries // the charts' buckets, kept between reads
	// firstWait is firstReadWait; tests shorten it.
	firstWait time.Duration
}

// New makes a Dashboard.
func New(cfg Config) (*Dashboard, error) {
	if cfg.Store == nil {
		return nil, errors.New("dashboard: Config.Store is nil")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	d := &Dashboard{
		cfg:       cfg,
		auth:      newAuth(cfg.DashboardToken, cfg.AdminToken, cfg.Now),
		list:      newCache[struct{}, *listData](cfg.Now, cfg.Log),
		campaigns: newCache[int64, *campaignData](cfg.Now, cfg.Log),
		firstWait: firstReadWait,
	}
	if err := d.loadAssets(); err != nil {
		return nil, err
	}
	if err := d.parseTemplates(); err != nil {
		return nil, err
	}
	d.routes()
	return d, nil
}

// Close stops reads running in the background and waits for them. Call it
// after the server has stopped serving the dashboard.
func (d *Dashboard) Close() {
	d.list.close()
	d.campaigns.close()
}

// ServeHTTP serves every page, with the security headers on all of them.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// No inline script or style anywhere: everything comes from /static/.
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	d.mux.ServeHTTP(w, r)
}

func (d *Dashboard) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", d.read(d.campaignsPage))
	m.HandleFunc("GET /live", d.read(d.campaignsLive))
	m.HandleFunc("GET /campaigns/{id}", d.read(d.campaignPage))
	m.HandleFunc("GET /campaigns/{id}/live", d.read(d.campaignLive))
	m.HandleFunc("GET /campaigns/{id}/report.csv", d.adminOnly(d.report))
	m.HandleFunc("GET /campaigns/{id}/cancel", d.adminOnly(d.confirmCancel))
	m.HandleFunc("POST /campaigns/{id}/pause", d.action(d.pause))
	m.HandleFunc("POST /campaigns/{id}/resume", d.action(d.resume))
	m.HandleFunc("POST /campaigns/{id}/cancel", d.action(d.cancel))
	m.HandleFunc("POST /campaigns/{id}/retry", d.action(d.retry))
	m.HandleFunc("GET /login", d.loginPage)
	m.HandleFunc("POST /login", d.login)
	m.HandleFunc("POST /logout", d.logout)
	m.HandleFunc("GET /static/{file}", d.static)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		d.fail(w, r, d.auth.identify(r), http.StatusNotFound, "There is no such page.")
	})
	d.mux = m
}

// handler is a page handler that knows who asks.
type handler func(w http.ResponseWriter, r *http.Request, id identity)

// read lets readers through; anonymous visitors are sent to the login
// form (pages) or refused (the live JSON).
func (d *Dashboard) read(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := d.auth.identify(r)
		if id.role == anonymous {
			if strings.HasSuffix(r.URL.Path, "/live") {
				http.Error(w, "log in first", http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		h(w, r, id)
	}
}

// adminOnly refuses anyone but an admin with 403 (a GET needs no CSRF token).
func (d *Dashboard) adminOnly(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := d.auth.identify(r)
		if id.role != admin {
			d.refuse(w, r, id, "admin-only page")
			return
		}
		h(w, r, id)
	}
}

// maxFormBytes caps an action's form: a few codes and a token.
const maxFormBytes = 16 << 10

// action guards a POST: an admin session and its CSRF token, else 403.
func (d *Dashboard) action(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		id := d.auth.identify(r)
		if err := r.ParseForm(); err != nil {
			d.fail(w, r, id, http.StatusBadRequest, "The form could not be read.")
			return
		}
		if id.role != admin {
			d.refuse(w, r, id, "action without an admin session")
			return
		}
		if !d.auth.checkCSRF(id, r.PostForm.Get("csrf")) {
			d.refuse(w, r, id, "action without a valid CSRF token")
			return
		}
		h(w, r, id)
	}
}

// refuse answers 403 and logs why, with the peer, never the cookie.
func (d *Dashboard) refuse(w http.ResponseWriter, r *http.Request, id identity, why string) {
	d.cfg.Log.Warn("dashboard: refused", "why", why, "method", r.Method, "path", r.URL.Path,
		"role", id.role.String(), "remote", r.RemoteAddr)
	msg := "This needs an admin login."
	if !d.auth.adminSet {
		msg = "Actions are off: serve was started without SMSBLAST_ADMIN_TOKEN."
	} else if id.role == admin {
		msg = "The form has expired or did not come from this dashboard: reload the page and try again."
	}
	d.fail(w, r, id, http.StatusForbidden, msg)
}

// parseTemplates parses each page with the layout.
func (d *Dashboard) parseTemplates() error {
	funcs := template.FuncMap{
		"asset":        func(name string) string { return d.assets[name] },
		"int":          fmtInt,
		"pct":          fmtPct,
		"rate":         fmtRate,
		"deliveryRate": fmtDeliveryRate,
		"time":         fmtTime,
		"clock":        fmtClock,
		"errorURL":     errorURL,
		"barSummary":   barSummary,
	}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return fmt.Errorf("dashboard: parse layout: %w", err)
	}
	d.pages = map[string]*template.Template{}
	for _, p := range []string{"campaigns", "campaign", "login", "confirm", "error"} {
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, "templates/"+p+".html")
		if err != nil {
			return fmt.Errorf("dashboard: parse template %s: %w", p, err)
		}
		d.pages[p] = t
	}
	return nil
}

// loadAssets names every static file by a hash of its content, so that
// browsers may cache them for good and still get a changed file at once.
func (d *Dashboard) loadAssets() error {
	d.assets = map[string]string{}
	return fs.WalkDir(staticFS, "static", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		d.assets[path.Base(p)] = "/static/" + path.Base(p) + "?v=" + hex.EncodeToString(sum[:6])
		return nil
	})
}

// static serves the embedded style sheet, script and icon.
func (d *Dashboard) static(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if _, ok := d.assets[name]; !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	http.ServeFileFS(w, r, staticFS, "static/"+name)
}

// render executes a page into a buffer first, so that a template error
// becomes a 500 instead of half a page.
func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, status int, page string, data any) {
	var buf bytes.Buffer
	if err := d.pages[page].ExecuteTemplate(&buf, "layout.html", data); err != nil {
		d.cfg.Log.Error("dashboard: render page", "page", page, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	writeBody(w, r, status, "text/html; charset=utf-8", buf.Bytes())
}

// gzipOver is the size above which answers are compressed: the list of a
// thousand campaigns is about 900 KiB of HTML, 60 KiB gzipped, and the
// live refresh sends it again whenever a figure changes. Pages under it,
// the login form among them, go as they are.
//
// Compressing a page that holds a secret (the CSRF token) beside text an
// attacker chooses would open it to BREACH; no page reflects request input
// beside its token (page.Next is the path of a known page, never a query).
const gzipOver = 8 << 10

// writeBody writes a finished answer, gzipped when it is big and the
// client accepts it. Answers are never cached: they hold live figures and,
// for admins, phone numbers.
func writeBody(w http.ResponseWriter, r *http.Request, status int, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	h.Add("Vary", "Accept-Encoding")
	if len(body) > gzipOver && acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		w.WriteHeader(status)
		zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
		_, _ = zw.Write(body)
		_ = zw.Close()
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func acceptsGzip(r *http.Request) bool {
	for _, enc := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, q, _ := strings.Cut(strings.TrimSpace(enc), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// fragment renders one named template, for the live regions.
func (d *Dashboard) fragment(page, name string, data any) (template.HTML, error) {
	var buf bytes.Buffer
	if err := d.pages[page].ExecuteTemplate(&buf, name, data); err != nil {
		return "", fmt.Errorf("render %s: %w", name, err)
	}
	return template.HTML(buf.String()), nil
}

// region is one part of a page the script refreshes: its HTML and a hash,
// so the script replaces it only when it changed (and focus stays put).
type region struct {
	Name string        `json:"-"`
	HTML template.HTML `json:"html"`
	Hash string        `json:"h"`
}

func newRegion(name string, html template.HTML) region {
	h := fnv.New64a()
	h.Write([]byte(html))
	return region{Name: name, HTML: html, Hash: hex.EncodeToString(h.Sum(nil))}
}

// regions renders the named templates of a page.
func (d *Dashboard) regions(page string, data any, names ...string) (map[string]region, error) {
	out := make(map[string]region, len(names))
	for _, n := range names {
		html, err := d.fragment(page, "region-"+n, data)
		if err != nil {
			return nil, err
		}
		out[n] = newRegion(n, html)
	}
	return out, nil
}

// page is what the layout needs on every page.
type page struct {
	Title    string
	Role     string
	Admin    bool
	Session  bool
	CanLogIn bool
	// AdminOff says no admin token was set: nobody can act.
	AdminOff bool
	CSRF     string
	// Next is where the login link returns to: the page's path, never
	// its query (see gzipOver).
	Next  string
	Flash string
	Error bool
	// Live is the URL the script polls; empty for static pages.
	Live string
	// Regions are the page's live parts, rendered before the page.
	Regions map[string]region
	// Refresh, when set, reloads the page after that many seconds.
	Refresh int
}

func (d *Dashboard) page(r *http.Request, id identity, title string) page {
	return page{
		Title: title, Role: id.role.String(), Admin: id.role == admin, Session: id.session,
		CanLogIn: d.auth.adminSet && id.role != admin, AdminOff: !d.auth.adminSet,
		CSRF: d.auth.csrfToken(id), Next: r.URL.Path,
	}
}

// errorPage is the data of error.html.
type errorPage struct {
	page
	Status  int
	Message string
}

// fail answers an error page.
func (d *Dashboard) fail(w http.ResponseWriter, r *http.Request, id identity, status int, msg string) {
	p := d.page(r, id, http.StatusText(status))
	p.Error, p.Next = true, "/" // the path may be anything
	d.render(w, r, status, "error", errorPage{page: p, Status: status, Message: msg})
}

// serverError logs err and answers 500 without its text, which may name
// database internals.
func (d *Dashboard) serverError(w http.ResponseWriter, r *http.Request, id identity, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the viewer went away
	}
	if errors.Is(err, errReading) {
		if strings.HasSuffix(r.URL.Path, "/live") {
			writeBody(w, r, http.StatusOK, "application/json", []byte(`{"regions":{}}`))
			return
		}
		p := d.page(r, id, "Reading")
		p.Refresh = 3
		d.render(w, r, http.StatusAccepted, "error", errorPage{page: p, Status: http.StatusAccepted,
			Message: "This campaign has many recipients and its figures take a while to count. This page reloads itself when they are ready."})
		return
	}
	d.cfg.Log.Error("dashboard: read failed", "path", r.URL.Path, "err", err)
	d.fail(w, r, id, http.StatusInternalServerError, "The database could not be read; the server log says why.")
}
