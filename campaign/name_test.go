package campaign

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{
		"spring-sale", "Spring Sale 2026", "o'brien; DROP TABLE campaigns; --", "été 🎉", "日本語のキャンペーン",
		strings.Repeat("é", MaxNameLength),
	} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("ValidateName(%q) = %v; want nil", ok, err)
		}
	}
	tests := []struct{ name, want string }{
		{"", "it is empty"},
		{"   ", "is only white space"},
		{"\t", "is only white space"},
		{" spring", "starts or ends with white space"},
		{"spring\n", "starts or ends with white space"},
		{strings.Repeat("x", 100*1024), "is 102400 characters long; the limit is 100"},
		{"red\x1b[31malert", "U+001B"},
		{"two\nlines", "U+000A"},
		{"nul\x00", "U+0000"},
		{"evil\u202egnp.exe", "U+202E"},
		{"sep\u2028arated", "U+2028"},
		{"bad\xffutf8", "is not valid UTF-8"},
	}
	for _, tt := range tests {
		err := ValidateName(tt.name)
		if !errors.Is(err, ErrInvalidName) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ValidateName(%.30q) = %v; want ErrInvalidName saying %q", tt.name, err, tt.want)
		}
		if err != nil && len(err.Error()) > 200 {
			t.Errorf("ValidateName(%.30q): a %d-byte message", tt.name, len(err.Error()))
		}
	}
}

func TestPrintable(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"plain name", "plain name"},
		{"été 🎉", "été 🎉"},
		{"red\x1b[31m", `red\x1b[31m`},
		{"a\nb\tc", `a\nb\tc`},
		{"rtl\u202eoverride", `rtl\u202eoverride`},
		{"bad\xffbyte", `bad\xffbyte`},
	}
	for _, tt := range tests {
		if got := Printable(tt.in); got != tt.want {
			t.Errorf("Printable(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestQuoteShort(t *testing.T) {
	t.Parallel()
	if got := QuoteShort("short", 10); got != `"short"` {
		t.Errorf("QuoteShort = %s", got)
	}
	if got := QuoteShort(strings.Repeat("é", 50), 3); got != `"ééé"… (100 bytes)` {
		t.Errorf("QuoteShort = %s", got)
	}
}

func TestValidateText(t *testing.T) {
	t.Parallel()
	if err := ValidateText("wrong list, see ticket #42", MaxReasonLength); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"esc\x1b[2J", strings.Repeat("x", MaxReasonLength+1), "\xff"} {
		if err := ValidateText(bad, MaxReasonLength); err == nil {
			t.Errorf("ValidateText(%.20q) = nil", bad)
		}
	}
}
