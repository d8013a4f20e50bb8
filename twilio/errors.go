package twilio

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// Sentinel errors. Compare with errors.Is.
var (
	// ErrInvalidConfig reports a Config that New refuses, or a missing
	// environment variable in ConfigFromEnv. The wrapping message names the
	// field or variable, never a secret's value.
	ErrInvalidConfig = errors.New("twilio: invalid config")

	// ErrInvalidParams reports a call refused before any request was made
	// (a nil params struct, a malformed message sid).
	ErrInvalidParams = errors.New("twilio: invalid parameters")

	// ErrMalformedResponse reports a response the client could not read: a
	// 2xx whose body is not a Message, or a list page without its envelope.
	// After a create it is in doubt: Twilio accepted something, but we do
	// not know its sid.
	ErrMalformedResponse = errors.New("twilio: malformed response")
)

// Error is an error response from the Twilio API: any non-2xx status, with
// the fields of Twilio's JSON error body when it sent one. Code is 0 when the
// body was not Twilio's (a proxy's 502 page, say).
type Error struct {
	Status     int           // HTTP status
	Code       int           // Twilio error code, e.g. 21211; 0 when absent
	Message    string        // Twilio's message, or the HTTP status text
	MoreInfo   string        // documentation URL, may be empty
	RetryAfter time.Duration // parsed Retry-After header; 0 when absent
}

// Error formats e like "twilio: 21211 The 'To' number … (HTTP 400,
// https://www.twilio.com/docs/errors/21211)".
func (e *Error) Error() string {
	var b []byte
	b = append(b, "twilio: "...)
	if e.Code != 0 {
		b = strconv.AppendInt(b, int64(e.Code), 10)
		b = append(b, ' ')
	}
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	b = append(b, msg...)
	b = append(b, " (HTTP "...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	if e.MoreInfo != "" {
		b = append(b, ", "...)
		b = append(b, e.MoreInfo...)
	}
	b = append(b, ')')
	return string(b)
}

// TransportError is a request that got no HTTP response: a dial failure, a
// reset, a timeout, a cancelled context. Written records whether any of the
// request may have reached the connection (traced with httptrace): if not,
// Twilio cannot have acted on it and a retry is safe; if so, it may have
// created the message and only reconciliation can tell.
type TransportError struct {
	Method  string // GET or POST
	Path    string // the API path, e.g. /2010-04-01/Accounts/AC…/Messages.json
	Written bool   // whether any of the request may have reached the server
	Err     error  // the transport's error, without net/http's *url.Error layer
}

// Error says which call failed and whether the request may have been sent;
// it never includes credentials (they travel only in a header).
func (e *TransportError) Error() string {
	state := "request not sent"
	if e.Written {
		state = "request sent, response lost"
	}
	return "twilio: " + e.Method + " " + e.Path + ": " + state + ": " + e.Err.Error()
}

// Unwrap returns the underlying failure, so errors.Is(err, context.Canceled)
// and friends work through it.
func (e *TransportError) Unwrap() error { return e.Err }

// Timeout reports whether the failure was a timeout (ours or the caller's deadline).
func (e *TransportError) Timeout() bool {
	if errors.Is(e.Err, context.DeadlineExceeded) {
		return true
	}
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}

// Class is what a send's result means for the recipient and the campaign.
type Class int

const (
	// ClassAccepted: Twilio took the message (err == nil).
	ClassAccepted Class = iota
	// ClassRetryable: nothing was sent (429/20429, 21611, a transport
	// failure before the request was written); retry after back-off.
	ClassRetryable
	// ClassInDoubt: the message may have been created (5xx, a timeout or
	// reset after the request was written, an unreadable 2xx); reconcile
	// against the Messages list before any retry.
	ClassInDoubt
	// ClassRecipient: this recipient cannot be sent to (21211, 21614,
	// 21408, …, and any 4xx not otherwise listed).
	ClassRecipient
	// ClassOptOut: the recipient replied STOP (21610); never text them again.
	ClassOptOut
	// ClassCampaign: every send would fail the same way (bad
	// credentials, wrong account, unusable sender): pause the campaign.
	ClassCampaign
)

var classNames = [...]string{
	ClassAccepted:  "accepted",
	ClassRetryable: "retryable",
	ClassInDoubt:   "in_doubt",
	ClassRecipient: "recipient",
	ClassOptOut:    "opt_out",
	ClassCampaign:  "campaign",
}

// String returns the class's snake_case name, as twilio_errors.class spells it.
func (o Class) String() string {
	if o >= 0 && int(o) < len(classNames) {
		return classNames[o]
	}
	return "Class(" + strconv.Itoa(int(o)) + ")"
}

// Classify maps the error of a send (CreateMessage) to its Class. It
// accepts any error: an *Error by its Twilio code, then its HTTP status; a
// *TransportError by whether the request was written; ErrMalformedResponse as
// in doubt. Anything else, including a bare context error the client did not
// produce, is in doubt, because guessing "not sent" wrongly texts someone twice
// while "in doubt" only costs a reconcile.
func Classify(err error) Class {
	if err == nil {
		return ClassAccepted
	}
	if errors.Is(err, ErrInvalidParams) || errors.Is(err, ErrInvalidConfig) {
		// Refused before any request: nothing sent, and retrying cannot help.
		return ClassCampaign
	}
	var apiErr *Error
	if errors.As(err, &apiErr) {
		return classifyAPIError(apiErr)
	}
	if errors.Is(err, ErrMalformedResponse) {
		return ClassInDoubt
	}
	var te *TransportError
	if errors.As(err, &te) {
		if te.Written {
			return ClassInDoubt
		}
		return ClassRetryable
	}
	return ClassInDoubt
}

func classifyAPIError(e *Error) Class {
	if info, ok := codes[e.Code]; ok && !info.Delivery {
		return info.Class
	}
	switch {
	case e.Status == http.StatusTooManyRequests:
		return ClassRetryable
	case e.Status == http.StatusUnauthorized, e.Status == http.StatusForbidden, e.Status == http.StatusNotFound:
		return ClassCampaign
	case e.Status >= 500:
		return ClassInDoubt
	case e.Status >= 400:
		return ClassRecipient
	default:
		// A redirect or other unexpected status: the base URL points at
		// something that is not the API, and every send would get the same.
		return ClassCampaign
	}
}

// RetryAfterOf returns the Retry-After an API error carried (seconds or an
// HTTP date, relative to when it arrived), or 0 when there was none.
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// IsNotFound reports whether err is Twilio's 404 (20404): on FetchMessage, an
// unknown sid.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.Code == 20404 || (e.Code == 0 && e.Status == http.StatusNotFound))
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
