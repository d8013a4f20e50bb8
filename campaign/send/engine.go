package send

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smsblast/smsblast/campaign"

	"github.com/smsblast/smsblast/limiter"
	"github.com/smsblast/smsblast/twilio"
)

// Messenger is what the engine needs from Twilio; *twilio.Client has it.
type Messenger interface {
	CreateMessage(ctx context.Context, p *twilio.CreateMessageParams) (*twilio.Message, error)
	ListMessages(ctx context.Context, p *twilio.ListMessagesParams) iter.Seq2[*twilio.Message, error]
}

// DefaultSafetyWindow is Config.SafetyWindow's default: Twilio's list has
// been seen to lag new messages by minutes, rarely more.
const DefaultSafetyWindow = 2 * time.Minute

// NoSafetyWindow, as Config.SafetyWindow, re-sends an attempt as soon as its
// message is not in the list: right only for a list without lag (the
// simulator's).
const NoSafetyWindow time.Duration = -1

// Config tunes an Engine. Zero fields take the defaults documented on them.
type Config struct {
	// Rate overrides the campaign's rate (segments per second) for this run;
	// 0 uses the campaign's. Either way it is split among live workers.
	Rate float64
	// Concurrency caps this worker's in-flight requests; 0 uses the campaign's.
	Concurrency int
	// Lease is how long a claim holds a recipient without renewal. Default 30s.
	Lease time.Duration
	// RequestTimeout bounds one create request. Default 10s. Must be well
	// under Lease.
	RequestTimeout time.Duration
	// LeaseMargin is the slack kept between a request's timeout and its
	// lease deadline. Default 2s, or half the request timeout if less.
	LeaseMargin time.Duration
	// Heartbeat is how often the worker reports, follows pause/cancel and
	// rate changes, and looks for work in doubt. Default 1s.
	Heartbeat time.Duration
	// SafetyWindow is how long after a row fell in doubt a message it may
	// have created is assumed to be visible in Twilio's list. Default
	// DefaultSafetyWindow; NoSafetyWindow trusts the list to show a message
	// at once, which only the simulator does.
	SafetyWindow time.Duration
	// ClockSkew is how much earlier than its claim a message may be dated by
	// Twilio's clock and still match. Default 1m.
	ClockSkew time.Duration
	// BatchSize is how many recipients one claim takes. Default: a quarter
	// second of sending at the rate, at most 500.
	BatchSize int
	// MaxBackoff caps the delay before a retry. Default 5m.
	MaxBackoff time.Duration
	// Hostname and PID identify this worker; defaults from the OS.
	Hostname string
	PID      int
	// Alive reports whether a process on this host is running; default
	// kill(pid, 0).
	Alive func(pid int) bool
	// Logger receives progress and problems. Nil discards.
	Logger *slog.Logger
	// Now is the clock that decides when recipients are due and which day
	// a daily cap counts; nil means time.Now. Leases run on real time.
	Now func() time.Time
	// NoWait makes Run return, instead of waiting, once all that is left is
	// held back until later (a daily cap, a retry's back-off).
	NoWait bool
	// WindowMargin is how long before a recipient's send window closes
	// sending to it stops: a request may take that long to reach Twilio,
	// which dates the message when it arrives. Default: RequestTimeout.
	WindowMargin time.Duration
}

// Validate reports whether the settings can work, before anything runs: the
// same check New makes.
func (c Config) Validate() error { return c.setDefaults() }

