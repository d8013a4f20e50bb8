package campaign

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// Settings refuse what can only be a slip, naming the setting.
func TestSettingsValidateBounds(t *testing.T) {
	t.Parallel()
	f := func(v float64) *float64 { return &v }
	i := func(v int) *int { return &v }
	s := func(v string) *string { return &v }
	tests := []struct {
		name    string
		s       Settings
		setting string
	}{
		{"NaN rate", Settings{Rate: f(math.NaN())}, "rate"},
		{"infinite rate", Settings{Rate: f(math.Inf(1))}, "rate"},
		{"negative infinite rate", Settings{Rate: f(math.Inf(-1))}, "rate"},
		{"huge rate", Settings{Rate: f(1e308)}, "rate"},
		{"tiny rate", Settings{Rate: f(1e-300)}, "rate"},
		{"zero rate", Settings{Rate: f(0)}, "rate"},
		{"huge concurrency", Settings{Concurrency: i(99999999999)}, "concurrency"},
		{"zero concurrency", Settings{Concurrency: i(0)}, "concurrency"},
		{"huge max attempts", Settings{MaxAttempts: i(99999999999)}, "max_attempts"},
		{"huge body", Settings{Body: s(strings.Repeat("x", MaxBodyTemplate+1))}, "body"},
		{"recursive body", Settings{Body: s(`{{template "body"}}`)}, "body"},
		{"huge callback", Settings{StatusCallback: s("https://x/" + strings.Repeat("a", MaxStatusCallback))}, "status_callback"},
		{"sender not E.164", Settings{From: []string{"+1 415 555 0100"}}, "from"},
	}
	for _, tt := range tests {
		var se *SettingError
		err := tt.s.Validate()
		if !errors.As(err, &se) || se.Setting != tt.setting || !errors.Is(err, ErrInvalidSetting) {
			t.Errorf("%s: Validate() = %v; want an invalid %s", tt.name, err, tt.setting)
		}
		if err != nil && len(err.Error()) > 300 {
			t.Errorf("%s: a %d-byte message", tt.name, len(err.Error()))
		}
	}
	ok := Settings{Rate: f(MinRate), Concurrency: i(MaxConcurrency), MaxAttempts: i(MaxAttemptsLimit), Body: s("Hi {{.name}}")}
	if err := ok.Validate(); err != nil {
		t.Errorf("bounds themselves: %v", err)
	}
	if err := (&Settings{Rate: f(MaxRate)}).Validate(); err != nil {
		t.Errorf("MaxRate: %v", err)
	}
}
