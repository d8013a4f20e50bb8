package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/smsblast/smsblast/campaign"
)

// Keyword is what an inbound message asks of smsblast.
type Keyword int

// Inbound keywords.
const (
	// NoKeyword: an ordinary reply; nothing to do.
	NoKeyword Keyword = iota
	// OptOutKeyword: STOP and its synonyms; never text this number again.
	OptOutKeyword
	// OptInKeyword: START and its synonyms; the number may be texted again.
	OptInKeyword
)

func (k Keyword) String() string {
	switch k {
	case OptOutKeyword:
		return "opt_out"
	case OptInKeyword:
		return "opt_in"
	}
	return "none"
}

// Twilio's default opt-out and opt-in keywords for long codes and toll-free
// numbers. A message counts only when its whole body is one keyword:
// "Stop sending me these" is a complaint for a human, and Twilio itself
// does not treat it as an opt-out either.
var keywords = map[string]Keyword{
	"STOP": OptOutKeyword, "STOPALL": OptOutKeyword, "UNSUBSCRIBE": OptOutKeyword,
	"CANCEL": OptOutKeyword, "END": OptOutKeyword, "QUIT": OptOutKeyword,
	"START": OptInKeyword, "UNSTOP": OptInKeyword, "YES": OptInKeyword,
}

// ParseKeyword reads an inbound message body: one of the keywords, in ASCII
// letters of either case, with surrounding white space (Unicode spaces and
// line breaks included) trimmed.
func ParseKeyword(body string) Keyword {
	w := strings.TrimSpace(body)
	// The longest keyword has 11 letters; anything longer is a sentence,
	// and the bound keeps ToUpper off arbitrarily long input.
	if len(w) == 0 || len(w) > len("UNSUBSCRIBE") {
		return NoKeyword
	}
	// ASCII only, as Twilio matches: Unicode case folding would turn
	// look-alikes such as "ſtop" (long s) into keywords.
	for i := 0; i < len(w); i++ {
		if w[i] >= 0x80 {
			return NoKeyword
		}
	}
	return keywords[strings.ToUpper(w)]
}

// InboundMessage is one parsed inbound message webhook.
type InboundMessage struct {
	MessageSID string
	// From is the sender (the recipient replying), To our number.
	From, To string
	Body     string
	Keyword  Keyword
}

// ParseInbound reads an inbound message webhook's form parameters. From is
// required; Body may be empty (a picture message). A parameter it reads that
// appears more than once is refused, as in ParseStatusCallback.
func ParseInbound(form url.Values) (*InboundMessage, error) {
	if err := once(form, "MessageSid", "SmsSid", "From", "To", "Body"); err != nil {
		return nil, fmt.Errorf("parse inbound message: %w", err)
	}
	m := &InboundMessage{
		MessageSID: first(form, "MessageSid", "SmsSid"),
		From:       strings.TrimSpace(form.Get("From")),
		To:         strings.TrimSpace(form.Get("To")),
		Body:       form.Get("Body"),
	}
	if m.From == "" {
		return nil, fmt.Errorf("parse inbound message: From is missing: %w", ErrBadCallback)
	}
	m.Keyword = ParseKeyword(m.Body)
	return m, nil
}

// InboundResult says what an inbound message did.
type InboundResult string

// What handling an inbound message did.
const (
	InboundIgnored  InboundResult = "ignored"   // no keyword, or a sender that is not a phone number
	InboundOptedOut InboundResult = "opted_out" // added to opt_outs (or already there)
	InboundOptedIn  InboundResult = "opted_in"  // removed from opt_outs (or was not there)
)

// HandleInbound applies an inbound message's keyword to opt_outs. A sender
// that is not an E.164 number (a short code, a WhatsApp address) cannot be
// in opt_outs and is ignored.
func HandleInbound(ctx context.Context, st campaign.DeliveryStore, log *slog.Logger, m *InboundMessage) (InboundResult, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if m.Keyword == NoKeyword {
		return InboundIgnored, nil
	}
	if !campaign.IsE164(m.From) {
		log.Info("inbound keyword from a sender that is not a phone number: ignored", "keyword", m.Keyword, "sid", m.MessageSID)
		return InboundIgnored, nil
	}
	switch m.Keyword {
	case OptOutKeyword:
		added, err := st.OptOut(ctx, m.From, "replied "+strings.ToUpper(strings.TrimSpace(m.Body)), "inbound")
		if err != nil {
			return "", err
		}
		log.Info("opt-out by reply", "phone", campaign.MaskPhone(m.From), "new", added, "sid", m.MessageSID)
		return InboundOptedOut, nil
	default:
		removed, err := st.OptIn(ctx, m.From)
		if err != nil {
			return "", err
		}
		log.Info("opt-in by reply", "phone", campaign.MaskPhone(m.From), "removed", removed, "sid", m.MessageSID)
		return InboundOptedIn, nil
	}
}
