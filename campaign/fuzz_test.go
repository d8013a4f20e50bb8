package campaign

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzTemplate: any body either is refused at parse time or renders a row
// quickly, to a body within Twilio's limit or to an error; never a panic.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{
		"Hi {{.first_name}}", `{{template "body"}}`, `{{range 1000}}x{{end}}`, `{{range $}}{{.}}{{end}}`,
		`{{define "a"}}{{.name}}{{end}}{{template "a" .}}{{template "a" .}}`, `{{printf "%1000000d" 1}}`,
		`{{if .vip}}Dear{{else}}Hi{{end}} {{.name | printf "%.3s"}}`, `{{block "b" .}}{{len .name}}{{end}}`,
		`{{range $k, $v := .}}{{$k}}={{$v}};{{end}}`, `{{call .name}}`, `{{index . "first_name"}}`, "{{/* c */}}",
	} {
		f.Add(s)
	}
	attrs := map[string]string{"first_name": "Ann", "name": "Ann Lee", "vip": "yes", "city": strings.Repeat("é", 300)}
	f.Fuzz(func(t *testing.T, body string) {
		tm, err := ParseTemplate(body)
		if err != nil {
			return
		}
		for i := 1; i < len(tm.Fields()); i++ {
			if tm.Fields()[i-1] >= tm.Fields()[i] {
				t.Fatalf("fields not sorted: %q", tm.Fields())
			}
		}
		start := time.Now()
		out, err := tm.Render(attrs)
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("rendering %q took %v", body, d)
		}
		if err == nil && utf16Len(out) > MaxBodyLength {
			t.Fatalf("rendered %d characters", utf16Len(out))
		}
	})
}

// FuzzName: what ValidateName accepts prints as it is; Printable never
// lets a control, separator or bidirectional character through, and
// QuoteShort stays short.
func FuzzName(f *testing.F) {
	for _, s := range []string{"spring-sale", "", " x", "a\x1bb", "\u202eevil", "\xff", strings.Repeat("x", 101), "日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := Printable(s)
		if ValidateName(s) == nil && p != s {
			t.Fatalf("valid name %q prints as %q", s, p)
		}
		if !utf8.ValidString(p) {
			t.Fatalf("Printable(%q) = %q is not UTF-8", s, p)
		}
		for _, r := range p {
			if unprintable(r) {
				t.Fatalf("Printable(%q) = %q keeps %U", s, p, r)
			}
		}
		if q := QuoteShort(s, 40); utf8.RuneCountInString(q) > 40*10+40 {
			t.Fatalf("QuoteShort(%q) is %d long", s, len(q))
		}
	})
}
