package campaign

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"runtime"
	"time"
)

// ImportStore is the storage an Importer needs; package store implements it.
type ImportStore interface {
	// CampaignByName returns the campaign or ErrNotFound.
	CampaignByName(ctx context.Context, name string) (*Campaign, error)
	// CreateCampaign inserts c and fills in its ID; ErrExists if the name is taken.
	CreateCampaign(ctx context.Context, c *Campaign) error
	// BeginImport starts the one transaction an import runs in.
	BeginImport(ctx context.Context, campaignID int64) (ImportTx, error)
}

// ImportTx is one import's transaction: nothing it writes is visible to
// anyone until Commit, and a killed import leaves nothing behind.
type ImportTx interface {
	// ExistingPhones calls fn with every phone already in the campaign.
	ExistingPhones(ctx context.Context, fn func(phone string) error) error
	// OptedOutPhones calls fn with every phone in opt_outs.
	OptedOutPhones(ctx context.Context, fn func(phone string) error) error
	// CopyRecipients streams src into the campaign's recipients and returns
	// how many rows were inserted. Direct (staged=false) is a plain COPY: a
	// phone another transaction inserted meanwhile is ErrConcurrentImport.
	// Staged copies into a temporary table and inserts what is not there
	// yet, skipping such phones; it returns fewer rows than src gave then.
	CopyRecipients(ctx context.Context, src ImportRowSource, staged bool) (int64, error)
	// InsertRejects records rejected rows, each (line, raw text) once per
	// campaign: re-importing a file adds none.
	InsertRejects(ctx context.Context, source string, rejects []ImportReject) error
	// Commit records the import's audit row and commits; it returns the row's id.
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
	StartedAt                                time.Time
}

// CampaignSettings are the settings an import may give a campaign. Nil
// fields were not given. They apply when the import creates the campaign;
// on a later import a given setting must equal the campaign's, or the import
// stops with ErrSettingConflict (an import never changes a campaign that may
// be sending).
type CampaignSettings struct {
	From             *string
	MessagingService *string
	Body             *string
	StatusCallback   *string
	Rate             *float64
	Concurrency      *int
	MaxAttempts      *int
}

// ImportRequest is one import.
type ImportRequest struct {
	// Campaign is the campaign's name; the first import creates it.
	Campaign string
	Settings CampaignSettings
	// Source names the input in imports.source and import_rejects.source.
	Source string
	// Open opens the input. A retry after a concurrent import opens it
	// again; a source that cannot be read twice returns an error then.
	Open func() (io.ReadCloser, error)
	// PhoneColumn names the phone column; empty finds it by its header.
	PhoneColumn string
	// DefaultRegion is for numbers without a country code. Default "US".
	DefaultRegion string
	// Progress, if set, is called from the import's goroutine every few
	// thousand rows.
	Progress func(ImportProgress)
}

// ImportProgress is how far an import has got.
type ImportProgress struct {
	Rows  int
	Bytes int64
}

// ImportResult is what an import did.
type ImportResult struct {
	ImportID int64
	Campaign *Campaign
	// Created is true when this import created the campaign.
	Created bool
	Source  string
	// Read = Imported + Duplicates + Rejected.
	Read, Imported, Duplicates, Rejected int
	// OptedOut counts imported recipients whose number is in opt_outs: they
	// are imported, and the send engine skips them.
	OptedOut int
	// RejectedBy counts rejected rows by kind (RejectInvalidPhone …).
	RejectedBy map[string]int
	// Rejects are the first few rejected rows, for showing; all of them
	// are in import_rejects.
	Rejects []ImportReject
	// Segments counts imported recipients by segments per message;
	// TotalSegments sums them, UCS2 counts messages that need UCS-2.
	Segments      map[int]int
	TotalSegments int
	UCS2          int
	// Retried is true when a concurrent import forced the staged retry.
	Retried bool
	Elapsed time.Duration
}

// ImportConfig tunes an Importer. The zero value is usable.
type ImportConfig struct {
	// Workers parse and validate rows in parallel. Default runtime.NumCPU().
	Workers int
	// BatchSize is records per unit of parallel work. Default 512.
	BatchSize int
	// MaxRecordBytes caps one CSV record. Default DefaultMaxRecordBytes.
	MaxRecordBytes int
	// MemoryRejects is how many rejected rows are held in memory before the
	// rest spill to a temporary file. Default 10000.
	MemoryRejects int
	// Logger receives progress at debug level. Nil discards.
	Logger *slog.Logger
}

// Importer loads recipient CSVs into campaigns. It is safe for concurrent
// use; each import runs in its own transaction.
type Importer struct {
	store ImportStore
	cfg   ImportConfig
	log   *slog.Logger
}

// NewImporter returns an Importer that writes through st.
func NewImporter(st ImportStore, cfg ImportConfig) *Importer {
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.NumCPU()
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 512
	}
	if cfg.MaxRecordBytes <= 0 {
		cfg.MaxRecordBytes = DefaultMaxRecordBytes
	}
	if cfg.MemoryRejects <= 0 {
		cfg.MemoryRejects = 10000
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Importer{store: st, cfg: cfg, log: log}
}

