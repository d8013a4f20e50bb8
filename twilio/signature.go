package twilio

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
)

// SignatureHeader is the request header in which Twilio sends a webhook's signature.
const SignatureHeader = "X-Twilio-Signature"

// Signature computes the X-Twilio-Signature Twilio sends with a webhook
// (status callbacks, inbound messages): the base64 of HMAC-SHA1, keyed with
// the auth token, over fullURL (exactly as configured, query string included)
// followed by every POST parameter as name+value, sorted by name, and a
// repeated name's values in sorted order. The simulator signs its callbacks
// with it; receivers should call [ValidateSignature].
func Signature(authToken, fullURL string, params url.Values) string {
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(fullURL))
	names := make([]string, 0, len(params))
	for name := range params {
		names = append(names, name)
	}
	slices.Sort(names)
	var values []string
	for _, name := range names {
		values = append(values[:0], params[name]...)
		slices.Sort(values)
		for _, v := range values {
			mac.Write([]byte(name))
			mac.Write([]byte(v))
		}
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// ValidateSignature reports whether signature is what Twilio would send for a
// request to fullURL carrying params, signed with authToken.
//
// Twilio signs the URL as configured, but proxies and frameworks may add or
// drop a default port on the way, so the URL is also tried with the default
// port (:443 for https, :80 for http) added when absent or removed when
// present. Unlike the official SDKs it does not strip a non-default port:
// that would accept a signature made for another endpoint. The comparison is
// constant-time and both forms are always computed, so timing says nothing
// about which form, or how much of the signature, matched.
func ValidateSignature(authToken, fullURL string, params url.Values, signature string) bool {
	if signature == "" {
		return false
	}
	ok := subtle.ConstantTimeCompare([]byte(Signature(authToken, fullURL, params)), []byte(signature))
	if alt, has := alternatePortForm(fullURL); has {
		ok |= subtle.ConstantTimeCompare([]byte(Signature(authToken, alt, params)), []byte(signature))
	}
	return ok == 1
}

// alternatePortForm returns rawURL with its default port removed when it has
// one, or added when it has none. It edits the string rather than
// round-tripping through url.URL.String, which could re-encode the path or
// query and so change what was signed.
func alternatePortForm(rawURL string) (string, bool) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return "", false
	}
	var port string
	switch strings.ToLower(scheme) {
	case "https":
		port = "443"
	case "http":
		port = "80"
	default:
		return "", false
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	userinfo, hostport := "", authority
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		userinfo, hostport = authority[:at+1], authority[at+1:]
	}
	if hostport == "" {
		return "", false
	}
	// The port follows the last colon, unless that colon is inside an IPv6
	// literal such as [::1].
	host, hasPort := hostport, false
	if c := strings.LastIndexByte(hostport, ':'); c >= 0 && c > strings.LastIndexByte(hostport, ']') {
		if hostport[c+1:] != port {
			return "", false // a non-default port has no alternate form
		}
		host, hasPort = hostport[:c], true
	}
	if !hasPort {
		host += ":" + port
	}
	return scheme + "://" + userinfo + host + tail, true
}
