package dashboard

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"net"
	"net/http"
	"strings"
	"time"
)

// Access control. Two tokens, both from the environment only:
//
//   - SMSBLAST_DASHBOARD_TOKEN, when set, is needed to read any page (an
//     admin's token reads too). Unset, the pages are open to whoever
//     reaches the address; serve allows that only on a loopback address
//     unless an admin token is set (serve_dashboard.go).
//   - SMSBLAST_ADMIN_TOKEN is needed for the actions, the report and the
//     phone numbers. Unset, nobody can act from the dashboard.
//
// The login form exchanges a token for a session cookie. The cookie never
// holds the token: it holds a role, the time of issue and a random nonce,
// signed with HMAC-SHA256 under a key derived from the role's token. So a
// cookie proves its holder knew the token, any number of serve processes
// with the same tokens accept each other's cookies, restarting serve keeps
// people logged in, and changing a token logs out everyone who used it.
// Tokens are compared in constant time, through their SHA-256 so their
// lengths do not leak either.
//
// CSRF: every form carries a token that is an HMAC of the session's nonce,
// checked on every POST; the login form, before any session, carries one
// tied to a random login cookie. Cookies are HttpOnly. The session cookie
// is SameSite=Lax, so that a link to a campaign pasted in a chat opens it
// logged in, while no other site's form or script can post with it; the
// login cookie, only ever needed by our own form, is SameSite=Strict.
//
// Secure cookies. Behind TLS (r.TLS, or X-Forwarded-Proto: https from a
// TLS-terminating proxy) cookies are Secure and named with the __Host-
// prefix, which browsers bind to the exact host over HTTPS. Over plain
// HTTP a Secure cookie would be dropped by browsers except on localhost, so
// plain-HTTP cookies are not Secure, and logging in over plain HTTP is
// allowed only from a loopback peer (the same machine, or a proxy on it):
// a token typed into a form is never sent in clear across a network. A
// forged X-Forwarded-Proto can only make a cookie Secure, which a plain
// HTTP browser then drops: it cannot weaken anything.

// role is what a request may do.
type role int

const (
	anonymous role = iota // must log in to read
	reader                // may read; phone numbers masked
	admin                 // may read everything and act
)

func (r role) String() string {
	switch r {
	case reader:
		return "viewer"
	case admin:
		return "admin"
	}
	return "anonymous"
}

const (
	// sessionTTL is how long a login lasts.
	sessionTTL = 12 * time.Hour
	// loginTTL is how long a login form stays usable.
	loginTTL = time.Hour
	// clockSkew tolerates sessions issued by a serve whose clock is ahead.
	clockSkew = time.Minute

	sessionCookieName = "smsblast_session"
	loginCookieName   = "smsblast_login"
	securePrefix      = "__Host-"

	nonceLen = 16
)

// auth holds the keys derived from the tokens. Immutable after newAuth;
// safe for concurrent use.
type auth struct {
	// tokenSums are the tokens' SHA-256, for constant-time comparison;
	// zero with ok false when a token is unset.
	readerSum, adminSum [sha256.Size]byte
	readerSet, adminSet bool
	// Keys for signing sessions, per role, and the login form.
	readerKey, adminKey, loginKey []byte
	now                           func() time.Time
}

func newAuth(dashboardToken, adminToken string, now func() time.Time) *auth {
	a := &auth{now: now, readerSet: dashboardToken != "", adminSet: adminToken != ""}
	if a.readerSet {
		a.readerSum = sha256.Sum256([]byte(dashboardToken))
		a.readerKey = deriveKey(dashboardToken, "session")
	}
	if a.adminSet {
		a.adminSum = sha256.Sum256([]byte(adminToken))
		a.adminKey = deriveKey(adminToken, "session")
	}
	a.loginKey = deriveKey(dashboardToken+"\x00"+adminToken, "login")
	return a
}

// deriveKey derives a signing key from a token, one per purpose, so that
// no key is the token and keys for different uses differ.
func deriveKey(token, purpose string) []byte {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("smsblast dashboard " + purpose + " v1"))
	return m.Sum(nil)
}

