package csvimport

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/smsblast/smsblast/campaign"
)

// DefaultMaxRecordBytes caps one CSV record (all its lines, when quoted
// fields hold newlines). A real recipient row is a few hundred bytes; a
// record this long is nearly always an unbalanced quote swallowing the rest
// of the file, and the cap keeps that from growing memory without bound.
const DefaultMaxRecordBytes = 64 << 10

// LineError is a problem with the file itself (not with one recipient) at a
// line: it stops the import. Line is where the offending record starts.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// Unwrap returns the sentinel (ErrRecordTooLong, ErrInvalidUTF8, ErrBinary,
// ErrCSVSyntax) or the read error.
func (e *LineError) Unwrap() error { return e.Err }

// Record is one record of a CSV file after its header.
type Record struct {
	// Line is the line where the record starts (the header is line 1).
	Line int
	// Fields are the record's fields. The slice is reused by the next Read;
	// the strings are not.
	Fields []string
	// Raw is the record's text as in the file, without its final line
	// break. It is reused by the next Read.
	Raw []byte
}

// Reader streams a recipient CSV: UTF-8 with or without a byte order mark,
// CRLF or LF line ends, quoted fields with commas and newlines, blank lines
// skipped, a header row required. Memory stays bounded by the longest record
// whatever the file's size. It is not safe for concurrent use.
//
// It is encoding/csv underneath rather than gocsv: gocsv decodes into structs
// (or, for dynamic columns, through reflection and an unbuffered channel per
// row) and cannot report where a record starts or what its raw text was;
// BenchmarkCSVDecode measures the difference.
type Reader struct {
	src    *windowReader
	r      *csv.Reader
	header []string
	// prevOffset is the input offset where the next record (or the blank
	// lines before it) begins; nextLine is that offset's line number.
	prevOffset int64
	nextLine   int
}

// NewReader reads the header row from r. An empty file (or one with only
// blank lines) is ErrNoHeader. maxRecord caps one record's size in bytes;
// 0 means DefaultMaxRecordBytes.
func NewReader(r io.Reader, maxRecord int) (*Reader, error) {
	if maxRecord <= 0 {
		maxRecord = DefaultMaxRecordBytes
	}
	src := &windowReader{r: r, max: maxRecord}
	cr := csv.NewReader(src)
	cr.FieldsPerRecord = -1 // a row with the wrong field count is rejected, not fatal
	cr.ReuseRecord = true
	c := &Reader{src: src, r: cr, nextLine: 1}
	rec, err := c.Read()
	if errors.Is(err, io.EOF) {
		return nil, ErrNoHeader
	}
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	c.header = append([]string(nil), rec.Fields...)
	for _, h := range c.header {
		if strings.ContainsRune(h, '\r') {
			return nil, &LineError{Line: 1, Err: fmt.Errorf("%w: the header holds a carriage return; save the file with LF or CRLF line ends and import it again", ErrCSVSyntax)}
		}
	}
	return c, nil
}

// Header returns the header row as written in the file.
func (c *Reader) Header() []string { return c.header }

// Offset returns how many bytes of input the records read so far span,
// for progress reports.
func (c *Reader) Offset() int64 { return c.prevOffset }

// Read returns the next record, or io.EOF after the last. Any other error is
// a *LineError naming the line: the file cannot be read past it.
func (c *Reader) Read() (Record, error) {
	fields, err := c.r.Read()
	if err != nil {
		return Record{}, c.readError(err)
	}
	end := c.r.InputOffset()
	raw := c.src.bytes(c.prevOffset, end)
	c.src.discard(end)
	line, _ := c.r.FieldPos(0)
	raw = bytes.TrimLeft(raw, "\r\n") // blank lines before the record
	c.nextLine = line + bytes.Count(raw, []byte{'\n'})
	raw = trimLineEnd(raw)
	c.prevOffset = end
	switch {
	case len(raw) > c.src.max:
		return Record{}, &LineError{Line: line, Err: fmt.Errorf("%w (%d bytes, the limit is %d): is a quote unbalanced?", ErrRecordTooLong, len(raw), c.src.max)}
	case bytes.IndexByte(raw, 0) >= 0:
		return Record{}, &LineError{Line: line, Err: fmt.Errorf("%w: a NUL byte; this is not a CSV text file", ErrBinary)}
	case !utf8.Valid(raw):
		return Record{}, &LineError{Line: line, Err: fmt.Errorf("%w: save the file as UTF-8 and import it again", ErrInvalidUTF8)}
	}
	return Record{Line: line, Fields: fields, Raw: raw}, nil
}

