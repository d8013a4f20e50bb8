package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/store"
)

func reportCommand() *command {
	return &command{
		name:    "report",
		args:    "CAMPAIGN",
		summary: "per-recipient results (recipient_results + the CSV columns) as CSV or JSON Lines",
		examples: `  smsblast report spring-sale > results.csv
  smsblast report spring-sale --status undelivered,failed --output failures.csv
  smsblast report spring-sale --format json | jq 'select(.error_code == 30003)'

  CSV cells that a spreadsheet would read as a formula — starting with = + - @,
  a tab or a line break — get a leading ' (so phones read '+14155550100). Use
  --format json for the raw values.`,
		run: runReport,
	}
}

// reportColumns are the CSV report's fixed columns, from recipient_results;
// the recipient's CSV columns (attrs) follow, sorted by name.
var reportColumns = []string{
	"recipient_id", "campaign", "phone", "status", "twilio_status", "error_code", "error_description",
	"message_sid", "attempts", "segments", "sent_at", "delivered_at", "updated_at", "opted_out_at", "source_line",
}

func runReport(ctx context.Context, a *app, fs *flagSet, args []string) error {
	fs.dbFlag()
	format := fs.String("format", "csv", "csv, or json (JSON Lines: one object per recipient)")
	statusList := fs.String("status", "", "only recipients in these states, comma-separated (e.g. undelivered,failed)")
	output := fs.String("output", "", "write to FILE (replaced only once complete) instead of standard output")
	var statuses []campaign.RecipientStatus
	fs.validate = func(pos []string) error {
		if err := campaignArg(pos[0]); err != nil {
			return err
		}
		if *format != "csv" && *format != "json" {
			return usagef("--format: %s is not csv or json", campaign.QuoteShort(*format, 20))
		}
		var err error
		if statuses, err = parseStatuses(*statusList); err != nil {
			return err
		}
		return checkOutput(*output)
	}
	st, c, err := a.parseCampaign(ctx, fs, args)
	if err != nil {
		return err
	}
	defer st.Close()
	var keys []string
	if *format == "csv" {
		if keys, err = st.ResultAttrKeys(ctx, c.ID); err != nil {
			return err
		}
	}
	out, commit, err := reportOutput(a.stdout, *output)
	if err != nil {
		return err
	}
	defer commit(false)
	bw := bufio.NewWriterSize(out, 64<<10)
	var rw resultWriter
	var csvw *csvResults
	if *format == "csv" {
		csvw = newCSVResults(bw, keys)
		rw = csvw
	} else {
		rw = &jsonResults{enc: json.NewEncoder(bw)}
	}
	var n atomic.Int64
	prog, err := a.reportProgress(ctx, st, c, statuses, *output, &n)
	if err != nil {
		return err
	}
	err = st.Results(ctx, c.ID, statuses, func(r *campaign.Result) error {
		n.Add(1)
		return rw.write(r)
	})
	prog.stop()
	if err == nil {
		err = rw.flush()
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return fmt.Errorf("write report of campaign %q: %w", c.Name, err)
	}
	if err := commit(true); err != nil {
		return err
	}
	if csvw != nil && csvw.unlisted > 0 {
		a.log.Warn("some recipients have attributes the report has no column for (their attrs were changed outside smsblast?); --format json shows every attribute",
			"campaign", c.Name, "recipients", csvw.unlisted)
	}
	a.log.Info("report written", "campaign", c.Name, "rows", n.Load(), "format", *format, "output", cmp.Or(*output, "stdout"))
	return nil
}

// reportProgress shows how many of the rows the report will have it has
// written, with a bar, on a terminal and only there: elsewhere it shows
// nothing, not even the log lines other jobs write, since a report's
// standard error often goes where its rows go (2>&1). Nor when the rows
// themselves go to that terminal. The total comes from the campaign's
// counters, not a count of its rows.
func (a *app) reportProgress(ctx context.Context, st *store.Store, c *campaign.Campaign, statuses []campaign.RecipientStatus, output string, n *atomic.Int64) (*progress, error) {
	if !isTerminal(a.stderr) || (output == "" && isTerminal(a.stdout)) {
		return noProgress(), nil
	}
	p, err := st.Progress(ctx, c)
	if err != nil {
		return nil, err
	}
	total := p.Total
	if len(statuses) > 0 {
		total = 0
		for _, s := range statuses {
			total += p.Counts[s]
		}
	}
	return a.startProgress(c.Name, "rows", func() progressSample {
		return progressSample{done: n.Load(), total: total}
	}), nil
}

// parseStatuses reads --status: recipient states, comma-separated.
func parseStatuses(list string) ([]campaign.RecipientStatus, error) {
	var out []campaign.RecipientStatus
	for _, s := range strings.Split(list, ",") {
		s = strings.ToLower(strings.TrimSpace(s))
		if s == "" {
			continue
		}
		st := campaign.RecipientStatus(s)
		if !slices.Contains(campaign.RecipientStatuses(), st) {
			var names []string
			for _, v := range campaign.RecipientStatuses() {
				names = append(names, string(v))
			}
			return nil, usagef("--status: %s is not a recipient state (%s)", campaign.QuoteShort(s, 20), strings.Join(names, ", "))
		}
		out = append(out, st)
	}
	return out, nil
}

// checkOutput refuses an --output that cannot be a report file before the
// database is read: a directory, a file in a directory that does not exist.
func checkOutput(path string) error {
	if path == "" {
		return nil
	}
	shown := campaign.Printable(path)
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return usagef("--output %s is a directory; give a file name", shown)
	}
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return usagef("--output %s: the directory %s does not exist", shown, campaign.Printable(dir))
	}
	return nil
}