func (c *Config) setDefaults() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"lease", c.Lease}, {"request timeout", c.RequestTimeout}, {"lease margin", c.LeaseMargin},
		{"heartbeat", c.Heartbeat}, {"clock skew", c.ClockSkew}, {"maximum back-off", c.MaxBackoff},
	} {
		if d.v < 0 {
			return fmt.Errorf("%w: %s %v is negative", ErrConfig, d.name, d.v)
		}
	}
	if c.SafetyWindow < 0 && c.SafetyWindow != NoSafetyWindow {
		return fmt.Errorf("%w: safety window %v is negative", ErrConfig, c.SafetyWindow)
	}
	if c.Rate < 0 || c.Concurrency < 0 || c.BatchSize < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) {
		return fmt.Errorf("%w: rate %v, concurrency %d and batch size %d must be positive (0: the default)", ErrConfig, c.Rate, c.Concurrency, c.BatchSize)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.Lease, 30*time.Second)
	def(&c.RequestTimeout, 10*time.Second)
	def(&c.LeaseMargin, min(2*time.Second, c.RequestTimeout/2))
	def(&c.Heartbeat, time.Second)
	switch {
	case c.SafetyWindow == 0:
		c.SafetyWindow = DefaultSafetyWindow
	case c.SafetyWindow < 0:
		c.SafetyWindow = 0
	}
	def(&c.ClockSkew, time.Minute)
	def(&c.MaxBackoff, 5*time.Minute)
	if 3*c.Heartbeat > c.Lease {
		return fmt.Errorf("%w: heartbeat %v must be at most a third of the lease %v, to renew leases in time", ErrConfig, c.Heartbeat, c.Lease)
	}
	if c.RequestTimeout+c.LeaseMargin >= c.Lease {
		return fmt.Errorf("%w: request timeout %v plus margin %v must be under the lease %v",
			ErrConfig, c.RequestTimeout, c.LeaseMargin, c.Lease)
	}
	if c.Hostname == "" {
		c.Hostname, _ = os.Hostname()
	}
	if c.PID == 0 {
		c.PID = os.Getpid()
	}
	if c.Alive == nil {
		c.Alive = processAlive
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.WindowMargin < 0 {
		return fmt.Errorf("%w: window margin %v is negative", ErrConfig, c.WindowMargin)
	}
	def(&c.WindowMargin, c.RequestTimeout)
	return nil
}

// Engine sends campaigns. One Engine may Run several campaigns one after
// another; it is safe for concurrent use by Stats while Run works.
type Engine struct {
	store   campaign.SendStore
	tw      Messenger
	cfg     Config
	log     *slog.Logger
	stats   counters
	current atomic.Pointer[run] // the run in progress, for Stats
}

// New returns an engine sending through tw and recording in st.
func New(st campaign.SendStore, tw Messenger, cfg Config) (*Engine, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	return &Engine{store: st, tw: tw, cfg: cfg, log: cfg.Logger}, nil
}

// Summary is what one Run did.
type Summary struct {
	Campaign string
	// Done: no recipient is left pending or sending; the campaign is
	// completed. Recipients in review do not hold it back: nothing is left
	// to send, and a person settles them (smsblast resolve).
	Done bool
	// AlreadyDone: the campaign was completed before this run started.
	AlreadyDone bool
	// Paused: the campaign was paused (by a user, or by Err's Twilio error).
	Paused       bool
	StatusReason string
	// Elsewhere: the pause (or cancel) came from outside this run, a user
	// or another process, rather than from the run itself (a Twilio error
	// every recipient would hit, a budget spent); Canceled: it was a cancel.
	Elsewhere, Canceled bool
	// Held: with Config.NoWait, all that was left waits until later; Holds
	// says why and until when.
	Held    bool
	Holds   []campaign.Hold
	Stats   Stats
	Elapsed time.Duration
}

