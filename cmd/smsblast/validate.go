package main

import (
	"flag"
	"math"
	"net"
	"strings"
	"time"

	"github.com/smsblast/smsblast/campaign"
)

// The checks each command's validate function is made of. Each names the
// flag as typed (--lease), the value given and the range it must be in,
// and is a usage error: exit 2.

// durationIn checks that a duration flag is from lo to hi.
func durationIn(name string, v, lo, hi time.Duration) error {
	if v < lo || v > hi {
		if lo == 0 {
			return usagef("--%s %s: give a duration from 0 to %s", name, v, shortDuration(hi))
		}
		return usagef("--%s %s: give a duration from %s to %s", name, v, shortDuration(lo), shortDuration(hi))
	}
	return nil
}

// intIn checks that an integer flag is from lo to hi.
func intIn(name string, v, lo, hi int) error {
	if v < lo || v > hi {
		return usagef("--%s %d: give a number from %d to %d", name, v, lo, hi)
	}
	return nil
}

// floatIn checks that a number flag is from lo to hi; NaN and the
// infinities are never in range.
func floatIn(name string, v, lo, hi float64) error {
	if !(v >= lo && v <= hi) || math.IsInf(v, 0) {
		return usagef("--%s %v: give a number from %v to %v", name, v, lo, hi)
	}
	return nil
}

// addrFlag checks a listen address: host:port, host optional.
func addrFlag(name, v string) error {
	if _, _, err := net.SplitHostPort(v); err != nil {
		return usagef("--%s %s: give an address as host:port, e.g. 127.0.0.1:8080", name, campaign.QuoteShort(v, 40))
	}
	return nil
}

// campaignArg checks the CAMPAIGN argument against the name rules, so
// that a name no campaign can have is a usage error, not a lookup.
func campaignArg(name string) error {
	if err := campaign.ValidateName(name); err != nil {
		return usagef("%v", err)
	}
	return nil
}

// reasonFlag checks free text that is stored and shown back (--reason).
func reasonFlag(name, v string) error {
	if err := campaign.ValidateText(v, campaign.MaxReasonLength); err != nil {
		return usagef("--%s: %v", name, err)
	}
	return nil
}

// given reports whether the flag name was set on the command line.
func given(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

// shortDuration writes d without its zero units: 1h, 2m30s, 500ms.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
