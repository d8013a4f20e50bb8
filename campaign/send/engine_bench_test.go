package send_test

import (
	"context"

	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
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

// benchWorld is a database with one campaign of n recipients and a
// simulator on loopback.
type benchWorld struct {
	st  *store.Store
	sim *twiliosim.Server
	tw  *twilio.Client
	c   *campaign.Campaign
}

func newBenchWorld(b *testing.B, n int, sim twiliosim.Options, rate float64, conc int) *benchWorld {
	b.Helper()
	st := pgtest.Store(b)
	sim.NoCallbacks = true
	s := twiliosim.New(sim)
	b.Cleanup(s.Close)
	srv := httptest.NewServer(s)
	b.Cleanup(srv.Close)
	tw, err := twilio.New(twilio.Config{AccountSID: s.AccountSID(), AuthToken: s.AuthToken(),
		BaseURL: srv.URL, Timeout: 5 * time.Second, MaxConns: conc})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	c := &campaign.Campaign{Name: "bench", From: validFrom, BodyTemplate: "Hi {{.name}}, your code is {{.code}}",
		Rate: rate, Concurrency: conc, MaxAttempts: 5}
	if err := st.CreateCampaign(ctx, c); err != nil {
		b.Fatal(err)
	}
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i == n {
			return nil, nil
		}
		i++
		return []any{c.ID, "+1415" + strconv.Itoa(2000000+i), map[string]string{"name": "N" + strconv.Itoa(i), "code": strconv.Itoa(i)}}, nil
	})
	if _, err := st.Pool().CopyFrom(ctx, pgx.Identifier{"recipients"}, []string{"campaign_id", "phone", "attrs"}, src); err != nil {
		b.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, "ANALYZE recipients"); err != nil {
		b.Fatal(err)
	}
	return &benchWorld{st: st, sim: s, tw: tw, c: c}
}

