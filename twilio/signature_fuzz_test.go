package twilio

import (
	"net/url"
	"testing"
)

// FuzzValidateSignature: a webhook signed with the token validates, under
// any URL and any form; one signed with another token, for another URL or
// with a parameter changed does not; never a panic.
func FuzzValidateSignature(f *testing.F) {
	f.Add("token", "https://sms.example.com/twilio/status", "MessageSid=SM1&MessageStatus=delivered", "X")
	f.Add("", "http://host:80/p?q=1", "a=1&a=2&b=", "")
	f.Add("t", "https://h:443", "Body=STOP&From=%2B14155550100", "AAAA")
	f.Fuzz(func(t *testing.T, token, fullURL, body, forged string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		sig := Signature(token, fullURL, form)
		if !ValidateSignature(token, fullURL, form, sig) {
			t.Fatalf("own signature refused: %q %q %v", token, fullURL, form)
		}
		if forged != sig && ValidateSignature(token, fullURL, form, forged) {
			t.Fatalf("forged signature %q accepted", forged)
		}
		if ValidateSignature(token+"x", fullURL, form, sig) {
			t.Fatal("accepted under another token")
		}
		changed := url.Values{}
		for k, v := range form {
			changed[k] = v
		}
		changed.Add("Injected", "1")
		if ValidateSignature(token, fullURL, changed, sig) {
			t.Fatal("accepted with a parameter added")
		}
		if _, alt := alternatePortForm(fullURL); !alt && ValidateSignature(token, fullURL+"/x", form, sig) {
			t.Fatal("accepted for another URL")
		}
	})
}