// Run sends the named campaign until nothing is left to send, the campaign
// is paused or canceled, or ctx is cancelled (soft stop: requests in flight
// finish and are recorded). Cancelling hard as well aborts requests in
// flight; they are left in doubt for the next run. A campaign-level Twilio
// error pauses the campaign and is returned (a *twilio.Error inside).
func (e *Engine) Run(ctx, hard context.Context, name string) (*Summary, error) {
	start := time.Now()
	c, err := e.store.CampaignByName(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("send campaign %q: %w", name, err)
	}
	sum := &Summary{Campaign: name}
	switch c.Status {
	case campaign.StatusCompleted:
		sum.AlreadyDone, sum.Done = true, true
		return sum, nil
	case campaign.StatusCanceled:
		return nil, fmt.Errorf("send campaign %q: %w", name, campaign.ErrCanceled)
	}
	tmpl, err := campaign.ParseTemplate(c.BodyTemplate)
	if err != nil {
		return nil, fmt.Errorf("send campaign %q: %w", name, err)
	}
	started, err := e.store.StartCampaign(ctx, c.ID, e.cfg.Now())
	if err != nil {
		return nil, err
	}
	if !started { // completed or canceled since we read it
		if c, err = e.store.CampaignByName(ctx, name); err != nil {
			return nil, err
		}
		if c.Status == campaign.StatusCompleted {
			sum.AlreadyDone, sum.Done = true, true
			return sum, nil
		}
		return nil, fmt.Errorf("send campaign %q: %w", name, campaign.ErrCanceled)
	}

	r, err := e.newRun(c, tmpl)
	if err != nil {
		return nil, err
	}
	if err := e.store.RegisterWorker(ctx, campaign.Worker{ID: r.worker, CampaignID: c.ID, Hostname: e.cfg.Hostname, PID: e.cfg.PID}); err != nil {
		return nil, err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := e.store.StopWorker(stopCtx, r.worker); err != nil {
			e.log.Warn("unregister worker", "worker", r.worker, "err", err)
		}
	}()
	e.log.Info("sending", "campaign", name, "worker", r.worker,
		"concurrency", r.concurrency, "senders", len(c.Senders()))

	e.current.Store(r)
	runErr := r.run(ctx, hard)
	e.current.Store(nil)
	sum.Stats = e.Stats()
	sum.Elapsed = time.Since(start)
	sum.Done = r.done.Load()
	if h := r.holdsLeft.Load(); h != nil {
		sum.Held, sum.Holds = true, *h
	}
	if reason := r.pausedReason(); reason != "" {
		sum.Paused, sum.StatusReason = true, reason
		sum.Elsewhere, sum.Canceled = r.elsewhere.Load(), r.canceled.Load()
	}
	return sum, runErr
}

// run is one worker's state for one campaign.
type run struct {
	e           *Engine
	c           *campaign.Campaign                // as Run read it; ID and Name never change
	cur         atomic.Pointer[campaign.Campaign] // as the last heartbeat read it: settings change while it runs
	tmpl        *campaign.Template
	lim         *limiter.Limiter
	worker      string
	concurrency int
	batch       atomic.Int64 // recipients per claim: a quarter second of sending
	base        time.Time    // origin of the monotonic deadlines

	beatMu        sync.Mutex                      // one heartbeat at a time (the claimer may beat too)
	senderRates   map[string]float64              // each sender bucket's rate as last set (0: none)
	ownShare      atomic.Pointer[float64]         // this worker's share of the campaign's own rate (+Inf: none)
	holdsLeft     atomic.Pointer[[]campaign.Hold] // with NoWait: why the run stopped early
	expired       atomic.Bool                     // the stop time passed and pending rows were expired
	budgetReached atomic.Pointer[string]          // why a claim left recipients: the budget cannot take them
	elsewhere     atomic.Bool                     // a heartbeat found the campaign paused or canceled
	canceled      atomic.Bool                     // ... canceled
	waitingFor    atomic.Pointer[string]          // what the claimer waits for, in words
	waitingUntil  atomic.Pointer[time.Time]       // until when: the earliest of those holds' ends
	senders       atomic.Pointer[senderSnapshot]  // what the last heartbeat learned of the senders
	working       atomic.Bool                     // the last claim found work (else: idle, or all held)
	holds         holdLog

	soft     context.Context // cancelled to stop claiming
	stopSoft context.CancelCauseFunc
	hard     context.Context

	queue   chan *held
	out     chan campaign.Outcome
	inQueue atomic.Int64

	mu   sync.Mutex
	held map[int64]*held // claimed by this worker and not yet recorded

	done      atomic.Bool
	pause     atomic.Pointer[string]
	fatal     atomic.Pointer[error]
	throttles *gate // 429s: an overload
	outage    *gate // lost answers: an outage
	transport *transportWatch
}

// held is a claimed recipient with its local lease deadline.
type held struct {
	campaign.Claim
	deadline atomic.Int64    // nanoseconds since run.base
	lost     atomic.Bool     // a renewal showed another worker has it
	place    *campaign.Place // its send window, checked again before the request
}

