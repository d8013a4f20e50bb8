package twiliosim

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/smsblast/smsblast/twilio"
)

// create answers POST …/Messages.json.
func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.stats.rejected.Add(1)
		s.writeError(w, codeUnknownParam, "Unable to parse the request body.")
		return
	}
	// One draw picks the request's fate, before validation: Twilio's
	// transient failures do not depend on what the request says.
	u := s.rnd.float()
	o := &s.opts
	switch {
	case u < o.Fail5xx:
		s.stats.serverErrors.Add(1)
		code := codeInternal
		if u < o.Fail5xx/2 {
			code = codeUnavailable
		}
		s.log.Debug("twiliosim: injected server error", "code", code)
		s.writeError(w, code, "")
		return
	case u < o.Fail5xx+o.Fail429:
		s.stats.throttled.Add(1)
		s.log.Debug("twiliosim: injected 429")
		s.writeError(w, codeTooMany, "")
		return
	}
	lose := u < o.Fail5xx+o.Fail429+o.LoseResponse

	now := s.now()
	m, code, msg := s.validate(r.PostForm, now)
	if code != 0 {
		s.stats.rejected.Add(1)
		s.writeError(w, code, msg)
		return
	}
	outcome := s.drawOutcome(m.To)
	first, code := s.insert(&m, outcome, now)
	if code != 0 {
		s.stats.rejected.Add(1)
		s.writeError(w, code, "")
		return
	}
	s.stats.created.Add(1)
	s.sched.push(first)
	if lose {
		s.loseResponse(w, r, m.SID)
		return
	}
	writeJSON(w, http.StatusCreated, marshal(wire(&m)))
}

// loseResponse drops the answer to a create whose message exists.
func (s *Server) loseResponse(w http.ResponseWriter, r *http.Request, sid string) {
	s.stats.lost.Add(1)
	s.log.Debug("twiliosim: losing response", "sid", sid, "mode", s.opts.LoseMode.String())
	if s.opts.LoseMode == LoseStall {
		select {
		case <-r.Context().Done():
		case <-s.ctx.Done():
		}
		// Whatever we wrote now would be dropped anyway; aborting makes sure
		// a client that is still there sees a broken connection, not a 200.
		panic(http.ErrAbortHandler)
	}
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = conn.Close() // the point is that the client gets nothing
		return
	}
	// HTTP/2 and recorders cannot hijack: aborting the handler resets the
	// stream (or, under a bare recorder, panics with ErrAbortHandler).
	panic(http.ErrAbortHandler)
}

