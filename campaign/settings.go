package campaign

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Settings are changes to a campaign's settings. Nil fields are not given.
// A first import creates its campaign from them (NewCampaign); a later
// import may only repeat them (Check: an import never changes a campaign
// that may be sending); `smsblast set` changes them (Change).
type Settings struct {
	// From is the sender number, or a pool of numbers (From[0] first), in
	// E.164 (package phone checks that each exists); MessagingService an
	// MG… SID. One of them, not both.
	From             []string
	MessagingService *string
	// Body is the template, at most MaxBodyTemplate bytes.
	Body *string
	// StatusCallback is an http(s) URL of at most MaxStatusCallback bytes.
	StatusCallback *string
	// Rate is in segments per second, from MinRate to MaxRate.
	Rate *float64
	// Concurrency is from 1 to MaxConcurrency.
	Concurrency *int
	// MaxAttempts is from 1 to MaxAttemptsLimit.
	MaxAttempts *int
	// Validity is how long Twilio may keep a message queued before it gives
	// up (ValidityPeriod, whole seconds from 1 s to 10 h).
	Validity *time.Duration
	Geomatch *bool
	// StartAt and StopAt bound when anything is sent (zero: unbounded).
	StartAt, StopAt *time.Time
	// TZ is the zone times were written in; WindowTZ the window's zone for
	// numbers without one (IANA names).
	TZ, WindowTZ *string
	// Window is when recipients may be texted, in their local time.
	Window *Window
	// BudgetSegments and Budget bound what the campaign spends, in
	// segments and in money at Prices (0 removes a limit).
	BudgetSegments *int64
	Budget         *float64
	// Prices are the campaign's prices by destination country, which a
	// budget in money needs.
	Prices Prices
	// Frequency caps how often any campaign may have texted a recipient
	// (Count 0 removes the cap).
	Frequency *FrequencyCap
	// SmartEncode replaces typographic characters with GSM-7 look-alikes
	// before counting and sending (twilio.SmartEncode).
	SmartEncode *bool
	// MaxSegments is the most segments one rendered body may take; more
	// is a rejected row at import.
	MaxSegments *int
}

// Bounds of the settings, as Validate checks them. They refuse what can
// only be a slip (a rate of 1e308, 100,000 requests in flight) and keep
// every value inside what the database columns hold.
const (
	// MinRate and MaxRate bound Rate, in segments per second: from one
	// segment every 100 seconds to ten thousand a second, beyond the
	// throughput Twilio sells any account.
	MinRate = 0.01
	MaxRate = 10000
	// MaxConcurrency caps Concurrency: Twilio allows an account about
	// AccountConcurrency requests in flight; more per process only earns 429s.
	MaxConcurrency = 1000
	// MaxAttemptsLimit caps MaxAttempts.
	MaxAttemptsLimit = 100
	// MaxBodyTemplate caps the body template, in bytes: a body is at most
	// MaxBodyLength characters once rendered.
	MaxBodyTemplate = 10000
	// MaxStatusCallback caps the status callback URL, in bytes.
	MaxStatusCallback = 2000
	// MaxBudgetSegments, MinBudget and MaxBudget bound the budgets, beyond
	// which a figure can only be a slip: ten billion segments, an amount
	// from a hundredth to a trillion of the prices' currency.
	MaxBudgetSegments = 10_000_000_000
	MinBudget         = 0.01
	MaxBudget         = 1_000_000_000_000
	// MaxPool caps the numbers of a pool.
	MaxPool = 1000
	// MaxValidity is Twilio's longest ValidityPeriod.
	MaxValidity = 10 * time.Hour
)

// AccountConcurrency is about how many requests Twilio lets one account
// have in flight; more are answered 429. A concurrency above it is allowed
// (Twilio may have raised an account's limit) but worth a warning.
const AccountConcurrency = 100

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

// Empty reports whether no setting is given.
func (s *Settings) Empty() bool {
	return s.From == nil && s.MessagingService == nil && s.Body == nil && s.StatusCallback == nil &&
		s.Rate == nil && s.Concurrency == nil && s.MaxAttempts == nil && s.Validity == nil && s.Geomatch == nil &&
		s.StartAt == nil && s.StopAt == nil && s.TZ == nil && s.WindowTZ == nil && s.Window == nil &&
		s.BudgetSegments == nil && s.Budget == nil && s.Prices == nil && s.Frequency == nil &&
		s.SmartEncode == nil && s.MaxSegments == nil
}

