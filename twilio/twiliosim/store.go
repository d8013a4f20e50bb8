package twiliosim

import (
	"strconv"
	"time"
)

// serviceNumber is the From a Messaging Service picks from its pool when it
// sends: any plausible fixed number will do for the simulator.
const serviceNumber = "+15017122661"

// record is a stored message plus what the simulator planned for it. Its
// mutable fields are guarded by Server.mu.
type record struct {
	Message
	seq       int       // index in Server.recs: creation order
	visibleAt time.Time // first moment List shows it (ListLag)
	final     string    // delivered, undelivered or failed
	finalCode int
	doneAt    time.Time // when the final status lands after "sent"
}

// senderQueue models one sender's queue: freeAt is when the segments queued
// so far will all have left.
type senderQueue struct {
	freeAt time.Time
}

// drawOutcome decides how a message to `to` ends: 0 for delivered, or a
// 30xxx code. The Fail map wins over the Undelivered fraction.
func (s *Server) drawOutcome(to string) int {
	if code, ok := s.opts.Fail[to]; ok {
		return code
	}
	if s.opts.Undelivered > 0 && s.rnd.float() < s.opts.Undelivered {
		return undeliveredCodes[s.rnd.intN(len(undeliveredCodes))]
	}
	return 0
}

// insert stores m (setting its SID), plans its delivery and returns the first
// delivery event to schedule. It answers 21611 instead when m's sender queue
// is full and m names a From.
func (s *Server) insert(m *Message, outcome int, now time.Time) (*event, int) {
	o := &s.opts
	half := o.DeliverAfter / 2
	start := now
	if !m.SendAt.IsZero() {
		start = m.SendAt
	}
	leave := start
	overflow := false

	s.mu.Lock()
	defer s.mu.Unlock()
	// Throughput applies to messages sent now; scheduled ones join their
	// sender's queue at SendAt, which the simulator does not model.
	if o.SenderMPS > 0 && m.SendAt.IsZero() {
		key := m.From
		if key == "" {
			key = m.MessagingServiceSID
		}
		q := s.senders[key]
		if q == nil {
			q = &senderQueue{}
			s.senders[key] = q
		}
		free := q.freeAt
		if free.Before(start) {
			free = start
		}
		backlog := free.Sub(start).Seconds() * o.SenderMPS
		if backlog+float64(m.NumSegments) > o.SenderMPS*o.QueueSeconds {
			if m.From != "" {
				return nil, codeQueueFull
			}
			// Behind a Messaging Service Twilio accepts the message and
			// fails it later with 30001 (queue overflow).
			overflow = true
		} else {
			q.freeAt = free.Add(time.Duration(float64(m.NumSegments) / o.SenderMPS * float64(time.Second)))
			leave = q.freeAt
		}
	}

	seq := len(s.recs)
	m.SID = s.smSIDs.make("SM", uint64(seq))
	r := &record{Message: *m, seq: seq, visibleAt: now.Add(o.ListLag), final: "delivered"}
	s.recs = append(s.recs, r)
	s.bySID[m.SID] = r
	s.byTo[m.To] = append(s.byTo[m.To], r)

	sentAt := start.Add(half)
	if leave.After(sentAt) {
		sentAt = leave
	}
	r.doneAt = sentAt.Add(o.DeliverAfter - half)
	switch {
	case overflow:
		r.final, r.finalCode = "failed", codeQueueOverflow
		return &event{at: start.Add(half), rec: r, status: "failed"}, 0
	case leave.Sub(start) > time.Duration(m.ValidityPeriod)*time.Second:
		r.final, r.finalCode = "failed", codeValidityGone
		return &event{at: start.Add(time.Duration(m.ValidityPeriod) * time.Second), rec: r, status: "failed"}, 0
	case outcome != 0 && failedCodes[outcome]:
		r.final, r.finalCode = "failed", outcome
		return &event{at: sentAt, rec: r, status: "failed"}, 0
	case outcome != 0:
		r.final, r.finalCode = "undelivered", outcome
	}
	return &event{at: sentAt, rec: r, status: "sent"}, 0
}

// price is what Twilio would charge: a US rate per segment, negative as
// Twilio shows debits.
func price(segments int) string {
	return strconv.FormatFloat(-0.0079*float64(segments), 'f', 5, 64)
}
