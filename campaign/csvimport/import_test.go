package csvimport_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/campaign/csvimport"
	"github.com/smsblast/smsblast/store"
	"github.com/smsblast/smsblast/store/pgtest"
)

func ptr[T any](v T) *T { return &v }

// importBundle is one test's database and importer.
type importBundle struct {
	st *store.Store
	im *csvimport.Importer
}

func setupImport(t *testing.T, cfg csvimport.Config) *importBundle {
	t.Helper()
	st := pgtest.Store(t)
	return &importBundle{st: st, im: csvimport.New(st, cfg)}
}

func fileRequest(name, path string, body string) csvimport.Request {
	req := csvimport.Request{
		Campaign: name,
		Source:   filepath.Base(path),
		Open:     func() (io.ReadCloser, error) { return os.Open(path) },
	}
	if body != "" {
		req.Settings = campaign.Settings{From: []string{"+15005550006"}, Body: ptr(body)}
	}
	return req
}

func bytesRequest(name string, data []byte, body string) csvimport.Request {
	req := fileRequest(name, "inline.csv", body)
	req.Open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	return req
}

// counts reads what the campaign holds: recipients, rejects and imports.
func (b *importBundle) counts(t *testing.T, name string) (recipients, rejects, imports int) {
	t.Helper()
	err := b.st.Pool().QueryRow(context.Background(), `
		SELECT (SELECT count(*) FROM recipients r JOIN campaigns c ON c.id = r.campaign_id WHERE c.name = $1),
		       (SELECT count(*) FROM import_rejects r JOIN campaigns c ON c.id = r.campaign_id WHERE c.name = $1),
		       (SELECT count(*) FROM imports i JOIN campaigns c ON c.id = i.campaign_id WHERE c.name = $1)`,
		name).Scan(&recipients, &rejects, &imports)
	if err != nil {
		t.Fatal(err)
	}
	return
}

type resultCounts struct{ read, imported, duplicates, rejected int }

func countsOf(r *csvimport.Result) resultCounts {
	return resultCounts{r.Read, r.Imported, r.Duplicates, r.Rejected}
}

// TestImportMessyCSV runs with the default filter, where rows go into the
// COPY unless they repeat a phone, and with a filter of one block and two
// held rows, where almost every row is held and inserted apart and the two
// ways alternate: the outcome must be the same.
func TestImportMessyCSV(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  csvimport.Config
	}{
		{"default", csvimport.Config{Workers: 3, BatchSize: 2}},
		{"held", csvimport.Config{Workers: 3, BatchSize: 2, FilterBytes: 32, HeldRows: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testImportMessyCSV(t, setupImport(t, tc.cfg))
		})
	}
}