func sign(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

var b64 = base64.RawURLEncoding

// canLogIn reports whether there is anything to log in to.
func (a *auth) canLogIn() bool { return a.readerSet || a.adminSet }

// check compares a typed token with both tokens in constant time and
// returns the role it grants (admin first: an admin token reads too).
func (a *auth) check(typed string) role {
	sum := sha256.Sum256([]byte(typed))
	isAdmin := subtle.ConstantTimeCompare(sum[:], a.adminSum[:]) & boolInt(a.adminSet)
	isReader := subtle.ConstantTimeCompare(sum[:], a.readerSum[:]) & boolInt(a.readerSet)
	switch {
	case isAdmin == 1:
		return admin
	case isReader == 1:
		return reader
	}
	return anonymous
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (a *auth) keyFor(r role) []byte {
	switch r {
	case admin:
		return a.adminKey
	case reader:
		return a.readerKey
	}
	return nil
}

// identity is who sent a request.
type identity struct {
	role role
	// nonce and key are the session's; nil without a session.
	nonce, key []byte
	// session reports a logged-in session (so there is something to log out of).
	session bool
}

// newSession returns a cookie value for a new session with role r.
func (a *auth) newSession(r role) string {
	payload := make([]byte, 1+8+nonceLen)
	payload[0] = byte(r)
	binary.BigEndian.PutUint64(payload[1:9], uint64(a.now().Unix()))
	if _, err := rand.Read(payload[9:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return b64.EncodeToString(payload) + "." + b64.EncodeToString(sign(a.keyFor(r), []byte("session"), payload))
}

// parseSession checks a session cookie's value.
func (a *auth) parseSession(v string) (identity, bool) {
	p, m, ok := strings.Cut(v, ".")
	if !ok {
		return identity{}, false
	}
	payload, err1 := b64.DecodeString(p)
	mac, err2 := b64.DecodeString(m)
	if err1 != nil || err2 != nil || len(payload) != 1+8+nonceLen {
		return identity{}, false
	}
	r := role(payload[0])
	key := a.keyFor(r)
	if key == nil || !hmac.Equal(mac, sign(key, []byte("session"), payload)) {
		return identity{}, false
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(payload[1:9])), 0)
	if age := a.now().Sub(issued); age > sessionTTL || age < -clockSkew {
		return identity{}, false
	}
	return identity{role: r, nonce: payload[9:], key: key, session: true}, true
}

// identify tells who sent r: a valid session's role; without one, a reader
// when no dashboard token is set, else anonymous.
func (a *auth) identify(r *http.Request) identity {
	for _, name := range []string{securePrefix + sessionCookieName, sessionCookieName} {
		if c, err := r.Cookie(name); err == nil {
			if id, ok := a.parseSession(c.Value); ok {
				return id
			}
		}
	}
	if !a.readerSet {
		return identity{role: reader}
	}
	return identity{role: anonymous}
}

// csrfToken is the token the session's forms carry; empty without a session.
func (a *auth) csrfToken(id identity) string {
	if id.nonce == nil {
		return ""
	}
	return b64.EncodeToString(sign(id.key, []byte("csrf"), id.nonce))
}

// checkCSRF compares a form's token with the session's, in constant time.
func (a *auth) checkCSRF(id identity, token string) bool {
	want := a.csrfToken(id)
	return want != "" && hmac.Equal([]byte(token), []byte(want))
}

// loginNonce returns the login cookie's nonce, or a new one (fresh) when
// the cookie is missing or invalid.
func (a *auth) loginNonce(r *http.Request) (nonce string, fresh bool) {
	for _, name := range []string{securePrefix + loginCookieName, loginCookieName} {
		if c, err := r.Cookie(name); err == nil {
			if n, err := b64.DecodeString(c.Value); err == nil && len(n) == nonceLen {
				return c.Value, false
			}
		}
	}
	n := make([]byte, nonceLen)
	if _, err := rand.Read(n); err != nil {
		panic(err)
	}
	return b64.EncodeToString(n), true
}

func (a *auth) loginCSRF(nonce string) string {
	return b64.EncodeToString(sign(a.loginKey, []byte("login"), []byte(nonce)))
}

// checkLoginCSRF checks the login form's token against the login cookie.
func (a *auth) checkLoginCSRF(r *http.Request, token string) bool {
	nonce, fresh := a.loginNonce(r)
	return !fresh && hmac.Equal([]byte(token), []byte(a.loginCSRF(nonce)))
}

// isSecure reports whether the browser reached us over HTTPS: directly, or
// through a TLS-terminating proxy that says so.
func isSecure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	p, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	return strings.EqualFold(strings.TrimSpace(p), "https")
}

// loopbackPeer reports whether the connection comes from this machine.
func loopbackPeer(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// setCookie sets (or, with maxAge < 0, clears) a cookie, Secure and
// __Host- prefixed over HTTPS.
func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration, sameSite http.SameSite) {
	secure := isSecure(r)
	if secure {
		name = securePrefix + name
	}
	c := &http.Cookie{
		Name: name, Value: value, Path: "/",
		HttpOnly: true, Secure: secure, SameSite: sameSite,
	}
	if maxAge < 0 {
		c.MaxAge = -1
	} else {
		c.MaxAge = int(maxAge / time.Second)
	}
	http.SetCookie(w, c)
}