// validate checks a create request the way Twilio does and returns the
// message it describes, or an error code and (optionally) message.
func (s *Server) validate(f url.Values, now time.Time) (Message, int, string) {
	to := f.Get("To")
	from := f.Get("From")
	service := f.Get("MessagingServiceSid")
	body := f.Get("Body")
	_, hasBody := f["Body"]
	media := len(f["MediaUrl"])
	content := f.Get("ContentSid")

	if to == "" {
		return Message{}, codeNoTo, ""
	}
	// Twilio lets an MG… SID stand in the From parameter.
	if service == "" && strings.HasPrefix(from, "MG") {
		service, from = from, ""
	}
	if from == "" && service == "" {
		return Message{}, codeNoFrom, ""
	}
	// An absent Body with no media is 21619 ("body or media url"); a Body
	// that is present but blank is 21602 ("body is required"). Twilio does
	// not document which it answers when; blank-as-missing is the stricter
	// reading, and smsblast treats both codes alike.
	if strings.TrimSpace(body) == "" && media == 0 && content == "" {
		if hasBody {
			return Message{}, codeNoBody, ""
		}
		return Message{}, codeNoBodyOrMedia, ""
	}
	// Twilio counts "characters"; counting UTF-16 units (an emoji is 2) is
	// the stricter reading.
	if utf16Len(body) > 1600 {
		return Message{}, codeBodyTooLong, ""
	}
	validity := 36000
	if v, ok := f["ValidityPeriod"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 || n > 36000 {
			return Message{}, codeValidity, ""
		}
		validity = n
	}
	if service != "" && !validSID(service, "MG") {
		return Message{}, codeBadService, ""
	}
	cb := f.Get("StatusCallback")
	if cb != "" {
		u, err := url.Parse(cb)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return Message{}, codeBadCallback, ""
		}
	}
	if from != "" && !validSender(from) {
		return Message{}, codeInvalidFrom, "The 'From' number " + from + " is not a valid phone number, shortcode, or alphanumeric sender ID."
	}
	if !validE164(to) {
		return Message{}, codeInvalidTo, "The 'To' number " + to + " is not a valid phone number."
	}
	if to == from {
		return Message{}, codeSameToFrom, ""
	}
	// Twilio's magic test numbers.
	switch from {
	case "+15005550001":
		return Message{}, codeInvalidFrom, ""
	case "+15005550007":
		return Message{}, codeFromNotUsable, ""
	case "+15005550008":
		return Message{}, codeQueueFull, ""
	}
	switch to {
	case "+15005550001":
		return Message{}, codeInvalidTo, "The 'To' number " + to + " is not a valid phone number."
	case "+15005550002":
		return Message{}, codeCannotRoute, ""
	case "+15005550003":
		return Message{}, codeRegion, ""
	case "+15005550004":
		return Message{}, codeUnsubscribed, ""
	case "+15005550009":
		return Message{}, codeNotMobile, ""
	}

	status := "queued"
	if service != "" {
		status = "accepted"
	}
	var sendAt time.Time
	switch st := f.Get("ScheduleType"); st {
	case "":
		// SendAt without ScheduleType=fixed is ignored, as Twilio documents.
	case "fixed":
		if service == "" {
			return Message{}, codeScheduleService, ""
		}
		v := f.Get("SendAt")
		if v == "" {
			return Message{}, codeSendAtMissing, ""
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil || t.Before(now.Add(300*time.Second)) || t.After(now.Add(35*24*time.Hour)) {
			return Message{}, codeSendAtRange, ""
		}
		sendAt, status = t, "scheduled"
	default:
		return Message{}, codeUnknownParam, "Invalid ScheduleType " + strconv.Quote(st) + "."
	}

	segments := twilio.SegmentCount(body)
	if segments == 0 {
		segments = 1 // media only: Twilio bills one message
	}
	return Message{
		AccountSID:          s.opts.AccountSID,
		To:                  to,
		From:                from,
		MessagingServiceSID: service,
		Body:                body,
		Status:              status,
		NumSegments:         segments,
		NumMedia:            media,
		DateCreated:         now,
		DateUpdated:         now,
		StatusCallback:      cb,
		ValidityPeriod:      validity,
		SendAt:              sendAt,
	}, 0, ""
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// validE164 reports whether s is a plausible E.164 number: "+", then 8 to 15
// digits not starting with 0; North American (+1) numbers must have exactly
// ten digits after the 1 and an area code not starting with 0 or 1. Twilio
// checks against real numbering plans; this is looser than that but strict
// about the format mistakes a CSV import lets through (no +, spaces, dashes,
// national format).
func validE164(s string) bool {
	if len(s) < 9 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	if s[1] == '1' {
		return len(s) == 12 && s[2] >= '2'
	}
	return true
}

// validSender reports whether s can be a From: an E.164 number, a short code
// (3 to 8 digits) or an alphanumeric sender ID (up to 11 letters, digits and
// spaces, at least one letter).
func validSender(s string) bool {
	if strings.HasPrefix(s, "+") {
		return validE164(s)
	}
	if len(s) == 0 || len(s) > 11 {
		return false
	}
	digits, letters := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			letters++
		case c == ' ':
		default:
			return false
		}
	}
	if letters == 0 {
		return digits == len(s) && digits >= 3 && digits <= 8
	}
	return true
}

// validSID reports whether s is prefix + 32 hex digits.
func validSID(s, prefix string) bool {
	if len(s) != 34 || !strings.HasPrefix(s, prefix) {
		return false
	}
	for i := 2; i < 34; i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