func testImportMessyCSV(t *testing.T, b *importBundle) {
	ctx := context.Background()
	req := fileRequest("spring", "../../testdata/messy.csv", "Hi {{.first_name}} from {{.city}}")
	// Opted-out numbers are imported (send skips them) and counted apart.
	if _, err := b.st.Pool().Exec(ctx, `INSERT INTO opt_outs (phone) VALUES ('+16465550142')`); err != nil {
		t.Fatal(err)
	}

	res, err := b.im.Import(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.OptedOut != 1 {
		t.Errorf("OptedOut = %d; want 1", res.OptedOut)
	}
	if got, want := countsOf(res), (resultCounts{read: 10, imported: 4, duplicates: 3, rejected: 3}); got != want {
		t.Errorf("first import counts = %+v; want %+v", got, want)
	}
	wantBy := map[string]int{campaign.RejectInvalidPhone: 1, campaign.RejectFieldCount: 1, campaign.RejectEmptyPhone: 1}
	if !reflect.DeepEqual(res.RejectedBy, wantBy) {
		t.Errorf("RejectedBy = %v; want %v", res.RejectedBy, wantBy)
	}
	if !res.Created || res.Campaign.ID == 0 || res.Campaign.Status != campaign.StatusDraft {
		t.Errorf("campaign = %+v, created %v", res.Campaign, res.Created)
	}
	if res.TotalSegments != 4 || res.Segments[1] != 4 {
		t.Errorf("segments = %v total %d; want 4 one-segment messages", res.Segments, res.TotalSegments)
	}

	// The recipients: first occurrence wins, attrs keyed in snake case.
	rows, err := b.st.Pool().Query(ctx, `SELECT phone, source_line, attrs->>'first_name', attrs->>'note', attrs ? 'phone_number', segments, status
		FROM recipients WHERE campaign_id = $1 ORDER BY source_line`, res.Campaign.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var phone, first, note, status string
		var line, segs int
		var hasPhone bool
		if err := rows.Scan(&phone, &line, &first, &note, &hasPhone, &segs, &status); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %s %s %q phone-in-attrs=%v %d %s", line, phone, first, note, hasPhone, segs, status))
	}
	want := []string{
		`2 +14155550100 Ann "first" phone-in-attrs=false 1 pending`,
		`6 +14155550101 Bob "multi\nline note" phone-in-attrs=false 1 pending`,
		`9 +442079460000 Dee "quote \"inside\"" phone-in-attrs=false 1 pending`,
		`13 +16465550142 Gus "ok" phone-in-attrs=false 1 pending`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("recipients:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The rejects: the line where the record starts, its raw text, why.
	rows, err = b.st.Pool().Query(ctx, `SELECT source, source_line, raw, reason FROM import_rejects
		WHERE campaign_id = $1 ORDER BY source_line`, res.Campaign.ID)
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for rows.Next() {
		var source, raw, reason string
		var line int
		if err := rows.Scan(&source, &line, &raw, &reason); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s:%d %q %s", source, line, raw, reason))
	}
	want = []string{
		`messy.csv:8 "555-01,Carl,Nowhere,too short" phone "555-01" is not a valid US number`,
		`messy.csv:10 "212-555-0199,Eve,NYC" has 3 fields; the header has 4`,
		`messy.csv:11 ",Fay,Nowhere,empty phone" "Phone Number" is empty`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rejects:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Importing the same file again adds nothing, and needs no settings.
	again := fileRequest("spring", "../../testdata/messy.csv", "")
	res, err = b.im.Import(ctx, again)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := countsOf(res), (resultCounts{read: 10, imported: 0, duplicates: 7, rejected: 3}); got != want || res.Created {
		t.Errorf("re-import counts = %+v created %v; want %+v", got, res.Created, want)
	}
	if r, rj, imp := b.counts(t, "spring"); r != 4 || rj != 3 || imp != 2 {
		t.Errorf("after re-import: %d recipients, %d rejects, %d imports; want 4, 3, 2", r, rj, imp)
	}

	// An append dedupes against what is there and within itself.
	res, err = b.im.Import(ctx, fileRequest("spring", "../../testdata/append.csv", ""))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := countsOf(res), (resultCounts{read: 4, imported: 2, duplicates: 2, rejected: 0}); got != want {
		t.Errorf("append counts = %+v; want %+v", got, want)
	}
	if r, _, _ := b.counts(t, "spring"); r != 6 {
		t.Errorf("after append: %d recipients; want 6", r)
	}
	b.checkCounters(t)
}

// checkCounters fails t unless the counters agree with a recount of the rows.
func (b *importBundle) checkCounters(t *testing.T) {
	t.Helper()
	check, err := b.st.CheckCounters(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(check.Mismatches) > 0 {
		t.Errorf("counters differ from the rows: %+v", check.Mismatches)
	}
}

func TestImportRefusesBeforeLoading(t *testing.T) {
	t.Parallel()
	b := setupImport(t, csvimport.Config{})
	ctx := context.Background()
	if _, err := b.im.Import(ctx, fileRequest("base", "../../testdata/append.csv", "Hi {{.first_name}}")); err != nil {
		t.Fatal(err)
	}
	good := "phone,first_name\n+14155550100,Ann\n"
	tests := []struct {
		name     string
		campaign string
		data     string
		settings campaign.Settings
		phoneCol string
		region   string
		wantErr  error
		errText  string
	}{
		{name: "template reads a missing column", campaign: "new", data: "phone,name\n+14155550100,Ann\n",
			settings: campaign.Settings{From: []string{"+15005550006"}, Body: ptr("Hi {{.first_name}}")},
			wantErr:  csvimport.ErrMissingColumn, errText: "reads .first_name but the CSV has no such column; columns: name"},
		{name: "append lacks the template's column", campaign: "base", data: "phone,name\n+14155550100,Ann\n",
			wantErr: csvimport.ErrMissingColumn, errText: "columns: name"},
		{name: "no phone column", campaign: "base", data: "name,email\nAnn,a@example.com\n",
			wantErr: csvimport.ErrNoPhoneColumn, errText: `headers found: "name", "email"`},
		{name: "phone column flag names nothing", campaign: "base", data: good, phoneCol: "mobile",
			wantErr: csvimport.ErrNoPhoneColumn, errText: `no column "mobile"`},
		{name: "no sender for a new campaign", campaign: "new", data: good,
			settings: campaign.Settings{Body: ptr("Hi")}, wantErr: campaign.ErrSettingRequired, errText: "from: campaign \"new\" does not exist yet"},
		{name: "no body for a new campaign", campaign: "new", data: good,
			settings: campaign.Settings{From: []string{"+15005550006"}}, wantErr: campaign.ErrSettingRequired, errText: "body: campaign"},
		{name: "conflicting body", campaign: "base", data: good,
			settings: campaign.Settings{Body: ptr("Bye")}, wantErr: campaign.ErrSettingConflict, errText: `body: campaign "base" already has "Hi {{.first_name}}"`},
		{name: "conflicting rate", campaign: "base", data: good,
			settings: campaign.Settings{Rate: ptr(3.0)}, wantErr: campaign.ErrSettingConflict, errText: "rate: campaign \"base\" already has no rate of its own"},
		{name: "bad sender", campaign: "new", data: good,
			settings: campaign.Settings{From: []string{"4155550100"}, Body: ptr("Hi")}, wantErr: campaign.ErrInvalidSetting, errText: "from: \"4155550100\" is not an E.164"},
		{name: "bad region", campaign: "base", data: good, region: "Narnia", wantErr: campaign.ErrInvalidSetting, errText: "default_region: \"NARNIA\" is not a region code"},
		{name: "empty file", campaign: "base", data: "", wantErr: csvimport.ErrNoHeader},
		{name: "invalid UTF-8 midway", campaign: "base", data: good + "+14155550101,\xff\n",
			wantErr: csvimport.ErrInvalidUTF8, errText: "line 3:"},
		{name: "binary garbage", campaign: "base", data: "\x00\x01\x02\x03garbage\x00\n\x00",
			wantErr: csvimport.ErrBinary, errText: "line 1:"},
		{name: "line over the cap", campaign: "base", data: good + "+14155550101,\"" + strings.Repeat("x", 70<<10) + "\"\n",
			wantErr: csvimport.ErrRecordTooLong, errText: "line 3:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := bytesRequest(tt.campaign, []byte(tt.data), "")
			req.Settings, req.PhoneColumn, req.DefaultRegion = tt.settings, tt.phoneCol, tt.region
			_, err := b.im.Import(ctx, req)
			if !errors.Is(err, tt.wantErr) || !strings.Contains(fmt.Sprint(err), tt.errText) {
				t.Fatalf("error = %v; want %v containing %q", err, tt.wantErr, tt.errText)
			}
		})
	}
	// Nothing was loaded, nothing created, nothing lost.
	if r, rj, imp := b.counts(t, "base"); r != 3 || rj != 0 || imp != 1 {
		t.Errorf("base: %d recipients, %d rejects, %d imports; want 3, 0, 1", r, rj, imp)
	}
	if _, err := b.st.CampaignByName(ctx, "new"); !errors.Is(err, campaign.ErrNotFound) {
		t.Errorf("campaign new: %v; want ErrNotFound", err)
	}
}

// genCSV writes n rows: phone plus three attribute columns; every 100th
// number is invalid and every 100th (offset) repeats an earlier one.
func genCSV(w io.Writer, n int) (unique int) {
	fmt.Fprintln(w, "phone,first_name,city,plan")
	cities := []string{"Boston", "Denver", "Austin", "Seattle, WA"}
	for i := range n {
		switch {
		case i%100 == 37:
			fmt.Fprintf(w, "555-%02d,Bad%d,Nowhere,none\n", i%100, i)
		case i%100 == 73:
			fmt.Fprintf(w, "+1415%07d,Dup%d,%q,basic\n", 2000000+i-50, i, cities[i%4])
		default:
			unique++
			fmt.Fprintf(w, "+1415%07d,Name%d,%q,premium\n", 2000000+i, i, cities[i%4])
		}
	}
	return unique
}

func TestImportCanceledMidwayLeavesNothing(t *testing.T) {
	t.Parallel()
	b := setupImport(t, csvimport.Config{BatchSize: 256})
	var buf bytes.Buffer
	unique := genCSV(&buf, 30000)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := bytesRequest("big", buf.Bytes(), "Hi {{.first_name}}")
	req.Progress = func(p csvimport.Progress) {
		if p.Rows > 10000 {
			cancel() // killed while COPY streams
		}
	}
	if _, err := b.im.Import(ctx, req); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled import: %v; want context.Canceled", err)
	}
	if r, rj, imp := b.counts(t, "big"); r != 0 || rj != 0 || imp != 0 {
		t.Fatalf("after the killed import: %d recipients, %d rejects, %d imports; want none", r, rj, imp)
	}
	if _, err := b.st.CampaignByName(context.Background(), "big"); !errors.Is(err, campaign.ErrNotFound) {
		t.Fatalf("campaign after the killed first import: %v; want none", err)
	}
	// Run again: it completes.
	req.Progress = nil
	res, err := b.im.Import(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Imported != unique || res.Read != 30000 || res.Imported+res.Duplicates+res.Rejected != res.Read {
		t.Errorf("rerun: %+v; want %d imported of 30000", countsOf(res), unique)
	}
	if r, rj, imp := b.counts(t, "big"); r != unique || rj != 300 || imp != 1 {
		t.Errorf("after the rerun: %d recipients, %d rejects, %d imports; want %d, 300, 1", r, rj, imp, unique)
	}
}

func TestImportSpillsRejects(t *testing.T) {
	t.Parallel()
	b := setupImport(t, csvimport.Config{MemoryRejects: 3})
	var buf bytes.Buffer
	genCSV(&buf, 1000)
	res, err := b.im.Import(context.Background(), bytesRequest("spill", buf.Bytes(), "Hi"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Rejected != 10 {
		t.Errorf("rejected %d; want 10", res.Rejected)
	}
	if _, rj, _ := b.counts(t, "spill"); rj != 10 {
		t.Errorf("%d rejects stored; want all 10", rj)
	}
}

// racingStore commits one of the file's phones from another connection
// just before the import's COPY, as a concurrent import would.
type racingStore struct {
	*store.Store
	phone string
}

func (s *racingStore) BeginImport(ctx context.Context, c *campaign.Campaign, waiting func()) (campaign.ImportTx, error) {
	tx, err := s.Store.BeginImport(ctx, c, waiting)
	return &racingTx{ImportTx: tx, s: s, id: c.ID}, err
}

type racingTx struct {
	campaign.ImportTx
	s  *racingStore
	id int64
}

func (t *racingTx) CopyRecipients(ctx context.Context, src campaign.ImportRowSource) (int64, error) {
	if t.s.phone != "" {
		if _, err := t.s.Pool().Exec(ctx, `INSERT INTO recipients (campaign_id, phone) VALUES ($1, $2)`, t.id, t.s.phone); err != nil {
			return 0, err
		}
		t.s.phone = ""
	}
	return t.ImportTx.CopyRecipients(ctx, src)
}

func TestImportRetriesAfterConcurrentImport(t *testing.T) {
	t.Parallel()
	st := pgtest.Store(t)
	// The campaign exists (a first import creates it in its own
	// transaction, where no other import can see it).
	if _, err := csvimport.New(st, csvimport.Config{}).Import(context.Background(), bytesRequest("race", []byte("phone\n"), "Hi")); err != nil {
		t.Fatal(err)
	}
	rs := &racingStore{Store: st, phone: "+16175550188"}
	im := csvimport.New(rs, csvimport.Config{})
	res, err := im.Import(context.Background(), fileRequest("race", "../../testdata/append.csv", ""))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := countsOf(res), (resultCounts{read: 4, imported: 2, duplicates: 2}); got != want || !res.Retried {
		t.Errorf("counts = %+v retried %v; want %+v after a retry", got, res.Retried, want)
	}
	b := &importBundle{st: st}
	if r, _, imp := b.counts(t, "race"); r != 3 || imp != 2 {
		t.Errorf("%d recipients, %d imports; want 3, 2", r, imp)
	}
}

func TestImportConcurrentSameFile(t *testing.T) {
	t.Parallel()
	b := setupImport(t, csvimport.Config{})
	var buf bytes.Buffer
	unique := genCSV(&buf, 5000)
	ctx := context.Background()
	if _, err := b.im.Import(ctx, bytesRequest("twice", []byte("phone,first_name,city,plan\n"), "Hi {{.first_name}}")); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	results := make(chan *csvimport.Result, 2)
	for range 2 {
		go func() {
			res, err := b.im.Import(ctx, bytesRequest("twice", buf.Bytes(), ""))
			results <- res
			errs <- err
		}()
	}
	total := 0
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		total += (<-results).Imported
	}
	if r, _, _ := b.counts(t, "twice"); r != unique || total != unique {
		t.Errorf("%d recipients, %d imported in all; want %d each", r, total, unique)
	}
}

// Two imports of overlapping files into one campaign at once, the shared
// numbers in opposite orders, as a deadlock would have them: imports of a
// campaign take turns, so both finish and every phone is there once.
func TestImportConcurrentOverlapInOppositeOrders(t *testing.T) {
	t.Parallel()
	b := setupImport(t, csvimport.Config{})
	ctx := context.Background()
	if _, err := b.im.Import(ctx, bytesRequest("crossed", []byte("phone\n"), "Hi")); err != nil {
		t.Fatal(err)
	}
	const n, overlap = 40000, 20000
	var up, down bytes.Buffer
	up.WriteString("phone\n")
	down.WriteString("phone\n")
	for i := range n {
		fmt.Fprintf(&up, "+1415%07d\n", 2000000+i)
		fmt.Fprintf(&down, "+1415%07d\n", 2000000+2*n-overlap-1-i)
	}
	results := make(chan *csvimport.Result, 2)
	errs := make(chan error, 2)
	for _, data := range [][]byte{up.Bytes(), down.Bytes()} {
		go func() {
			res, err := b.im.Import(ctx, bytesRequest("crossed", data, ""))
			results <- res
			errs <- err
		}()
	}
	imported := 0
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		res := <-results
		if res.Imported+res.Duplicates != n {
			t.Errorf("%+v: want %d rows imported or duplicates", countsOf(res), n)
		}
		imported += res.Imported
	}
	if r, _, _ := b.counts(t, "crossed"); r != 2*n-overlap || imported != r {
		t.Errorf("%d recipients, %d imported in all; want %d each", r, imported, 2*n-overlap)
	}
}

// The same bad line in two files is two rejects, one per file; importing
// a file again records none.
func TestImportRejectsOncePerFile(t *testing.T) {
	t.Parallel()
	b := setupImport(t, csvimport.Config{})
	ctx := context.Background()
	data := []byte("phone,name\nbadnum,x\n+14155550100,Ann\n")
	for _, source := range []string{"a.csv", "b.csv", "a.csv"} {
		req := bytesRequest("rejects", data, "Hi {{.name}}")
		req.Source = source
		res, err := b.im.Import(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if res.Rejected != 1 {
			t.Errorf("%s: %d rejected; want 1", source, res.Rejected)
		}
	}
	if _, rj, _ := b.counts(t, "rejects"); rj != 2 {
		t.Errorf("%d rejects stored; want 2, one per file", rj)
	}
}
