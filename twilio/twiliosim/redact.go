package twiliosim

import (
	"fmt"
	"strings"
)

// Redaction is Twilio's Message Redaction, an account setting that keeps
// message bodies and recipients' numbers out of the Console and the API
// (Twilio's guide "Message Redaction for Programmable Messaging"). Body and
// phone-number redaction are independent, as on Twilio. The zero value
// redacts nothing.
//
// What the simulator does, and where Twilio's documentation leaves it
// unsure (the simulator takes the reading harder on a client that
// reconciles lost answers against the list):
//
//   - A redacted body reads as the empty string in list and fetch answers.
//     Twilio says only that the body is "no longer available" through the
//     API. Its OpenAPI description types body as a nullable string, and its
//     example for redacting one message (update with Body="") answers
//     "body": "", so "" is the documented shape; null is possible too. The
//     client in package twilio reads both as "", so nothing depends on it.
//   - A redacted number keeps all but its last four digits, which become
//     XXXX (+14155550100 → +1415555XXXX), as the guide says. Only the number
//     that is not Twilio's is redacted: the To of an outbound message (all
//     the simulator's messages are outbound). From — a Twilio number, or the
//     pool number of a Messaging Service — is shown as it is.
//   - Twilio redacts once the message has been sent (keeping the original
//     a few hours for delivery); the simulator redacts list and fetch
//     answers from the start, so a message is never comparable.
//   - The create request's own answer is not redacted: Twilio does not say
//     whether it is, and nothing reconciles against it.
//   - The list's To filter still matches the full number, server side.
//     Twilio does not document this either; if its filter could not see
//     redacted numbers, no client could find its messages by To at all.
//   - Status callbacks are not redacted: undocumented as well.
type Redaction struct {
	// Body removes message bodies from list and fetch answers.
	Body bool
	// Phone replaces the last four digits of the recipient's number with
	// XXXX in list and fetch answers.
	Phone bool
}

// apply redacts m, a copy of a stored message about to be encoded for a
// list or fetch answer. The stored message (what Server.Messages returns,
// and what list filters match) keeps everything.
func (r Redaction) apply(m *Message) {
	if r.Body {
		m.Body = ""
	}
	if r.Phone {
		m.To = redactNumber(m.To)
	}
}

// redactNumber replaces the last four digits of a number with XXXX; a
// number with fewer digits loses them all.
func redactNumber(p string) string {
	b := []byte(p)
	for i, n := len(b)-1, 0; i >= 0 && n < 4; i-- {
		if b[i] >= '0' && b[i] <= '9' {
			b[i] = 'X'
			n++
		}
	}
	return string(b)
}

// String returns the flag form: "body", "phone", "body,phone" or "none".
func (r *Redaction) String() string {
	if r == nil {
		return "none"
	}
	var parts []string
	if r.Body {
		parts = append(parts, "body")
	}
	if r.Phone {
		parts = append(parts, "phone")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ",")
}

// Set parses a comma-separated list of body and phone, or none; it makes
// *Redaction a [flag.Value].
func (r *Redaction) Set(s string) error {
	var v Redaction
	for part := range strings.SplitSeq(s, ",") {
		switch strings.ToLower(strings.TrimSpace(part)) {
		case "body":
			v.Body = true
		case "phone":
			v.Phone = true
		case "none", "":
		default:
			return fmt.Errorf("parse redaction %q: want body, phone, body,phone or none", s)
		}
	}
	*r = v
	return nil
}
