package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/campaign/phone"
)

// settingFlags are the campaign settings a command line can give, defined
// once for the commands that take them: import (the first import creates the
// campaign with them; later ones must agree) and set (changes them).
type settingFlags struct {
	from        senderList
	mg          string
	body        string
	callback    string
	rate        float64
	concurrency int
	maxAttempts int
	validity    time.Duration
	geomatch    bool
	startAt     string
	stopAt      string
	tz          string
	window      string
	windowTZ    string
	budgetSeg   int64
	budget      float64
	price       string
	pricesFile  string
	freqCap     string
	smart       bool
	maxSegments int
	// readIn names the machine's zone when a time without a zone was read
	// in it (no --tz), for the command to say so.
	readIn string
}

// register defines the settings flags; note is added to each flag's help
// ("first import" for import).
func (f *settingFlags) register(fs *flagSet, note string) {
	suffix := func(s string) string {
		if note == "" {
			return s
		}
		if strings.HasSuffix(s, ")") {
			return s[:len(s)-1] + "; " + note + ")"
		}
		return s + " (" + note + ")"
	}
	fs.Var(&f.from, "from", suffix("sender number in E.164, or a pool: +1…,+1… or the flag repeated (or --messaging-service)"))
	fs.StringVar(&f.mg, "messaging-service", "", suffix("sender Messaging Service SID, MG… (or --from)"))
	fs.StringVar(&f.body, "body", "", suffix("message body, a Go template over the CSV columns: 'Hi {{.first_name}}'"))
	fs.StringVar(&f.callback, "status-callback", "", suffix("URL Twilio posts delivery updates to"))
	fs.Float64Var(&f.rate, "rate", 0, suffix("segments per second for the campaign, a cap on its senders' share (default: the senders' MPS; 10 for an unregistered sender)"))
	fs.IntVar(&f.concurrency, "concurrency", 0, suffix("requests in flight per sender process (default 10)"))
	fs.IntVar(&f.maxAttempts, "max-attempts", 0, suffix("requests per recipient before it fails (default 5)"))
	fs.DurationVar(&f.validity, "validity", 0, suffix("how long Twilio may queue a message before giving up on it, 1s to 10h (default: Twilio's 10h)"))
	fs.BoolVar(&f.geomatch, "geomatch", false, suffix("send each recipient from the pool number with its area code, when there is one"))
	fs.StringVar(&f.startAt, "start-at", "", suffix("send nothing before TIME: RFC 3339, or '2026-12-01 09:00' in --tz; none to clear"))
	fs.StringVar(&f.stopAt, "stop-at", "", suffix("send nothing from TIME on; what is unsent then expires (same forms as --start-at)"))
	fs.StringVar(&f.tz, "tz", "", suffix("IANA zone of --start-at and --stop-at, and of the window for numbers without a zone (default: this machine's)"))
	fs.StringVar(&f.window, "send-window", "", suffix("HH:MM-HH:MM when recipients may be texted, in their own local time (may wrap midnight), or any (default 08:00-21:00)"))
	fs.StringVar(&f.windowTZ, "window-tz", "", suffix("IANA zone of the window for numbers with no zone of their own, or whose zones never share an open hour (default: --tz)"))
	fs.Int64Var(&f.budgetSeg, "budget-segments", 0, suffix("the most segments the campaign may send, across all its processes (0: no limit)"))
	fs.Float64Var(&f.budget, "budget", 0, suffix("the most money the campaign may spend at its prices (needs --price or --prices; 0: no limit)"))
	fs.StringVar(&f.price, "price", "", suffix("price of one segment to any country, and its currency: 0.0083 or 0.0083USD (default currency USD)"))
	fs.StringVar(&f.pricesFile, "prices", "", suffix("CSV of prices by destination country, columns country,price_per_segment,currency (country * for the rest); replaces the campaign's prices"))
	fs.StringVar(&f.freqCap, "frequency-cap", "", suffix("COUNT/DURATION: skip recipients texted that often by any campaign within it, e.g. 1/24h or 3/7d (none: no cap)"))
	fs.BoolVar(&f.smart, "smart-encode", false, suffix("replace curly quotes, long dashes, … and odd spaces with GSM-7 look-alikes before counting and sending (--smart-encode=false: off)"))
	fs.IntVar(&f.maxSegments, "max-segments", 0, suffix("the most segments one message may take; longer rendered bodies are rejected rows at import (default 10)"))
}

