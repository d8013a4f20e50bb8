package csvimport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/campaign/phone"

	"github.com/smsblast/smsblast/twilio"
)

// importPlan is what every worker needs to turn a record into a row.
// Read-only once built, so workers share it.
type importPlan struct {
	cols *Columns
	tmpl *campaign.Template
	norm *phone.Normalizer
	// smart and maxSegments are the campaign's: how a body is encoded,
	// and the most segments it may take.
	smart       bool
	maxSegments int
}

// recordSpan is one CSV record inside a batch: offsets into the batch's buffers.
type recordSpan struct {
	line           int
	fields0, field int // b.fields[fields0:field]
	raw0, raw1     int // b.raw[raw0:raw1]
}

// verdict is what a rowWorker made of a record.
type verdict struct {
	phone          string
	key            uint64
	attrs0, attrs1 int // b.json[attrs0:attrs1]
	segments       int
	zones          string
	ucs2           bool
	kind, reason   string // rejected when kind != ""
}

// batch is the unit of parallel work. The reader fills recs, fields and raw;
// one worker fills out and json and closes done; the stream consumes it in
// file order.
type batch struct {
	recs   []recordSpan
	fields []string
	raw    []byte
	out    []verdict
	json   []byte
	offset int64
	err    error // the reader stopped here: after recs, the file is unreadable
	done   chan struct{}
}

func newBatch() *batch { return &batch{done: make(chan struct{})} }

// importStream is the pipeline from the CSV to the store: a reader
// goroutine cuts the file into batches, workers normalise them in parallel,
// and the stream takes the rows in file order, so that line numbers and
// "the first row of a phone wins" are deterministic. A row whose phone the
// filter has surely not seen (not in the campaign, not on an earlier line)
// is handed to the COPY by Next; the others are held, and once held is
// full Next stops, so that the caller inserts them (settle) before the COPY
// goes on. Memory is bounded by the batches in flight, the held rows and
// the filter, whatever the file's size. Not safe for concurrent use (Next
// is called by one COPY at a time).
type importStream struct {
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	ordered chan *batch

	// filter is nil when every row is held (the retry after a concurrent
	// import).
	filter   *phoneFilter
	held     *heldRows
	rejects  *rejectLog
	res      *Result
	progress func(Progress)

	cur *batch
	i   int
	row campaign.ImportRow
	// primed: row is read ahead (ready) and not yet handed out.
	primed bool
	// eof: every record has been taken.
	eof bool
	err error
}

func newImportStream(ctx context.Context, cfg Config, cr *Reader, p *importPlan,
	filter *phoneFilter, held *heldRows, rejects *rejectLog, res *Result, progress func(Progress)) *importStream {
	ctx, cancel := context.WithCancel(ctx)
	s := &importStream{
		ctx: ctx, cancel: cancel,
		ordered: make(chan *batch, 2*cfg.Workers+2),
		filter:  filter, held: held, rejects: rejects, res: res, progress: progress,
	}
	res.RejectedBy = map[string]int{}
	res.Segments = map[int]int{}
	work := make(chan *batch, cfg.Workers)
	s.wg.Add(1 + cfg.Workers)
	go func() {
		defer s.wg.Done()
		defer close(s.ordered)
		defer close(work)
		s.read(cr, cfg.BatchSize, work)
	}()
	for range cfg.Workers {
		go func() {
			defer s.wg.Done()
			w := newRowWorker(p)
			for b := range work {
				w.process(b)
				close(b.done)
			}
		}()
	}
	return s
}

// maxBatchBytes cuts a batch of long records short: a batch's records are
// held about three times over (raw, fields, rendered), by every batch in
// flight, so without it a file of 60 KB records would take gigabytes.
// Ordinary records (under 500 bytes) never reach it.
const maxBatchBytes = 256 << 10

