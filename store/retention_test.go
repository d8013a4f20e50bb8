package store_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/store"
)

// partitionOf names the partition that holds the audit row with this id.
func partitionOf(t *testing.T, st *store.Store, table string, id int64) string {
	t.Helper()
	var name string
	if err := st.Pool().QueryRow(context.Background(),
		`SELECT tableoid::regclass::text FROM `+table+` WHERE id = $1`, id).Scan(&name); err != nil {
		t.Fatalf("find %s row %d: %v", table, id, err)
	}
	return name
}

// insertAttempt writes one send_attempts row for the recipient at time at.
func insertAttempt(t *testing.T, st *store.Store, c *campaign.Campaign, recipient int64, at time.Time) int64 {
	t.Helper()
	var id int64
	if err := st.Pool().QueryRow(context.Background(), `
		INSERT INTO send_attempts (recipient_id, campaign_id, attempt, worker, started_at, outcome)
		VALUES ($1, $2, 1, 'test', $3, 'accepted') RETURNING id`, recipient, c.ID, at).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

func insertEvent(t *testing.T, st *store.Store, at time.Time) int64 {
	t.Helper()
	var id int64
	if err := st.Pool().QueryRow(context.Background(), `
		INSERT INTO message_events (message_sid, status, payload, received_at)
		VALUES ('SM00000000000000000000000000000001', 'sent', '{}', $1) RETURNING id`, at).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// covered reports whether a range partition of table holds time at.
func covered(parts []store.Partition, table string, at time.Time) bool {
	for _, p := range parts {
		if p.Table == table && !p.Default && !at.Before(p.From) && at.Before(p.To) {
			return true
		}
	}
	return false
}

// The coming weeks are created ahead, once; a row that arrived before its
// week existed is moved from the default partition into it.
func TestEnsurePartitions(t *testing.T) {
	t.Parallel()
	st, c := sendFixture(t, 1)
	ctx := context.Background()
	var recipient int64
	if err := st.Pool().QueryRow(ctx, `SELECT id FROM recipients`).Scan(&recipient); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := st.EnsurePartitions(ctx, now); err != nil {
		t.Fatal(err)
	}
	again, err := st.EnsurePartitions(ctx, now)
	if err != nil || len(again) != 0 {
		t.Fatalf("second EnsurePartitions created %v (%v), want nothing", again, err)
	}
	parts, err := st.Partitions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"send_attempts", "message_events"} {
		for week := range store.PartitionWeeksAhead + 1 {
			if at := now.AddDate(0, 0, 7*week); !covered(parts, table, at) {
				t.Errorf("%s: no partition holds %v (%d weeks ahead)", table, at, week)
			}
		}
	}
	if id := insertAttempt(t, st, c, recipient, now); partitionOf(t, st, "send_attempts", id) == "send_attempts_default" {
		t.Error("a row sent now went to the default partition")
	}

	// A row ten weeks ahead has no week yet: the default partition takes
	// it, and the week, when created, takes it over.
	late := now.AddDate(0, 0, 70)
	aid := insertAttempt(t, st, c, recipient, late)
	eid := insertEvent(t, st, late)
	if got := partitionOf(t, st, "send_attempts", aid); got != "send_attempts_default" {
		t.Fatalf("a row ten weeks ahead went to %s, want the default partition", got)
	}
	created, err := st.EnsurePartitions(ctx, late)
	if err != nil {
		t.Fatal(err)
	}
	if len(created) == 0 {
		t.Fatal("nothing created for ten weeks ahead")
	}
	if got := partitionOf(t, st, "send_attempts", aid); got == "send_attempts_default" {
		t.Errorf("the row stayed in the default partition after its week was created")
	}
	if got := partitionOf(t, st, "message_events", eid); got == "message_events_default" {
		t.Errorf("the event stayed in the default partition after its week was created")
	}
	parts, err = st.Partitions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		if !p.Default && p.To.Sub(p.From) > 7*24*time.Hour && !p.From.IsZero() {
			t.Errorf("%s spans %v, more than a week", p.Name, p.To.Sub(p.From))
		}
	}
}

