package twiliosim

import (
	"container/heap"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smsblast/smsblast/twilio"
)

// Delivery runs on one scheduler goroutine over a timer heap plus a fixed
// pool of callback workers, never a goroutine per message: a benchmark
// creates hundreds of thousands of messages, each with two or three
// transitions and callbacks.

// callbackWorkers bounds concurrent callback POSTs.
const callbackWorkers = 16

// event is a due transition of rec to status, or a due callback attempt.
type event struct {
	at     time.Time
	seq    uint64 // FIFO among equal times
	rec    *record
	status string
	cb     *callback
}

type eventHeap []*event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(*event)) }
func (h *eventHeap) Pop() any {
	old := *h
	ev := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return ev
}

// scheduler is a timer heap. It is safe for concurrent use.
type scheduler struct {
	mu     sync.Mutex
	h      eventHeap
	seq    uint64
	closed bool
	wake   chan struct{}
	done   chan struct{}
}

func (q *scheduler) push(ev *event) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	ev.seq = q.seq
	q.seq++
	heap.Push(&q.h, ev)
	first := q.h[0] == ev
	q.mu.Unlock()
	if first {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

func (q *scheduler) close() {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.done)
	}
	q.mu.Unlock()
}

// callback is one status callback, encoded and signed once, then attempted
// until it succeeds or runs out of retries.
type callback struct {
	url     string
	body    string
	sig     string
	sid     string
	status  string
	attempt int
}

// callbackQueue is an unbounded FIFO feeding the workers, so a slow
// callback endpoint delays callbacks but never the scheduler. It is safe for
// concurrent use.
type callbackQueue struct {
	mu     sync.Mutex
	cond   sync.Cond
	items  []*callback
	closed bool
}

func (q *callbackQueue) push(cb *callback) {
	q.mu.Lock()
	if !q.closed {
		q.items = append(q.items, cb)
	}
	q.mu.Unlock()
	q.cond.Signal()
}

func (q *callbackQueue) pop() (*callback, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return nil, false
	}
	cb := q.items[0]
	q.items[0] = nil
	q.items = q.items[1:]
	return cb, true
}

func (q *callbackQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

func (s *Server) startDelivery() {
	s.sched = &scheduler{wake: make(chan struct{}, 1), done: make(chan struct{})}
	s.cbq = &callbackQueue{}
	s.cbq.cond.L = &s.cbq.mu
	s.client = &http.Client{
		Transport: &http.Transport{
			Proxy:               nil, // callbacks go where they are told, never via a proxy
			MaxIdleConnsPerHost: callbackWorkers,
			IdleConnTimeout:     30 * time.Second,
		},
		Timeout: s.opts.CallbackTimeout,
	}
	s.wg.Add(1 + callbackWorkers)
	go s.runScheduler()
	for range callbackWorkers {
		go s.runCallbacks()
	}
}

func (s *Server) runScheduler() {
	defer s.wg.Done()
	q := s.sched
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	// A custom clock need not move with real time, so look at it often.
	maxWait := time.Hour
	if s.opts.Now != nil {
		maxWait = 50 * time.Millisecond
	}
	var due []*event
	for {
		q.mu.Lock()
		now := s.now()
		for len(q.h) > 0 && len(due) < 1024 && !q.h[0].at.After(now) {
			due = append(due, heap.Pop(&q.h).(*event))
		}
		wait := maxWait
		if len(q.h) > 0 {
			wait = min(q.h[0].at.Sub(now), maxWait)
		}
		q.mu.Unlock()
		if len(due) > 0 {
			for i, ev := range due {
				s.handle(ev)
				due[i] = nil
			}
			due = due[:0]
			continue // handling may have made more events due
		}
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-q.wake:
		case <-q.done:
			return
		}
	}
}

func (s *Server) handle(ev *event) {
	if ev.cb != nil {
		s.cbq.push(ev.cb)
		return
	}
	r := ev.rec
	var next *event
	var cb *callback
	s.mu.Lock()
	r.Status = ev.status
	r.DateUpdated = ev.at
	switch ev.status {
	case "sent":
		r.DateSent = ev.at
		if r.From == "" {
			r.From = serviceNumber
		}
		r.Price = price(r.NumSegments)
		next = &event{at: r.doneAt, rec: r, status: r.final}
	case "undelivered", "failed":
		r.ErrorCode = r.finalCode
	}
	if !s.opts.NoCallbacks && r.StatusCallback != "" {
		cb = s.newCallback(r, ev.at)
	}
	s.mu.Unlock()
	if next != nil {
		s.sched.push(next)
	}
	if cb == nil {
		return
	}
	if s.opts.Reorder > 0 && s.rnd.float() < s.opts.Reorder {
		// Hold it back past the message's next transition, so the next
		// callback overtakes it.
		base := max(s.opts.DeliverAfter, 50*time.Millisecond)
		s.sched.push(&event{at: s.now().Add(base + s.rnd.duration(base)), cb: cb})
		return
	}
	s.cbq.push(cb)
}

// newCallback builds the status callback for r's current state. Caller
// holds s.mu.
func (s *Server) newCallback(r *record, at time.Time) *callback {
	p := url.Values{
		"MessageSid":    {r.SID},
		"SmsSid":        {r.SID},
		"MessageStatus": {r.Status},
		"SmsStatus":     {r.Status},
		"AccountSid":    {r.AccountSID},
		"From":          {r.From},
		"To":            {r.To},
		"ApiVersion":    {apiVersion},
	}
	if r.MessagingServiceSID != "" {
		p.Set("MessagingServiceSid", r.MessagingServiceSID)
	}
	if r.Status == "undelivered" || r.Status == "failed" {
		p.Set("ErrorCode", strconv.Itoa(r.ErrorCode))
	}
	if r.Status == "delivered" || r.Status == "undelivered" {
		p.Set("RawDlrDoneDate", at.UTC().Format("0601021504"))
	}
	return &callback{
		url:    r.StatusCallback,
		body:   p.Encode(),
		sig:    twilio.Signature(s.opts.AuthToken, r.StatusCallback, p),
		sid:    r.SID,
		status: r.Status,
	}
}

func (s *Server) runCallbacks() {
	defer s.wg.Done()
	for {
		cb, ok := s.cbq.pop()
		if !ok {
			return
		}
		s.post(cb)
	}
}

// post makes one attempt at cb and schedules a retry if it fails.
func (s *Server) post(cb *callback) {
	err := s.attempt(cb)
	if err == nil {
		s.stats.cbSent.Add(1)
		return
	}
	if s.ctx.Err() != nil {
		return // closing: neither a failure of the endpoint nor worth a retry
	}
	s.stats.cbFailed.Add(1)
	if cb.attempt >= s.cbRetries {
		s.stats.cbDropped.Add(1)
		s.log.Debug("twiliosim: callback dropped", "sid", cb.sid, "status", cb.status, "attempts", cb.attempt+1, "err", err)
		return
	}
	delay := s.opts.CallbackBackoff << min(cb.attempt, 16)
	cb.attempt++
	s.log.Debug("twiliosim: callback failed, retrying", "sid", cb.sid, "status", cb.status, "in", delay, "err", err)
	s.sched.push(&event{at: s.now().Add(delay), cb: cb})
}

type statusError int

func (e statusError) Error() string { return "callback answered HTTP " + strconv.Itoa(int(e)) }

func (s *Server) attempt(cb *callback) error {
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, cb.url, strings.NewReader(cb.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", cb.sig)
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // drain so the connection is reused
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return statusError(resp.StatusCode)
	}
	return nil
}
