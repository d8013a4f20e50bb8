package dashboard

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const (
	testViewToken  = "view-0123456789abcdef0123456789abcdef"
	testAdminToken = "admin-0123456789abcdef0123456789abcdef"
)

func TestCheckToken(t *testing.T) {
	t.Parallel()
	a := newAuth(testViewToken, testAdminToken, time.Now)
	tests := []struct {
		typed string
		want  role
	}{
		{testAdminToken, admin},
		{testViewToken, reader},
		{"", anonymous},
		{testAdminToken + " ", anonymous},
		{testAdminToken[:len(testAdminToken)-1], anonymous},
	}
	for _, tt := range tests {
		if got := a.check(tt.typed); got != tt.want {
			t.Errorf("check(%q) = %v, want %v", tt.typed, got, tt.want)
		}
	}
	// An unset token is never matched, not even by an empty string.
	if got := newAuth("", testAdminToken, time.Now).check(""); got != anonymous {
		t.Errorf("empty input with no dashboard token: %v", got)
	}
}

// A session cookie carries a role and proves its holder knew that role's
// token; it holds no token, cannot be altered or promoted, and expires.
func TestSessionCookie(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Unix(2e9, 0)}
	a := newAuth(testViewToken, testAdminToken, clock.now)
	v := a.newSession(reader)
	if strings.Contains(v, testViewToken) || strings.Contains(v, testAdminToken) {
		t.Fatalf("session cookie %q holds a token", v)
	}
	id, ok := a.parseSession(v)
	if !ok || id.role != reader || !id.session {
		t.Fatalf("parse own session: %+v, %v", id, ok)
	}
	// Promote the role byte to admin: the signature no longer matches.
	payload, mac, _ := strings.Cut(v, ".")
	raw, _ := b64.DecodeString(payload)
	raw[0] = byte(admin)
	if _, ok := a.parseSession(b64.EncodeToString(raw) + "." + mac); ok {
		t.Error("a reader's session promoted to admin was accepted")
	}
	// Another server with another admin token does not accept it, and a
	// changed dashboard token logs readers out.
	if _, ok := newAuth("other-token-0123456789", testAdminToken, clock.now).parseSession(v); ok {
		t.Error("a session survived a change of the dashboard token")
	}
	for _, bad := range []string{"", ".", "x.y", v + "x", strings.Replace(v, ".", "", 1)} {
		if _, ok := a.parseSession(bad); ok {
			t.Errorf("parseSession(%q) accepted", bad)
		}
	}
	clock.advance(sessionTTL + time.Second)
	if _, ok := a.parseSession(v); ok {
		t.Error("an expired session was accepted")
	}
}

// CSRF tokens belong to one session.
func TestCSRF(t *testing.T) {
	t.Parallel()
	a := newAuth(testViewToken, testAdminToken, time.Now)
	s1, _ := a.parseSession(a.newSession(admin))
	s2, _ := a.parseSession(a.newSession(admin))
	tok := a.csrfToken(s1)
	if tok == "" || !a.checkCSRF(s1, tok) {
		t.Fatal("a session's own CSRF token is refused")
	}
	if a.checkCSRF(s2, tok) {
		t.Error("another session's CSRF token is accepted")
	}
	if a.checkCSRF(s1, "") || a.checkCSRF(identity{role: reader}, "") {
		t.Error("an empty CSRF token is accepted")
	}
}

func TestSetCookieSecurity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tls    bool
		proto  string
		secure bool
	}{
		{"plain http", false, "", false},
		{"behind a TLS proxy", false, "https", true},
		{"TLS", true, "", true},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "http://127.0.0.1/", nil)
		if tt.proto != "" {
			r.Header.Set("X-Forwarded-Proto", tt.proto)
		}
		if tt.tls {
			r = httptest.NewRequest("GET", "https://127.0.0.1/", nil)
		}
		w := httptest.NewRecorder()
		setCookie(w, r, sessionCookieName, "v", time.Hour, http.SameSiteLaxMode)
		c := w.Result().Cookies()[0]
		wantName := sessionCookieName
		if tt.secure {
			wantName = securePrefix + sessionCookieName
		}
		if c.Name != wantName || c.Secure != tt.secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
			t.Errorf("%s: cookie %+v", tt.name, c)
		}
	}
}

func TestSafeNext(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/campaigns/3": "/campaigns/3", "": "/", "//evil.example/": "/", "https://evil.example/": "/",
		"/\\evil.example": "/", "campaigns": "/", "/x\r\nSet-Cookie: a=b": "/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMaskPhone(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"+14155550123": "+14•••••••23", "+447700900123": "+44••••••••23", "+123": "••••",
	} {
		if got := maskPhone(in); got != want {
			t.Errorf("maskPhone(%q) = %q, want %q", in, got, want)
		}
	}
}