// settings returns the settings given on the command line: only flags that
// were set, so absent ones leave a campaign as it is. Times are read in --tz
// (or this machine's zone) once every flag is known.
func (f *settingFlags) settings(fs *flagSet) (campaign.Settings, error) {
	var s campaign.Settings
	given := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	zone := f.tz
	if zone == "" {
		zone = machineZone()
	}
	loc, err := campaign.LoadZone(zone)
	if err != nil {
		return s, usagef("--tz: %q is not an IANA time zone like America/New_York", zone)
	}
	for _, t := range []struct {
		flag string
		raw  string
		dst  **time.Time
	}{{"start-at", f.startAt, &s.StartAt}, {"stop-at", f.stopAt, &s.StopAt}} {
		if !given[t.flag] {
			continue
		}
		at, local, err := parseTime(t.raw, loc)
		if err != nil {
			return s, usagef("--%s: %v", t.flag, err)
		}
		if local && !given["tz"] {
			f.readIn = zone
		}
		*t.dst = &at
	}
	if given["send-window"] {
		w, err := campaign.ParseWindow(f.window)
		if err != nil {
			return s, usagef("--send-window: %v", err)
		}
		s.Window = &w
	}
	if given["tz"] {
		s.TZ = &f.tz
	}
	if given["frequency-cap"] {
		fc := campaign.FrequencyCap{}
		if !strings.EqualFold(strings.TrimSpace(f.freqCap), "none") {
			if fc, err = campaign.ParseFrequencyCap(f.freqCap); err != nil {
				return s, usagef("--frequency-cap: %v", err)
			}
		}
		s.Frequency = &fc
	}
	if given["price"] && given["prices"] {
		return s, usagef("--price and --prices: give one price for every country, or a file of prices by country, not both")
	}
	if given["price"] {
		p, err := parsePrice(f.price)
		if err != nil {
			return s, usagef("--price: %v", err)
		}
		s.Prices = campaign.Prices{"*": p}
	}
	if given["prices"] {
		p, err := readPricesFile(f.pricesFile)
		if err != nil {
			return s, usagef("--prices: %v", err)
		}
		s.Prices = p
	}
	if given["smart-encode"] {
		s.SmartEncode = &f.smart
	}
	if given["max-segments"] {
		s.MaxSegments = &f.maxSegments
	}
	if given["budget-segments"] {
		s.BudgetSegments = &f.budgetSeg
	}
	if given["budget"] {
		s.Budget = &f.budget
	}
	if given["window-tz"] {
		s.WindowTZ = &f.windowTZ
	}
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "from":
			s.From = f.from
		case "messaging-service":
			s.MessagingService = &f.mg
		case "body":
			s.Body = &f.body
		case "status-callback":
			s.StatusCallback = &f.callback
		case "rate":
			s.Rate = &f.rate
		case "concurrency":
			s.Concurrency = &f.concurrency
		case "max-attempts":
			s.MaxAttempts = &f.maxAttempts
		case "validity":
			s.Validity = &f.validity
		case "geomatch":
			s.Geomatch = &f.geomatch
		}
	})
	return s, nil
}

// parsePrice reads --price: an amount per segment, with an optional ISO
// 4217 currency after it (0.0083USD, 0.0083 USD); USD when none.
func parsePrice(s string) (campaign.Price, error) {
	s = strings.TrimSpace(s)
	amount := strings.TrimRightFunc(s, func(r rune) bool { return r >= 'A' && r <= 'Z' || r == ' ' })
	currency := strings.TrimSpace(s[len(amount):])
	if currency == "" {
		currency = "USD"
	}
	v, err := strconv.ParseFloat(amount, 64)
	// Written so that NaN fails too: every comparison with NaN is false.
	if err != nil || !(v >= 0 && v <= 100) || len(currency) != 3 {
		return campaign.Price{}, fmt.Errorf("%q is not a price per segment like 0.0083 or 0.0083USD", s)
	}
	return campaign.Price{Country: "*", PerSegment: v, Currency: currency}, nil
}

// parseTime reads a start or stop time: RFC 3339, or a date and time of day
// in loc ("2026-12-01 09:00"), which local reports; "none" (or empty)
// clears it.
func parseTime(s string, loc *time.Location) (t time.Time, local bool, err error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "none") {
		return time.Time{}, false, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, false, nil
	}
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, true, nil
		}
	}
	return time.Time{}, false, fmt.Errorf("%q is not a time: use RFC 3339 (2026-12-01T09:00:00-05:00) or '2026-12-01 09:00' with --tz", s)
}

// machineZone is this machine's IANA time zone name: $TZ, else where
// /etc/localtime points, else UTC.
func machineZone() string {
	if tz := strings.TrimPrefix(os.Getenv("TZ"), ":"); tz != "" {
		if _, err := campaign.LoadZone(tz); err == nil {
			return tz
		}
	}
	if target, err := os.Readlink("/etc/localtime"); err == nil {
		if _, name, ok := strings.Cut(target, "zoneinfo/"); ok {
			if _, err := campaign.LoadZone(name); err == nil {
				return name
			}
		}
	}
	return "UTC"
}

// validate checks settings given on the command line (s, from f.settings)
// as usage errors naming the flag: their forms and that the sender
// numbers exist.
func (f *settingFlags) validate(s campaign.Settings) error {
	if err := s.Validate(); err != nil {
		return settingUsage(err)
	}
	if err := phone.CheckSenders(s.From); err != nil {
		return usagef("--from: %v", err)
	}
	return nil
}

// warnConcurrency says when a concurrency is over what Twilio allows an
// account: allowed (Twilio may have raised the limit), but likely a slip.
func (a *app) warnConcurrency(n int) {
	if n > campaign.AccountConcurrency {
		a.log.Warn(fmt.Sprintf("concurrency %d is more than the %d requests in flight Twilio allows an account (unless Twilio raised it); expect 429s",
			n, campaign.AccountConcurrency))
	}
}

// senderList is --from: comma-separated numbers, or the flag repeated.
type senderList []string

func (l *senderList) String() string { return strings.Join(*l, ",") }

func (l *senderList) Set(v string) error {
	for _, n := range strings.Split(v, ",") {
		if n = strings.TrimSpace(n); n != "" {
			*l = append(*l, n)
		}
	}
	return nil
}
