package campaign

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Templates that would make every row slow or unbounded are refused once,
// at parse time.
func TestParseTemplateRefusesRunaways(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, body, want string }{
		{"recursion", `{{template "body"}}`, `template "body" calls itself (body → body)`},
		{"recursion with data", `Hi {{.name}}{{template "body" .}}`, `calls itself`},
		{"mutual recursion", `{{define "a"}}{{template "b"}}{{end}}{{define "b"}}{{template "a"}}{{end}}{{template "a"}}`, `(a → b → a)`},
		{"cycle never called", `Hi{{define "a"}}{{template "a"}}{{end}}`, `template "a" calls itself`},
		{"block recursion", `{{block "x" .}}{{template "x" .}}{{end}}`, `calls itself`},
		{"undefined", `{{template "nope"}}`, `calls template "nope", which is not defined`},
		{"range over a number", `{{range 1000000000}}{{end}}`, `ranges over something other than the row`},
		{"range over len", `{{range len .name}}x{{end}}`, `ranges over something other than the row`},
		{"nested range", `{{range .}}{{range $}}{{end}}{{end}}`, `inside another range`},
		{"range through a template", `{{define "r"}}{{range $}}{{end}}{{end}}{{range .}}{{template "r"}}{{end}}`, `inside a range`},
		{"exponential expansion", expansion(12), `more template calls than the limit of 1000`},
	}
	for _, tt := range tests {
		start := time.Now()
		_, err := ParseTemplate(tt.body)
		if !errors.Is(err, ErrBadTemplate) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: ParseTemplate = %v; want ErrBadTemplate saying %q", tt.name, err, tt.want)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: refused after %v", tt.name, d)
		}
	}
	for _, ok := range []string{
		`Hi {{.name}}`,
		`{{define "greet"}}Hi {{.name}}{{end}}{{template "greet" .}}, {{template "greet" .}}`,
		`{{range $k, $v := .}}{{$k}}={{$v}} {{end}}`,
		`{{if .vip}}Dear {{.name}}{{else}}Hi{{end}}`,
		expansion(4),
	} {
		if _, err := ParseTemplate(ok); err != nil {
			t.Errorf("ParseTemplate(%q) = %v; want nil", ok, err)
		}
	}
}

// expansion defines n templates, each calling the one before it four
// times: 4^n calls, with no output at all.
func expansion(n int) string {
	var b strings.Builder
	b.WriteString(`{{define "t0"}}{{end}}`)
	for i := 1; i <= n; i++ {
		prev := `{{template "t` + strconv.Itoa(i-1) + `"}}`
		b.WriteString(`{{define "t` + strconv.Itoa(i) + `"}}` + strings.Repeat(prev, 4) + `{{end}}`)
	}
	b.WriteString(`{{template "t` + strconv.Itoa(n) + `"}}`)
	return b.String()
}

// A body Twilio would refuse (over 1600 characters) is an error, and
// rendering stops as soon as that is certain.
func TestRenderBoundsTheBody(t *testing.T) {
	t.Parallel()
	tm, err := ParseTemplate(`{{.a}}{{.a}}{{.a}}`)
	if err != nil {
		t.Fatal(err)
	}
	if body, err := tm.Render(map[string]string{"a": strings.Repeat("x", 533)}); err != nil || len(body) != 1599 {
		t.Errorf("1599 characters: %d, %v", len(body), err)
	}
	if _, err := tm.Render(map[string]string{"a": strings.Repeat("x", 534)}); !errors.Is(err, ErrBodyTooLong) {
		t.Errorf("1602 characters: %v; want ErrBodyTooLong", err)
	}
	// Emoji count two, as Twilio counts UTF-16.
	if _, err := tm.Render(map[string]string{"a": strings.Repeat("😀", 300)}); !errors.Is(err, ErrBodyTooLong) {
		t.Errorf("900 emoji: %v; want ErrBodyTooLong", err)
	}
	big, err := ParseTemplate(`{{range $}}{{printf "%1000000d" 1}}{{end}}`)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := big.Render(map[string]string{"a": "", "b": ""}); !errors.Is(err, ErrBodyTooLong) {
		t.Errorf("a megabyte: %v; want ErrBodyTooLong", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("a megabyte refused after %v", d)
	}
}