func (e *Engine) newRun(c *campaign.Campaign, tmpl *campaign.Template) (*run, error) {
	conc := c.Concurrency
	if e.cfg.Concurrency > 0 {
		conc = e.cfg.Concurrency
	}
	// The first heartbeat sets the real rates (the campaign's share, each
	// sender's); until then nothing is sent.
	lim, err := limiter.New(limiter.Config{Rate: campaign.DefaultRate, Concurrency: conc})
	if err != nil {
		return nil, fmt.Errorf("set up rate limiter: %w", err)
	}
	r := &run{
		e: e, c: c, tmpl: tmpl, lim: lim,
		worker:      workerID(e.cfg.Hostname, e.cfg.PID),
		concurrency: conc,
		base:        time.Now(),
		queue:       make(chan *held, 2*maxBatch),
		out:         make(chan campaign.Outcome, 4*conc+maxBatch),
		senderRates: map[string]float64{},
		held:        make(map[int64]*held),
		throttles:   newThrottleGate(),
		outage:      newOutageGate(),
		transport:   newTransportWatch(e.log, func() { e.stats.transportErrors.Add(1) }),
	}
	r.cur.Store(c)
	r.setBatch(campaign.DefaultRate)
	r.working.Store(true)
	r.senders.Store(&senderSnapshot{})
	return r, nil
}

// camp is the campaign as the last heartbeat read it.
func (r *run) camp() *campaign.Campaign { return r.cur.Load() }

// maxBatch caps one claim. Small batches keep few rows claimed but unsent:
// after a crash those look in doubt like the ones in flight and must be
// reconciled.
const maxBatch = 500

// setBatch sizes claims to a quarter second of sending at rate: enough to
// keep the senders fed (a claim takes a few milliseconds) without claiming
// far ahead at low rates.
func (r *run) setBatch(rate float64) {
	n := r.e.cfg.BatchSize
	if n <= 0 {
		n = int(math.Min(maxBatch, math.Max(1, math.Ceil(rate/4))))
	}
	r.batch.Store(int64(n))
}

