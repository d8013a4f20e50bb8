package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/gocarina/gocsv"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/campaign/phone"
)

func optoutsCommand() *command {
	return &command{
		name:    "optouts",
		args:    "[import FILE.csv | export]",
		summary: "suppression lists: numbers no campaign texts, by source; import a list (phone[,reason]) or export them as CSV",
		examples: `  smsblast optouts                                        # how many, by source (inbound STOP, twilio, manual, import)
  smsblast optouts import previous-provider.csv           # columns phone[,reason]; numbers as an import reads them
  smsblast optouts import uk-stops.csv --default-region GB
  smsblast optouts export --output suppressions.csv       # phone,reason,source,created_at`,
		run: runOptouts,
	}
}

var optoutsSubcommands = []string{"import", "export"}

// maxShownOptOutRejects is how many rejected rows of a list are shown.
const maxShownOptOutRejects = 20

func runOptouts(ctx context.Context, a *app, fs *flagSet, args []string) error {
	fs.dbFlag()
	region := fs.String("default-region", "US", "import: region for numbers written without a country code")
	output := fs.String("output", "", "export: write to FILE (private, replaced only once complete) instead of standard output")
	asJSON := fs.Bool("json", false, "print JSON (not for export)")
	pos, err := a.parse(fs, args, 0, 2)
	if err != nil {
		return err
	}
	sub := subcommand(pos)
	switch sub {
	case "":
	case "import":
		if len(pos) != 2 {
			return usagef("usage: smsblast optouts import FILE.csv (columns phone[,reason])")
		}
	case "export":
		if len(pos) != 1 {
			return usagef("usage: smsblast optouts export [--output FILE]")
		}
	default:
		msg := fmt.Sprintf("optouts: unknown subcommand %q: use import or export, or nothing to count", sub)
		if s := nearest(sub, optoutsSubcommands); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		return usagef("%s", msg)
	}
	norm, err := phone.NewNormalizer(*region)
	if err != nil {
		return settingUsage(err)
	}
	switch sub {
	case "import":
		// Opened before the database, so a missing file says so first.
		f, err := os.Open(pos[1])
		if err != nil {
			return fmt.Errorf("open %s: %w", pos[1], errors.Unwrap(err))
		}
		defer f.Close()
		st, err := a.openStore(ctx, fs)
		if err != nil {
			return err
		}
		defer st.Close()
		var rejects []campaign.ImportReject
		rejected := 0
		res, err := st.ImportOptOuts(ctx, optOutRows(bufio.NewReaderSize(f, 64<<10), norm, func(line int, why string) {
			rejected++
			if len(rejects) < maxShownOptOutRejects {
				rejects = append(rejects, campaign.ImportReject{Line: line, Reason: why})
			}
		}))
		if err != nil {
			return fmt.Errorf("import opt-outs from %s: %w", pos[1], err)
		}
		if *asJSON {
			shown := make([]rejectOutput, len(rejects))
			for i, r := range rejects {
				shown[i] = rejectOutput{Line: r.Line, Reason: r.Reason}
			}
			writeJSON(a.stdout, map[string]any{"source": pos[1], "rows_read": res.Read + int64(rejected), "added": res.Added,
				"already_opted_out": res.Read - res.Added, "rejected": rejected, "first_rejects": shown})
			return nil
		}
		fmt.Fprintf(a.stdout, "opt-outs from %s: %d rows read, %d numbers added, %d already opted out (or repeated), %d rejected\n",
			pos[1], res.Read+int64(rejected), res.Added, res.Read-res.Added, rejected)
		if len(rejects) > 0 {
			fmt.Fprintln(a.stdout, "rejected rows (nothing of them was added):")
			for _, r := range rejects {
				fmt.Fprintf(a.stdout, "  line %d: %s\n", r.Line, r.Reason)
			}
			if rejected > len(rejects) {
				fmt.Fprintf(a.stdout, "  … and %d more\n", rejected-len(rejects))
			}
		}
		return nil
	case "export":
		if *asJSON {
			return usagef("optouts export: --json is not a format of the export, which is CSV")
		}
		st, err := a.openStore(ctx, fs)
		if err != nil {
			return err
		}
		defer st.Close()
		return a.exportOptOuts(ctx, st.EachOptOut, *output)
	}
	st, err := a.openStore(ctx, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	sources, err := st.OptOutsBySource(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		var total int64
		for _, s := range sources {
			total += s.Count
		}
		if sources == nil {
			sources = sources[:0]
		}
		writeJSON(a.stdout, map[string]any{"total": total, "by_source": sources})
		return nil
	}
	var total int64
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tNUMBERS\tLATEST\t")
	for _, s := range sources {
		total += s.Count
		fmt.Fprintf(tw, "%s\t%d\t%s\t\n", s.Source, s.Count, s.Latest.Local().Format("2006-01-02 15:04"))
	}
	fmt.Fprintf(tw, "total\t%d\t\t\n", total)
	tw.Flush()
	return nil
}

// optOutRows reads a suppression list (columns phone[,reason]) with gocsv
// and yields its numbers in E.164, as an import normalises them; a row
// without a valid number goes to reject with its line and why. A malformed
// file ends the sequence with an error, and then nothing of it is kept.
func optOutRows(in *bufio.Reader, norm *phone.Normalizer, reject func(line int, why string)) iter.Seq2[campaign.OptOut, error] {
	return func(yield func(campaign.OptOut, error) bool) {
		stopped := errors.New("stopped")
		err := readCSVRows(in, []string{"phone"}, func(line int, o *campaign.OptOut, rowErr error) error {
			if rowErr != nil {
				reject(line, rowErr.Error())
				return nil
			}
			e164, _, err := norm.Normalize(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(o.Phone), "'")))
			if err != nil {
				reject(line, err.Error())
				return nil
			}
			if !yield(campaign.OptOut{Phone: e164, Reason: strings.TrimSpace(o.Reason)}, nil) {
				return stopped
			}
			return nil
		})
		if err != nil && !errors.Is(err, stopped) {
			yield(campaign.OptOut{}, err)
		}
	}
}

// exportOptOuts writes every opt-out as CSV with gocsv, in batches so that
// memory does not grow with the list, to stdout or to a private file that
// replaces path only once complete.
func (a *app) exportOptOuts(ctx context.Context, each func(context.Context, func(*campaign.OptOut) error) error, path string) error {
	out, commit, err := reportOutput(a.stdout, path)
	if err != nil {
		return err
	}
	defer commit(false)
	bw := bufio.NewWriterSize(out, 64<<10)
	w := gocsv.DefaultCSVWriter(bw)
	const batchSize = 1000
	batch := make([]campaign.OptOut, 0, batchSize)
	n, header := 0, true
	flush := func() error {
		if len(batch) == 0 && !header {
			return nil
		}
		var err error
		if header {
			err = gocsv.MarshalCSV(batch, w)
		} else {
			err = gocsv.MarshalCSVWithoutHeaders(batch, w)
		}
		header, batch = false, batch[:0]
		return err
	}
	err = each(ctx, func(o *campaign.OptOut) error {
		n++
		o.Reason = spreadsheetSafe(o.Reason)
		if batch = append(batch, *o); len(batch) == batchSize {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err == nil {
		w.Flush()
		err = cmp.Or(w.Error(), bw.Flush())
	}
	if err != nil {
		return fmt.Errorf("export opt-outs: %w", err)
	}
	if err := commit(true); err != nil {
		return err
	}
	a.log.Info("opt-outs exported", "rows", n, "output", cmp.Or(path, "stdout"))
	return nil
}
