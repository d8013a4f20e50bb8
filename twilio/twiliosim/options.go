package twiliosim

import (
	"flag"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/smsblast/smsblast/twilio"
)

// LoseMode says how a response chosen by Options.LoseResponse is lost.
type LoseMode int

const (
	// LoseClose closes the connection without writing a response, as a
	// proxy or a network failure would: the client sees EOF or a reset.
	LoseClose LoseMode = iota
	// LoseStall never answers: the handler blocks until the client gives up
	// (its request context ends) or the server closes, so the client sees
	// its own timeout.
	LoseStall
)

// String returns "close" or "stall".
func (m LoseMode) String() string {
	if m == LoseStall {
		return "stall"
	}
	return "close"
}

// Set parses "close" or "stall"; it makes *LoseMode a [flag.Value].
func (m *LoseMode) Set(s string) error {
	switch strings.ToLower(s) {
	case "close", "":
		*m = LoseClose
	case "stall":
		*m = LoseStall
	default:
		return fmt.Errorf("parse lose mode %q: want close or stall", s)
	}
	return nil
}

// Options configure a [Server]. The zero value is a well-behaved Twilio: no
// latency, no faults, unlimited throughput, prompt delivery, callbacks on.
// Fractions are probabilities in [0, 1]. Validate refuses values out of
// range; New clamps them instead, so that it cannot fail.
type Options struct {
	// AccountSID and AuthToken are the credentials the server accepts. Empty
	// means random ones (AC + 32 hex and 32 hex: alphanumeric, because the
	// official SDK refuses anything else), readable through
	// Server.AccountSID and Server.AuthToken. They come from crypto/rand,
	// not Seed: they are secrets, not behaviour.
	AccountSID, AuthToken string
	// APIKeys maps API key SIDs (SK…) to their secrets, for Basic auth with
	// an API key; the account SID still goes in the path.
	APIKeys map[string]string

	// Latency is added to every request, plus a uniform [0, Jitter) draw.
	Latency, Jitter time.Duration
	// MaxConcurrency answers requests beyond this many in flight with
	// 429/20429 (Twilio's per-account concurrent request limit). 0 means
	// unlimited.
	MaxConcurrency int

	// Fail5xx is the fraction of create requests answered 500 or 503
	// without creating the message.
	Fail5xx float64
	// Fail429 is the fraction of create requests answered 429/20429
	// without creating the message.
	Fail429 float64
	// LoseResponse is the fraction of create requests whose message IS
	// created but whose response is lost (see LoseMode). The client cannot
	// tell whether it was sent; only the list can.
	LoseResponse float64
	// LoseMode is how a lost response is lost. Default LoseClose.
	LoseMode LoseMode

	// SenderMPS is each sender's throughput in segments per second; 0 means
	// unlimited. A sender is its From number, or its MessagingServiceSid
	// when there is no From.
	SenderMPS float64
	// QueueSeconds is how many seconds of segments a sender's queue holds
	// (default 36000: Twilio's 10 hours). A create that would overflow it
	// is answered 400/21611 when it names a From; behind a Messaging
	// Service it is accepted and fails later with 30001, as on Twilio.
	QueueSeconds float64

	// DeliverAfter is how long after leaving the queue a message is
	// delivered: "sent" after DeliverAfter/2, the final status after
	// DeliverAfter. 0 means at once.
	DeliverAfter time.Duration
	// Undelivered is the fraction of messages that end undelivered with a
	// carrier code drawn from 30003, 30005, 30006, 30007, 30008.
	Undelivered float64
	// Fail maps To numbers to the 30xxx code their messages end with.
	// 30001, 30002, 30032, 30034 and 30036 end as "failed" (Twilio gave up
	// before a carrier saw it: no "sent" step, date_sent stays null); any
	// other code ends as "undelivered" after "sent".
	Fail map[string]int

	// NoCallbacks turns status callbacks off. Named in the negative so the
	// zero value behaves like Twilio (and like `smsblast sim`, whose
	// --callbacks flag defaults to true). Delivery progresses either way.
	NoCallbacks bool
	// Reorder is the fraction of callbacks held back long enough to arrive
	// after the message's next one, as Twilio does not guarantee order.
	Reorder float64
	// CallbackRetries is how many times a callback that got a non-2xx answer
	// or a connection error is retried, with exponential back-off from
	// CallbackBackoff. 0 means 3; negative means never.
	CallbackRetries int
	// CallbackBackoff is the first retry delay, doubled on each retry
	// (default 100ms).
	CallbackBackoff time.Duration
	// CallbackTimeout bounds each callback request (default 10s).
	CallbackTimeout time.Duration

	// ListLag is how long a new message stays out of List results: Twilio's
	// list is eventually consistent. Fetch by SID sees it at once.
	ListLag time.Duration

	// Redact turns on Twilio's Message Redaction: bodies, recipients'
	// numbers, or both, removed from list and fetch answers (see Redaction).
	Redact Redaction

	// Seed seeds every random draw (latency jitter, fault injection,
	// undelivered outcomes, reordering, message SIDs), so a run replays.
	// Draws come from one mutex-guarded source in the order requests reach
	// it, so replay is exact for sequential clients and best effort for
	// concurrent ones, whose arrival order the scheduler decides.
	Seed int64

	// Logger receives one debug line per injected fault and callback
	// problem; nil discards. Auth tokens are never logged.
	Logger *slog.Logger
	// Now is the clock for message timestamps and delivery timing; nil
	// means time.Now. The delivery scheduler rechecks a custom clock at
	// least every 50ms of real time.
	Now func() time.Time
}