// run wires the goroutines and waits for an orderly finish.
func (r *run) run(ctx, hard context.Context) error {
	r.soft, r.stopSoft = context.WithCancelCause(ctx)
	defer r.stopSoft(nil)
	r.hard = hard

	r.expireDeadWorkers(ctx)
	r.beat(ctx) // take this worker's share of the rate before the first send

	// Background work that lasts until the recorders have written everything.
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	var bgWG sync.WaitGroup
	bgWG.Go(func() { r.heartbeat(bg) })

	var recWG sync.WaitGroup
	for range 2 {
		recWG.Go(r.record)
	}
	var workWG sync.WaitGroup
	for range r.concurrency {
		workWG.Go(r.sender)
	}
	workWG.Go(r.reconciler)
	r.claimer() // returns when claiming stops or the campaign is done; closes the queue
	r.stop(nil) // the reconciler too (the queue is empty or being given back)

	workWG.Wait()
	close(r.out)
	recWG.Wait()
	stopBG()
	bgWG.Wait()

	if p := r.fatal.Load(); p != nil {
		return *p
	}
	if r.done.Load() || r.pause.Load() != nil {
		return nil
	}
	if err := context.Cause(r.soft); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

func (r *run) pausedReason() string {
	if p := r.pause.Load(); p != nil {
		return *p
	}
	return ""
}

// now is the time on the run's monotonic clock, for lease deadlines.
func (r *run) now() int64 { return int64(time.Since(r.base)) }

// stop stops claiming with a reason (nil: a plain stop).
func (r *run) stop(cause error) { r.stopSoft(cause) }

// claimer claims batches while the queue runs low, and decides when the
// campaign is done: nothing pending, nothing in doubt, nothing held.
func (r *run) claimer() {
	defer close(r.queue)
	log := r.e.log
	backoff := newBackoff(100*time.Millisecond, 5*time.Second)
	for r.soft.Err() == nil {
		// Claim the next batch while the current one still has a batch to
		// go: a claim takes milliseconds, and the senders must not wait.
		if r.inQueue.Load() > r.batch.Load() {
			sleepCtx(r.soft, 5*time.Millisecond)
			continue
		}
		now := r.e.cfg.Now()
		c := r.camp()
		if !c.StopAt.IsZero() && !now.Before(c.StopAt) {
			r.expire()
			if r.finished() {
				return
			}
			continue
		}
		if holds := r.campaignHolds(c, now); len(holds) > 0 {
			r.working.Store(false)
			if r.heldBack(holds) {
				return
			}
			continue
		}
		t0 := r.now()
		// A stop must not cancel a claim in flight: the database may have
		// committed it before the cancel arrives, and the rows would then
		// stay leased and look in doubt for a lease and a safety window.
		// Claimed rows reach the senders, which give them back if stopping.
		claims, places, counts, err := r.claim()
		if err != nil {
			if r.soft.Err() == nil {
				log.Warn("claim recipients; retrying", "err", err)
				sleepCtx(r.soft, backoff.next())
			}
			continue
		}
		backoff.reset()
		r.e.stats.skipped.Add(int64(counts.Skipped))
		if why := r.budgetReached.Load(); counts.Left > 0 && len(claims) == 0 && why != nil {
			// The budget takes no more now. What is claimed and unanswered
			// (here or in other processes) may still come back unspent:
			// pause only once nothing is in flight anywhere.
			if r.budgetSpent(*why) {
				return
			}
			continue
		}
		if len(claims) > 0 {
			if !r.working.Swap(true) {
				// Back to work after a pause in claims: take a share of
				// the senders now rather than at the next heartbeat.
				r.beat(r.soft)
			}
			r.e.stats.claimed.Add(int64(len(claims)))
			deadline := t0 + int64(r.e.cfg.Lease)
			hs := make([]*held, len(claims))
			r.mu.Lock()
			for i := range claims {
				h := &held{Claim: claims[i], place: places[claims[i].RecipientID]}
				h.deadline.Store(deadline)
				r.held[h.RecipientID] = h
				hs[i] = h
			}
			r.mu.Unlock()
			r.inQueue.Add(int64(len(hs)))
			for _, h := range hs {
				r.queue <- h // never blocks long: capacity is two batches
			}
			continue
		}
		if counts.Skipped > 0 || counts.Held > 0 {
			continue
		}
		r.working.Store(false)
		if r.finished() {
			return
		}
	}
}

// claim runs one Claim that only a hard stop cancels.
func (r *run) claim() ([]campaign.Claim, map[int64]*campaign.Place, campaign.ClaimCounts, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.soft), 30*time.Second)
	defer cancel()
	stop := context.AfterFunc(r.hard, cancel)
	defer stop()
	snap := r.senders.Load()
	req := campaign.ClaimRequest{
		CampaignID: r.c.ID,
		WorkerID:   r.worker,
		N:          int(r.batch.Load()),
		Lease:      r.e.cfg.Lease,
		Now:        r.e.cfg.Now(),
		Pool:       r.camp().Senders(),
		CapDays:    snap.capDays(),
		Budget:     r.camp().BudgetSegments > 0 || r.camp().BudgetAmount > 0,
		Frequency:  r.camp().Frequency,
	}
	places := map[int64]*campaign.Place{}
	req.Decide = func(st *campaign.ClaimState) []campaign.Decision { return r.decide(snap, st, req.Now, places) }
	claims, counts, err := r.e.store.Claim(ctx, req)
	if err == nil {
		r.holds.add(counts.Held)
	}
	return claims, places, counts, err
}

// backoff is a capped exponential delay for retrying the database.
type backoff struct{ cur, min, max time.Duration }

func newBackoff(min, max time.Duration) *backoff { return &backoff{min: min, max: max} }

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(b.cur*2, b.max)
	}
	return b.cur
}

func (b *backoff) reset() { b.cur = 0 }

// retryDelay is the wait before attempt+1: exponential from one second,
// capped, with jitter so that a burst of failures does not return as a burst.
func (r *run) retryDelay(attempt int, atLeast time.Duration) time.Duration {
	d := time.Second << min(max(attempt-1, 0), 16)
	d = min(d, r.e.cfg.MaxBackoff)
	d = d/2 + time.Duration(mrand.Int64N(int64(d)))
	return max(d, atLeast)
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func workerID(host string, pid int) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, pid, hex.EncodeToString(b[:]))
}
