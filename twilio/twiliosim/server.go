package twiliosim

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// apiVersion is the only API version the simulator serves.
const apiVersion = "2010-04-01"

// accountsPrefix starts every path the simulator serves.
const accountsPrefix = "/" + apiVersion + "/Accounts/"

// Message is one message as the simulator holds it. Zero times and empty
// strings are what Twilio shows as null.
type Message struct {
	SID                 string
	AccountSID          string
	To                  string
	From                string // empty behind a Messaging Service until sent
	MessagingServiceSID string
	Body                string
	Status              string // queued, accepted, scheduled, sent, delivered, undelivered, failed
	ErrorCode           int    // 30xxx once undelivered or failed, else 0
	NumSegments         int
	NumMedia            int
	Price               string // set when sent, e.g. "-0.00790"
	DateCreated         time.Time
	DateSent            time.Time
	DateUpdated         time.Time
	StatusCallback      string
	ValidityPeriod      int // seconds
	SendAt              time.Time
}

// Stats are counters since the server started. Every field is a count of
// requests or callback attempts, except InFlightPeak.
type Stats struct {
	Requests         int64 // every request that reached the handler
	Created          int64 // messages created (answered 201, or created with the response lost)
	Rejected         int64 // creates answered 400 (validation, magic numbers, 21611)
	Unauthorized     int64 // answered 401
	Throttled        int64 // answered 429: over MaxConcurrency or picked by Fail429
	ServerErrors     int64 // answered 500/503 by Fail5xx
	LostResponses    int64 // created, then the response was dropped
	CallbacksSent    int64 // callback attempts answered 2xx
	CallbacksFailed  int64 // callback attempts that failed (non-2xx or transport error)
	CallbacksDropped int64 // callbacks given up after the last retry
	InFlightPeak     int64 // most requests in flight at once
}

type counters struct {
	requests, created, rejected, unauthorized, throttled, serverErrors, lost atomic.Int64
	cbSent, cbFailed, cbDropped, inflight, peak                              atomic.Int64
}

// Server is the simulated Twilio API. It is an [http.Handler] and safe for
// concurrent use; call Close to stop its delivery and callback goroutines.
type Server struct {
	opts      Options
	log       *slog.Logger
	now       func() time.Time
	rnd       *source
	smSIDs    sidMaker
	authBasic []byte   // "Basic base64(sid:token)": the fast path for auth
	keyBasic  [][]byte // the same for each API key
	cbRetries int

	mu      sync.Mutex // guards the store below and every record's mutable fields
	recs    []*record  // creation order
	bySID   map[string]*record
	byTo    map[string][]*record
	senders map[string]*senderQueue

	sched   *scheduler
	cbq     *callbackQueue
	client  *http.Client
	ctx     context.Context // canceled by Close: ends callbacks and stalled handlers
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	closing sync.Once
	stats   counters
}