// oldWeeks replaces the fresh database's first partitions (the tables as
// they were before partitioning, empty here) with weeks that started
// weeksAgo weeks before now, so that there is something old to prune, and
// creates the current weeks. Weeks in between have no partition.
func oldWeeks(t testing.TB, st *store.Store, now time.Time, weeksAgo int) {
	t.Helper()
	ctx := context.Background()
	if _, err := st.Pool().Exec(ctx, `DROP TABLE send_attempts_legacy, message_events_legacy`); err != nil {
		t.Fatal(err)
	}
	if _, err := st.EnsurePartitions(ctx, now.AddDate(0, 0, -7*weeksAgo)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.EnsurePartitions(ctx, now); err != nil {
		t.Fatal(err)
	}
}

// prune drops the weeks entirely older than the cutoff and the default
// partition's rows older than it; it keeps everything else, and never
// touches recipients. A dry run reports the same and changes nothing.
func TestPruneDropsWholeOldWeeks(t *testing.T) {
	t.Parallel()
	st, c := sendFixture(t, 3)
	ctx := context.Background()
	now := time.Now()
	oldWeeks(t, st, now, 20)
	exec(t, st, `UPDATE recipients SET status = 'delivered', message_sid = 'SM' || id, sent_at = now()`)
	var recipient int64
	if err := st.Pool().QueryRow(ctx, `SELECT min(id) FROM recipients`).Scan(&recipient); err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	oldA := insertAttempt(t, st, c, recipient, now.Add(-20*7*day+day))
	oldB := insertAttempt(t, st, c, recipient, now.Add(-18*7*day+day))
	gapOld := insertAttempt(t, st, c, recipient, now.Add(-15*7*day)) // no week: default partition
	gapNew := insertAttempt(t, st, c, recipient, now.Add(-10*7*day))
	recent := insertAttempt(t, st, c, recipient, now)
	oldEvent := insertEvent(t, st, now.Add(-19*7*day))
	recentEvent := insertEvent(t, st, now)
	if got := partitionOf(t, st, "send_attempts", gapOld); got != "send_attempts_default" {
		t.Fatalf("row in the gap went to %s", got)
	}
	cutoff := now.Add(-90 * day)

	count := func(table string) int {
		t.Helper()
		var n int
		if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	dry, err := st.Prune(ctx, cutoff, store.PruneOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(dry.Dropped) != 6 || dry.DefaultRows["send_attempts"] != 1 || dry.DefaultRows["message_events"] != 0 || !dry.DryRun {
		t.Errorf("dry run: %d partitions, default rows %v; want 6 partitions (3 weeks × 2 tables), 1 send_attempts row",
			len(dry.Dropped), dry.DefaultRows)
	}
	if n := count("send_attempts"); n != 5 {
		t.Fatalf("the dry run changed send_attempts: %d rows, want 5", n)
	}

	rep, err := st.Prune(ctx, cutoff, store.PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Dropped) != 6 || rep.DefaultRows["send_attempts"] != 1 {
		t.Errorf("prune: %d partitions, default rows %v; want 6 and 1", len(rep.Dropped), rep.DefaultRows)
	}
	var rows int64
	for _, p := range rep.Dropped {
		if p.To.After(cutoff) {
			t.Errorf("dropped %s, which ends %v, after the cutoff %v", p.Name, p.To, cutoff)
		}
		rows += p.Rows
	}
	if rows != 3 {
		t.Errorf("the dropped partitions held %d rows, want 3", rows)
	}
	left := map[int64]bool{}
	r, err := st.Pool().Query(ctx, `SELECT id FROM send_attempts UNION ALL SELECT -id FROM message_events`)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(r, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		left[id] = true
	}
	for id, want := range map[int64]bool{oldA: false, oldB: false, gapOld: false, gapNew: true, recent: true,
		-oldEvent: false, -recentEvent: true} {
		if left[id] != want {
			t.Errorf("row %d: kept %v, want %v", id, left[id], want)
		}
	}
	var delivered int
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM recipients WHERE status = 'delivered'`).Scan(&delivered); err != nil || delivered != 3 {
		t.Errorf("%d recipients still delivered (%v), want 3: prune touched recipients", delivered, err)
	}
	again, err := st.Prune(ctx, cutoff, store.PruneOptions{})
	if err != nil || len(again.Dropped) != 0 {
		t.Errorf("second prune dropped %d partitions (%v), want none", len(again.Dropped), err)
	}
}

// TestPruneDoesNotStallSenders prunes old weeks of send_attempts while a
// sender claims and records outcomes as fast as it can (each Record writes
// send_attempts and reads message_events, every partition of it) and a
// long query reads the whole of send_attempts, holding the lock that
// dropping a partition needs. Prune waits for the reader, a short lock
// timeout at a time; the sender's longest round trip stays under a second.
// SMSBLAST_BENCH_10M=1 prunes ten million attempts instead of a hundred
// thousand.
func TestPruneDoesNotStallSenders(t *testing.T) {
	t.Parallel()
	attempts := 100_000
	if os.Getenv("SMSBLAST_BENCH_10M") != "" {
		attempts = 10_000_000
	}
	const weeks = 10
	st, c := sendFixture(t, 20_000)
	ctx := context.Background()
	now := time.Now()
	oldWeeks(t, st, now, 30)
	start := time.Now()
	loadOldAttempts(t, st, c, now.AddDate(0, 0, -7*30), weeks, attempts/weeks)
	t.Logf("loaded %d attempts in %d old weeks in %v", attempts, weeks, time.Since(start).Round(time.Millisecond))

	// The sender: claim ten, record them accepted with their audit rows.
	var maxStall atomic.Int64
	var sent atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			t0 := time.Now()
			claims, _, err := claim(ctx, st, c.ID, "sender", 10)
			if err != nil {
				t.Error(err)
				return
			}
			var outs []campaign.Outcome
			for j, cl := range claims {
				outs = append(outs, campaign.Outcome{RecipientID: cl.RecipientID, Attempt: cl.Attempt,
					Status: campaign.Accepted, MessageSID: sid(i*10 + j), TwilioStatus: "queued", SentAt: time.Now(),
					Audit: &campaign.Audit{StartedAt: time.Now(), Result: "accepted"}})
			}
			if _, err := st.Record(ctx, c.ID, "sender", outs); err != nil {
				t.Error(err)
				return
			}
			sent.Add(int64(len(outs)))
			if d := time.Since(t0); d.Nanoseconds() > maxStall.Load() {
				maxStall.Store(d.Nanoseconds())
			}
		}
	})
	// The reader: a report over the whole audit trail, kept open 1.5 s.
	readerDone := make(chan time.Time, 1)
	wg.Go(func() {
		err := pgx.BeginFunc(ctx, st.Pool(), func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT count(*) FROM send_attempts`); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `SELECT pg_sleep(1.5)`)
			return err
		})
		readerDone <- time.Now()
		if err != nil {
			t.Error(err)
		}
	})
	time.Sleep(300 * time.Millisecond) // the reader holds its lock
	t0 := time.Now()
	rep, err := st.Prune(ctx, now.Add(-90*24*time.Hour), store.PruneOptions{LockWait: 30 * time.Second})
	pruned := time.Now()
	took := pruned.Sub(t0)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	var dropped int64
	for _, p := range rep.Dropped {
		if p.Table == "send_attempts" {
			dropped += p.Rows
		}
	}
	stall := time.Duration(maxStall.Load())
	t.Logf("prune dropped %d partitions (%d attempts) in %v, waiting for a reader; a sender recorded %d messages meanwhile, its longest claim+record %v",
		len(rep.Dropped), dropped, took.Round(time.Millisecond), sent.Load(), stall.Round(time.Millisecond))
	if int(dropped) < attempts*9/10 {
		t.Errorf("dropped %d attempts, want about %d", dropped, attempts)
	}
	if readAt := <-readerDone; pruned.Before(readAt) {
		t.Errorf("prune finished before the reader it had to wait for")
	}
	if stall >= time.Second {
		t.Errorf("the sender stalled %v during prune, want under a second", stall)
	}
}

