package twilio

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// gsmAlphabet is the GSM 03.38 default alphabet written out row by row
// (ESC left out), and gsmExtension the characters the segment rules of
// shared/twilio.md count twice: an independent statement of what GSM-7
// carries, for checking the code's tables against.
const (
	gsmAlphabet = "@£$¥èéùìòÇ\nØø\rÅå" +
		"Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ" +
		" !\"#¤%&'()*+,-./" +
		"0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§" +
		"¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsmExtension = "\f^{}\\[~]|€"
)

func inGSM(r rune) bool {
	return strings.ContainsRune(gsmAlphabet, r) || strings.ContainsRune(gsmExtension, r)
}

// Every character SmartEncode replaces is one GSM-7 lacks, and every
// replacement is GSM-7 through and through: so smart encoding never
// touches a GSM-7 body and never leaves a replaced character needing UCS-2.
func TestLookalikesAgainstTheGSMAlphabet(t *testing.T) {
	t.Parallel()
	if n := utf8.RuneCountInString(gsmAlphabet); n != 127 {
		t.Fatalf("the written-out alphabet has %d characters, want 127 (128 less ESC)", n)
	}
	for r, s := range lookalikes {
		if inGSM(r) {
			t.Errorf("%U %q is GSM-7 already: smart encoding must not replace it", r, r)
		}
		for _, c := range s {
			if !inGSM(c) {
				t.Errorf("%U %q is replaced by %q, whose %q is not GSM-7", r, r, s, c)
			}
		}
		if n, enc := Segments(SmartEncode("a" + string(r) + "b")); enc != GSM7 || n != 1 {
			t.Errorf("%U %q smart-encoded: %d segments %v, want 1 GSM-7", r, r, n, enc)
		}
	}
}

// The segment counter's tables agree with the written-out alphabet over
// the whole Basic Multilingual Plane.
func TestGSMCostAgreesWithTheAlphabet(t *testing.T) {
	t.Parallel()
	for r := rune(0); r < 0x10000; r++ {
		want := 0
		switch {
		case strings.ContainsRune(gsmExtension, r):
			want = 2
		case strings.ContainsRune(gsmAlphabet, r):
			want = 1
		}
		if got := gsmCost(r); got != want {
			t.Errorf("gsmCost(%U %q) = %d, want %d", r, r, got, want)
		}
		if IsGSM7(r) != (want > 0) {
			t.Errorf("IsGSM7(%U) = %v", r, IsGSM7(r))
		}
	}
}

func TestSmartEncode(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain GSM-7 text, untouched: {€}", "plain GSM-7 text, untouched: {€}"},
		{"“Hi Ann” — it’s 50% off…", `"Hi Ann" - it's 50% off...`},
		{"a\u00a0b\u2009c\td", "a b c d"},
		{"zero\u200bwidth\ufeff", "zerowidth"},
		{"`code`", "'code'"},
		{"emoji stay 😀 and so does the curly ’ around them", "emoji stay 😀 and so does the curly ' around them"},
		{"Привет “друг”", `Привет "друг"`},
		{"invalid \xff byte, kept", "invalid \xff byte, kept"},
		{"invalid \xff byte … kept", "invalid \xff byte ... kept"},
	}
	for _, tt := range tests {
		if got := SmartEncode(tt.in); got != tt.want {
			t.Errorf("SmartEncode(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// A curly-quoted body drops from UCS-2 to GSM-7, and from 3 segments to 1.
	body := "Hi Ann, it’s “spring” — 20% off everything in store today… Reply STOP to opt out. " +
		"Valid at all our shops until Sunday, while stocks last."
	if n, enc := Segments(body); enc != UCS2 || n != 3 {
		t.Fatalf("curly body: %d %v, want 3 UCS-2", n, enc)
	}
	if n, enc := Segments(SmartEncode(body)); enc != GSM7 || n != 1 {
		t.Errorf("smart-encoded: %d %v, want 1 GSM-7", n, enc)
	}
}

func TestSmartEncodeAllocationFree(t *testing.T) {
	body := "Hi Ann, your appointment at Main St Clinic is tomorrow at 10:00. Reply STOP to opt out. €"
	if n := testing.AllocsPerRun(100, func() { SmartEncode(body) }); n != 0 {
		t.Errorf("SmartEncode of a GSM-7 body allocates %v times", n)
	}
}