var (
	e164Pattern     = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)
	mgSIDPattern    = regexp.MustCompile(`^MG[0-9a-f]{32}$`)
	maxShownRejects = 20
)

// Import loads one CSV into a campaign, creating it on first import. Usage
// problems (settings, columns, template) are reported before any row is
// loaded; problems with the file (a malformed record, invalid UTF-8) stop
// the import with the line, and then nothing of it is kept. Rows with a bad
// phone number or the wrong number of fields are rejected and counted; the
// rest are loaded in one transaction.
func (im *Importer) Import(ctx context.Context, req ImportRequest) (*ImportResult, error) {
	start := time.Now()
	region := req.DefaultRegion
	if region == "" {
		region = "US"
	}
	norm, err := NewPhoneNormalizer(region)
	if err != nil {
		return nil, err
	}
	if err := req.Settings.validate(); err != nil {
		return nil, err
	}
	c, err := im.store.CampaignByName(ctx, req.Campaign)
	switch {
	case errors.Is(err, ErrNotFound):
		c, err = req.Settings.newCampaign(req.Campaign)
		if err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	default:
		if err := req.Settings.check(c); err != nil {
			return nil, err
		}
	}
	tmpl, err := ParseTemplate(c.BodyTemplate)
	if err != nil {
		return nil, err
	}

	in, err := req.Open()
	if err != nil {
		return nil, err
	}
	defer in.Close()
	cr, cols, err := im.openCSV(in, req.PhoneColumn, tmpl)
	if err != nil {
		return nil, err
	}

	res := &ImportResult{Source: req.Source}
	if c.ID == 0 {
		err := im.store.CreateCampaign(ctx, c)
		if errors.Is(err, ErrExists) { // another import created it just now
			if c, err = im.store.CampaignByName(ctx, req.Campaign); err == nil {
				err = req.Settings.check(c)
			}
		} else if err == nil {
			res.Created = true
			im.log.Info("created campaign", "campaign", c.Name, "id", c.ID)
		}
		if err != nil {
			return nil, err
		}
	}
	res.Campaign = c

	p := &importPlan{cols: cols, tmpl: tmpl, norm: norm}
	err = im.load(ctx, req, c, cr, p, false, res)
	if errors.Is(err, ErrConcurrentImport) {
		im.log.Info("another import added the same numbers meanwhile; importing again, skipping them", "campaign", c.Name)
		in.Close()
		if in, err = req.Open(); err != nil {
			return nil, fmt.Errorf("reopen %s after a concurrent import: %w", req.Source, err)
		}
		defer in.Close()
		if cr, _, err = im.openCSV(in, req.PhoneColumn, tmpl); err != nil {
			return nil, err
		}
		*res = ImportResult{Source: req.Source, Campaign: c, Created: res.Created, Retried: true}
		err = im.load(ctx, req, c, cr, p, true, res)
	}
	if err != nil {
		return nil, err
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// openCSV reads the header and checks it against the template.
func (im *Importer) openCSV(in io.Reader, phoneColumn string, tmpl *Template) (*CSVReader, *CSVColumns, error) {
	cr, err := NewCSVReader(in, im.cfg.MaxRecordBytes)
	if err != nil {
		return nil, nil, err
	}
	cols, err := PlanColumns(cr.Header(), phoneColumn)
	if err != nil {
		return nil, nil, err
	}
	if err := cols.CheckTemplate(tmpl); err != nil {
		return nil, nil, err
	}
	return cr, cols, nil
}

// load runs the import's transaction.
func (im *Importer) load(ctx context.Context, req ImportRequest, c *Campaign, cr *CSVReader, p *importPlan, staged bool, res *ImportResult) (err error) {
	started := time.Now()
	tx, err := im.store.BeginImport(ctx, c.ID)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			// The context may be what failed; the rollback must still run.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			_ = tx.Rollback(rctx)
		}
	}()

	// Dedupe against the campaign in memory: its phones as integers, 8
	// bytes each (+ the hash set's slack), read in this transaction.
	seen := newPhoneSet(1024)
	if err := tx.ExistingPhones(ctx, func(phone string) error {
		seen.add(phoneKey(phone))
		return nil
	}); err != nil {
		return err
	}
	optedOut := newPhoneSet(64)
	if err := tx.OptedOutPhones(ctx, func(phone string) error {
		optedOut.add(phoneKey(phone))
		return nil
	}); err != nil {
		return err
	}

	rejects := newRejectLog(im.cfg.MemoryRejects)
	defer rejects.close()
	st := newImportStream(ctx, im.cfg, cr, p, seen, optedOut, rejects, res, req.Progress)
	inserted, err := tx.CopyRecipients(ctx, st, staged)
	st.close()
	if serr := st.Err(); serr != nil {
		return serr // the file's error, not COPY's report of it
	}
	if err != nil {
		return err
	}
	if staged {
		res.Duplicates += res.Imported - int(inserted)
		res.Imported = int(inserted)
	}
	if err := rejects.each(5000, func(batch []ImportReject) error {
		return tx.InsertRejects(ctx, req.Source, batch)
	}); err != nil {
		return err
	}
	res.ImportID, err = tx.Commit(ctx, ImportRecord{
		Source: req.Source, RowsRead: res.Read, Imported: res.Imported,
		Duplicates: res.Duplicates, Rejected: res.Rejected, StartedAt: started,
	})
	return err
}

