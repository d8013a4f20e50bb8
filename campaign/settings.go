package campaign

import (
	"fmt"
	"net/url"
)

// Settings are changes to a campaign's settings. Nil fields are not given.
// A first import creates its campaign from them (NewCampaign); a later
// import may only repeat them (Check: an import never changes a campaign
// that may be sending).
type Settings struct {
	From             *string
	MessagingService *string
	Body             *string
	StatusCallback   *string
	Rate             *float64
	Concurrency      *int
	MaxAttempts      *int
}

// MaxConcurrency caps Concurrency: Twilio allows an account about 100
// requests in flight; more per process only earns 429s.
const MaxConcurrency = 1000

// SettingError is a campaign setting that cannot be used. Setting names it
// in lower snake case ("rate", "max_attempts"); cmd/smsblast turns that into
// the flag's name. Compare with errors.Is against ErrInvalidSetting,
// ErrSettingRequired or ErrSettingConflict.
type SettingError struct {
	Setting string
	// Problem says what is wrong and, where it helps, the fix.
	Problem string
	Err     error
}

func (e *SettingError) Error() string { return e.Setting + ": " + e.Problem }

func (e *SettingError) Unwrap() error { return e.Err }

func invalid(setting, format string, args ...any) error {
	return &SettingError{Setting: setting, Problem: fmt.Sprintf(format, args...), Err: ErrInvalidSetting}
}

// Validate checks each given setting's form, before anything is read or
// written.
func (s *Settings) Validate() error {
	if s.From != nil && s.MessagingService != nil {
		return invalid("from", "give a sender number or a Messaging Service, not both")
	}
	if s.From != nil && !IsE164(*s.From) {
		return invalid("from", "%q is not an E.164 number like +14155550100", *s.From)
	}
	if s.MessagingService != nil && !IsMessagingServiceSID(*s.MessagingService) {
		return invalid("messaging_service", "%q is not a Messaging Service SID (MG and 32 hex digits)", *s.MessagingService)
	}
	if s.Body != nil {
		if _, err := ParseTemplate(*s.Body); err != nil {
			return &SettingError{Setting: "body", Problem: err.Error(), Err: ErrInvalidSetting}
		}
	}
	if s.StatusCallback != nil {
		u, err := url.Parse(*s.StatusCallback)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return invalid("status_callback", "%q is not an http(s) URL", *s.StatusCallback)
		}
	}
	if s.Rate != nil && !(*s.Rate > 0) {
		return invalid("rate", "must be more than 0 segments per second")
	}
	if s.Concurrency != nil && (*s.Concurrency <= 0 || *s.Concurrency > MaxConcurrency) {
		return invalid("concurrency", "must be between 1 and %d", MaxConcurrency)
	}
	if s.MaxAttempts != nil && *s.MaxAttempts <= 0 {
		return invalid("max_attempts", "must be at least 1")
	}
	return nil
}

// NewCampaign builds the campaign a first import creates.
func (s *Settings) NewCampaign(name string) (*Campaign, error) {
	if s.From == nil && s.MessagingService == nil {
		return nil, &SettingError{Setting: "from", Err: ErrSettingRequired,
			Problem: fmt.Sprintf("campaign %q does not exist yet; to create it give a sender number or a Messaging Service", name)}
	}
	if s.Body == nil {
		return nil, &SettingError{Setting: "body", Err: ErrSettingRequired,
			Problem: fmt.Sprintf("campaign %q does not exist yet; to create it give the message body", name)}
	}
	c := &Campaign{Name: name, Status: StatusDraft}
	s.Apply(c)
	return c, nil
}

// Apply writes the given settings into c. Call Validate first.
func (s *Settings) Apply(c *Campaign) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	if s.From != nil {
		c.From, c.MessagingServiceSID = *s.From, ""
	}
	if s.MessagingService != nil {
		c.From, c.MessagingServiceSID = "", *s.MessagingService
	}
	set(&c.BodyTemplate, s.Body)
	set(&c.StatusCallback, s.StatusCallback)
	if s.Rate != nil {
		c.Rate = *s.Rate
	}
	if s.Concurrency != nil {
		c.Concurrency = *s.Concurrency
	}
	if s.MaxAttempts != nil {
		c.MaxAttempts = *s.MaxAttempts
	}
}

// Check refuses settings that differ from an existing campaign's.
func (s *Settings) Check(c *Campaign) error {
	conflict := func(setting string, have, want any) error {
		return &SettingError{Setting: setting, Err: ErrSettingConflict,
			Problem: fmt.Sprintf("campaign %q already has %v; an import cannot change it to %v (leave it out to append)", c.Name, have, want)}
	}
	switch {
	case s.From != nil && *s.From != c.From:
		return conflict("from", quoteOrNone(c.From), fmt.Sprintf("%q", *s.From))
	case s.MessagingService != nil && *s.MessagingService != c.MessagingServiceSID:
		return conflict("messaging_service", quoteOrNone(c.MessagingServiceSID), fmt.Sprintf("%q", *s.MessagingService))
	case s.Body != nil && *s.Body != c.BodyTemplate:
		return conflict("body", fmt.Sprintf("%q", c.BodyTemplate), fmt.Sprintf("%q", *s.Body))
	case s.StatusCallback != nil && *s.StatusCallback != c.StatusCallback:
		return conflict("status_callback", quoteOrNone(c.StatusCallback), fmt.Sprintf("%q", *s.StatusCallback))
	case s.Rate != nil && *s.Rate != c.Rate:
		have := any(c.Rate)
		if c.Rate == 0 {
			have = "no rate of its own"
		}
		return conflict("rate", have, *s.Rate)
	case s.Concurrency != nil && *s.Concurrency != c.Concurrency:
		return conflict("concurrency", c.Concurrency, *s.Concurrency)
	case s.MaxAttempts != nil && *s.MaxAttempts != c.MaxAttempts:
		return conflict("max_attempts", c.MaxAttempts, *s.MaxAttempts)
	}
	return nil
}

func quoteOrNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return fmt.Sprintf("%q", s)
}