// Validate checks each given setting's form, before anything is read or
// written.
func (s *Settings) Validate() error {
	if s.From != nil && s.MessagingService != nil {
		return invalid("from", "give a sender number or a Messaging Service, not both")
	}
	if s.From != nil {
		if len(s.From) == 0 {
			return invalid("from", "give at least one number")
		}
		if len(s.From) > MaxPool {
			return invalid("from", "a pool has at most %d numbers, not %d", MaxPool, len(s.From))
		}
		for i, n := range s.From {
			if !IsE164(n) {
				return invalid("from", "%s is not an E.164 number like +14155550100", QuoteShort(n, 40))
			}
			if slices.Contains(s.From[:i], n) {
				return invalid("from", "%s is in the pool twice", n)
			}
		}
	}
	if s.MessagingService != nil && !IsMessagingServiceSID(*s.MessagingService) {
		return invalid("messaging_service", "%s is not a Messaging Service SID (MG and 32 hex digits)", QuoteShort(*s.MessagingService, 40))
	}
	if s.Body != nil && len(*s.Body) > MaxBodyTemplate {
		return invalid("body", "is %d bytes long; the limit is %d (a message is at most %d characters)", len(*s.Body), MaxBodyTemplate, MaxBodyLength)
	}
	if s.Body != nil {
		t, err := ParseTemplate(*s.Body)
		if err != nil {
			return &SettingError{Setting: "body", Problem: err.Error(), Err: ErrInvalidSetting}
		}
		if t.AlwaysEmpty() {
			return invalid("body", "%q renders empty for every recipient, and Twilio refuses empty messages", *s.Body)
		}
	}
	if m := s.MaxSegments; m != nil && (*m < 1 || *m > MaxMaxSegments) {
		return invalid("max_segments", "must be from 1 to %d (a body of %d characters takes at most %d segments), not %d",
			MaxMaxSegments, MaxBodyLength, MaxMaxSegments, *m)
	}
	if s.StatusCallback != nil {
		if len(*s.StatusCallback) > MaxStatusCallback {
			return invalid("status_callback", "is %d bytes long; the limit is %d", len(*s.StatusCallback), MaxStatusCallback)
		}
		u, err := url.Parse(*s.StatusCallback)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return invalid("status_callback", "%s is not an http(s) URL", QuoteShort(*s.StatusCallback, 60))
		}
	}
	// Written so that NaN fails too: every comparison with NaN is false.
	if s.Rate != nil && !(*s.Rate >= MinRate && *s.Rate <= MaxRate) {
		return invalid("rate", "%v is not a rate: give segments per second from %v to %v", *s.Rate, MinRate, MaxRate)
	}
	if s.Concurrency != nil && (*s.Concurrency <= 0 || *s.Concurrency > MaxConcurrency) {
		return invalid("concurrency", "%d is not between 1 and %d", *s.Concurrency, MaxConcurrency)
	}
	if s.MaxAttempts != nil && (*s.MaxAttempts <= 0 || *s.MaxAttempts > MaxAttemptsLimit) {
		return invalid("max_attempts", "%d is not between 1 and %d", *s.MaxAttempts, MaxAttemptsLimit)
	}
	if v := s.Validity; v != nil && (*v < time.Second || *v > MaxValidity || *v%time.Second != 0) {
		return invalid("validity", "must be whole seconds from 1s to %v (Twilio's ValidityPeriod), not %v", MaxValidity, *v)
	}
	for setting, z := range map[string]*string{"tz": s.TZ, "window_tz": s.WindowTZ} {
		if z == nil {
			continue
		}
		if _, err := LoadZone(*z); err != nil || *z == "" || *z == "Local" {
			return invalid(setting, "%q is not an IANA time zone like America/New_York", *z)
		}
	}
	if b := s.BudgetSegments; b != nil && (*b < 0 || *b > MaxBudgetSegments) {
		return invalid("budget_segments", "must be 0 (no limit) or up to %d, not %d", int64(MaxBudgetSegments), *b)
	}
	// Written so that NaN fails too; a budget smaller than a cent is a slip.
	if b := s.Budget; b != nil && *b != 0 && !(*b >= MinBudget && *b <= MaxBudget) {
		return invalid("budget", "must be 0 (no limit) or an amount from %v to %v, not %v", MinBudget, float64(MaxBudget), *b)
	}
	for country, p := range s.Prices {
		if (len(country) != 2 && country != "*") || p.PerSegment < 0 || p.PerSegment != p.PerSegment || len(p.Currency) != 3 {
			return invalid("prices", "%s: %v %s is not a country, a price per segment and a currency", country, p.PerSegment, p.Currency)
		}
		if p.Currency != s.Prices.Currency() {
			return invalid("prices", "prices must share one currency, not %s and %s", p.Currency, s.Prices.Currency())
		}
	}
	if s.StartAt != nil && s.StopAt != nil && !s.StartAt.IsZero() && !s.StopAt.IsZero() && !s.StopAt.After(*s.StartAt) {
		return invalid("stop_at", "%s is not after the start, %s", s.StopAt.Format(time.RFC3339), s.StartAt.Format(time.RFC3339))
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
	c := &Campaign{Name: name, Status: StatusDraft, Window: DefaultWindow, MaxSegments: DefaultMaxSegments}
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
		c.From, c.Pool, c.MessagingServiceSID = s.From[0], nil, ""
		if len(s.From) > 1 {
			c.Pool = slices.Clone(s.From)
		}
	}
	if s.MessagingService != nil {
		c.From, c.Pool, c.MessagingServiceSID = "", nil, *s.MessagingService
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
	if s.Validity != nil {
		c.ValidityPeriod = int(*s.Validity / time.Second)
	}
	if s.Geomatch != nil {
		c.Geomatch = *s.Geomatch
	}
	if s.StartAt != nil {
		c.StartAt = *s.StartAt
	}
	if s.StopAt != nil {
		c.StopAt = *s.StopAt
	}
	set(&c.TZ, s.TZ)
	set(&c.WindowTZ, s.WindowTZ)
	if s.Window != nil {
		c.Window = *s.Window
	}
	if s.BudgetSegments != nil {
		c.BudgetSegments = *s.BudgetSegments
	}
	if s.Budget != nil {
		c.BudgetAmount = *s.Budget
	}
	if s.Frequency != nil {
		c.Frequency = *s.Frequency
	}
	if s.SmartEncode != nil {
		c.SmartEncode = *s.SmartEncode
	}
	if s.MaxSegments != nil {
		c.MaxSegments = *s.MaxSegments
	}
}

