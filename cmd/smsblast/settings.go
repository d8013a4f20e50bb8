package main

import (
	"flag"
	"strings"
	"time"

	"github.com/smsblast/smsblast/campaign"
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
}

// settings returns the settings given on the command line: only flags that
// were set, so absent ones leave a campaign as it is.
func (f *settingFlags) settings(fs *flagSet) campaign.Settings {
	var s campaign.Settings
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
	return s
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