// read cuts the file into batches of size records (fewer if they are long)
// and queues each both for a worker and, in order, for Next.
func (s *importStream) read(cr *Reader, size int, work chan<- *batch) {
	for {
		b := newBatch()
		eof := false
		for len(b.recs) < size && len(b.raw) < maxBatchBytes {
			rec, err := cr.Read()
			if errors.Is(err, io.EOF) {
				eof = true
				break
			}
			if err != nil {
				b.err = err
				break
			}
			r := recordSpan{line: rec.Line, fields0: len(b.fields), raw0: len(b.raw)}
			b.fields = append(b.fields, rec.Fields...)
			b.raw = append(b.raw, rec.Raw...)
			r.field, r.raw1 = len(b.fields), len(b.raw)
			b.recs = append(b.recs, r)
		}
		b.offset = cr.Offset()
		// Decided before b is handed on: from then on b is the worker's,
		// then Next's.
		last := eof || b.err != nil
		select {
		case work <- b:
		case <-s.ctx.Done():
			return
		}
		select {
		case s.ordered <- b:
		case <-s.ctx.Done():
			return
		}
		if last {
			return
		}
	}
}

// Next implements ImportRowSource: it advances to the next row for the
// COPY. It returns false at the end of the file, on an error, and when held
// is full.
func (s *importStream) Next() bool {
	if s.primed {
		s.primed = false
		return true
	}
	return s.advance()
}

// ready reads ahead to the next row for the COPY and reports whether there
// is one: false at the end of the file, on an error, and when held is full.
func (s *importStream) ready() bool {
	if !s.primed {
		s.primed = s.advance()
	}
	return s.primed
}

func (s *importStream) advance() bool {
	for s.err == nil && !s.eof && !s.held.full() {
		if b := s.cur; b != nil {
			if s.i < len(b.recs) {
				i := s.i
				s.i++
				if s.take(b, i) {
					return true
				}
				continue
			}
			if b.err != nil {
				s.err = b.err
				return false
			}
			s.cur = nil
		}
		var b *batch
		var ok bool
		select {
		case b, ok = <-s.ordered:
		case <-s.ctx.Done():
		}
		if !ok {
			if err := s.ctx.Err(); err != nil {
				s.err = err
			} else {
				s.eof = true
			}
			return false
		}
		select {
		case <-b.done:
		case <-s.ctx.Done():
			s.err = s.ctx.Err()
			return false
		}
		s.cur, s.i = b, 0
		if s.progress != nil && len(b.recs) > 0 {
			s.progress(Progress{Rows: s.res.Read + len(b.recs), Bytes: b.offset})
		}
	}
	return false
}

// take accounts for record i of b and reports whether it is a row to insert.
func (s *importStream) take(b *batch, i int) bool {
	rec, out := &b.recs[i], &b.out[i]
	s.res.Read++
	if out.kind != "" {
		s.res.Rejected++
		s.res.RejectedBy[out.kind]++
		rj := campaign.ImportReject{Line: rec.line, Raw: string(b.raw[rec.raw0:rec.raw1]), Reason: out.reason, Kind: out.kind}
		if len(s.res.Rejects) < maxShownRejects {
			s.res.Rejects = append(s.res.Rejects, rj)
		}
		if err := s.rejects.add(rj); err != nil {
			s.err = err
			s.cancel()
		}
		return false
	}
	if s.filter == nil || s.filter.add(out.key) {
		// Perhaps a repeat: the database decides (settle).
		s.held.add(rec.line, out, b.json[out.attrs0:out.attrs1])
		return false
	}
	s.imported(out.segments, out.ucs2)
	s.row = campaign.ImportRow{Phone: out.phone, Attrs: b.json[out.attrs0:out.attrs1], Line: rec.line, Segments: out.segments, TimeZones: out.zones}
	return true
}

// imported counts an imported row.
func (s *importStream) imported(segments int, ucs2 bool) {
	s.res.Imported++
	s.res.Segments[segments]++
	s.res.TotalSegments += segments
	if ucs2 {
		s.res.UCS2++
	}
}

// settle inserts the held rows through insert, which returns the lines of
// those it inserted; the others were repeats.
func (s *importStream) settle(insert func([]campaign.ImportRow) ([]int, error)) error {
	if s.held.len() == 0 {
		return nil
	}
	lines, err := insert(s.held.rows())
	if err != nil {
		return err
	}
	slices.Sort(lines)
	for _, h := range s.held.meta {
		if len(lines) > 0 && lines[0] == h.line {
			lines = lines[1:]
			s.imported(h.segments, h.ucs2)
		} else {
			s.res.Duplicates++
		}
	}
	s.held.reset()
	return nil
}