// New returns a running Server configured by opts. Options are normalised
// (fractions clamped, defaults filled in) rather than rejected, so New
// cannot fail.
func New(opts Options) *Server {
	if opts.AccountSID == "" {
		opts.AccountSID = "AC" + randomHex(16)
	}
	if opts.AuthToken == "" {
		opts.AuthToken = randomHex(16)
	}
	opts.Fail5xx = clamp01(opts.Fail5xx)
	opts.Fail429 = clamp01(opts.Fail429)
	opts.LoseResponse = clamp01(opts.LoseResponse)
	opts.Undelivered = clamp01(opts.Undelivered)
	opts.Reorder = clamp01(opts.Reorder)
	if opts.QueueSeconds <= 0 {
		opts.QueueSeconds = 36000
	}
	if opts.CallbackBackoff <= 0 {
		opts.CallbackBackoff = 100 * time.Millisecond
	}
	if opts.CallbackTimeout <= 0 {
		opts.CallbackTimeout = 10 * time.Second
	}
	s := &Server{
		opts:    opts,
		log:     opts.Logger,
		now:     opts.Now,
		rnd:     newSource(opts.Seed),
		smSIDs:  newSIDMaker(opts.Seed, sidSalt()),
		bySID:   make(map[string]*record),
		byTo:    make(map[string][]*record),
		senders: make(map[string]*senderQueue),
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	switch {
	case opts.CallbackRetries == 0:
		s.cbRetries = 3
	case opts.CallbackRetries > 0:
		s.cbRetries = opts.CallbackRetries
	}
	s.authBasic = basicHeader(opts.AccountSID, opts.AuthToken)
	for sid, secret := range opts.APIKeys {
		s.keyBasic = append(s.keyBasic, basicHeader(sid, secret))
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.startDelivery()
	return s
}

func basicHeader(user, pass string) []byte {
	return []byte("Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
}

// AccountSID returns the account SID the server accepts.
func (s *Server) AccountSID() string { return s.opts.AccountSID }

// AuthToken returns the auth token the server accepts and signs callbacks with.
func (s *Server) AuthToken() string { return s.opts.AuthToken }

// Close stops the delivery scheduler and callback workers, cancels callbacks
// in flight and releases stalled handlers. Messages stay readable. It is
// idempotent.
func (s *Server) Close() {
	s.closing.Do(func() {
		s.cancel()
		s.sched.close()
		s.cbq.close()
		s.wg.Wait()
		s.client.CloseIdleConnections()
	})
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	c := &s.stats
	return Stats{
		Requests:         c.requests.Load(),
		Created:          c.created.Load(),
		Rejected:         c.rejected.Load(),
		Unauthorized:     c.unauthorized.Load(),
		Throttled:        c.throttled.Load(),
		ServerErrors:     c.serverErrors.Load(),
		LostResponses:    c.lost.Load(),
		CallbacksSent:    c.cbSent.Load(),
		CallbacksFailed:  c.cbFailed.Load(),
		CallbacksDropped: c.cbDropped.Load(),
		InFlightPeak:     c.peak.Load(),
	}
}

// Messages returns a copy of every message ever accepted, in creation order,
// whatever ListLag says: it is the ground truth tests count duplicates with.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.recs))
	for i, r := range s.recs {
		out[i] = r.Message
	}
	return out
}

// MessagesTo returns a copy of every message ever accepted for the To
// number to, in creation order.
func (s *Server) MessagesTo(to string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	recs := s.byTo[to]
	out := make([]Message, len(recs))
	for i, r := range recs {
		out[i] = r.Message
	}
	return out
}

// Message returns the message with the given SID.
func (s *Server) Message(sid string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.bySID[sid]
	if !ok {
		return Message{}, false
	}
	return r.Message, true
}

// ServeHTTP answers the Messages API: create, list and fetch.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.stats.requests.Add(1)
	n := s.stats.inflight.Add(1)
	defer s.stats.inflight.Add(-1)
	for {
		p := s.stats.peak.Load()
		if n <= p || s.stats.peak.CompareAndSwap(p, n) {
			break
		}
	}
	if m := s.opts.MaxConcurrency; m > 0 && n > int64(m) {
		s.stats.throttled.Add(1)
		w.Header().Set("Twilio-Concurrent-Requests", strconv.FormatInt(n, 10))
		s.writeError(w, codeTooMany, "")
		return
	}
	if d := s.opts.Latency + s.rnd.duration(s.opts.Jitter); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if !s.authorized(r) {
		s.stats.unauthorized.Add(1)
		s.writeError(w, codeAuth, "")
		return
	}
	account, rest, ok := splitPath(r.URL.Path)
	if !ok || account != s.opts.AccountSID {
		s.writeError(w, codeNotFound, "The requested resource "+r.URL.Path+" was not found")
		return
	}
	if rest == "Messages.json" {
		switch r.Method {
		case http.MethodPost:
			s.create(w, r)
		case http.MethodGet:
			s.list(w, r)
		default:
			w.Header().Set("Allow", "GET, POST")
			s.writeError(w, codeMethod, "")
		}
		return
	}
	sid, ok := strings.CutPrefix(rest, "Messages/")
	if ok {
		sid, ok = strings.CutSuffix(sid, ".json")
	}
	if !ok || sid == "" || strings.Contains(sid, "/") {
		s.writeError(w, codeNotFound, "The requested resource "+r.URL.Path+" was not found")
		return
	}
	// Twilio also lets you update (POST) and delete messages; smsblast does
	// neither, so the simulator refuses them rather than half-implement them.
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		s.writeError(w, codeMethod, "")
		return
	}
	s.fetch(w, r, sid)
}

// splitPath splits /2010-04-01/Accounts/{sid}/{rest}.
func splitPath(p string) (account, rest string, ok bool) {
	tail, ok := strings.CutPrefix(p, accountsPrefix)
	if !ok {
		return "", "", false
	}
	return strings.Cut(tail, "/")
}

// authorized checks Basic auth: the account SID and auth token, or an API
// key SID and secret. The precomputed headers make the common case one
// constant-time comparison with no decoding.
func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if h == "" {
		return false
	}
	if subtle.ConstantTimeCompare([]byte(h), s.authBasic) == 1 {
		return true
	}
	for _, k := range s.keyBasic {
		if subtle.ConstantTimeCompare([]byte(h), k) == 1 {
			return true
		}
	}
	// Slow path for spellings the fast path misses (a lower-case scheme).
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	if user == s.opts.AccountSID {
		return subtle.ConstantTimeCompare([]byte(pass), []byte(s.opts.AuthToken)) == 1
	}
	if secret, ok := s.opts.APIKeys[user]; ok {
		return subtle.ConstantTimeCompare([]byte(pass), []byte(secret)) == 1
	}
	return false
}

var jsonContentType = []string{"application/json"}

// writeJSON writes body with status, setting Content-Length so keep-alive
// connections never fall back to chunking.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client went away: nothing to do
}

// writeError writes Twilio's error body for code; msg overrides the
// standard text.
func (s *Server) writeError(w http.ResponseWriter, code int, msg string) {
	if msg == "" {
		msg = describe(code)
	}
	writeJSON(w, codeStatus(code), marshal(wireError{Code: code, Message: msg,
		MoreInfo: "https://www.twilio.com/docs/errors/" + strconv.Itoa(code), Status: codeStatus(code)}))
}
