package csvimport

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
)

// A batch of long records is cut short of its size, so that the batches in
// flight hold about the same bytes whatever the records' lengths.
func TestReadCutsBatchesOfLongRecords(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	buf.WriteString("phone,note\n")
	note := strings.Repeat("x", 60_000)
	for i := range 40 {
		fmt.Fprintf(&buf, "+1415555%04d,%s\n", i, note)
	}
	cr, err := NewReader(bytes.NewReader(buf.Bytes()), 0)
	if err != nil {
		t.Fatal(err)
	}
	s := &importStream{ctx: context.Background(), ordered: make(chan *batch, 40)}
	work := make(chan *batch, 40)
	s.read(cr, 512, work)
	close(work)
	records, batches := 0, 0
	for b := range work {
		if len(b.raw) > maxBatchBytes+len(note)+100 {
			t.Errorf("a batch of %d records holds %d bytes; want at most one record past %d", len(b.recs), len(b.raw), maxBatchBytes)
		}
		records += len(b.recs)
		batches++
	}
	if records != 40 || batches < 40*len(note)/maxBatchBytes {
		t.Errorf("%d records in %d batches; want 40 in at least %d", records, batches, 40*len(note)/maxBatchBytes)
	}
}
