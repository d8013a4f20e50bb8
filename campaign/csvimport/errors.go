package csvimport

import "errors"

// Sentinel errors of the CSV import. A *LineError wraps the first five with
// the line where the offending record starts.
var (
	// ErrNoHeader: the file is empty (or only blank lines); a header row is required.
	ErrNoHeader = errors.New("no header row: the file is empty")
	// ErrRecordTooLong: one record exceeds the size cap (usually an unbalanced quote).
	ErrRecordTooLong = errors.New("record too long")
	// ErrInvalidUTF8: the file is not UTF-8 text.
	ErrInvalidUTF8 = errors.New("invalid UTF-8")
	// ErrBinary: the file holds binary data (NUL bytes, UTF-16), not CSV text.
	ErrBinary = errors.New("binary data")
	// ErrCSVSyntax: the CSV is malformed (a stray or unbalanced quote).
	ErrCSVSyntax = errors.New("malformed CSV")
	// ErrNoPhoneColumn: no header names the phone column.
	ErrNoPhoneColumn = errors.New("no phone column")
	// ErrDuplicateColumn: two headers normalise to the same attrs key.
	ErrDuplicateColumn = errors.New("duplicate column")
	// ErrMissingColumn: the body template reads a column the CSV lacks.
	ErrMissingColumn = errors.New("missing column")
)
