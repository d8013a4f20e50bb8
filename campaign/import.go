package campaign

import (
	"context"
	"time"
)

// ImportStore is the storage an Importer needs; package store implements it.
type ImportStore interface {
	// CampaignByName returns the campaign or ErrNotFound.
	CampaignByName(ctx context.Context, name string) (*Campaign, error)
	// BeginImport starts the one transaction an import runs in, on c. A c
	// with no ID (a first import) is inserted in that transaction and
	// filled in as stored, so that it exists only once the import commits;
	// ErrExists if another import created it first (read it and append).
	// Imports of one campaign take turns: if another is running, BeginImport
	// calls waiting (if not nil) and waits for it to end.
	BeginImport(ctx context.Context, c *Campaign, waiting func()) (ImportTx, error)
}

// ImportTx is one import's transaction: nothing it writes is visible to
// anyone until Commit, and a killed import leaves nothing behind.
type ImportTx interface {
	// ExistingPhones calls fn with every phone already in the campaign.
	ExistingPhones(ctx context.Context, fn func(phone string) error) error
	// CopyRecipients streams src into the campaign's recipients with COPY,
	// the fastest load there is, and returns how many rows it inserted. The
	// caller gives it only phones the campaign did not have when it read
	// them and no phone twice: a phone another transaction inserted
	// meanwhile is ErrConcurrentImport.
	CopyRecipients(ctx context.Context, src ImportRowSource) (int64, error)
	// InsertRecipients inserts rows, in file order, that may repeat an
	// earlier row or a recipient of the campaign, skipping those: the first
	// row of a phone wins, and one another transaction inserted is waited
	// for and skipped. It returns the lines of the rows it inserted.
	InsertRecipients(ctx context.Context, rows []ImportRow) ([]int, error)
	// CountOptedOut counts the recipients this transaction inserted whose
	// number is in opt_outs.
	CountOptedOut(ctx context.Context) (int, error)
	// InsertRejects records rejected rows, each (line, raw text) once per
	// campaign and source: re-importing a file adds none.
	InsertRejects(ctx context.Context, source string, rejects []ImportReject) error
	// Commit records the import's audit row and commits; it returns the
	// row's id. ErrCanceled if the campaign was canceled meanwhile. A
	// completed campaign that gained recipients becomes paused, so that
	// send resumes it.
	Commit(ctx context.Context, rec ImportRecord) (int64, error)
	// Rollback abandons the import. It is safe after Commit (a no-op).
	Rollback(ctx context.Context) error
}

// ImportRow is one recipient as the import inserts it.
type ImportRow struct {
	// Phone is in E.164.
	Phone string
	// Attrs is a JSON object: the row's other columns under their
	// lower_snake_case headers, as strings.
	Attrs []byte
	// Line is where the record starts in the file.
	Line int
	// Segments is how many SMS segments the rendered body takes.
	Segments int
	// TimeZones are the number's zones, comma-separated ("" when unknown).
	TimeZones string
}

// ImportRowSource streams the rows to insert, in file order.
type ImportRowSource interface {
	// Next advances to the next row; false at the end or on error.
	Next() bool
	// Row is the current row; its Attrs are valid until the next call to Next.
	Row() ImportRow
	// Err is why Next returned false early, nil at the end of the file.
	Err() error
}

// ImportReject is a row the import refused, kept in import_rejects.
type ImportReject struct {
	// Line is where the record starts in the file (the header is line 1).
	Line int
	// Raw is the record's text as written in the file.
	Raw string
	// Reason says why, in words ("phone \"555-01\" is not a valid US number").
	Reason string
	// Kind groups reasons for counting: see the Reject… constants.
	Kind string
}

// Kinds of rejected rows, the keys of ImportResult.RejectedBy.
const (
	RejectEmptyPhone   = "empty_phone"
	RejectInvalidPhone = "invalid_phone"
	RejectFieldCount   = "field_count"
	RejectRender       = "body_render"
)

// ImportRecord is the audit row of one import (table imports).
type ImportRecord struct {
	Source                                   string
	RowsRead, Imported, Duplicates, Rejected int
	// AttrKeys are the attrs keys of every row the import inserted: its
	// CSV's columns but the phone, in column order.
	AttrKeys  []string
	StartedAt time.Time
}