// RegisterFlags defines the `smsblast sim` flags on fs, writing into o.
// The names are a contract scripts rely on: --account-sid --latency
// --jitter --max-concurrency --fail-5xx --fail-429 --lose-response
// --lose-mode --sender-mps --queue-seconds --deliver-after --undelivered
// --fail --callbacks --reorder --callback-retries --list-lag --redact
// --seed. Defaults are o's current values (callbacks on). The secrets (auth token,
// API keys) are no flags, which anyone could read in ps: see FromEnv.
// Check the result with Validate.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.AccountSID, "account-sid", o.AccountSID, "account `SID` to accept (AC + 32 hex; random when empty)")
	fs.DurationVar(&o.Latency, "latency", o.Latency, "added to every request")
	fs.DurationVar(&o.Jitter, "jitter", o.Jitter, "plus a uniform random [0, jitter) per request")
	fs.IntVar(&o.MaxConcurrency, "max-concurrency", o.MaxConcurrency, "answer requests beyond this many in flight with 429/20429 (0 = unlimited)")
	fs.Float64Var(&o.Fail5xx, "fail-5xx", o.Fail5xx, "`fraction` of creates answered 500/503, creating nothing")
	fs.Float64Var(&o.Fail429, "fail-429", o.Fail429, "`fraction` of creates answered 429/20429, creating nothing")
	fs.Float64Var(&o.LoseResponse, "lose-response", o.LoseResponse, "`fraction` of creates whose message is created but whose response is lost")
	fs.Var(&o.LoseMode, "lose-mode", "how a response is lost: close (drop the connection) or stall (hang until the client gives up)")
	fs.Float64Var(&o.SenderMPS, "sender-mps", o.SenderMPS, "per-sender throughput in segments per second (0 = unlimited)")
	fs.Float64Var(&o.QueueSeconds, "queue-seconds", o.QueueSeconds, "seconds of segments a sender's queue holds before 21611 (0 = 36000)")
	fs.DurationVar(&o.DeliverAfter, "deliver-after", o.DeliverAfter, "time from leaving the queue to the final status (sent at half of it)")
	fs.Float64Var(&o.Undelivered, "undelivered", o.Undelivered, "`fraction` of messages ending undelivered with a 30xxx code")
	fs.Var((*failFlag)(&o.Fail), "fail", "`+E164=CODE[,…]`: messages to these numbers end with these 30xxx codes (repeatable)")
	fs.Var((*callbacksFlag)(&o.NoCallbacks), "callbacks", "POST status callbacks (--callbacks=false turns them off)")
	fs.Float64Var(&o.Reorder, "reorder", o.Reorder, "`fraction` of callbacks delivered out of order")
	fs.IntVar(&o.CallbackRetries, "callback-retries", o.CallbackRetries, "retries of a failed callback (0 = 3, negative = none)")
	fs.DurationVar(&o.ListLag, "list-lag", o.ListLag, "how long a new message stays out of list results")
	fs.Var(&o.Redact, "redact", "`LIST` of what Twilio's Message Redaction hides in list and fetch answers: body, phone (last four digits → XXXX), or none")
	fs.Int64Var(&o.Seed, "seed", o.Seed, "seed for every random draw, so a run replays")
}

