package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/smsblast/smsblast/campaign/csvimport"
)

func importCommand() *command {
	return &command{
		name:    "import",
		args:    "CAMPAIGN FILE.csv",
		summary: "load a recipient CSV into a campaign (created on first import; later imports append, deduplicated)",
		examples: `  smsblast import spring-sale customers.csv --from +15005550006 --body 'Hi {{.first_name}}, 20% off today'
  smsblast import spring-sale more.csv                    # append: duplicates are skipped
  smsblast import spring-sale - --phone-column Mobile < export.csv
  smsblast import spring-sale uk.csv --default-region GB --json`,
		run: runImport,
	}
}

// importUsageErrors are the import errors whose fix is on the command line: exit 2.
var importUsageErrors = []error{
	csvimport.ErrNoPhoneColumn, csvimport.ErrDuplicateColumn, csvimport.ErrMissingColumn,
}

func runImport(ctx context.Context, a *app, fs *flagSet, args []string) error {
	fs.dbFlag()
	var sf settingFlags
	sf.register(fs, "first import")
	phoneCol := fs.String("phone-column", "", "header of the phone column (default: phone, phone_number, mobile, msisdn, cell or to)")
	region := fs.String("default-region", "US", "region for numbers written without a country code")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	pos, err := a.parse(fs, args, 2, 2)
	if err != nil {
		return err
	}
	name, path := pos[0], pos[1]

	// Only flags given on the command line are settings: on a later import
	// they must match the campaign, and absent ones leave it alone.
	s, err := sf.settings(fs)
	if err != nil {
		return err
	}
	if sf.readIn != "" {
		fmt.Fprintf(a.stderr, "smsblast: times read in %s, this machine's zone (give --tz to change)\n", sf.readIn)
	}
	if s.TZ == nil {
		// A new campaign remembers the zone its times were written in.
		zone := machineZone()
		s.TZ = &zone
	}

	req := csvimport.Request{
		Campaign: name, Settings: s, PhoneColumn: *phoneCol, DefaultRegion: *region,
		Source: filepath.Base(path),
	}
	var size int64 // of the file, for the progress display; 0 if unknown
	if path == "-" {
		req.Source = "stdin"
		opened := false
		req.Open = func() (io.ReadCloser, error) {
			if opened {
				return nil, errors.New("standard input cannot be read twice; import from a file")
			}
			opened = true
			return io.NopCloser(a.stdin), nil
		}
	} else {
		// Open once up front so a missing file is reported before the
		// database is touched.
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("open %s: %w", path, errors.Unwrap(err))
		}
		if fi, err := f.Stat(); err == nil {
			size = fi.Size()
		}
		first := f
		req.Open = func() (io.ReadCloser, error) {
			if first != nil {
				f, first = first, nil
				return f, nil
			}
			return os.Open(path)
		}
		defer func() {
			if first != nil {
				first.Close()
			}
		}()
	}

	st, err := a.openStore(ctx, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := a.checkBudgetPrices(ctx, st, name, s); err != nil {
		return err
	}
	var rows, read atomic.Int64
	req.Progress = func(p csvimport.Progress) { rows.Store(int64(p.Rows)); read.Store(p.Bytes) }
	prog := a.startProgress(name, "rows", func() progressSample {
		return progressSample{done: rows.Load(), read: read.Load(), size: size}
	})
	res, err := csvimport.New(st, csvimport.Config{Logger: a.log}).Import(ctx, req)
	prog.stop()
	if err != nil {
		if u := settingUsage(err); u != nil {
			return u
		}
		for _, u := range importUsageErrors {
			if errors.Is(err, u) {
				return usagef("import %s: %v", name, err)
			}
		}
		return fmt.Errorf("import %s into %s: %w", path, name, err)
	}
	if s.Prices != nil {
		if err := st.SetPrices(ctx, res.Campaign.ID, s.Prices); err != nil {
			return err
		}
	}
	if *asJSON {
		writeJSON(a.stdout, importJSON(res))
		return nil
	}
	printImport(a.stdout, res)
	if res.Created {
		a.hintUnregistered(ctx, st, res.Campaign)
	}
	return nil
}