// Check refuses settings that differ from an existing campaign's.
func (s *Settings) Check(c *Campaign) error {
	conflict := func(setting string, have, want any) error {
		return &SettingError{Setting: setting, Err: ErrSettingConflict,
			Problem: fmt.Sprintf("campaign %q already has %v; an import cannot change it to %v (leave it out to append, or use smsblast set)", c.Name, have, want)}
	}
	switch {
	case s.From != nil && (c.From == "" || !slices.Equal(s.From, c.Senders())):
		return conflict("from", quoteOrNone(strings.Join(nonEmpty(c.From, c.Pool), ",")), fmt.Sprintf("%q", strings.Join(s.From, ",")))
	case s.MessagingService != nil && *s.MessagingService != c.MessagingServiceSID:
		return conflict("messaging_service", quoteOrNone(c.MessagingServiceSID), fmt.Sprintf("%q", *s.MessagingService))
	case s.Body != nil && *s.Body != c.BodyTemplate:
		return conflict("body", QuoteShort(c.BodyTemplate, 80), QuoteShort(*s.Body, 80))
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
	case s.Validity != nil && int(*s.Validity/time.Second) != c.ValidityPeriod:
		return conflict("validity", time.Duration(c.ValidityPeriod)*time.Second, *s.Validity)
	case s.Geomatch != nil && *s.Geomatch != c.Geomatch:
		return conflict("geomatch", c.Geomatch, *s.Geomatch)
	case s.StartAt != nil && !s.StartAt.Equal(c.StartAt):
		return conflict("start_at", timeOrNone(c.StartAt), timeOrNone(*s.StartAt))
	case s.StopAt != nil && !s.StopAt.Equal(c.StopAt):
		return conflict("stop_at", timeOrNone(c.StopAt), timeOrNone(*s.StopAt))
	case s.Window != nil && *s.Window != c.Window:
		return conflict("send_window", c.Window, *s.Window)
	case s.WindowTZ != nil && *s.WindowTZ != c.WindowTZ:
		return conflict("window_tz", quoteOrNone(c.WindowTZ), fmt.Sprintf("%q", *s.WindowTZ))
	case s.BudgetSegments != nil && *s.BudgetSegments != c.BudgetSegments:
		return conflict("budget_segments", c.BudgetSegments, *s.BudgetSegments)
	case s.Budget != nil && *s.Budget != c.BudgetAmount:
		return conflict("budget", c.BudgetAmount, *s.Budget)
	case s.Frequency != nil && *s.Frequency != c.Frequency:
		return conflict("frequency_cap", c.Frequency, *s.Frequency)
	case s.SmartEncode != nil && *s.SmartEncode != c.SmartEncode:
		return conflict("smart_encode", c.SmartEncode, *s.SmartEncode)
	case s.MaxSegments != nil && *s.MaxSegments != c.MaxSegments:
		return conflict("max_segments", c.MaxSegments, *s.MaxSegments)
	}
	return nil
}

