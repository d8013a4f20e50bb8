package csvimport_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/campaign/csvimport"
)

// A first import that fails leaves no campaign behind, so the fixed file
// imports with corrected settings.
func TestFailedFirstImportLeavesNoCampaign(t *testing.T) {
	t.Parallel()
	b := setupImport(t, csvimport.Config{})
	ctx := context.Background()
	good := "phone,name\n+14155550100,Ann\n"
	for _, bad := range []struct{ name, data string }{
		{"invalid UTF-8", good + "+14155550101,\xff\n"},
		{"unterminated quote", good + "+14155550101,\"Bob\n"},
		{"record too long", good + "+14155550101,\"" + strings.Repeat("x", 70<<10) + "\"\n"},
		{"NUL byte", good + "+14155550101,B\x00b\n"},
		{"UTF-16", "\xff\xfep\x00h\x00o\x00n\x00e\x00\n\x00"},
	} {
		_, err := b.im.Import(ctx, bytesRequest("first", []byte(bad.data), "Hi {{.name}}"))
		if err == nil {
			t.Fatalf("%s: imported", bad.name)
		}
		if _, err := b.st.CampaignByName(ctx, "first"); !errors.Is(err, campaign.ErrNotFound) {
			t.Fatalf("%s: campaign after the failed first import: %v; want none", bad.name, err)
		}
	}
	// The fixed file, with another body: no conflict with a ghost campaign.
	res, err := b.im.Import(ctx, bytesRequest("first", []byte(good), "Hello {{.name}}"))
	if err != nil || !res.Created || res.Campaign.BodyTemplate != "Hello {{.name}}" {
		t.Fatalf("fixed import: %+v, %v", res, err)
	}
	if r, _, imp := b.counts(t, "first"); r != 1 || imp != 1 {
		t.Errorf("%d recipients, %d imports; want 1, 1", r, imp)
	}
}

// slowReader delivers its data after a delay, so that an import holds its
// transaction open while another one starts.
type slowReader struct {
	r     io.Reader
	delay time.Duration
	once  sync.Once
}

func (s *slowReader) Read(p []byte) (int, error) {
	s.once.Do(func() { time.Sleep(s.delay) })
	return s.r.Read(p)
}

// Two first imports of one name at once: one creates the campaign, the
// other appends to it once it commits; with another body, the second
// reports the conflict instead.
func TestConcurrentFirstImports(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		secondBody string
		wantErr    error
	}{
		{"same settings", "Hi {{.name}}", nil},
		{"other body", "Bye {{.name}}", campaign.ErrSettingConflict},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupImport(t, csvimport.Config{})
			ctx := context.Background()
			first := bytesRequest("race", []byte("phone,name\n+14155550100,Ann\n+14155550101,Bob\n"), "Hi {{.name}}")
			data := []byte("phone,name\n+14155550101,Bob\n+14155550102,Cy\n")
			// The first reads its header at once and its rows after a
			// while: its transaction, with the new campaign, stays open.
			first.Open = func() (io.ReadCloser, error) {
				return io.NopCloser(io.MultiReader(strings.NewReader("phone,name\n"),
					&slowReader{r: strings.NewReader("+14155550100,Ann\n+14155550101,Bob\n"), delay: 500 * time.Millisecond})), nil
			}
			var wg sync.WaitGroup
			var res1 *csvimport.Result
			var err1 error
			wg.Go(func() { res1, err1 = b.im.Import(ctx, first) })
			time.Sleep(200 * time.Millisecond)
			res2, err2 := b.im.Import(ctx, bytesRequest("race", data, tt.secondBody))
			wg.Wait()
			if err1 != nil || !res1.Created {
				t.Fatalf("first import: %+v, %v", res1, err1)
			}
			if !errors.Is(err2, tt.wantErr) {
				t.Fatalf("second import: %v; want %v", err2, tt.wantErr)
			}
			want := 2
			if tt.wantErr == nil {
				want = 3
				if res2.Created || res2.Imported != 1 || res2.Duplicates != 1 {
					t.Errorf("second import: created %v, %+v; want it to append 1 and skip 1", res2.Created, countsOf(res2))
				}
			}
			if r, _, _ := b.counts(t, "race"); r != want {
				t.Errorf("%d recipients; want %d", r, want)
			}
			var n int
			if err := b.st.Pool().QueryRow(ctx, `SELECT count(*) FROM campaigns`).Scan(&n); err != nil || n != 1 {
				t.Errorf("%d campaigns, %v; want 1", n, err)
			}
		})
	}
}

