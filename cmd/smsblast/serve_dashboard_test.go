package main

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Who gets the dashboard: with neither token only a loopback listener
// serves it; a token serves it anywhere. The webhooks are there either way,
// and no token reaches the log.
func TestServeDashboardRule(t *testing.T) {
	t.Parallel()
	loopback := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	anywhere := &net.TCPAddr{IP: net.IPv4zero, Port: 8080}
	tests := []struct {
		name      string
		addr      net.Addr
		env       map[string]string
		dashboard bool
		log       string
	}{
		{"no tokens, loopback", loopback, nil, true, "read-only, no login"},
		{"no tokens, all interfaces", anywhere, nil, false, "dashboard off"},
		{"dashboard token, all interfaces", anywhere, map[string]string{envDashboardToken: browserView}, true, "dashboard at http://0.0.0.0:8080/"},
		{"admin token only, all interfaces", anywhere, map[string]string{envAdminToken: browserAdmin}, true, "anyone who reaches"},
		{"short token", loopback, map[string]string{envAdminToken: "abc"}, true, "is short"},
		{"one token for both", loopback, map[string]string{envDashboardToken: browserAdmin, envAdminToken: browserAdmin}, true, "are the same"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logs := &lockedBuffer{}
			a := &app{getenv: func(k string) string { return tt.env[k] }, log: slog.New(slog.NewTextHandler(logs, nil))}
			hooks := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
			h, closeDash, err := a.serveDashboard(nil, tt.addr, hooks)
			if err != nil {
				t.Fatal(err)
			}
			defer closeDash()
			for _, p := range []string{"/healthz", "/metrics", "/twilio/status"} {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest("GET", p, nil))
				if w.Code != http.StatusTeapot {
					t.Errorf("%s did not reach the webhooks: %d", p, w.Code)
				}
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", "/static/style.css", nil))
			if got := w.Code == http.StatusOK; got != tt.dashboard {
				t.Errorf("dashboard served: %v, want %v (GET /static/style.css: %d)", got, tt.dashboard, w.Code)
			}
			if !strings.Contains(logs.String(), tt.log) {
				t.Errorf("log lacks %q:\n%s", tt.log, logs.String())
			}
			for _, tok := range []string{browserView, browserAdmin} {
				if strings.Contains(logs.String(), tok) {
					t.Error("a token reached the log")
				}
			}
		})
	}
}