func timeOrNone(t time.Time) string {
	if t.IsZero() {
		return "(none)"
	}
	return t.Format(time.RFC3339)
}

// Change applies settings to an existing campaign, as `smsblast set` does,
// refusing what would break a campaign that has started: once any recipient
// was claimed its body and its kind of sender (numbers or a Messaging
// Service) stay, because reconciling an attempt in doubt compares Twilio's
// messages with the body and sender it was sent with. A pool's numbers may
// change at any time: each recipient keeps the number it was sent from, and
// those of a removed number move to another. A completed or canceled
// campaign takes no changes, and a stop time cannot be set in the past.
// started says whether any recipient was claimed.
func (s *Settings) Change(c *Campaign, started bool, now time.Time) error {
	switch c.Status {
	case StatusCompleted, StatusCanceled:
		return fmt.Errorf("change campaign %q: %w", c.Name, statusErr(c.Status))
	}
	if s.StopAt != nil && !s.StopAt.IsZero() && !s.StopAt.After(now) {
		return &SettingError{Setting: "stop_at", Err: ErrInvalidSetting,
			Problem: fmt.Sprintf("%s has passed: use smsblast cancel to stop a campaign now", s.StopAt.Format(time.RFC3339))}
	}
	if started {
		refuse := func(setting, why string) error {
			return &SettingError{Setting: setting, Err: ErrSettingConflict,
				Problem: fmt.Sprintf("campaign %q has started sending; %s", c.Name, why)}
		}
		switch {
		case s.Body != nil && *s.Body != c.BodyTemplate:
			return refuse("body", "its body cannot change (messages in doubt are matched by it); make a new campaign")
		case s.SmartEncode != nil && *s.SmartEncode != c.SmartEncode:
			return refuse("smart_encode", "smart encoding changes the body sent, and messages in doubt are matched by it; make a new campaign")
		case s.From != nil && c.From == "":
			return refuse("from", "it sends through a Messaging Service, which cannot become numbers")
		case s.MessagingService != nil && *s.MessagingService != c.MessagingServiceSID:
			return refuse("messaging_service", "its sender cannot change to another Messaging Service or from numbers")
		}
	}
	s.Apply(c)
	return nil
}

func statusErr(s Status) error {
	if s == StatusCanceled {
		return ErrCanceled
	}
	return ErrCompleted
}

func nonEmpty(from string, pool []string) []string {
	if len(pool) > 0 {
		return pool
	}
	if from == "" {
		return nil
	}
	return []string{from}
}

func quoteOrNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return fmt.Sprintf("%q", s)
}
