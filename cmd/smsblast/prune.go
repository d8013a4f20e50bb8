package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/store"
)

func pruneCommand() *command {
	return &command{
		name:    "prune",
		args:    "--older-than AGE",
		summary: "drop the audit trail (send_attempts, message_events) older than AGE, a week at a time; recipients stay",
		examples: `  smsblast prune --older-than 90d --dry-run   # what would go, and how big it is
  smsblast prune --older-than 90d
  smsblast prune --older-than 12w --json

  AGE is days (90d), weeks (12w) or a Go duration (2160h). Whole weeks are
  dropped (a partition each), so up to a week older than AGE may remain
  until the next prune. A recipient's state is never touched: it lives in
  recipients, which prune does not prune.`,
		run: runPrune,
	}
}

func runPrune(ctx context.Context, a *app, fs *flagSet, args []string) error {
	fs.dbFlag()
	olderThan := fs.String("older-than", "", "drop what is older than this: 90d, 12w, 2160h (required)")
	dryRun := fs.Bool("dry-run", false, "print what would be dropped; change nothing")
	lockWait := fs.Duration("lock-wait", time.Minute, "how long to keep trying to drop a week while long queries read the table")
	asJSON := fs.Bool("json", false, "print JSON")
	var age time.Duration
	fs.validate = func([]string) error {
		if *olderThan == "" {
			return usagef("--older-than is required: how old the audit rows to drop are, e.g. --older-than 90d")
		}
		var err error
		if age, err = parseAge(*olderThan); err != nil {
			return usagef("--older-than: %v", err)
		}
		return durationIn("lock-wait", *lockWait, time.Second, maxLockWait)
	}
	if _, err := a.parse(fs, args, 0, 0); err != nil {
		return err
	}
	st, err := a.openStore(ctx, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := st.Prune(ctx, time.Now().Add(-age), store.PruneOptions{DryRun: *dryRun, LockWait: *lockWait})
	if rep != nil {
		if *asJSON {
			writeJSON(a.stdout, rep)
		} else {
			a.printPrune(rep, *olderThan)
		}
	}
	return err
}

// maxLockWait bounds --lock-wait: longer than an hour, a prune stuck
// behind a long query is better stopped and run again.
const maxLockWait = time.Hour

// maxAge bounds --older-than: a hundred years, well inside a
// time.Duration, so that 99999999999d is refused rather than wrapped.
const maxAge = 100 * 365 * 24 * time.Hour

// parseAge reads 90d, 12w or a Go duration, from an hour to maxAge.
func parseAge(s string) (time.Duration, error) {
	var d time.Duration
	unit := map[byte]time.Duration{'d': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[s[len(s)-1]]
	if n, err := strconv.Atoi(s[:len(s)-1]); unit != 0 && err == nil {
		if n <= 0 || n > int(maxAge/unit) {
			return 0, fmt.Errorf("%s: give an age from 1h to 100 years", campaign.QuoteShort(s, 30))
		}
		d = time.Duration(n) * unit
	} else if d, err = time.ParseDuration(s); err != nil {
		return 0, fmt.Errorf("%s is not an age: write days (90d), weeks (12w) or hours (2160h)", campaign.QuoteShort(s, 30))
	}
	if d < time.Hour || d > maxAge {
		return 0, fmt.Errorf("%s: give an age from 1h to 100 years", campaign.QuoteShort(s, 30))
	}
	return d, nil
}

func (a *app) printPrune(rep *store.PruneReport, age string) {
	verb := "dropped"
	if rep.DryRun {
		verb = "would drop"
	}
	if len(rep.Dropped) == 0 {
		fmt.Fprintf(a.stdout, "nothing to drop: no week of the audit trail is entirely older than %s (%s)\n",
			age, rep.Cutoff.Format(time.RFC3339))
	} else {
		var rows, bytes int64
		for _, p := range rep.Dropped {
			rows += p.Rows
			bytes += p.Bytes
		}
		fmt.Fprintf(a.stdout, "%s %d partitions older than %s (%s): about %d rows, %s\n",
			verb, len(rep.Dropped), age, rep.Cutoff.Format(time.RFC3339), rows, humanBytes(bytes))
		printPartitions(a.stdout, rep.Dropped)
	}
	for _, table := range []string{"send_attempts", "message_events"} {
		if n := rep.DefaultRows[table]; n > 0 {
			v := "deleted"
			if rep.DryRun {
				v = "would delete"
			}
			fmt.Fprintf(a.stdout, "%s %d rows older than %s from %s_default (rows no week covered)\n", v, n, age, table)
		}
	}
	kept := map[string][]store.Partition{}
	for _, p := range rep.Kept {
		kept[p.Table] = append(kept[p.Table], p)
	}
	for _, table := range []string{"send_attempts", "message_events"} {
		var rows, bytes int64
		oldest := ""
		for _, p := range kept[table] {
			rows += p.Rows
			bytes += p.Bytes
			if oldest == "" && !p.Default {
				oldest = "from " + partitionFrom(p)
			}
		}
		fmt.Fprintf(a.stdout, "kept %s: %d partitions %s, about %d rows, %s\n", table, len(kept[table]), oldest, rows, humanBytes(bytes))
	}
}

func printPartitions(w io.Writer, parts []store.Partition) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  table\tpartition\tfrom\tto\trows (est.)\tsize")
	for _, p := range parts {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%s\n", p.Table, p.Name, partitionFrom(p), p.To.Format(time.DateOnly), p.Rows, humanBytes(p.Bytes))
	}
	tw.Flush()
}

// partitionFrom shows where a partition starts; the table as it was before
// partitioning starts with its oldest row.
func partitionFrom(p store.Partition) string {
	if p.From.IsZero() {
		return "the start"
	}
	return p.From.Format(time.DateOnly)
}

// humanBytes prints a size in the largest unit that keeps it at 1 or more.
func humanBytes(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	f := float64(n)
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return strings.TrimSuffix(fmt.Sprintf("%.1f", f), ".0") + " " + units[i]
}

// partitionCheck is how often a long-running send or serve makes sure the
// audit tables' coming weeks exist.
const partitionCheck = time.Hour

// keepPartitions creates the audit tables' coming weeks now and then every
// partitionCheck until ctx ends or the returned stop is called (which
// waits for a check in progress). A failure is logged, never fatal: the
// weeks are made well ahead, and meanwhile a row no week covers lands in
// the default partition.
func (a *app) keepPartitions(ctx context.Context, st *store.Store) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	ensure := func() {
		created, err := st.EnsurePartitions(ctx, time.Now())
		for _, name := range created {
			a.log.Debug("created a partition of the audit trail", "partition", name)
		}
		if err != nil && ctx.Err() == nil {
			a.log.Warn("create the audit trail's coming weeks (retried in an hour)", "err", err)
		}
	}
	ensure()
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(partitionCheck)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				ensure()
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