// FromEnv takes the simulator's secrets from the environment, as smsblast
// takes its own: TWILIO_AUTH_TOKEN (when set, the token accepted instead
// of a random one) and TWILIO_API_KEY with TWILIO_API_SECRET (an API key
// accepted besides). getenv is os.Getenv in main, a map in tests. It
// reports whether the auth token came from there.
func (o *Options) FromEnv(getenv func(string) string) (tokenFromEnv bool) {
	if t := strings.TrimSpace(getenv("TWILIO_AUTH_TOKEN")); t != "" {
		o.AuthToken, tokenFromEnv = t, true
	}
	if k, s := strings.TrimSpace(getenv("TWILIO_API_KEY")), strings.TrimSpace(getenv("TWILIO_API_SECRET")); k != "" || s != "" {
		if o.APIKeys == nil {
			o.APIKeys = map[string]string{}
		}
		o.APIKeys[k] = s
	}
	return tokenFromEnv
}

// OptionError is an option Validate refuses. Flag is its `smsblast sim`
// flag (empty for options that have none), Problem what is wrong with it.
type OptionError struct {
	Option, Flag, Problem string
}

func (e *OptionError) Error() string { return "twiliosim: " + e.Option + ": " + e.Problem }

// Bounds Validate applies: beyond them a value can only be a slip.
const (
	maxDelay          = time.Hour // latency, jitter, delivery, list lag, callback timing
	maxConcurrencyCap = 100000
	maxSenderMPS      = 100000
	minSenderMPS      = 0.01
	maxQueueSeconds   = 10 * 24 * 3600
	maxRetries        = 100
)

