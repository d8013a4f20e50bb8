package campaign

import (
	"fmt"
	"strings"
	"unicode/utf16"
)

// Limits on a rendered body.
const (
	// MaxBodyLength is the longest body Twilio accepts (error 21617 beyond
	// it). Twilio says "characters"; BodyLength counts UTF-16 units (an
	// emoji is two), the stricter reading, which the simulator shares.
	MaxBodyLength = 1600
	// DefaultMaxSegments is a new campaign's --max-segments: ten segments
	// is a long message already; a body that renders longer is more
	// likely a mistake (a column holding a whole document) than meant.
	DefaultMaxSegments = 10
	// MaxMaxSegments bounds --max-segments: a body of MaxBodyLength UTF-16
	// units takes at most 24 UCS-2 segments.
	MaxMaxSegments = 24
)

// Kinds of bodies that are never sent: an import rejects their rows (these
// are keys of ImportResult.RejectedBy), and the engine fails them without a
// request.
const (
	RejectEmptyBody       = "empty_body"
	RejectLongBody        = "body_too_long"
	RejectTooManySegments = "too_many_segments"
)

// BodyError is a rendered body that must not be sent. Kind is one of the
// Reject…Body constants; Error says why in words.
type BodyError struct {
	Kind string
	// Length is the body's length in UTF-16 units, Segments its segments.
	Length, Segments int
	// Max is the campaign's --max-segments (for RejectTooManySegments).
	Max int
}

func (e *BodyError) Error() string {
	switch e.Kind {
	case RejectEmptyBody:
		return "the body renders empty: Twilio refuses an empty message (21602)"
	case RejectLongBody:
		if e.Length == 0 { // rendering stopped as soon as it was too long
			return fmt.Sprintf("the body renders more than %d characters, Twilio's limit (21617)", MaxBodyLength)
		}
		return fmt.Sprintf("the body renders %d characters, over Twilio's limit of %d (21617)", e.Length, MaxBodyLength)
	default:
		return fmt.Sprintf("the body renders %d segments, over the campaign's --max-segments %d", e.Segments, e.Max)
	}
}

// Unwrap makes a body too long ErrBodyTooLong.
func (e *BodyError) Unwrap() error {
	if e.Kind == RejectLongBody {
		return ErrBodyTooLong
	}
	return nil
}

// CheckBody says whether a rendered body can be sent: not blank, at most
// MaxBodyLength long, and at most maxSegments segments (0: the default).
// segments is its count as Twilio bills it (twilio.Segments); nil means it
// can be sent.
func CheckBody(body string, segments, maxSegments int) *BodyError {
	if maxSegments <= 0 {
		maxSegments = DefaultMaxSegments
	}
	if strings.TrimSpace(body) == "" {
		return &BodyError{Kind: RejectEmptyBody, Segments: segments, Max: maxSegments}
	}
	// Most bodies are short: only count UTF-16 units when the bytes could
	// be too many (a UTF-16 unit takes at least one byte).
	if n := len(body); n > MaxBodyLength {
		if l := BodyLength(body); l > MaxBodyLength {
			return &BodyError{Kind: RejectLongBody, Length: l, Segments: segments, Max: maxSegments}
		}
	}
	if segments > maxSegments {
		return &BodyError{Kind: RejectTooManySegments, Length: BodyLength(body), Segments: segments, Max: maxSegments}
	}
	return nil
}

// BodyLength is body's length as Twilio limits it: UTF-16 units.
func BodyLength(body string) int {
	n := 0
	for _, r := range body {
		if utf16.RuneLen(r) == 2 {
			n += 2
		} else {
			n++
		}
	}
	return n
}