// loadOldAttempts fills weeks partitions from the week of from with n
// attempts each: each week is loaded as a table of its own and attached,
// which checks its foreign keys with one join instead of a lookup per row.
func loadOldAttempts(t testing.TB, st *store.Store, c *campaign.Campaign, from time.Time, weeks, n int) {
	t.Helper()
	ctx := context.Background()
	parts, err := st.Partitions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var old []store.Partition
	for _, p := range parts {
		if p.Table == "send_attempts" && !p.Default && p.To.Before(from.AddDate(0, 0, 7*weeks+1)) {
			old = append(old, p)
		}
	}
	if len(old) == 0 {
		t.Fatal("no old week to load")
	}
	for w := range weeks {
		lo := old[0].From.AddDate(0, 0, 7*w)
		hi := lo.AddDate(0, 0, 7)
		name := fmt.Sprintf("send_attempts_load%d", w)
		for _, p := range old {
			if p.From.Equal(lo) {
				if _, err := st.Pool().Exec(ctx, `ALTER TABLE send_attempts DETACH PARTITION `+p.Name); err != nil {
					t.Fatal(err)
				}
				if _, err := st.Pool().Exec(ctx, `DROP TABLE `+p.Name); err != nil {
					t.Fatal(err)
				}
			}
		}
		_, err := st.Pool().Exec(ctx, `CREATE TABLE `+name+` (LIKE send_attempts INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`)
		if err == nil {
			_, err = st.Pool().Exec(ctx, `
				INSERT INTO `+name+` (recipient_id, campaign_id, attempt, worker, started_at, latency_ms, http_status,
				                      message_sid, outcome)
				SELECT r.first + i % 1000, $1, 1, 'old', $2::timestamptz + i * ($3::interval / $4), 120 + i % 50, 201,
				       'SM' || md5(i::text), 'accepted'
				FROM generate_series(0, $4 - 1) AS i,
				     (SELECT min(id) AS first FROM recipients WHERE campaign_id = $1) r`,
				c.ID, lo, hi.Sub(lo), n)
		}
		if err == nil {
			_, err = st.Pool().Exec(ctx, fmt.Sprintf(`ALTER TABLE send_attempts ATTACH PARTITION %s FOR VALUES FROM ('%s') TO ('%s')`,
				name, lo.Format(time.RFC3339), hi.Format(time.RFC3339)))
		}
		if err != nil {
			t.Fatalf("load week %d: %v", w, err)
		}
	}
	if _, err := st.Pool().Exec(ctx, `ANALYZE send_attempts`); err != nil {
		t.Fatal(err)
	}
}
