package send_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/campaign/send"
	"github.com/smsblast/smsblast/store"
	"github.com/smsblast/smsblast/store/pgtest"
	"github.com/smsblast/smsblast/twilio"
	"github.com/smsblast/smsblast/twilio/twiliosim"
)

// bundle is one engine test's world: a fresh database, a simulator, a client.
type bundle struct {
	st  *store.Store
	sim *twiliosim.Server
	tw  *twilio.Client
	c   *campaign.Campaign
}

const validFrom = "+15005550006"

func setup(t *testing.T, simOpts twiliosim.Options) *bundle {
	t.Helper()
	return setupWith(t, simOpts, nil)
}

// setupWith is setup with the simulator behind wrap (nil: none), for tests
// that need Twilio to misbehave in ways the simulator has no knob for.
func setupWith(t *testing.T, simOpts twiliosim.Options, wrap func(http.Handler) http.Handler) *bundle {
	t.Helper()
	st := pgtest.Store(t)
	simOpts.Seed = 1
	sim := twiliosim.New(simOpts)
	t.Cleanup(sim.Close)
	var h http.Handler = sim
	if wrap != nil {
		h = wrap(sim)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	tw, err := twilio.New(twilio.Config{
		AccountSID: sim.AccountSID(), AuthToken: sim.AuthToken(),
		BaseURL: srv.URL, Timeout: 2 * time.Second, MaxConns: 32,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &bundle{st: st, sim: sim, tw: tw}
}

// newCampaign creates a campaign with recipients +1415555NNNN (n of them,
// plus extra numbers), body "Hi {{.name}}".
func (b *bundle) newCampaign(t *testing.T, from string, n int, extra ...string) *campaign.Campaign {
	t.Helper()
	ctx := context.Background()
	c := &campaign.Campaign{
		Name: "c1", From: from, BodyTemplate: "Hi {{.name}}, code {{.code}}",
		Rate: 1e6, Concurrency: 16, MaxAttempts: 5,
	}
	if err := b.st.CreateCampaign(ctx, c); err != nil {
		t.Fatal(err)
	}
	var rows [][]any
	for i := range n {
		rows = append(rows, []any{c.ID, fmt.Sprintf("+1415555%04d", i), map[string]string{"name": fmt.Sprintf("N%d", i), "code": fmt.Sprint(i)}, i + 2})
	}
	for i, p := range extra {
		rows = append(rows, []any{c.ID, p, map[string]string{"name": "X", "code": "x"}, n + i + 2})
	}
	// A test fixture: the import path has its own tests.
	if _, err := b.st.Pool().CopyFrom(ctx, pgx.Identifier{"recipients"},
		[]string{"campaign_id", "phone", "attrs", "source_line"}, pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}
	b.c = c
	return c
}

func (b *bundle) engine(t *testing.T, cfg send.Config) *send.Engine {
	t.Helper()
	if cfg.Lease == 0 {
		cfg.Lease = 10 * time.Second
		cfg.RequestTimeout = 2 * time.Second
		cfg.LeaseMargin = 500 * time.Millisecond
	}
	if cfg.SafetyWindow == 0 {
		cfg.SafetyWindow = send.NoSafetyWindow // the simulator's list shows messages at once
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = 100 * time.Millisecond
	}
	e, err := send.New(b.st, b.tw, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// recipientRow is a recipient as the database has it.
type recipientRow struct {
	phone, status, sid string
	code               int
}

func (b *bundle) recipients(t *testing.T) map[string]recipientRow {
	t.Helper()
	rows, err := b.st.Pool().Query(context.Background(), `
		SELECT phone, status, coalesce(message_sid, ''), coalesce(error_code, 0)
		FROM recipients WHERE campaign_id = $1`, b.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]recipientRow{}
	for rows.Next() {
		var r recipientRow
		if err := rows.Scan(&r.phone, &r.status, &r.sid, &r.code); err != nil {
			t.Fatal(err)
		}
		out[r.phone] = r
	}
	return out
}

// assertExactlyOnce checks the simulator against the database: every
// recipient the database calls sent has exactly one message with its body
// and sid, and nobody else got one.
func (b *bundle) assertExactlyOnce(t *testing.T) {
	t.Helper()
	byTo := map[string][]twiliosim.Message{}
	for _, m := range b.sim.Messages() {
		byTo[m.To] = append(byTo[m.To], m)
	}
	for phone, r := range b.recipients(t) {
		msgs := byTo[phone]
		switch r.status {
		case "accepted", "sent", "delivered", "undelivered":
			if len(msgs) != 1 {
				t.Errorf("%s: %s with %d messages in Twilio, want exactly 1", phone, r.status, len(msgs))
				continue
			}
			if msgs[0].SID != r.sid {
				t.Errorf("%s: database sid %s, Twilio's %s", phone, r.sid, msgs[0].SID)
			}
		default:
			if len(msgs) != 0 {
				t.Errorf("%s: %s (code %d) but Twilio has %d messages", phone, r.status, r.code, len(msgs))
			}
		}
	}
}

// assertAllAccepted checks that Twilio took every recipient's message.
func (b *bundle) assertAllAccepted(t *testing.T) {
	t.Helper()
	for phone, r := range b.recipients(t) {
		if r.status != "accepted" && r.status != "sent" && r.status != "delivered" {
			t.Errorf("%s: %s, want accepted", phone, r.status)
		}
	}
}

func TestSendAllOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, twiliosim.Options{})
	b.newCampaign(t, validFrom, 300)
	sum, err := b.engine(t, send.Config{}).Run(context.Background(), context.Background(), "c1")
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Done || sum.Stats.Accepted != 300 {
		t.Fatalf("summary %+v, want done with 300 accepted", sum)
	}
	b.assertExactlyOnce(t)
	for _, m := range b.sim.MessagesTo("+14155550007") {
		if m.Body != "Hi N7, code 7" {
			t.Errorf("body %q", m.Body)
		}
	}
	// A second run finds the campaign completed.
	sum, err = b.engine(t, send.Config{}).Run(context.Background(), context.Background(), "c1")
	if err != nil || !sum.AlreadyDone {
		t.Fatalf("second run: %+v, %v; want already done", sum, err)
	}
	var attempts int
	if err := b.st.Pool().QueryRow(context.Background(),
		`SELECT count(*) FROM send_attempts WHERE outcome = 'accepted'`).Scan(&attempts); err != nil {
		t.Fatal(err)
	}
	if attempts != 300 {
		t.Errorf("send_attempts: %d accepted rows, want 300", attempts)
	}
}

// Faults of every kind, including responses lost after the message was
// created: the engine reconciles and nobody gets two messages.
func TestSendThroughFaults(t *testing.T) {
	t.Parallel()
	b := setup(t, twiliosim.Options{
		Fail5xx: 0.05, Fail429: 0.05, LoseResponse: 0.05, MaxConcurrency: 12,
	})
	b.newCampaign(t, validFrom, 400)
	sum, err := b.engine(t, send.Config{}).Run(context.Background(), context.Background(), "c1")
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Done {
		t.Fatalf("not done: %+v", sum)
	}
	if sum.Stats.InDoubt == 0 || sum.Stats.Found == 0 {
		t.Errorf("stats %+v: expected lost responses to be found by reconciliation", sum.Stats)
	}
	b.assertExactlyOnce(t)
	b.assertAllAccepted(t)
}

func TestSendPermanentErrorsAndOptOuts(t *testing.T) {
	t.Parallel()
	b := setup(t, twiliosim.Options{})
	b.newCampaign(t, validFrom, 20, "+15005550001", "+15005550002", "+15005550003", "+15005550004", "+15005550009", "+14155559999")
	ctx := context.Background()
	if _, err := b.st.Pool().Exec(ctx, `INSERT INTO opt_outs (phone) VALUES ('+14155559999')`); err != nil {
		t.Fatal(err)
	}
	sum, err := b.engine(t, send.Config{}).Run(ctx, ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Done {
		t.Fatalf("not done: %+v", sum)
	}
	got := b.recipients(t)
	want := map[string]recipientRow{
		"+15005550001": {status: "failed", code: 21211},
		"+15005550002": {status: "failed", code: 21612},
		"+15005550003": {status: "failed", code: 21408},
		"+15005550004": {status: "skipped", code: 21610},
		"+15005550009": {status: "failed", code: 21614},
		"+14155559999": {status: "skipped"},
	}
	for phone, w := range want {
		if g := got[phone]; g.status != w.status || g.code != w.code {
			t.Errorf("%s: %s/%d, want %s/%d", phone, g.status, g.code, w.status, w.code)
		}
	}
	var optedOut bool
	if err := b.st.Pool().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM opt_outs WHERE phone = '+15005550004')`).Scan(&optedOut); err != nil || !optedOut {
		t.Errorf("21610 recipient not added to opt_outs (%v)", err)
	}
	b.assertExactlyOnce(t)
}

// A bad sender pauses the campaign after at most one round of requests, and
// the Twilio error comes back to the caller.
func TestSendCampaignFatalPauses(t *testing.T) {
	t.Parallel()
	b := setup(t, twiliosim.Options{})
	b.newCampaign(t, "+15005550001", 500) // From → 21212
	ctx := context.Background()
	_, err := b.engine(t, send.Config{}).Run(ctx, ctx, "c1")
	var te *twilio.Error
	if !errors.As(err, &te) || te.Code != 21212 {
		t.Fatalf("err %v, want Twilio 21212", err)
	}
	c, err := b.st.CampaignByName(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != campaign.StatusPaused {
		t.Errorf("campaign %s, want paused", c.Status)
	}
	counts := map[string]int{}
	for _, r := range b.recipients(t) {
		counts[r.status]++
	}
	if counts["pending"] != 500 {
		t.Errorf("recipients %v: all should be pending again, none burned", counts)
	}
}

// A hard stop mid-send (requests aborted, outcomes unrecorded) followed by a
// resume: rows left in doubt are reconciled, nobody is texted twice.
func TestResumeAfterHardStop(t *testing.T) {
	t.Parallel()
	b := setup(t, twiliosim.Options{Latency: 20 * time.Millisecond, Jitter: 20 * time.Millisecond})
	b.newCampaign(t, validFrom, 300)
	soft, stopSoft := context.WithCancel(context.Background())
	hard, stopHard := context.WithCancel(context.Background())
	go func() {
		for len(b.sim.Messages()) < 60 {
			time.Sleep(time.Millisecond)
		}
		stopSoft()
		stopHard()
	}()
	sum, err := b.engine(t, send.Config{Concurrency: 16}).Run(soft, hard, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if sum.Done {
		t.Fatal("first run should have been interrupted")
	}
	// Another process (another worker id, same host, "dead" pid) resumes.
	sum, err = b.engine(t, send.Config{PID: 1}).Run(context.Background(), context.Background(), "c1")
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Done {
		t.Fatalf("resume did not finish: %+v", sum)
	}
	b.assertExactlyOnce(t)
	if n := len(b.sim.Messages()); n != 300 {
		t.Errorf("Twilio has %d messages, want 300", n)
	}
}

// A user pauses the campaign from another shell: the sender stops within
// seconds and a later send finishes the job.
func TestPauseFromElsewhere(t *testing.T) {
	t.Parallel()
	b := setup(t, twiliosim.Options{})
	c := b.newCampaign(t, validFrom, 200)
	ctx := context.Background()
	if err := b.st.UpdateSending(ctx, c.ID, 50, 4); err != nil { // slow enough to pause midway
		t.Fatal(err)
	}
	go func() {
		for len(b.sim.Messages()) < 20 {
			time.Sleep(5 * time.Millisecond)
		}
		if _, err := b.st.SetStatus(ctx, "c1", campaign.StatusPaused, "test"); err != nil {
			t.Error(err)
		}
	}()
	sum, err := b.engine(t, send.Config{}).Run(ctx, ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Paused || sum.Done {
		t.Fatalf("summary %+v, want paused", sum)
	}
	if err := b.st.UpdateSending(ctx, c.ID, 1e6, 16); err != nil {
		t.Fatal(err)
	}
	sum, err = b.engine(t, send.Config{}).Run(ctx, ctx, "c1")
	if err != nil || !sum.Done {
		t.Fatalf("resume: %+v, %v", sum, err)
	}
	b.assertExactlyOnce(t)
}

// The configured rate is the rate achieved: after the first half second,
// messages go out at the campaign's rate. (The band is wide because test
// machines are shared; BenchmarkSendRate measures it precisely.)
func TestSendKeepsTheRate(t *testing.T) {
	t.Parallel()
	b := setup(t, twiliosim.Options{Latency: 5 * time.Millisecond})
	c := b.newCampaign(t, validFrom, 400)
	ctx := context.Background()
	const rate = 150.0
	if err := b.st.UpdateSending(ctx, c.ID, rate, 8); err != nil {
		t.Fatal(err)
	}
	if _, err := b.engine(t, send.Config{}).Run(ctx, ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	achieved := achievedRate(b.sim.Messages(), 500*time.Millisecond)
	t.Logf("achieved %.1f messages/s, configured %.0f", achieved, rate)
	if achieved > rate*1.05 || achieved < rate*0.8 {
		t.Errorf("achieved %.1f messages/s, configured %.0f", achieved, rate)
	}
}

// Two senders on one campaign share its rate: together they send at the
// configured rate, not twice it, and each recipient once.
func TestTwoSendersShareTheRate(t *testing.T) {
	t.Parallel()
	b := setup(t, twiliosim.Options{Latency: 5 * time.Millisecond})
	c := b.newCampaign(t, validFrom, 450)
	ctx := context.Background()
	const rate = 150.0
	if err := b.st.UpdateSending(ctx, c.ID, rate, 8); err != nil {
		t.Fatal(err)
	}
	alive := func(int) bool { return true }
	errs := make(chan error, 2)
	for pid := range 2 {
		e := b.engine(t, send.Config{PID: 1000 + pid, Alive: alive})
		go func() {
			sum, err := e.Run(ctx, ctx, "c1")
			if err == nil && !sum.Done {
				err = fmt.Errorf("a sender ended without seeing the campaign done: %+v", sum)
			}
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	b.assertExactlyOnce(t)
	// After the first heartbeats have split the rate.
	achieved := achievedRate(b.sim.Messages(), time.Second)
	t.Logf("two senders together: %.1f messages/s, configured %.0f", achieved, rate)
	if achieved > rate*1.1 || achieved < rate*0.7 {
		t.Errorf("two senders together sent %.1f messages/s, configured %.0f", achieved, rate)
	}
}

// achievedRate is the messages per second Twilio received after a warm-up
// from the first one (which may ride the limiter's initial burst).
func achievedRate(msgs []twiliosim.Message, warmup time.Duration) float64 {
	from := msgs[0].DateCreated.Add(warmup)
	n, last := 0, from
	for _, m := range msgs {
		if !m.DateCreated.Before(from) {
			n++
			last = m.DateCreated
		}
	}
	if n < 2 {
		return 0
	}
	return float64(n-1) / last.Sub(from).Seconds()
}

// A Twilio outage: for a while every request (creates and lists) gets a 503.
// The requests in flight fall in doubt, the sender pauses instead of pushing
// everyone into doubt, and once Twilio is back everything is reconciled and
// sent: nobody twice, nobody failed for want of attempts.
func TestSendThroughAnOutage(t *testing.T) {
	t.Parallel()
	var outage atomic.Bool
	down := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if outage.Load() {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte(`{"code": 20503, "message": "Service unavailable", "more_info": "https://www.twilio.com/docs/errors/20503", "status": 503}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	b := setupWith(t, twiliosim.Options{Latency: 2 * time.Millisecond}, down)
	c := b.newCampaign(t, validFrom, 600)
	ctx := context.Background()
	if err := b.st.UpdateSending(ctx, c.ID, 300, 8); err != nil {
		t.Fatal(err)
	}
	go func() {
		for len(b.sim.Messages()) < 150 {
			time.Sleep(time.Millisecond)
		}
		outage.Store(true)
		time.Sleep(1500 * time.Millisecond)
		outage.Store(false)
	}()
	sum, err := b.engine(t, send.Config{}).Run(ctx, ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Done || sum.Stats.InDoubt == 0 {
		t.Fatalf("summary %+v: want done, with answers lost in the outage", sum)
	}
	// The outage detector stopped sending after a few dozen lost answers,
	// not after the 450 the outage would have taken.
	if sum.Stats.InDoubt > 60 {
		t.Errorf("%d requests fell in doubt during a 1.5 s outage at 300/s; the sender should have paused", sum.Stats.InDoubt)
	}
	b.assertExactlyOnce(t)
	b.assertAllAccepted(t)
}

// A worker on another machine dies mid-send — it loses the database and is
// gone, leaving rows claimed and requests unanswered — and its process cannot
// be checked from here: the survivor waits for its leases to run out, then
// reconciles its rows. Nobody twice, nobody skipped.
func TestTakeOverFromAnotherHost(t *testing.T) {
	t.Parallel()
	b := setup(t, twiliosim.Options{Latency: 10 * time.Millisecond, LoseResponse: 0.05})
	b.newCampaign(t, validFrom, 300)
	short := send.Config{Lease: 3 * time.Second, RequestTimeout: 500 * time.Millisecond,
		LeaseMargin: 200 * time.Millisecond, SafetyWindow: send.NoSafetyWindow, Heartbeat: 100 * time.Millisecond}
	dying := &dyingStore{SendStore: b.st}
	soft, stopSoft := context.WithCancel(context.Background())
	hard, stopHard := context.WithCancel(context.Background())
	go func() {
		for len(b.sim.Messages()) < 80 {
			time.Sleep(time.Millisecond)
		}
		dying.dead.Store(true) // from now on it records nothing
		stopHard()
		stopSoft()
	}()
	a := short
	a.Hostname = "host-a"
	ea, err := send.New(dying, b.tw, a)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = ea.Run(soft, hard, "c1")
	var leased int
	if err := b.st.Pool().QueryRow(context.Background(),
		`SELECT count(*) FROM recipients WHERE status = 'sending'`).Scan(&leased); err != nil || leased == 0 {
		t.Fatalf("the dead worker left %d rows leased (%v); the test needs some", leased, err)
	}
	// host-a's process looks alive to everyone (it is elsewhere), so only
	// its leases running out frees its rows.
	other := short
	other.Hostname, other.Alive = "host-b", func(int) bool { return true }
	start := time.Now()
	ctx := context.Background()
	eb, err := send.New(b.st, b.tw, other)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := eb.Run(ctx, ctx, "c1")
	if err != nil || !sum.Done {
		t.Fatalf("survivor: %+v, %v", sum, err)
	}
	b.assertExactlyOnce(t)
	if n := len(b.sim.Messages()); n != 300 {
		t.Errorf("Twilio has %d messages, want 300", n)
	}
	if sum.Stats.Found+sum.Stats.Requeued < int64(leased) {
		t.Errorf("survivor reconciled %d found + %d requeued of %d rows the dead worker held",
			sum.Stats.Found, sum.Stats.Requeued, leased)
	}
	t.Logf("dead worker held %d rows; survivor finished in %v (lease %v)",
		leased, time.Since(start).Round(time.Millisecond), short.Lease)
}

// dyingStore is a store that a worker loses for good: once dead, nothing it
// writes or claims reaches the database.
type dyingStore struct {
	campaign.SendStore
	dead atomic.Bool
}

var errGone = errors.New("connection to the database lost")

func (d *dyingStore) Record(ctx context.Context, id int64, w string, o []campaign.Outcome) (int, error) {
	if d.dead.Load() {
		return 0, errGone
	}
	return d.SendStore.Record(ctx, id, w, o)
}

func (d *dyingStore) RenewLeases(ctx context.Context, w string, ids []int64, lease time.Duration) ([]int64, error) {
	if d.dead.Load() {
		return nil, errGone
	}
	return d.SendStore.RenewLeases(ctx, w, ids, lease)
}

func (d *dyingStore) StopWorker(ctx context.Context, w string) error {
	if d.dead.Load() {
		return errGone
	}
	return d.SendStore.StopWorker(ctx, w)
}

// lateImport is the store with an import that commits a recipient just as
// the run, having sent everything, marks the campaign completed.
type lateImport struct {
	*store.Store
	t    *testing.T
	once sync.Once
}

func (s *lateImport) CompleteCampaign(ctx context.Context, id int64) (bool, error) {
	s.once.Do(func() {
		if _, err := s.Pool().Exec(ctx, `INSERT INTO recipients (campaign_id, phone, attrs, source_line)
			VALUES ($1, '+14155559999', '{"name": "Late", "code": "L"}', 999)`, id); err != nil {
			s.t.Error(err)
		}
	})
	return s.Store.CompleteCampaign(ctx, id)
}

// A recipient imported as the run finishes is sent by that run, which
// only then says the campaign is completed.
func TestSendRecipientImportedAsItCompletes(t *testing.T) {
	t.Parallel()
	b := setup(t, twiliosim.Options{})
	b.newCampaign(t, validFrom, 20)
	cfg := send.Config{Lease: 10 * time.Second, RequestTimeout: 2 * time.Second, LeaseMargin: 500 * time.Millisecond,
		SafetyWindow: send.NoSafetyWindow, Heartbeat: 100 * time.Millisecond}
	e, err := send.New(&lateImport{Store: b.st, t: t}, b.tw, cfg)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := e.Run(context.Background(), context.Background(), "c1")
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Done || sum.Stats.Accepted != 21 {
		t.Errorf("summary %+v, want done with 21 accepted", sum)
	}
	if got := b.sim.MessagesTo("+14155559999"); len(got) != 1 {
		t.Errorf("the late recipient got %d messages, want 1", len(got))
	}
	var status string
	if err := b.st.Pool().QueryRow(context.Background(), `SELECT status FROM campaigns WHERE id = $1`, b.c.ID).Scan(&status); err != nil {
		t.Fatal(err)
	}
	if status != "completed" {
		t.Errorf("campaign %s, want completed", status)
	}
	b.assertExactlyOnce(t)
}
