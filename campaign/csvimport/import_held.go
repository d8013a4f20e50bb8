package csvimport

import "github.com/smsblast/smsblast/campaign"

// heldRows are rows whose phone may repeat an earlier row or a recipient of
// the campaign, waiting to be inserted by the database, which knows. They
// are copied out of their batches, into one buffer for the attributes, so
// that a held row does not keep its whole batch alive. Full at a number of rows or of bytes, so that
// what they hold is bounded whatever the records' sizes. Not safe for
// concurrent use.
type heldRows struct {
	meta     []heldRow
	attrs    []byte
	maxRows  int
	maxBytes int
	out      []campaign.ImportRow
}

type heldRow struct {
	line           int
	phone, zones   string
	segments       int
	ucs2           bool
	attrs0, attrs1 int // attrs[attrs0:attrs1]
}

func newHeldRows(maxRows, maxBytes int) *heldRows {
	return &heldRows{maxRows: maxRows, maxBytes: maxBytes}
}

func (h *heldRows) add(line int, v *verdict, attrs []byte) {
	r := heldRow{line: line, phone: v.phone, zones: v.zones, segments: v.segments, ucs2: v.ucs2, attrs0: len(h.attrs)}
	h.attrs = append(h.attrs, attrs...)
	r.attrs1 = len(h.attrs)
	h.meta = append(h.meta, r)
}

func (h *heldRows) len() int { return len(h.meta) }

func (h *heldRows) full() bool { return len(h.meta) >= h.maxRows || len(h.attrs) >= h.maxBytes }

// rows returns the held rows in file order, valid until reset.
func (h *heldRows) rows() []campaign.ImportRow {
	h.out = h.out[:0]
	for _, r := range h.meta {
		h.out = append(h.out, campaign.ImportRow{Phone: r.phone, Attrs: h.attrs[r.attrs0:r.attrs1],
			Line: r.line, Segments: r.segments, TimeZones: r.zones})
	}
	return h.out
}

func (h *heldRows) reset() {
	clear(h.meta) // let go of the phones
	clear(h.out)
	h.meta, h.attrs = h.meta[:0], h.attrs[:0]
}
