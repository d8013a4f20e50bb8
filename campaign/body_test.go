package campaign

import (
	"strings"
	"testing"
)

func TestAlwaysEmpty(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body  string
		empty bool
	}{
		{"Hi", false},
		{"{{.name}}", false},
		{"{{if false}}x{{end}}", true},
		{"{{if false}}x{{else}} {{end}}", true},
		{"{{if true}} {{else}}x{{end}}", true},
		{"{{if eq 1 2}}Hi{{end}}", true},
		{`{{if eq "a" "b"}}Hi {{.name}}{{end}}`, true},
		{"{{/* a comment */}}  {{if false}}Hi{{end}}\n", true},
		{`{{""}}{{" "}}`, true},
		{`{{$x := "Hi"}}`, true},
		{`{{$x := "Hi"}}{{$x}}`, false},
		{`{{printf "%s" ""}}`, true},
		{`{{printf "%01000000d" 1}}`, false},
		{`{{define "t"}}{{end}}{{template "t"}}`, true},
		{`{{define "t"}}Hi{{end}}{{template "t"}}`, false},
		{`{{with ""}}x{{end}}`, true},
		{`{{with "y"}}x{{end}}`, false},
		// Empty for some rows only: never refused.
		{`{{if eq .plan "gold"}}Hi{{end}}`, false},
		{`{{if .vip}}Hi{{end}}`, false},
		{`{{range .}}x{{end}}`, false},
		{`{{if false}}x{{else}}{{.name}}{{end}}`, false},
	}
	for _, tt := range tests {
		tmpl, err := ParseTemplate(tt.body)
		if err != nil {
			t.Fatalf("%q: %v", tt.body, err)
		}
		if got := tmpl.AlwaysEmpty(); got != tt.empty {
			t.Errorf("AlwaysEmpty(%q) = %v, want %v", tt.body, got, tt.empty)
		}
	}
}

// A body that renders empty for every recipient is refused as a setting,
// so import and set refuse it before anything is read or written.
func TestSettingsRefuseAlwaysEmptyBody(t *testing.T) {
	t.Parallel()
	body := "{{if false}}x{{end}}"
	s := Settings{Body: &body}
	err := s.Validate()
	if err == nil || !strings.Contains(err.Error(), "empty for every recipient") {
		t.Fatalf("Validate: %v", err)
	}
}

func TestCheckBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body     string
		segments int
		max      int
		kind     string
	}{
		{"Hi", 1, 10, ""},
		{"", 1, 10, RejectEmptyBody},
		{" \n\t", 1, 10, RejectEmptyBody},
		{strings.Repeat("a", 1600), 11, 11, ""},
		{strings.Repeat("a", 1601), 11, 24, RejectLongBody},
		{strings.Repeat("😀", 801), 24, 24, RejectLongBody}, // 1,602 UTF-16 units
		{strings.Repeat("😀", 800), 24, 24, ""},
		{strings.Repeat("a", 1000), 7, 6, RejectTooManySegments},
		{strings.Repeat("a", 1000), 7, 0, ""}, // 0: the default, 10
	}
	for _, tt := range tests {
		err := CheckBody(tt.body, tt.segments, tt.max)
		switch {
		case tt.kind == "" && err != nil:
			t.Errorf("CheckBody(%d bytes) = %v, want nil", len(tt.body), err)
		case tt.kind != "" && (err == nil || err.Kind != tt.kind):
			t.Errorf("CheckBody(%d bytes) = %v, want %s", len(tt.body), err, tt.kind)
		}
	}
	if got := CheckBody(strings.Repeat("a", 1700), 12, 10).Error(); got != "the body renders 1700 characters, over Twilio's limit of 1600 (21617)" {
		t.Errorf("message: %s", got)
	}
}