// readError turns encoding/csv's and the window's errors into a *LineError
// at the line where the failing record starts.
func (c *Reader) readError(err error) error {
	if errors.Is(err, io.EOF) {
		return io.EOF
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		msg := pe.Err.Error()
		if pe.Line != pe.StartLine {
			msg = fmt.Sprintf("%s (on line %d)", msg, pe.Line)
		}
		return &LineError{Line: pe.StartLine, Err: fmt.Errorf("%w: %s", ErrCSVSyntax, msg)}
	}
	// The line of the record that was being read: after the blank lines
	// that precede it.
	line := c.nextLine
	pending := c.src.bytes(c.prevOffset, c.src.end())
	for _, b := range pending {
		if b == '\n' {
			line++
		} else if b != '\r' {
			break
		}
	}
	if errors.Is(err, ErrRecordTooLong) {
		return &LineError{Line: line, Err: fmt.Errorf("%w (the limit is %d bytes): is a quote unbalanced?", ErrRecordTooLong, c.src.max)}
	}
	if errors.Is(err, ErrBinary) {
		return &LineError{Line: line, Err: err}
	}
	return &LineError{Line: line, Err: fmt.Errorf("read file: %w", err)}
}

func trimLineEnd(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte{'\n'})
	return bytes.TrimSuffix(b, []byte{'\r'})
}

// windowReader keeps the bytes of the record being read (plus what
// encoding/csv's buffer has read ahead), so a rejected row can be stored as
// it was written. It strips a UTF-8 byte order mark, refuses UTF-16, and
// reads lines ended by CR alone (the old Mac format, which Excel for Mac
// still writes as "CSV (Macintosh)") as if they ended by LF: encoding/csv
// sees only CRLF and LF as line ends and would read such a file as one line.
type windowReader struct {
	r   io.Reader
	max int
	// buf[start:] holds input from offset base+start on.
	buf   []byte
	start int
	base  int64
	began bool
	// ends is how lines end: 0 until known, '\n' (LF or CRLF), or '\r'
	// (CR alone: each CR is read as LF).
	ends byte
}

// slack is what encoding/csv's bufio.Reader may hold beyond the record.
const slack = 64 << 10

func (w *windowReader) Read(p []byte) (int, error) {
	if len(w.buf)-w.start > w.max+slack {
		return 0, ErrRecordTooLong
	}
	n, err := w.r.Read(p)
	if !w.began && n > 0 {
		w.began = true
		if n < 3 && err == nil { // too little to see a byte order mark; read on
			m, err2 := io.ReadAtLeast(w.r, p[n:], min(3-n, len(p)-n))
			n += m
			if err2 != nil && !errors.Is(err2, io.ErrUnexpectedEOF) {
				err = err2
			}
		}
		switch {
		case bytes.HasPrefix(p[:n], []byte("\xef\xbb\xbf")):
			n = copy(p, p[3:n])
		case bytes.HasPrefix(p[:n], []byte("\xff\xfe")), bytes.HasPrefix(p[:n], []byte("\xfe\xff")):
			return 0, fmt.Errorf("%w: the file is UTF-16; save it as UTF-8 and import it again", ErrBinary)
		}
	}
	w.lineEnds(p[:n])
	w.buf = append(w.buf, p[:n]...)
	return n, err
}

// lineEnds decides, at the first input holding a line end, whether lines
// end by CR alone (a CR, not last, and no LF at all), and if so turns every
// CR of b into LF. A CR last in b may be the first half of a CRLF: it waits.
func (w *windowReader) lineEnds(b []byte) {
	if w.ends == 0 {
		switch {
		case bytes.IndexByte(b, '\n') >= 0:
			w.ends = '\n'
		case len(b) > 1 && bytes.IndexByte(b[:len(b)-1], '\r') >= 0:
			w.ends = '\r'
		default:
			return
		}
	}
	if w.ends == '\r' {
		for i, c := range b {
			if c == '\r' {
				b[i] = '\n'
			}
		}
	}
}

// end is the offset just past the last byte read.
func (w *windowReader) end() int64 { return w.base + int64(len(w.buf)) }

// bytes returns the input between two offsets still in the window.
func (w *windowReader) bytes(from, to int64) []byte {
	from = max(from, w.base+int64(w.start))
	if to <= from {
		return nil
	}
	return w.buf[from-w.base : to-w.base]
}

// discard forgets input before offset. It compacts the buffer only once the
// forgotten part dominates, so the copying stays proportional to the input.
func (w *windowReader) discard(offset int64) {
	w.start = int(offset - w.base)
	if w.start > 32<<10 && w.start > len(w.buf)/2 {
		n := copy(w.buf, w.buf[w.start:])
		w.buf = w.buf[:n]
		w.base += int64(w.start)
		w.start = 0
	}
}

