package campaign

import (
	"context"
	"fmt"
	"net/url"
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

// Validate checks the settings' forms, before anything is read.
func (s *CampaignSettings) Validate() error {
	if s.From != nil && s.MessagingService != nil {
		return fmt.Errorf("%w: give --from or --messaging-service, not both", ErrInvalidSetting)
	}
	if s.From != nil && !IsE164(*s.From) {
		return fmt.Errorf("%w: --from %q is not an E.164 number like +14155550100", ErrInvalidSetting, *s.From)
	}
	if s.MessagingService != nil && !IsMessagingServiceSID(*s.MessagingService) {
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

// NewCampaign builds the campaign a first import creates.
func (s *CampaignSettings) NewCampaign(name string) (*Campaign, error) {
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

// Check refuses settings that differ from an existing campaign's.
func (s *CampaignSettings) Check(c *Campaign) error {
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