func (w *benchWorld) engine(b *testing.B) *send.Engine {
	e, err := send.New(w.st, w.tw, send.Config{SafetyWindow: send.NoSafetyWindow, Heartbeat: 200 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// ceiling measures the simulator's bare create rate with the same client
// and concurrency: the most the engine could possibly do on this machine.
func ceiling(b *testing.B, w *benchWorld, conc, n int) float64 {
	var next atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			p := &twilio.CreateMessageParams{From: validFrom, Body: "Hi N1, your code is 1"}
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				p.To = "+1415" + strconv.Itoa(3000000+int(i))
				if _, err := w.tw.CreateMessage(context.Background(), p); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}

// BenchmarkSendEndToEnd: claim → render → send → record, against the
// simulator at zero latency with no rate limit, next to the simulator's bare
// ceiling with the same concurrency in the same run.
func BenchmarkSendEndToEnd(b *testing.B) {
	const n, conc = 20000, 64
	for b.Loop() {
		b.StopTimer()
		w := newBenchWorld(b, n, twiliosim.Options{}, 1e9, conc)
		top := ceiling(b, w, conc, n)
		e := w.engine(b)
		runtime.GC()
		cpu0 := cpuTime()
		db0, dbErr := pgtest.ServerCPU(context.Background(), w.st.Pool())
		b.StartTimer()
		start := time.Now()
		sum, err := e.Run(context.Background(), context.Background(), "bench")
		elapsed := time.Since(start)
		b.StopTimer()
		db1, dbErr1 := pgtest.ServerCPU(context.Background(), w.st.Pool())
		if err != nil || !sum.Done || sum.Stats.Accepted != n {
			b.Fatalf("run: %+v, %v", sum, err)
		}
		rate := float64(n) / elapsed.Seconds()
		b.ReportMetric(rate, "msgs/s")
		b.ReportMetric(top, "ceiling-req/s")
		b.ReportMetric(rate/top, "x-ceiling")
		b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/n, "cpu-µs/msg")
		// The database's CPU per message: what the send path costs the
		// server, steadier than the rate on a busy machine.
		if dbErr == nil && dbErr1 == nil {
			b.ReportMetric(float64((db1-db0).Microseconds())/n, "db-cpu-µs/msg")
		}
		b.StartTimer()
	}
}

// BenchmarkSendRate: with 200 ms of simulated latency, a configured 1,000
// messages/s is achieved when concurrency covers rate × latency.
func BenchmarkSendRate(b *testing.B) {
	const n, rate, conc = 6000, 1000, 260
	for b.Loop() {
		b.StopTimer()
		w := newBenchWorld(b, n, twiliosim.Options{Latency: 200 * time.Millisecond}, rate, conc)
		e := w.engine(b)
		b.StartTimer()
		sum, err := e.Run(context.Background(), context.Background(), "bench")
		b.StopTimer()
		if err != nil || !sum.Done {
			b.Fatalf("run: %+v, %v", sum, err)
		}
		// Achieved rate over the steady part: skip the first second's burst.
		achieved := achievedRate(w.sim.Messages(), time.Second)
		b.ReportMetric(achieved, "msgs/s")
		b.ReportMetric(achieved/rate, "x-configured")
		b.StartTimer()
	}
}

// BenchmarkResumeHalfDone1M: time from Run to the first new send on a
// 1,000,000-recipient campaign whose first half is already sent. Set
// SMSBLAST_BENCH_1M=1 to run it (it loads a million rows).
func BenchmarkResumeHalfDone1M(b *testing.B) {
	if os.Getenv("SMSBLAST_BENCH_1M") == "" {
		b.Skip("set SMSBLAST_BENCH_1M=1 to load a million recipients")
	}
	const n = 1_000_000
	for b.Loop() {
		b.StopTimer()
		w := newBenchWorld(b, n, twiliosim.Options{}, 1e9, 32)
		ctx := context.Background()
		if _, err := w.st.Pool().Exec(ctx, `
			UPDATE recipients SET status = 'accepted', attempts = 1, message_sid = 'SM' || md5(id::text), sent_at = now()
			WHERE id <= (SELECT min(id) + $1 FROM recipients)`, n/2); err != nil {
			b.Fatal(err)
		}
		if _, err := w.st.Pool().Exec(ctx, "VACUUM ANALYZE recipients"); err != nil {
			b.Fatal(err)
		}
		e := w.engine(b)
		soft, stop := context.WithCancel(ctx)
		start := time.Now()
		first := make(chan time.Duration, 1)
		go func() {
			for len(w.sim.Messages()) == 0 {
				time.Sleep(100 * time.Microsecond)
			}
			first <- time.Since(start)
			stop()
		}()
		b.StartTimer()
		if _, err := e.Run(soft, ctx, "bench"); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		b.ReportMetric(float64((<-first).Milliseconds()), "ms-to-first-send")
		b.StartTimer()
	}
}

// BenchmarkSendRegisteredSender: the send path at full speed with the
// campaign's sender registered (its MPS shared through the database at
// every heartbeat, a sender bucket, a claim that decides each recipient's
// sender) next to the same campaign limited by its own rate alone, as an
// unregistered sender is, in the same run.
func BenchmarkSendRegisteredSender(b *testing.B) {
	const n, conc = 20000, 64
	run := func(registered bool) float64 {
		rate := 1e9
		if registered {
			rate = 0
		}
		w := newBenchWorld(b, n, twiliosim.Options{}, rate, conc)
		if registered {
			if err := w.st.SetSender(context.Background(), campaign.Sender{ID: validFrom, Kind: campaign.LongCode, MPS: 1e6}); err != nil {
				b.Fatal(err)
			}
		}
		e := w.engine(b)
		runtime.GC()
		start := time.Now()
		sum, err := e.Run(context.Background(), context.Background(), "bench")
		elapsed := time.Since(start)
		if err != nil || !sum.Done || sum.Stats.Accepted != n {
			b.Fatalf("run: %+v, %v", sum, err)
		}
		return float64(n) / elapsed.Seconds()
	}
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		// Alternate which goes first: the second run of a pair meets a
		// warmer (or busier) database.
		var base, reg float64
		if i%2 == 0 {
			base, reg = run(false), run(true)
		} else {
			reg, base = run(true), run(false)
		}
		b.ReportMetric(base, "campaign-rate-msgs/s")
		b.ReportMetric(reg, "registered-msgs/s")
		b.ReportMetric(reg/base, "x-campaign-rate")
		b.StartTimer()
	}
}