// importOutput is the --json shape: stable keys for scripts.
type importOutput struct {
	Campaign      string         `json:"campaign"`
	CampaignID    int64          `json:"campaign_id"`
	Created       bool           `json:"created"`
	ImportID      int64          `json:"import_id"`
	Source        string         `json:"source"`
	RowsRead      int            `json:"rows_read"`
	Imported      int            `json:"imported"`
	Duplicates    int            `json:"duplicates"`
	Rejected      int            `json:"rejected"`
	RejectedBy    map[string]int `json:"rejected_by"`
	OptedOut      int            `json:"opted_out"`
	Segments      map[string]int `json:"segments_per_message"`
	TotalSegments int            `json:"total_segments"`
	UCS2          int            `json:"ucs2_messages"`
	Rejects       []rejectOutput `json:"first_rejects"`
	Seconds       float64        `json:"seconds"`
}

type rejectOutput struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
	Raw    string `json:"raw"`
}

func importJSON(r *csvimport.Result) importOutput {
	o := importOutput{
		Campaign: r.Campaign.Name, CampaignID: r.Campaign.ID, Created: r.Created, ImportID: r.ImportID,
		Source: r.Source, RowsRead: r.Read, Imported: r.Imported, Duplicates: r.Duplicates,
		Rejected: r.Rejected, RejectedBy: r.RejectedBy, OptedOut: r.OptedOut,
		Segments: map[string]int{}, TotalSegments: r.TotalSegments, UCS2: r.UCS2,
		Rejects: []rejectOutput{}, Seconds: r.Elapsed.Seconds(),
	}
	for n, c := range r.Segments {
		o.Segments[fmt.Sprint(n)] = c
	}
	for _, rj := range r.Rejects {
		o.Rejects = append(o.Rejects, rejectOutput{rj.Line, rj.Reason, rj.Raw})
	}
	return o
}

func printImport(w io.Writer, r *csvimport.Result) {
	verb := "into"
	if r.Created {
		verb = "into new campaign"
	}
	fmt.Fprintf(w, "imported %s %s %q in %s\n", r.Source, verb, r.Campaign.Name, r.Elapsed.Round(time.Millisecond))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "rows read\t%d\t\n", r.Read)
	fmt.Fprintf(tw, "imported\t%d\t\n", r.Imported)
	fmt.Fprintf(tw, "duplicates\t%d\t\n", r.Duplicates)
	fmt.Fprintf(tw, "rejected\t%d\t\n", r.Rejected)
	kinds := make([]string, 0, len(r.RejectedBy))
	for k := range r.RejectedBy {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(tw, "  %s\t%d\t\n", strings.ReplaceAll(k, "_", " "), r.RejectedBy[k])
	}
	if r.OptedOut > 0 {
		fmt.Fprintf(tw, "opted out (imported, never texted)\t%d\t\n", r.OptedOut)
	}
	fmt.Fprintf(tw, "total segments\t%d\t\n", r.TotalSegments)
	tw.Flush()
	if len(r.Segments) > 0 {
		ns := make([]int, 0, len(r.Segments))
		for n := range r.Segments {
			ns = append(ns, n)
		}
		sort.Ints(ns)
		parts := make([]string, len(ns))
		for i, n := range ns {
			parts[i] = fmt.Sprintf("%d: %d", n, r.Segments[n])
		}
		line := "segments per message (segments: recipients): " + strings.Join(parts, ", ")
		if r.UCS2 > 0 {
			line += fmt.Sprintf("; %d need UCS-2 (70 characters per segment)", r.UCS2)
		}
		fmt.Fprintln(w, line)
	}
	if len(r.Rejects) > 0 {
		fmt.Fprintln(w, "rejected rows (all are in import_rejects):")
		for _, rj := range r.Rejects {
			fmt.Fprintf(w, "  line %d: %s\n", rj.Line, rj.Reason)
		}
		if r.Rejected > len(r.Rejects) {
			fmt.Fprintf(w, "  … and %d more\n", r.Rejected-len(r.Rejects))
		}
	}
}