// validate checks the settings' forms, before anything is read.
func (s *CampaignSettings) validate() error {
	if s.From != nil && s.MessagingService != nil {
		return fmt.Errorf("%w: give --from or --messaging-service, not both", ErrInvalidSetting)
	}
	if s.From != nil && !e164Pattern.MatchString(*s.From) {
		return fmt.Errorf("%w: --from %q is not an E.164 number like +14155550100", ErrInvalidSetting, *s.From)
	}
	if s.MessagingService != nil && !mgSIDPattern.MatchString(*s.MessagingService) {
		return fmt.Errorf("%w: --messaging-service %q is not a Messaging Service SID (MG and 32 hex digits)", ErrInvalidSetting, *s.MessagingService)
	}
	if s.Body != nil {
		if _, err := ParseTemplate(*s.Body); err != nil {
			return fmt.Errorf("%w: --body: %w", ErrInvalidSetting, err)
		}
	}
	if s.StatusCallback != nil {
		u, err := url.Parse(*s.StatusCallback)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%w: --status-callback %q is not an http(s) URL", ErrInvalidSetting, *s.StatusCallback)
		}
	}
	if s.Rate != nil && !(*s.Rate > 0) {
		return fmt.Errorf("%w: --rate must be more than 0 segments per second", ErrInvalidSetting)
	}
	if s.Concurrency != nil && *s.Concurrency <= 0 {
		return fmt.Errorf("%w: --concurrency must be at least 1", ErrInvalidSetting)
	}
	if s.MaxAttempts != nil && *s.MaxAttempts <= 0 {
		return fmt.Errorf("%w: --max-attempts must be at least 1", ErrInvalidSetting)
	}
	return nil
}

// newCampaign builds the campaign a first import creates.
func (s *CampaignSettings) newCampaign(name string) (*Campaign, error) {
	if s.From == nil && s.MessagingService == nil {
		return nil, fmt.Errorf("%w: campaign %q does not exist yet; to create it give a sender with --from or --messaging-service", ErrSettingRequired, name)
	}
	if s.Body == nil {
		return nil, fmt.Errorf("%w: campaign %q does not exist yet; to create it give the message with --body", ErrSettingRequired, name)
	}
	c := &Campaign{Name: name, BodyTemplate: *s.Body, Status: StatusDraft}
	if s.From != nil {
		c.From = *s.From
	}
	if s.MessagingService != nil {
		c.MessagingServiceSID = *s.MessagingService
	}
	if s.StatusCallback != nil {
		c.StatusCallback = *s.StatusCallback
	}
	if s.Rate != nil {
		c.Rate = *s.Rate
	}
	if s.Concurrency != nil {
		c.Concurrency = *s.Concurrency
	}
	if s.MaxAttempts != nil {
		c.MaxAttempts = *s.MaxAttempts
	}
	return c, nil
}

// check refuses settings that differ from an existing campaign's.
func (s *CampaignSettings) check(c *Campaign) error {
	conflict := func(flag string, have, want any) error {
		return fmt.Errorf("%w: campaign %q already has --%s %v; an import cannot change it to %v (leave the flag out to append)",
			ErrSettingConflict, c.Name, flag, have, want)
	}
	switch {
	case s.From != nil && *s.From != c.From:
		return conflict("from", quoteOrNone(c.From), fmt.Sprintf("%q", *s.From))
	case s.MessagingService != nil && *s.MessagingService != c.MessagingServiceSID:
		return conflict("messaging-service", quoteOrNone(c.MessagingServiceSID), fmt.Sprintf("%q", *s.MessagingService))
	case s.Body != nil && *s.Body != c.BodyTemplate:
		return conflict("body", fmt.Sprintf("%q", c.BodyTemplate), fmt.Sprintf("%q", *s.Body))
	case s.StatusCallback != nil && *s.StatusCallback != c.StatusCallback:
		return conflict("status-callback", quoteOrNone(c.StatusCallback), fmt.Sprintf("%q", *s.StatusCallback))
	case s.Rate != nil && *s.Rate != c.Rate:
		return conflict("rate", c.Rate, *s.Rate)
	case s.Concurrency != nil && *s.Concurrency != c.Concurrency:
		return conflict("concurrency", c.Concurrency, *s.Concurrency)
	case s.MaxAttempts != nil && *s.MaxAttempts != c.MaxAttempts:
		return conflict("max-attempts", c.MaxAttempts, *s.MaxAttempts)
	}
	return nil
}

func quoteOrNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return fmt.Sprintf("%q", s)
}
