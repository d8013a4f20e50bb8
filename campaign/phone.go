package campaign

import (
	"regexp"
	"strings"
)

var (
	e164Pattern  = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)
	mgSIDPattern = regexp.MustCompile(`^MG[0-9a-f]{32}$`)
)

// IsE164 reports whether s is a phone number in E.164 form: a plus, a
// country code that does not start with 0, and at most 15 digits in all.
// It checks the form only; package phone decides whether a number exists.
// The same pattern guards the phone columns in SQL.
func IsE164(s string) bool { return e164Pattern.MatchString(s) }

// IsMessagingServiceSID reports whether s is a Messaging Service SID: MG
// and 32 lower-case hex digits.
func IsMessagingServiceSID(s string) bool { return mgSIDPattern.MatchString(s) }

// MaskPhone hides all but the last four digits of a phone number, for logs
// at info level and pages shown to viewers who are not admins.
func MaskPhone(p string) string {
	if len(p) <= 4 {
		return "****"
	}
	return strings.Repeat("*", len(p)-4) + p[len(p)-4:]
}