// reportOutput returns where the report goes. For a regular file (or a
// name not yet taken) it writes a temporary file beside it, renamed over
// the name by commit(true), so an interrupted report never leaves a
// truncated FILE that looks complete; the file is private (0600): it holds
// phone numbers. The rename replaces a symbolic link rather than write
// through it, so a link planted in a shared directory leads nowhere.
// commit(false) discards it.
//
// A device or a pipe (/dev/null, /dev/stdout, a FIFO) is written in
// place: renaming over it would replace a device node with a file.
func reportOutput(stdout io.Writer, path string) (io.Writer, func(ok bool) error, error) {
	if path == "" {
		return stdout, func(bool) error { return nil }, nil
	}
	shown := campaign.Printable(path)
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		if fi.Mode()&(os.ModeDevice|os.ModeCharDevice|os.ModeNamedPipe) == 0 {
			return nil, nil, fmt.Errorf("write report to %s: it is not a file, a device or a pipe", shown)
		}
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return nil, nil, fmt.Errorf("open %s: %w", shown, bare(err))
		}
		return f, func(bool) error {
			if err := f.Close(); err != nil {
				return fmt.Errorf("write report to %s: %w", shown, err)
			}
			return nil
		}, nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, nil, fmt.Errorf("create report file beside %s: %w", shown, bare(err))
	}
	done := false
	return f, func(ok bool) error {
		if done {
			return nil
		}
		done = true
		if !ok {
			f.Close()
			os.Remove(f.Name())
			return nil
		}
		if err := f.Close(); err != nil {
			os.Remove(f.Name())
			return fmt.Errorf("write report file %s: %w", shown, err)
		}
		if err := os.Rename(f.Name(), path); err != nil {
			os.Remove(f.Name())
			return fmt.Errorf("write report file %s: %w", shown, bare(err))
		}
		return nil
	}, nil
}

// bare is a file system error without the path it repeats (the message
// names the file its own way).
func bare(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}

// resultWriter encodes report rows one at a time.
type resultWriter interface {
	write(r *campaign.Result) error
	flush() error
}

// jsonResults writes JSON Lines: one object per line, so that a report of a
// million recipients can be read as a stream (jq, BI loaders) as it is written.
type jsonResults struct{ enc *json.Encoder }

func (j *jsonResults) write(r *campaign.Result) error { return j.enc.Encode(r) }
func (j *jsonResults) flush() error                   { return nil }

// csvResults writes the fixed columns, then one column per attrs key.
type csvResults struct {
	w    *csv.Writer
	keys []string
	row  []string
	head bool
	// unlisted counts rows with attrs keys that have no column.
	unlisted int
}

func newCSVResults(w io.Writer, keys []string) *csvResults {
	return &csvResults{w: csv.NewWriter(w), keys: keys, row: make([]string, 0, len(reportColumns)+len(keys))}
}

func (c *csvResults) header() error {
	c.head = true
	c.row = append(c.row[:0], reportColumns...)
	for _, k := range c.keys {
		// A CSV column named like a fixed one is told apart by a prefix.
		if slices.Contains(reportColumns, k) {
			k = "attrs." + k
		}
		c.row = append(c.row, spreadsheetSafe(k))
	}
	return c.w.Write(c.row)
}

func (c *csvResults) write(r *campaign.Result) error {
	if !c.head {
		if err := c.header(); err != nil {
			return err
		}
	}
	c.row = append(c.row[:0],
		strconv.FormatInt(r.RecipientID, 10), r.Campaign, r.Phone, string(r.Status), r.TwilioStatus,
		intOrEmpty(r.ErrorCode), r.ErrorDescription, r.MessageSID, strconv.Itoa(r.Attempts), intOrEmpty(r.Segments),
		timeOrEmpty(r.SentAt), timeOrEmpty(r.DeliveredAt), r.UpdatedAt.UTC().Format(time.RFC3339), timeOrEmpty(r.OptedOutAt),
		intOrEmpty(r.SourceLine))
	listed := 0
	for _, k := range c.keys {
		v, ok := r.Attrs[k]
		if ok {
			listed++
		}
		c.row = append(c.row, v)
	}
	if listed < len(r.Attrs) {
		c.unlisted++
	}
	for i := range c.row {
		c.row[i] = spreadsheetSafe(c.row[i])
	}
	return c.w.Write(c.row)
}

func (c *csvResults) flush() error {
	if !c.head { // no rows: still a header, so the file is a valid empty table
		if err := c.header(); err != nil {
			return err
		}
	}
	c.w.Flush()
	return c.w.Error()
}

// spreadsheetSafe neutralises CSV formula injection. Excel, LibreOffice and
// Google Sheets evaluate a cell that starts with = + - or @ (and, after a
// tab or line break, what follows) as a formula; a recipient's CSV columns
// come from outside, so a cell like =HYPERLINK(…) must not run. Such cells
// get a leading single quote, the spreadsheet convention for "text".
//
// Phone numbers are no exception: E.164 numbers start with +, and a
// spreadsheet reading +14155550100 as a formula turns it into the number
// 14155550100 (shown as 1.42E+10), losing the + and any leading zero of
// other formats. The quoted '+14155550100 stays text that reads as the
// number. One rule for every cell is also one rule to audit; programs that
// want raw values read --format json.
func spreadsheetSafe(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r', '\n':
		return "'" + s
	}
	return s
}

func intOrEmpty(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func timeOrEmpty(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
