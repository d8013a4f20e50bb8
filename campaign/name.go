package campaign

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameLength is the longest campaign name, in characters: room for
// "2026-spring-sale-us-east-reminder-2" many times over, short enough for
// a terminal line, a log line and a /metrics label.
const MaxNameLength = 100

// ValidateName reports whether name can name a campaign. A name is what a
// person types and reads back in status, logs, reports and /metrics, so it
// must be non-empty UTF-8 of at most MaxNameLength characters, without
// white space at either end (" spring" and "spring" would be two campaigns
// that look alike) and without control or bidirectional formatting
// characters (they rewrite a terminal, or the order in which a name is
// read). Everything else is literal: quotes, SQL metacharacters, emoji and
// any script are fine. The error wraps ErrInvalidName.
func ValidateName(name string) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s %s", ErrInvalidName, QuoteShort(name, 40), fmt.Sprintf(format, args...))
	}
	switch {
	case name == "":
		return fmt.Errorf("%w: it is empty", ErrInvalidName)
	case !utf8.ValidString(name):
		return bad("is not valid UTF-8")
	case strings.TrimSpace(name) == "":
		return bad("is only white space")
	case strings.TrimSpace(name) != name:
		return bad("starts or ends with white space")
	}
	if n := utf8.RuneCountInString(name); n > MaxNameLength {
		return bad("is %d characters long; the limit is %d", n, MaxNameLength)
	}
	for _, r := range name {
		if unprintable(r) {
			return bad("holds the character %U, which a terminal would not show as it is", r)
		}
	}
	return nil
}

// MaxReasonLength caps the reason given for a pause or cancel, in characters.
const MaxReasonLength = 500

// ValidateText reports whether free text a person gives, such as the reason
// for a pause, can be stored and shown back as it is: valid UTF-8 of at
// most max characters, without the characters ValidateName refuses.
func ValidateText(s string, max int) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", QuoteShort(s, 40))
	}
	if n := utf8.RuneCountInString(s); n > max {
		return fmt.Errorf("%s is %d characters long; the limit is %d", QuoteShort(s, 40), n, max)
	}
	for _, r := range s {
		if unprintable(r) {
			return fmt.Errorf("%s holds the character %U, which a terminal would not show as it is", QuoteShort(s, 40), r)
		}
	}
	return nil
}

// unprintable reports whether r must never reach a terminal raw: control
// characters (escape sequences, line breaks), line and paragraph
// separators, and the bidirectional formatting characters that reorder
// what follows them.
func unprintable(r rune) bool {
	switch {
	case unicode.IsControl(r), r == '\u2028', r == '\u2029':
		return true
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069',
		r == '\u200e', r == '\u200f', r == '\u061c':
		return true
	}
	return false
}

// Printable returns s with every character a terminal would act on
// (controls, separators, bidirectional formatting, invalid UTF-8) escaped
// as Go would write it (\x1b, \u202e), and the rest as it is. Output that
// shows text from outside (names made before ValidateName existed,
// reasons, file names) passes it through this.
func Printable(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || unprintable(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i, w := 0, 0; i < len(s); i += w {
		r, n := utf8.DecodeRuneInString(s[i:])
		w = n
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unprintable(r):
			q := strings.Trim(fmt.Sprintf("%+q", string(r)), `"`)
			b.WriteString(q)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// QuoteShort quotes s as %q does, cut to its first max characters with an
// ellipsis and its full length: error messages that echo input stay one
// readable line whatever the input's size.
func QuoteShort(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return fmt.Sprintf("%q", s)
	}
	cut := 0
	for i := range s {
		if max == 0 {
			cut = i
			break
		}
		max--
	}
	return fmt.Sprintf("%q… (%d bytes)", s[:cut], len(s))
}