// A canceled campaign takes no recipients; a completed one that gains
// some is paused, so that send takes it up again.
func TestImportIntoCanceledOrCompletedCampaign(t *testing.T) {
	t.Parallel()
	b := setupImport(t, csvimport.Config{})
	ctx := context.Background()
	for _, name := range []string{"canceled", "completed"} {
		if _, err := b.im.Import(ctx, bytesRequest(name, []byte("phone\n+14155550100\n"), "Hi")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.st.Pool().Exec(ctx, `UPDATE campaigns SET status = name`); err != nil {
		t.Fatal(err)
	}
	more := []byte("phone\n+14155550101\n")
	if _, err := b.im.Import(ctx, bytesRequest("canceled", more, "")); !errors.Is(err, campaign.ErrCanceled) {
		t.Errorf("import into a canceled campaign: %v; want ErrCanceled", err)
	}
	if r, _, imp := b.counts(t, "canceled"); r != 1 || imp != 1 {
		t.Errorf("canceled campaign: %d recipients, %d imports; want 1, 1 (unchanged)", r, imp)
	}
	if _, err := b.im.Import(ctx, bytesRequest("completed", more, "")); err != nil {
		t.Fatal(err)
	}
	c, err := b.st.CampaignByName(ctx, "completed")
	if err != nil || c.Status != campaign.StatusPaused || !strings.Contains(c.StatusReason, "imported after it completed") {
		t.Errorf("completed campaign after an import: %+v, %v; want paused", c, err)
	}
}

// A campaign canceled while its import runs gets none of it.
func TestImportCanceledDuringTheImport(t *testing.T) {
	t.Parallel()
	b := setupImport(t, csvimport.Config{BatchSize: 64})
	ctx := context.Background()
	if _, err := b.im.Import(ctx, bytesRequest("c", []byte("phone,first_name,city,plan\n"), "Hi")); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	genCSV(&buf, 5000)
	req := bytesRequest("c", buf.Bytes(), "")
	canceled := false
	req.Progress = func(p csvimport.Progress) {
		if !canceled {
			canceled = true
			if _, err := b.st.SetStatus(ctx, "c", campaign.StatusCanceled, "test"); err != nil {
				t.Error(err)
			}
		}
	}
	if _, err := b.im.Import(ctx, req); !errors.Is(err, campaign.ErrCanceled) {
		t.Fatalf("import: %v; want ErrCanceled", err)
	}
	if r, _, imp := b.counts(t, "c"); r != 0 || imp != 1 {
		t.Errorf("%d recipients, %d imports; want none of this import", r, imp)
	}
}

// What cannot be a sender or a name is a setting error before anything
// is read.
func TestImportRefusesBadSenderAndName(t *testing.T) {
	t.Parallel()
	b := setupImport(t, csvimport.Config{})
	ctx := context.Background()
	data := []byte("phone\n+14155550100\n")
	for _, from := range []string{"+999999999999999", "+10000000000"} {
		req := bytesRequest("s", data, "Hi")
		req.Settings.From = []string{from}
		var se *campaign.SettingError
		if _, err := b.im.Import(ctx, req); !errors.As(err, &se) || se.Setting != "from" {
			t.Errorf("--from %s: %v; want a from setting error", from, err)
		}
	}
	for _, name := range []string{"", "   ", "a\x1b[2Jb", strings.Repeat("n", 101)} {
		if _, err := b.im.Import(ctx, bytesRequest(name, data, "Hi")); !errors.Is(err, campaign.ErrInvalidName) {
			t.Errorf("name %.20q: %v; want ErrInvalidName", name, err)
		}
	}
	var n int
	if err := b.st.Pool().QueryRow(ctx, `SELECT count(*) FROM campaigns`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d campaigns, %v; want none", n, err)
	}
}

// A missing template field in a CSV with thousands of columns lists a
// bounded number of them.
func TestMissingColumnListIsBounded(t *testing.T) {
	t.Parallel()
	header := []string{"phone"}
	for i := range 5000 {
		header = append(header, fmt.Sprintf("col%d", i))
	}
	b := setupImport(t, csvimport.Config{})
	data := []byte(strings.Join(header, ",") + "\n")
	_, err := b.im.Import(context.Background(), bytesRequest("wide", data, "Hi {{.first_name}}"))
	if !errors.Is(err, csvimport.ErrMissingColumn) || !strings.Contains(err.Error(), "… and 4,980 more") || len(err.Error()) > 400 {
		t.Errorf("error (%d bytes) = %.500v", len(fmt.Sprint(err)), err)
	}
	_, err = b.im.Import(context.Background(), bytesRequest("wide", []byte(strings.Join(header[1:], ",")+"\n"), "Hi"))
	if !errors.Is(err, csvimport.ErrNoPhoneColumn) || !strings.Contains(err.Error(), "… and 4,980 more") || len(err.Error()) > 600 {
		t.Errorf("error (%d bytes) = %.700v", len(fmt.Sprint(err)), err)
	}
}
