package csvimport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/campaign/phone"
)

// FuzzCSV feeds arbitrary bytes through the import's parsing path — the CSV
// reader, column planning, the parallel workers and the ordered stream with
// its deduplication — and checks that it never panics and accounts for every
// record: imported + duplicates + rejected = read = the records a plain pass
// over the file sees. Seeds: testdata/fuzz/FuzzCSV and the repository's testdata/*.csv.
func FuzzCSV(f *testing.F) {
	files, _ := filepath.Glob("../../testdata/*.csv")
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	tmpl, err := campaign.ParseTemplate("Hi {{.column_2}}")
	if err != nil {
		f.Fatal(err)
	}
	norm, err := phone.NewNormalizer("US")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// The records a plain pass sees, up to the first file error.
		want := 0
		var wantErr error
		if cr, err := NewReader(bytes.NewReader(data), 4096); err == nil {
			for {
				if _, err := cr.Read(); err != nil {
					if !errors.Is(err, io.EOF) {
						wantErr = err
					}
					break
				}
				want++
			}
		}

		cr, err := NewReader(bytes.NewReader(data), 4096)
		if err != nil {
			return // no header, or a header the reader refuses: reported, not loaded
		}
		// Whatever the headers, read column 1 as the phone and the rest
		// under positional names, so every file exercises the workers.
		cols := &Columns{Phone: 0, Header: cr.Header(), Keys: make([]string, len(cr.Header()))}
		for i := range cols.Keys {
			cols.Keys[i] = "column_" + string(rune('1'+i%9)) + string(rune('a'+i/9%26)) + string(rune('a'+i/234%26))
		}
		if len(cols.Keys) > 1 {
			cols.Keys[1] = "column_2"
		}
		p := &importPlan{cols: cols, tmpl: tmpl, norm: norm}
		res := &Result{}
		rejects := newRejectLog(8)
		defer rejects.close()
		// A filter of one block and three held rows: most rows take the
		// held way, and the COPY and the inserts alternate often.
		f := newPhoneFilter(32)
		defer f.release()
		s := newImportStream(context.Background(), Config{Workers: 3, BatchSize: 3}, cr, p,
			f, newHeldRows(3, 1<<20), rejects, res, nil)
		rows := 0
		drainStream(t, s, func(r campaign.ImportRow) {
			if r.Phone == "" || len(r.Attrs) < 2 || r.Line < 2 {
				t.Fatalf("bad row %+v", r)
			}
			rows++
		})
		s.close()
		if (s.Err() == nil) != (wantErr == nil) {
			t.Fatalf("stream error %v; plain pass %v", s.Err(), wantErr)
		}
		if s.Err() != nil {
			// The import stops there and rolls back: rows still held are
			// never settled, so only what was read is known.
			if res.Read != want {
				t.Fatalf("read %d before the error; plain pass %d", res.Read, want)
			}
			return
		}
		if res.Read != want || rows != res.Imported || res.Imported+res.Duplicates+res.Rejected != res.Read {
			t.Fatalf("read %d (plain pass %d), rows %d, imported %d + duplicates %d + rejected %d",
				res.Read, want, rows, res.Imported, res.Duplicates, res.Rejected)
		}
		n := 0
		if err := rejects.each(5, func(b []campaign.ImportReject) error { n += len(b); return nil }); err != nil || n != res.Rejected {
			t.Fatalf("reject log holds %d (%v); rejected %d", n, err, res.Rejected)
		}
	})
}
