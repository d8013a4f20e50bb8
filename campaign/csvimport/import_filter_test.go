package csvimport

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/campaign/phone"
)

// drainStream runs s the way load does, with a set in memory standing in
// for the campaign's recipients: rows from Next go straight in (and must be
// new: the filter vouched for them), held rows go in when their phone is
// not there yet. It calls row with every row that went in, in the order
// they went in.
func drainStream(tb testing.TB, s *importStream, row func(campaign.ImportRow)) {
	tb.Helper()
	in := map[string]bool{}
	for !s.eof {
		for s.Next() {
			r := s.Row()
			if in[r.Phone] {
				tb.Fatalf("line %d: %s went into the COPY, but it is in already", r.Line, r.Phone)
			}
			in[r.Phone] = true
			row(r)
		}
		if s.Err() != nil {
			return
		}
		if err := s.settle(func(rows []campaign.ImportRow) ([]int, error) {
			var lines []int
			for _, r := range rows {
				if !in[r.Phone] {
					in[r.Phone] = true
					lines = append(lines, r.Line)
					row(r)
				}
			}
			return lines, nil
		}); err != nil {
			tb.Fatal(err)
		}
	}
}

// has is add without the adding.
func (f *phoneFilter) has(k uint64) bool {
	b, lo := f.locate(k)
	for w := range b {
		if b[w]&(uint32(1)<<((lo*filterSalts[w])>>27)) == 0 {
			return false
		}
	}
	return true
}

func TestPhoneFilter(t *testing.T) {
	t.Parallel()
	const n = 200_000
	f := newPhoneFilter(n * 27 / 8) // 27 bits a phone, as 32 MiB for 10M
	defer f.release()
	for i := range uint64(n) {
		f.add(14155550000 + i*7)
	}
	for i := range uint64(n) {
		if !f.add(14155550000 + i*7) {
			t.Fatalf("phone %d was added and the filter says it was not: a false negative", i)
		}
	}
	alarms := 0
	for i := range uint64(n) {
		if f.has(14155550000 + i*7 + 3) {
			alarms++
		}
	}
	// In theory 0.9 in 10,000 at 27 bits a key, with keys spread over the
	// blocks as by chance (Poisson); allow five times that.
	t.Logf("false alarms: %d of %d new phones", alarms, n)
	if rate := float64(alarms) / n; rate > 4.5e-4 {
		t.Errorf("false alarms: %d of %d new phones (%.5f)", alarms, n, rate)
	}
	small := newPhoneFilter(32)
	defer small.release()
	if !small.add(0) {
		t.Error("key 0 (no E.164 number) must always be 'may have been seen'")
	}
}

// TestStreamFilterSizes imports the same file, full of repeats, through
// filters from one block to plenty and holds of a few rows to many: the
// rows that go in, in order, must be the same every time, the first row of
// each phone, and the counts too.
func TestStreamFilterSizes(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	buf.WriteString("phone,name\n")
	rng := rand.New(rand.NewPCG(1, 2))
	first := map[string]int{}
	var want []int
	for i := range 5000 {
		p := fmt.Sprintf("+1415555%04d", rng.IntN(3000))
		line := i + 2
		if i%97 == 0 {
			p = "555" // rejected
		} else if _, ok := first[p]; !ok {
			first[p] = line
			want = append(want, line)
		}
		fmt.Fprintf(&buf, "%s,n%d\n", p, i)
	}
	tmpl, _ := campaign.ParseTemplate("Hi {{.name}}")
	norm, _ := phone.NewNormalizer("US")
	for _, tc := range []struct{ filter, held int }{{32, 1}, {32, 7}, {1 << 10, 100}, {1 << 20, 8192}, {1 << 20, 3}} {
		t.Run(fmt.Sprintf("filter%d-held%d", tc.filter, tc.held), func(t *testing.T) {
			cr, err := NewReader(bytes.NewReader(buf.Bytes()), 0)
			if err != nil {
				t.Fatal(err)
			}
			cols, err := PlanColumns(cr.Header(), "")
			if err != nil {
				t.Fatal(err)
			}
			res := &Result{}
			rl := newRejectLog(10)
			defer rl.close()
			f := newPhoneFilter(tc.filter)
			defer f.release()
			s := newImportStream(context.Background(), Config{Workers: 2, BatchSize: 64}, cr,
				&importPlan{cols: cols, tmpl: tmpl, norm: norm}, f, newHeldRows(tc.held, 1<<20), rl, res, nil)
			defer s.close()
			var got []int
			drainStream(t, s, func(r campaign.ImportRow) { got = append(got, r.Line) })
			if s.Err() != nil {
				t.Fatal(s.Err())
			}
			// Rows go in out of file order (held rows after the COPY that
			// passed them), but every phone's first line goes in.
			seen := map[int]bool{}
			for _, l := range got {
				seen[l] = true
			}
			for _, l := range want {
				if !seen[l] {
					t.Fatalf("line %d, the first of its phone, did not go in", l)
				}
			}
			if len(got) != len(want) || res.Imported != len(want) || res.Read != 5000 ||
				res.Imported+res.Duplicates+res.Rejected != res.Read || res.Rejected != 52 {
				t.Errorf("went in %d, imported %d, duplicates %d, rejected %d of %d; want %d in",
					len(got), res.Imported, res.Duplicates, res.Rejected, res.Read, len(want))
			}
		})
	}
}
