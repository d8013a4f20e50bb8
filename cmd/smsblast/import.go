package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/smsblast/smsblast/campaign"
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
	var req csvimport.Request
	fs.validate = func(pos []string) error {
		if err := campaignArg(pos[0]); err != nil {
			return err
		}
		// Only flags given on the command line are settings: on a later
		// import they must match the campaign, and absent ones leave it alone.
		s, err := sf.settings(fs)
		if err != nil {
			return err
		}
		if s.TZ == nil {
			// A new campaign remembers the zone its times were written in.
			zone := machineZone()
			s.TZ = &zone
		}
		req = csvimport.Request{
			Campaign: pos[0], Settings: s, PhoneColumn: *phoneCol, DefaultRegion: *region,
			Source: filepath.Base(pos[1]),
		}
		if err := sf.validate(req.Settings); err != nil {
			return err
		}
		if err := req.Validate(); err != nil { // the name, the region
			if u := settingUsage(err); u != nil {
				return u
			}
			return usagef("%v", err)
		}
		if pos[1] == "" {
			return usagef("FILE.csv is empty: give a file name, or - for standard input")
		}
		return nil
	}
	pos, err := a.parse(fs, args, 2, 2)
	if err != nil {
		return err
	}
	name, path := pos[0], pos[1]
	if sf.readIn != "" {
		fmt.Fprintf(a.stderr, "smsblast: times read in %s, this machine's zone (give --tz to change)\n", sf.readIn)
	}
	if s := req.Settings; s.Concurrency != nil {
		a.warnConcurrency(*s.Concurrency)
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
			return fmt.Errorf("open %s: %w", campaign.Printable(path), errors.Unwrap(err))
		}
		fi, err := f.Stat()
		if err == nil && fi.IsDir() {
			f.Close()
			return usagef("%s is a directory; give a CSV file", campaign.Printable(path))
		}
		if err == nil {
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
	if err := a.checkBudgetPrices(ctx, st, name, req.Settings); err != nil {
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
		return fmt.Errorf("import %s into %s: %w", campaign.Printable(path), campaign.Printable(name), err)
	}
	if req.Settings.Prices != nil {
		if err := st.SetPrices(ctx, res.Campaign.ID, req.Settings.Prices); err != nil {
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
	fmt.Fprintf(w, "imported %s %s %q in %s\n", campaign.Printable(r.Source), verb, r.Campaign.Name, r.Elapsed.Round(time.Millisecond))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "rows read\t%d\t\n", r.Read)
	fmt.Fprintf(tw, "imported\t%d\t\n", r.Imported)
	fmt.Fprintf(tw, "duplicates\t%d\t\n", r.Duplicates)
	fmt.Fprintf(tw, "rejected\t%d\t\n", r.Rejected)
	printByKind(tw, "  ", r.RejectedBy)
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
			fmt.Fprintf(w, "  line %d: %s\n", rj.Line, campaign.Printable(rj.Reason))
		}
		if r.Rejected > len(r.Rejects) {
			fmt.Fprintf(w, "  … and %d more\n", r.Rejected-len(r.Rejects))
		}
	}
}

// printByKind writes counts by kind (a reject's or a skip's reason, in
// snake_case) as table rows, indented, kinds in order, words spaced.
func printByKind[N int | int64](tw io.Writer, indent string, byKind map[string]N) {
	for _, k := range slices.Sorted(maps.Keys(byKind)) {
		fmt.Fprintf(tw, "%s%s\t%d\t\n", indent, strings.ReplaceAll(k, "_", " "), byKind[k])
	}
}
