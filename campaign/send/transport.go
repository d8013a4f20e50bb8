package send

import (
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/smsblast/smsblast/twilio"
)

// transportLogEvery is how often one kind of transport failure is logged:
// once when it starts, then at most this often with a count, so an outage
// is visible at the default level without a line per request.
const transportLogEvery = 5 * time.Second

// transportWatch notices when Twilio cannot be reached (no HTTP answer at
// all), says so in the log, and tracks how long it has lasted. Safe for
// concurrent use.
type transportWatch struct {
	log   *slog.Logger
	count func() // counts a failure in the engine's Stats

	mu        sync.Mutex
	kinds     map[string]*transportKind
	downSince time.Time // first failure since the last answer; zero while answering
	last      string    // the latest failure, in words
}

type transportKind struct {
	logged     time.Time
	suppressed int
}

func newTransportWatch(log *slog.Logger, count func()) *transportWatch {
	return &transportWatch{log: log, count: count, kinds: map[string]*transportKind{}}
}

// failed records a request that got no answer.
func (w *transportWatch) failed(te *twilio.TransportError, now time.Time) {
	kind := transportKindOf(te)
	w.count()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.downSince.IsZero() {
		w.downSince = now
	}
	w.last = kind
	k := w.kinds[kind]
	if k == nil {
		k = &transportKind{}
		w.kinds[kind] = k
	}
	if now.Sub(k.logged) < transportLogEvery {
		k.suppressed++
		return
	}
	args := []any{"kind", kind, "err", te.Err, "request_written", te.Written}
	if k.suppressed > 0 {
		args = append(args, "more_since_last_report", k.suppressed)
	}
	if !w.downSince.Equal(now) {
		args = append(args, "no_answer_for", now.Sub(w.downSince).Round(time.Second))
	}
	w.log.Warn("cannot reach Twilio; recipients will be retried (or reconciled if the request was sent)", args...)
	k.logged, k.suppressed = now, 0
}

// answered records that Twilio answered (with a message or an API error).
func (w *transportWatch) answered(now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.downSince.IsZero() {
		w.log.Info("Twilio answers again", "after", now.Sub(w.downSince).Round(time.Second))
		w.downSince = time.Time{}
	}
}

// snapshot returns since when nothing has answered (zero while Twilio
// answers) and the latest failure's kind.
func (w *transportWatch) snapshot() (downSince time.Time, last string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.downSince, w.last
}

// transportKindOf names a transport failure in the words a user acts on.
func transportKindOf(te *twilio.TransportError) string {
	var dns *net.DNSError
	switch {
	case errors.Is(te.Err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(te.Err, syscall.ECONNRESET):
		return "connection reset"
	case errors.As(te.Err, &dns):
		return "DNS lookup failed"
	case te.Timeout():
		return "timeout"
	}
	msg := te.Err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return msg
}
