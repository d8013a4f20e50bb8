// Package dashboard is the web dashboard `smsblast serve` shows at /: the
// campaigns with their progress, one campaign's live counts, charts of the
// last hour, failures by error code and the most recent failures, its
// sender, and the report as CSV; and, for admins, pause, resume, cancel and
// retry by code.
//
// It is built on the standard library only (net/http, html/template,
// embed). Pages work without JavaScript; one small script, served by the
// dashboard itself, refreshes the live parts every two seconds. Charts are
// SVG rendered on the server. Nothing is loaded from anywhere else, so the
// dashboard works on machines without internet access, under a Content
// Security Policy that allows no inline script or style.
//
// Access (see auth.go): read-only pages need SMSBLAST_DASHBOARD_TOKEN when
// it is set, actions and the report need SMSBLAST_ADMIN_TOKEN. A login
// form exchanges a token for a signed, HTTP-only, SameSite cookie derived
// from it; every form carries a CSRF token tied to the session. Phone
// numbers are masked unless the viewer is an admin, and never appear in a
// URL.
//
// The dashboard reads and changes campaigns through the Store interface,
// which *store.Store implements; its figures are the ones `smsblast status`
// prints. Reads that count recipients are cached and shared between viewers
// (see cache.go), so that a room full of people watching a ten-million-row
// campaign costs the database what one does. A Dashboard is safe for
// concurrent use.
package dashboard
