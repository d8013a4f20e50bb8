package twilio

import (
	"net/url"
	"testing"
)

// The example Twilio publishes in its security guide and in the official
// SDKs' request-validator tests (twilio-go client/request_validator_test.go):
// auth token 12345, this URL and these parameters.
const (
	exampleToken = "12345"
	exampleURL   = "https://mycompany.com/myapp.php?foo=1&bar=2"
)

func exampleParams(caller string) url.Values {
	return url.Values{
		"CallSid": {"CA1234567890ABCDE"},
		"Caller":  {caller},
		"Digits":  {"1234"},
		"From":    {caller},
		"To":      {"+18005551212"},
	}
}

func TestSignaturePublishedVectors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, url, caller, want string
	}{
		// twilio-go's and twilio-node 2.x docs' vector.
		{"sdk vector", exampleURL, "+14158675309", "RSOYDt4T1cUTdK1PDd93/VVr8B8="},
		// Twilio's current docs snippet (caller ...5310).
		{"docs vector", exampleURL, "+14158675310", "GvWf1cFY/Q7PnoempGyD5oXAezc="},
		// twilio-go: the same request signed with explicit ports.
		{"https :443", "https://mycompany.com:443/myapp.php?foo=1&bar=2", "+14158675309", "kvajT1Ptam85bY51eRf/AJRuM3w="},
		{"http :80", "http://mycompany.com:80/myapp.php?foo=1&bar=2", "+14158675309", "0ZXoZLH/DfblKGATFgpif+LLRf4="},
		{"http :1234", "http://mycompany.com:1234/myapp.php?foo=1&bar=2", "+14158675309", "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := exampleParams(tt.caller)
			if got := Signature(exampleToken, tt.url, p); got != tt.want {
				t.Errorf("Signature = %q, want %q", got, tt.want)
			}
			if !ValidateSignature(exampleToken, tt.url, p, tt.want) {
				t.Errorf("ValidateSignature rejected the published signature")
			}
		})
	}
}

func TestValidateSignature(t *testing.T) {
	t.Parallel()
	const (
		sdkSig      = "RSOYDt4T1cUTdK1PDd93/VVr8B8=" // exampleURL, no port
		sdkSig443   = "kvajT1Ptam85bY51eRf/AJRuM3w=" // same with :443
		sdkSigHTTP  = "0ZXoZLH/DfblKGATFgpif+LLRf4=" // http with :80
		sdkSig1234  = "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=" // http with :1234
		httpsNoPort = exampleURL
	)
	p := exampleParams("+14158675309")
	tests := []struct {
		name, token, url, sig string
		params                url.Values
		want                  bool
	}{
		{"as signed", exampleToken, httpsNoPort, sdkSig, p, true},
		{"received with :443, signed without", exampleToken, "https://mycompany.com:443/myapp.php?foo=1&bar=2", sdkSig, p, true},
		{"received without port, signed with :443", exampleToken, httpsNoPort, sdkSig443, p, true},
		{"received without port, signed with :80", exampleToken, "http://mycompany.com/myapp.php?foo=1&bar=2", sdkSigHTTP, p, true},
		{"https default port is not http's", exampleToken, "https://mycompany.com:80/myapp.php?foo=1&bar=2", sdkSig, p, false},
		{"non-default port is never stripped", exampleToken, "https://mycompany.com:1234/myapp.php?foo=1&bar=2", sdkSig, p, false},
		{"non-default port as signed", exampleToken, "http://mycompany.com:1234/myapp.php?foo=1&bar=2", sdkSig1234, p, true},
		{"wrong token", "54321", httpsNoPort, sdkSig, p, false},
		{"wrong signature", exampleToken, httpsNoPort, "WRONG SIGNATURE", p, false},
		{"empty signature", exampleToken, httpsNoPort, "", p, false},
		{"other query string", exampleToken, "https://mycompany.com/myapp.php?foo=1&bar=3", sdkSig, p, false},
		{"tampered param", exampleToken, httpsNoPort, sdkSig, exampleParams("+14158675300"), false},
		{"extra param", exampleToken, httpsNoPort, sdkSig, func() url.Values {
			q := exampleParams("+14158675309")
			q.Set("Body", "hi")
			return q
		}(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := ValidateSignature(tt.token, tt.url, tt.params, tt.sig); got != tt.want {
				t.Errorf("ValidateSignature = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSignatureRepeatedNames(t *testing.T) {
	t.Parallel()
	a := url.Values{"MediaUrl": {"b", "a", "c"}, "Body": {"x"}}
	b := url.Values{"Body": {"x"}, "MediaUrl": {"c", "b", "a"}}
	if Signature("t", "https://h/p", a) != Signature("t", "https://h/p", b) {
		t.Error("signature depends on the order of a repeated parameter's values")
	}
	// Each value counts, in sorted order: same as signing the concatenation.
	want := Signature("t", "https://h/pBodyxMediaUrlaMediaUrlbMediaUrlc", nil)
	if got := Signature("t", "https://h/p", a); got != want {
		t.Errorf("repeated names: got %q, want %q", got, want)
	}
	if a.Get("MediaUrl") != "b" {
		t.Error("Signature reordered the caller's values")
	}
}

func TestAlternatePortForm(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"https://h.example/p?q=1", "https://h.example:443/p?q=1", true},
		{"https://h.example:443/p?q=1", "https://h.example/p?q=1", true},
		{"http://h.example", "http://h.example:80", true},
		{"http://h.example:80?x=1", "http://h.example?x=1", true},
		{"https://user:pw@h.example/p", "https://user:pw@h.example:443/p", true},
		{"https://[::1]/p", "https://[::1]:443/p", true},
		{"https://[::1]:443/p", "https://[::1]/p", true},
		{"https://h.example:8443/p", "", false},
		{"ftp://h.example/p", "", false},
		{"not a url", "", false},
	}
	for _, tt := range tests {
		got, ok := alternatePortForm(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("alternatePortForm(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