// Row implements ImportRowSource.
func (s *importStream) Row() campaign.ImportRow { return s.row }

// Err implements ImportRowSource.
func (s *importStream) Err() error { return s.err }

// close stops the goroutines and waits for them.
func (s *importStream) close() {
	s.cancel()
	s.wg.Wait()
}

// rowWorker holds one goroutine's scratch space.
type rowWorker struct {
	p      *importPlan
	attrs  map[string]string
	static bool
	segs   int
	ucs2   bool
	body   strings.Builder
}

func newRowWorker(p *importPlan) *rowWorker {
	w := &rowWorker{p: p, attrs: map[string]string{}}
	// A body that reads no column renders the same for everyone (Import
	// refused it already if it cannot be sent).
	if len(p.tmpl.Fields()) == 0 {
		if body, err := p.tmpl.Render(nil); err == nil {
			w.static = true
			var enc twilio.Encoding
			w.segs, enc, _ = p.measure(body)
			w.ucs2 = enc == twilio.UCS2
		}
	}
	return w
}

// measure is what a rendered body costs as it will be sent (smart-encoded
// when the campaign says so), and why it cannot be sent, if it cannot.
func (p *importPlan) measure(body string) (int, twilio.Encoding, *campaign.BodyError) {
	if p.smart {
		body = twilio.SmartEncode(body)
	}
	n, enc := twilio.Segments(body)
	return n, enc, campaign.CheckBody(body, n, p.maxSegments)
}

func (w *rowWorker) process(b *batch) {
	cols := w.p.cols
	ncols := len(cols.Keys)
	b.out = slices.Grow(b.out[:0], len(b.recs))[:len(b.recs)]
	clear(b.out)
	for i := range b.recs {
		rec, out := &b.recs[i], &b.out[i]
		fields := b.fields[rec.fields0:rec.field]
		if len(fields) != ncols {
			out.kind = campaign.RejectFieldCount
			out.reason = fmt.Sprintf("has %s; the header has %d", plural(len(fields), "field"), ncols)
			continue
		}
		raw := strings.TrimSpace(fields[cols.Phone])
		if raw == "" {
			out.kind = campaign.RejectEmptyPhone
			out.reason = fmt.Sprintf("%s is empty", campaign.QuoteShort(cols.Header[cols.Phone], 40))
			continue
		}
		number, key, err := w.p.norm.Normalize(raw)
		if err != nil {
			out.kind = campaign.RejectInvalidPhone
			out.reason = err.Error()
			continue
		}
		out.zones = phone.TimeZones(number)
		out.phone, out.key = number, key
		for j, k := range cols.Keys {
			if j != cols.Phone {
				w.attrs[k] = fields[j]
			}
		}
		if w.static {
			out.segments, out.ucs2 = w.segs, w.ucs2
		} else {
			body, err := w.p.tmpl.Render(w.attrs)
			var berr *campaign.BodyError
			switch {
			case errors.As(err, &berr):
				out.kind, out.reason = berr.Kind, berr.Error()
				continue
			case err != nil:
				out.kind = campaign.RejectRender
				out.reason = err.Error()
				continue
			}
			n, enc, berr := w.p.measure(body)
			if berr != nil {
				out.kind, out.reason = berr.Kind, berr.Error()
				continue
			}
			out.segments, out.ucs2 = n, enc == twilio.UCS2
		}
		attrs, _ := json.Marshal(w.attrs) // a map of strings always marshals
		out.attrs0 = len(b.json)
		b.json = append(b.json, attrs...)
		out.attrs1 = len(b.json)
	}
}

// phoneKey is an E.164 number's digits as an integer: unique, since E.164
// digits never start with 0. Zero for anything else.
func phoneKey(e164 string) uint64 {
	if len(e164) < 2 || e164[0] != '+' {
		return 0
	}
	k, err := strconv.ParseUint(e164[1:], 10, 64)
	if err != nil {
		return 0
	}
	return k
}
