package campaign

import "errors"

// Sentinel errors of the campaign package. Compare with errors.Is.
var (
	// ErrNotFound: no campaign has that name.
	ErrNotFound = errors.New("campaign not found")
	// ErrExists: a campaign with that name already exists.
	ErrExists = errors.New("campaign already exists")
	// ErrEmptyBody: the body template is empty.
	ErrEmptyBody = errors.New("body template is empty")
	// ErrCanceled: the campaign was canceled; it cannot be sent.
	ErrCanceled = errors.New("campaign is canceled")
	// ErrPaused: the campaign was paused (by a user or a campaign-level Twilio error).
	ErrPaused = errors.New("campaign is paused")
)

// Sentinel errors of the CSV import. A *CSVError wraps the first five with
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
	// ErrSettingRequired: creating a campaign needs a setting the import lacks (sender, body).
	ErrSettingRequired = errors.New("setting required")
	// ErrInvalidSetting: a campaign setting is malformed (sender, region, rate …).
	ErrInvalidSetting = errors.New("invalid setting")
	// ErrSettingConflict: an import names a setting the existing campaign has with another value.
	ErrSettingConflict = errors.New("setting conflicts with the campaign")
	// ErrConcurrentImport: another import added the same recipients at the same time.
	ErrConcurrentImport = errors.New("concurrent import added the same recipients")
)

// ErrConfig: an engine setting is out of range; the message says which.
var ErrConfig = errors.New("invalid engine configuration")

// ErrBadCallback: a webhook request lacks a required parameter or carries
// one smsblast cannot read. The message names the parameter.
var ErrBadCallback = errors.New("malformed webhook request")