// Validate reports the first option out of its range: fractions outside
// [0, 1] (NaN included), negative or absurd durations and rates, and
// credentials of the wrong form. New itself clamps rather than fails; a
// command line should be refused instead, so `smsblast sim` calls this.
func (o *Options) Validate() error {
	bad := func(option, flag, format string, args ...any) error {
		return &OptionError{Option: option, Flag: flag, Problem: fmt.Sprintf(format, args...)}
	}
	if o.AccountSID != "" && !twilio.IsSID(o.AccountSID, "AC") {
		return bad("AccountSID", "account-sid", "%.40q is not AC followed by 32 hex digits", o.AccountSID)
	}
	if strings.ContainsFunc(o.AuthToken, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return bad("AuthToken", "", "holds white space or control characters")
	}
	for sid, secret := range o.APIKeys {
		if !twilio.IsSID(sid, "SK") {
			return bad("APIKeys", "", "API key %.40q is not SK followed by 32 hex digits", sid)
		}
		if secret == "" {
			return bad("APIKeys", "", "API key %s has no secret", sid)
		}
	}
	for _, f := range []struct {
		option, flag string
		v            float64
	}{
		{"Fail5xx", "fail-5xx", o.Fail5xx}, {"Fail429", "fail-429", o.Fail429},
		{"LoseResponse", "lose-response", o.LoseResponse}, {"Undelivered", "undelivered", o.Undelivered},
		{"Reorder", "reorder", o.Reorder},
	} {
		if !(f.v >= 0 && f.v <= 1) {
			return bad(f.option, f.flag, "%v is not a fraction from 0 to 1", f.v)
		}
	}
	for _, d := range []struct {
		option, flag string
		v            time.Duration
	}{
		{"Latency", "latency", o.Latency}, {"Jitter", "jitter", o.Jitter},
		{"DeliverAfter", "deliver-after", o.DeliverAfter}, {"ListLag", "list-lag", o.ListLag},
		{"CallbackBackoff", "", o.CallbackBackoff}, {"CallbackTimeout", "", o.CallbackTimeout},
	} {
		if d.v < 0 || d.v > maxDelay {
			return bad(d.option, d.flag, "%v is not a duration from 0 to %v", d.v, maxDelay)
		}
	}
	if o.MaxConcurrency < 0 || o.MaxConcurrency > maxConcurrencyCap {
		return bad("MaxConcurrency", "max-concurrency", "%d is not from 0 (unlimited) to %d", o.MaxConcurrency, maxConcurrencyCap)
	}
	if o.SenderMPS != 0 && !(o.SenderMPS >= minSenderMPS && o.SenderMPS <= maxSenderMPS) {
		return bad("SenderMPS", "sender-mps", "%v is not 0 (unlimited) or from %v to %v segments per second", o.SenderMPS, minSenderMPS, maxSenderMPS)
	}
	if !(o.QueueSeconds >= 0 && o.QueueSeconds <= maxQueueSeconds) {
		return bad("QueueSeconds", "queue-seconds", "%v is not from 0 (the default) to %v seconds", o.QueueSeconds, maxQueueSeconds)
	}
	if o.CallbackRetries > maxRetries {
		return bad("CallbackRetries", "callback-retries", "%d is more than %d", o.CallbackRetries, maxRetries)
	}
	for to, code := range o.Fail {
		if err := checkFail(to, code); err != nil {
			return bad("Fail", "fail", "%v", err)
		}
	}
	return nil
}

// checkFail checks one --fail entry: an E.164 number and a 30xxx code.
func checkFail(to string, code int) error {
	if !isE164(to) {
		return fmt.Errorf("%.40q is not an E.164 number like +14155550100", to)
	}
	if code < 30000 || code > 30999 {
		return fmt.Errorf("%d is not a delivery error code (30000 to 30999)", code)
	}
	return nil
}

// isE164 reports whether s is + and 2 to 15 digits, the first not 0.
func isE164(s string) bool {
	if len(s) < 3 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// callbacksFlag maps the positive --callbacks flag onto NoCallbacks.
type callbacksFlag bool

func (f *callbacksFlag) String() string {
	if f == nil {
		return "true"
	}
	return strconv.FormatBool(!bool(*f))
}

func (f *callbacksFlag) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("parse callbacks %q: %w", s, err)
	}
	*f = callbacksFlag(!v)
	return nil
}

func (f *callbacksFlag) IsBoolFlag() bool { return true }

// failFlag parses "+15551234567=30003,+15557654321=30007".
type failFlag map[string]int

func (f *failFlag) String() string {
	if f == nil || *f == nil {
		return ""
	}
	parts := make([]string, 0, len(*f))
	for to, code := range *f {
		parts = append(parts, to+"="+strconv.Itoa(code))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (f *failFlag) Set(s string) error {
	if *f == nil {
		*f = make(map[string]int)
	}
	for _, part := range strings.Split(s, ",") {
		to, code, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(code)
		if !ok || to == "" || err != nil {
			return fmt.Errorf("parse fail entry %.40q: want +E164=CODE", part)
		}
		if err := checkFail(to, n); err != nil {
			return fmt.Errorf("parse fail entry: %w", err)
		}
		(*f)[to] = n
	}
	return nil
}

func clamp01(f float64) float64 {
	if f < 0 || f != f {
		return 0
	}
	if f > 1 {
		return 1
	}
	return f
}
