package send_test

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/campaign/send"
	"github.com/smsblast/smsblast/twilio/twiliosim"
)

// addCampaign creates a campaign with no rate of its own, sending from
// senders (a pool when more than one), with n recipients +1415NNNNNNN
// numbered from first.
func (b *bundle) addCampaign(t *testing.T, name string, senders []string, first, n int) *campaign.Campaign {
	t.Helper()
	ctx := context.Background()
	c := &campaign.Campaign{Name: name, From: senders[0], BodyTemplate: "Hi {{.name}}", Concurrency: 16, MaxAttempts: 5}
	if len(senders) > 1 {
		c.Pool = senders
	}
	if err := b.st.CreateCampaign(ctx, c); err != nil {
		t.Fatal(err)
	}
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = []any{c.ID, fmt.Sprintf("+1415%07d", first+i), map[string]string{"name": fmt.Sprint(i)}, i + 2}
	}
	if _, err := b.st.Pool().CopyFrom(ctx, pgx.Identifier{"recipients"},
		[]string{"campaign_id", "phone", "attrs", "source_line"}, pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}
	return c
}

// rateOf counts the simulator's messages from sender created in [from, to),
// per second.
func rateOf(msgs []twiliosim.Message, sender string, from, to time.Time) float64 {
	n := 0
	for _, m := range msgs {
		if m.From == sender && !m.DateCreated.Before(from) && m.DateCreated.Before(to) {
			n++
		}
	}
	return float64(n) / to.Sub(from).Seconds()
}

// runner runs one engine (one "process") on a campaign until stopped.
type runner struct {
	stop context.CancelFunc
	done chan error
}

func (b *bundle) start(t *testing.T, name string, pid int) *runner {
	t.Helper()
	e := b.engine(t, send.Config{PID: pid, Alive: func(int) bool { return true }, Heartbeat: 250 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{stop: cancel, done: make(chan error, 1)}
	go func() {
		_, err := e.Run(ctx, context.Background(), name)
		r.done <- err
	}()
	t.Cleanup(func() { cancel(); <-r.done })
	return r
}

// A registered sender's MPS is the ceiling for everything sent from it:
// two campaigns on one number registered at 40 MPS, sent at once by two
// processes (then three), together create 40 segments/s, and the
// simulator, draining 40/s with a two-second queue, never answers 21611.
// When one campaign stops, the other takes the whole 40/s within 3 s.
func TestSenderMPSIsSharedByCampaigns(t *testing.T) {
	t.Parallel()
	for _, processes := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d processes", processes), func(t *testing.T) {
			t.Parallel()
			b := setup(t, twiliosim.Options{SenderMPS: 40, QueueSeconds: 2})
			ctx := context.Background()
			if err := b.st.SetSender(ctx, campaign.Sender{ID: validFrom, Kind: campaign.LongCode, MPS: 40}); err != nil {
				t.Fatal(err)
			}
			b.addCampaign(t, "spring", []string{validFrom}, 0, 3000)
			b.addCampaign(t, "fall", []string{validFrom}, 100000, 3000)
			var runners []*runner
			for i := range processes {
				name := []string{"spring", "fall"}[i%2]
				runners = append(runners, b.start(t, name, 2000+i))
			}
			t0 := time.Now()
			time.Sleep(12 * time.Second)
			both := rateOf(b.sim.Messages(), validFrom, t0.Add(2*time.Second), t0.Add(12*time.Second))
			t.Logf("%d processes on two campaigns: %.2f segments/s together (MPS 40)", processes, both)
			if math.Abs(both-40) > 40*0.03 {
				t.Errorf("together %.2f segments/s, want 40 ± 3%%", both)
			}
			// Stop every process of spring; fall takes the whole MPS.
			var wg sync.WaitGroup
			for i, r := range runners {
				if i%2 == 0 {
					wg.Go(func() { r.stop(); <-r.done; r.done <- nil })
				}
			}
			wg.Wait()
			tStop := time.Now()
			time.Sleep(6 * time.Second)
			alone := rateOf(b.sim.Messages(), validFrom, tStop.Add(3*time.Second), tStop.Add(6*time.Second))
			t.Logf("fall alone, 3 s after spring stopped: %.2f segments/s", alone)
			if alone < 40*0.97 || alone > 40*1.03 {
				t.Errorf("fall alone sends %.2f segments/s from 3 s after spring stopped, want 40 ± 3%%", alone)
			}
			var refused int
			if err := b.st.Pool().QueryRow(ctx, `SELECT count(*) FROM send_attempts WHERE error_code IN (21611, 30001)`).Scan(&refused); err != nil || refused != 0 {
				t.Errorf("%d sends refused with 21611/30001 (%v): the sender's MPS was oversubscribed", refused, err)
			}
		})
	}
}

// A pool of three numbers, each registered at 30 MPS, against a simulator
// that drains each at 30/s with a two-second queue: every number sends at
// its own MPS and no more.
func TestPoolNumbersKeepTheirMPS(t *testing.T) {
	t.Parallel()
	b := setup(t, twiliosim.Options{SenderMPS: 30, QueueSeconds: 2})
	ctx := context.Background()
	pool := []string{validFrom, "+14155550200", "+14155550201"}
	for _, s := range pool {
		if err := b.st.SetSender(ctx, campaign.Sender{ID: s, Kind: campaign.LongCode, MPS: 30}); err != nil {
			t.Fatal(err)
		}
	}
	b.addCampaign(t, "pool", pool, 0, 3000)
	r := b.start(t, "pool", 3000)
	t0 := time.Now()
	time.Sleep(7 * time.Second)
	r.stop()
	msgs := b.sim.Messages()
	for _, s := range pool {
		rate := rateOf(msgs, s, t0.Add(2*time.Second), t0.Add(7*time.Second))
		t.Logf("%s: %.1f segments/s (MPS 30)", s, rate)
		if rate > 30*1.03 || rate < 30*0.8 {
			t.Errorf("%s sent %.1f segments/s, registered at 30", s, rate)
		}
	}
	var refused int
	if err := b.st.Pool().QueryRow(ctx, `SELECT count(*) FROM send_attempts WHERE error_code IN (21611, 30001)`).Scan(&refused); err != nil || refused != 0 {
		t.Errorf("%d sends refused with 21611/30001 (%v)", refused, err)
	}
}
