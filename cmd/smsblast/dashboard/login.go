package dashboard

import (
	"net/http"
	"strings"
)

// loginData is the data of login.html.
type loginData struct {
	page
	LoginCSRF string
	// Wrong says the last token typed matched neither token.
	Wrong bool
	// Insecure says the form may not be used from here (plain HTTP from
	// another machine).
	Insecure bool
}

// safeNext keeps a post-login redirect on this site: a path, never a URL
// ("//evil.example" is a URL to a browser).
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.ContainsAny(next, "\r\n") {
		return "/"
	}
	return next
}

// loginAllowed: over HTTPS, or from this machine. A token typed into a form
// must not cross a network in clear.
func loginAllowed(r *http.Request) bool { return isSecure(r) || loopbackPeer(r) }

func (d *Dashboard) loginPage(w http.ResponseWriter, r *http.Request) {
	id := d.auth.identify(r)
	next := safeNext(r.URL.Query().Get("next"))
	if !d.auth.canLogIn() {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	d.renderLogin(w, r, id, http.StatusOK, next, false)
}

func (d *Dashboard) renderLogin(w http.ResponseWriter, r *http.Request, id identity, status int, next string, wrong bool) {
	nonce, fresh := d.auth.loginNonce(r)
	if fresh {
		setCookie(w, r, loginCookieName, nonce, loginTTL, http.SameSiteStrictMode)
	}
	p := d.page(r, id, "Log in")
	p.Next = next
	p.CanLogIn = false // this is the login page
	data := loginData{page: p, LoginCSRF: d.auth.loginCSRF(nonce), Wrong: wrong, Insecure: !loginAllowed(r)}
	d.render(w, r, status, "login", data)
}

func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	id := d.auth.identify(r)
	if err := r.ParseForm(); err != nil {
		d.fail(w, r, id, http.StatusBadRequest, "The form could not be read.")
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	switch {
	case !d.auth.canLogIn():
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	case !loginAllowed(r):
		d.refuse(w, r, id, "login over plain HTTP from another machine")
		return
	case !d.auth.checkLoginCSRF(r, r.PostForm.Get("csrf")):
		d.refuse(w, r, id, "login without a valid CSRF token")
		return
	}
	role := d.auth.check(r.PostForm.Get("token"))
	if role == anonymous {
		d.cfg.Log.Warn("dashboard: login failed", "remote", r.RemoteAddr)
		d.renderLogin(w, r, id, http.StatusUnauthorized, next, true)
		return
	}
	d.cfg.Log.Info("dashboard: login", "role", role.String(), "remote", r.RemoteAddr)
	setCookie(w, r, sessionCookieName, d.auth.newSession(role), sessionTTL, http.SameSiteLaxMode)
	setCookie(w, r, loginCookieName, "", -1, http.SameSiteStrictMode)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	id := d.auth.identify(r)
	if err := r.ParseForm(); err != nil || !d.auth.checkCSRF(id, r.PostForm.Get("csrf")) {
		d.refuse(w, r, id, "logout without a valid CSRF token")
		return
	}
	setCookie(w, r, sessionCookieName, "", -1, http.SameSiteLaxMode)
	d.cfg.Log.Info("dashboard: logout", "role", id.role.String(), "remote", r.RemoteAddr)
	target := "/"
	if d.auth.readerSet {
		target = "/login"
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}