// NormalizeHeader turns a CSV header into the attrs key the body template
// reads: lower snake case, "First Name" → first_name, "firstName" →
// first_name, "E-mail" → e_mail. Letters and digits of any script are kept;
// everything else separates words.
func NormalizeHeader(h string) string {
	var b strings.Builder
	pendingSep := false
	var prev rune
	for _, r := range strings.TrimSpace(h) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			// A lower-to-upper step is a word boundary: firstName, userID.
			if unicode.IsUpper(r) && (unicode.IsLower(prev) || unicode.IsDigit(prev)) {
				pendingSep = true
			}
			if pendingSep && b.Len() > 0 {
				b.WriteByte('_')
			}
			pendingSep = false
			b.WriteRune(unicode.ToLower(r))
		default:
			pendingSep = true
		}
		prev = r
	}
	return b.String()
}

// phoneColumnNames are the headers taken to be the phone column, normalised.
var phoneColumnNames = map[string]bool{
	"phone": true, "phone_number": true, "mobile": true, "mobile_number": true,
	"msisdn": true, "cell": true, "to": true,
}

// Columns is the plan for a CSV's columns: which one holds the phone and
// the attrs key of every other one.
type Columns struct {
	// Phone is the index of the phone column.
	Phone int
	// Keys[i] is column i's attrs key; Keys[Phone] is unused.
	Keys []string
	// Header is the header row as written.
	Header []string
}

// PlanColumns finds the phone column (phoneColumn if given, else the first
// header named phone, phone_number, mobile, mobile_number, msisdn, cell or to
// in any case with spaces, hyphens or underscores) and normalises the other
// headers. Missing phone column: ErrNoPhoneColumn naming the headers found.
// Two headers with the same normal form: ErrDuplicateColumn naming both.
func PlanColumns(header []string, phoneColumn string) (*Columns, error) {
	cols := &Columns{Phone: -1, Keys: make([]string, len(header)), Header: header}
	want := NormalizeHeader(phoneColumn)
	seen := map[string]int{}
	for i, h := range header {
		key := NormalizeHeader(h)
		if key == "" {
			key = fmt.Sprintf("column_%d", i+1)
		}
		cols.Keys[i] = key
		if j, dup := seen[key]; dup {
			return nil, fmt.Errorf("%w: %s (column %d) and %s (column %d) both become %s; rename one",
				ErrDuplicateColumn, campaign.QuoteShort(header[j], 40), j+1, campaign.QuoteShort(h, 40), i+1, shorten(key, 40))
		}
		seen[key] = i
		if cols.Phone < 0 && ((want != "" && key == want) || (want == "" && phoneColumnNames[key])) {
			cols.Phone = i
		}
	}
	if cols.Phone < 0 {
		quoted := make([]string, len(header))
		for i, h := range header {
			quoted[i] = campaign.QuoteShort(h, 40)
		}
		if phoneColumn != "" {
			return nil, fmt.Errorf("%w: no column %s; headers found: %s", ErrNoPhoneColumn, campaign.QuoteShort(phoneColumn, 40), listSome(quoted))
		}
		return nil, fmt.Errorf("%w: none of the headers is phone, phone_number, mobile, mobile_number, msisdn, cell or to (headers found: %s); name it with --phone-column",
			ErrNoPhoneColumn, listSome(quoted))
	}
	return cols, nil
}

// AttrKeys returns the attrs keys in column order, without the phone column.
func (c *Columns) AttrKeys() []string {
	keys := make([]string, 0, len(c.Keys))
	for i, k := range c.Keys {
		if i != c.Phone {
			keys = append(keys, k)
		}
	}
	return keys
}

// CheckTemplate reports the first field t reads that is not an attrs key,
// naming the keys available: an error before any row is loaded.
func (c *Columns) CheckTemplate(t *campaign.Template) error {
	have := map[string]bool{}
	for _, k := range c.AttrKeys() {
		have[k] = true
	}
	for _, f := range t.Fields() {
		if have[f] {
			continue
		}
		why := ""
		if f == c.Keys[c.Phone] {
			why = " (it is the phone column, which is the recipient, not an attribute)"
		}
		keys := c.AttrKeys()
		for i, k := range keys {
			keys[i] = shorten(k, 40)
		}
		return fmt.Errorf("%w: the body template reads .%s but the CSV has no such column%s; columns: %s",
			ErrMissingColumn, f, why, listSome(keys))
	}
	return nil
}

// maxListed is how many names an error message lists: enough to spot a
// typo, few enough that a file with thousands of columns still gets a
// message that fits a screen.
const maxListed = 20

// listSome joins the first maxListed names and counts the rest:
// "a, b, c, … and 4,990 more".
func listSome(names []string) string {
	if len(names) <= maxListed {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:maxListed], ", ") + ", … and " + thousands(len(names)-maxListed) + " more"
}

// shorten cuts s to its first max characters, marking the cut with "…".
func shorten(s string, max int) string {
	for i := range s {
		if max == 0 {
			return s[:i] + "…"
		}
		max--
	}
	return s
}

// thousands writes n with thousands separators: 4990 → "4,990".
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// plural writes n and the noun, in the plural unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return thousands(n) + " " + noun + "s"
}
