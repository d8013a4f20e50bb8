package csvimport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"time"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/campaign/phone"
)

// Request is one import.
type Request struct {
	// Campaign is the campaign's name; the first import creates it.
	Campaign string
	Settings campaign.Settings
	// Source names the input in imports.source and import_rejects.source.
	Source string
	// Open opens the input. A retry after another writer added some of its
	// phones (see Result.Retried) opens it again; a source that cannot be
	// read twice returns an error then.
	Open func() (io.ReadCloser, error)
	// PhoneColumn names the phone column; empty finds it by its header.
	PhoneColumn string
	// DefaultRegion is for numbers without a country code. Default "US".
	DefaultRegion string
	// Progress, if set, is called from the import's goroutine every few
	// thousand rows.
	Progress func(Progress)
}

// Progress is how far an import has got.
type Progress struct {
	Rows  int
	Bytes int64
}

// Result is what an import did.
type Result struct {
	ImportID int64
	Campaign *campaign.Campaign
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
	Rejects []campaign.ImportReject
	// Segments counts imported recipients by segments per message;
	// TotalSegments sums them, UCS2 counts messages that need UCS-2.
	Segments      map[int]int
	TotalSegments int
	UCS2          int
	// Retried is true when the import ran twice, holding every row the
	// second time, because a writer other than an import (which take
	// turns), such as a person's INSERT, added some of its phones while it
	// ran.
	Retried bool
	Elapsed time.Duration
}

// Config tunes an Importer. The zero value is usable.
type Config struct {
	// Workers parse and validate rows in parallel. Default runtime.NumCPU().
	Workers int
	// BatchSize is records per unit of parallel work. Default 512.
	BatchSize int
	// MaxRecordBytes caps one CSV record. Default DefaultMaxRecordBytes.
	MaxRecordBytes int
	// MemoryRejects is how many rejected rows are held in memory before the
	// rest spill to a temporary file. Default 10000.
	MemoryRejects int
	// FilterBytes is the memory of the filter that tells a phone surely
	// new from one that may repeat an earlier row or a recipient of the
	// campaign; the latter are held and inserted apart, more slowly. It is
	// the same for every import: what bounds the import's memory. Default
	// 32 MiB: a new phone taken for a repeat about once in 10,000 at 10M
	// distinct phones (the campaign's and the file's), one in seven at 50M,
	// two in three at 100M.
	FilterBytes int
	// HeldRows is how many such rows are held before they are inserted.
	// Default 8192.
	HeldRows int
	// Logger receives progress at debug level. Nil discards.
	Logger *slog.Logger
}

// Importer loads recipient CSVs into campaigns. It is safe for concurrent
// use; each import runs in its own transaction.
type Importer struct {
	store campaign.ImportStore
	cfg   Config
	log   *slog.Logger
}

// New returns an Importer that writes through st.
func New(st campaign.ImportStore, cfg Config) *Importer {
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
	if cfg.FilterBytes <= 0 {
		cfg.FilterBytes = 32 << 20
	}
	if cfg.HeldRows <= 0 {
		cfg.HeldRows = 8192
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Importer{store: st, cfg: cfg, log: log}
}

// maxShownRejects is how many rejected rows Result carries for showing.
const maxShownRejects = 20

// maxHeldRowBytes times Config.HeldRows bounds the attributes of the held
// rows: a batch of long records is inserted sooner.
const maxHeldRowBytes = 512

// Import loads one CSV into a campaign, creating it on first import. Usage
// problems (the name, settings, columns, template) are reported before any
// row is loaded; problems with the file (a malformed record, invalid UTF-8)
// stop the import with the line, and then nothing of it is kept, not even
// the campaign a first import would have created. Rows with a bad phone
// number or the wrong number of fields are rejected and counted; the rest
// are loaded in one transaction. A canceled campaign takes no recipients
// (campaign.ErrCanceled): they could never be sent.
func (im *Importer) Import(ctx context.Context, req Request) (*Result, error) {
	start := time.Now()
	norm, err := req.check()
	if err != nil {
		return nil, err
	}
	c, err := im.campaignFor(ctx, req)
	if err != nil {
		return nil, err
	}
	tmpl, err := campaign.ParseTemplate(c.BodyTemplate)
	if err != nil {
		return nil, err
	}
	p := &importPlan{tmpl: tmpl, norm: norm, smart: c.SmartEncode, maxSegments: c.MaxSegments}
	if err := p.checkStatic(); err != nil {
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

	res := &Result{Source: req.Source, Campaign: c}
	p.cols = cols
	err = im.load(ctx, req, c, cr, p, false, res)
	if errors.Is(err, campaign.ErrExists) {
		// Another first import created the campaign while this one read
		// its header: append to it, if this import's settings agree.
		im.log.Info("another import created the campaign meanwhile; appending to it", "campaign", req.Campaign)
		if c, err = im.campaignFor(ctx, req); err == nil {
			res.Campaign = c
			err = im.load(ctx, req, c, cr, p, false, res)
		}
	}
	if errors.Is(err, campaign.ErrConcurrentImport) {
		im.log.Info("some of these numbers were added to the campaign meanwhile; importing again, skipping them", "campaign", c.Name)
		in.Close()
		if in, err = req.Open(); err != nil {
			return nil, fmt.Errorf("reopen %s to import it again: %w", req.Source, err)
		}
		defer in.Close()
		if cr, _, err = im.openCSV(in, req.PhoneColumn, tmpl); err != nil {
			return nil, err
		}
		*res = Result{Source: req.Source, Campaign: c, Retried: true}
		err = im.load(ctx, req, c, cr, p, true, res)
	}
	if err != nil {
		return nil, err
	}
	if res.Created {
		im.log.Info("created campaign", "campaign", c.Name, "id", c.ID)
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// Validate checks what can be checked of req without the database or the
// file: the campaign's name, the default region and the settings' forms,
// the sender included. Import checks the same first.
func (req *Request) Validate() error {
	_, err := req.check()
	return err
}

// check is Validate, returning the normaliser for the default region.
func (req *Request) check() (*phone.Normalizer, error) {
	if err := campaign.ValidateName(req.Campaign); err != nil {
		return nil, err
	}
	region := req.DefaultRegion
	if region == "" {
		region = "US"
	}
	norm, err := phone.NewNormalizer(region)
	if err != nil {
		return nil, err
	}
	if err := req.Settings.Validate(); err != nil {
		return nil, err
	}
	if err := checkSender(req.Settings.From); err != nil {
		return nil, err
	}
	return norm, nil
}

// campaignFor is the campaign req imports into: the existing one, whose
// settings req may only repeat, or a new one (no ID yet: load creates it).
func (im *Importer) campaignFor(ctx context.Context, req Request) (*campaign.Campaign, error) {
	c, err := im.store.CampaignByName(ctx, req.Campaign)
	switch {
	case errors.Is(err, campaign.ErrNotFound):
		return req.Settings.NewCampaign(req.Campaign)
	case err != nil:
		return nil, err
	case c.Status == campaign.StatusCanceled:
		return nil, fmt.Errorf("%w: it takes no more recipients, they could never be sent (import them into a new campaign)", campaign.ErrCanceled)
	}
	if err := req.Settings.Check(c); err != nil {
		return nil, err
	}
	return c, nil
}

// checkSender refuses a From number of the right form that is no number at
// all (+999999999999999) or not in canonical E.164: Twilio would refuse
// every message with it. Each number of a pool is checked.
func checkSender(from []string) error {
	if err := phone.CheckSenders(from); err != nil {
		return &campaign.SettingError{Setting: "from", Err: campaign.ErrInvalidSetting, Problem: err.Error()}
	}
	return nil
}

// checkStatic refuses, before any row is read, a body that reads no column
// and cannot be sent: it fails the same way for every row.
func (p *importPlan) checkStatic() error {
	if len(p.tmpl.Fields()) > 0 {
		return nil
	}
	body, err := p.tmpl.Render(nil)
	var berr *campaign.BodyError
	if err != nil && !errors.As(err, &berr) {
		return &campaign.SettingError{Setting: "body", Problem: err.Error(), Err: campaign.ErrInvalidSetting}
	}
	if berr == nil {
		_, _, berr = p.measure(body)
	}
	if berr != nil {
		fix := "shorten it"
		if berr.Kind == campaign.RejectTooManySegments {
			fix = "shorten it or raise --max-segments"
		}
		return &campaign.SettingError{Setting: "body", Err: campaign.ErrInvalidSetting,
			Problem: fmt.Sprintf("reads no column, so every recipient gets the same message, and %s: %s", berr, fix)}
	}
	return nil
}

// openCSV reads the header and checks it against the template.
func (im *Importer) openCSV(in io.Reader, phoneColumn string, tmpl *campaign.Template) (*Reader, *Columns, error) {
	cr, err := NewReader(in, im.cfg.MaxRecordBytes)
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

// load runs the import's transaction, creating c in it when c has no ID
// yet; if it fails, c has none again.
func (im *Importer) load(ctx context.Context, req Request, c *campaign.Campaign, cr *Reader, p *importPlan, holdAll bool, res *Result) (err error) {
	started := time.Now()
	create := c.ID == 0
	tx, err := im.store.BeginImport(ctx, c, func() {
		im.log.Info("waiting for another import into the campaign to finish", "campaign", c.Name)
	})
	if err != nil {
		return err
	}
	defer func() {
		if err != nil && create {
			c.ID = 0 // rolled back: a retry creates it again
		}
		if err != nil {
			// The context may be what failed; the rollback must still run.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			_ = tx.Rollback(rctx)
		}
	}()

	// The filter knows the campaign's phones, read in this transaction,
	// and then each row's as it is taken. A row it has surely not seen goes
	// into the COPY; the others, real repeats and the filter's few false
	// alarms, are held and inserted in between, where the database sorts
	// them out. The first row of a phone is either in the COPY, and every
	// later one is held and then skipped, or held itself, and inserted
	// before the later ones since held rows go in in file order. On the
	// retry (holdAll) there is no filter: every row is held.
	var filter *phoneFilter
	if !holdAll {
		filter = newPhoneFilter(im.cfg.FilterBytes)
		defer filter.release() // after st.close, deferred below
		if !create {
			if err := tx.ExistingPhones(ctx, func(phone string) error {
				filter.add(phoneKey(phone))
				return nil
			}); err != nil {
				return err
			}
		}
	}

	rejects := newRejectLog(im.cfg.MemoryRejects)
	defer rejects.close()
	held := newHeldRows(im.cfg.HeldRows, im.cfg.HeldRows*maxHeldRowBytes)
	st := newImportStream(ctx, im.cfg, cr, p, filter, held, rejects, res, req.Progress)
	defer st.close()
	if err := im.insertRows(ctx, tx, st); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			// pgx reports a COPY cut short by the context as whatever the
			// closed connection said; the cause is the cancellation.
			return fmt.Errorf("import %s: %w", req.Source, cerr)
		}
		return err
	}
	if res.OptedOut, err = tx.CountOptedOut(ctx); err != nil {
		return err
	}
	if err := rejects.each(5000, func(batch []campaign.ImportReject) error {
		return tx.InsertRejects(ctx, req.Source, batch)
	}); err != nil {
		return err
	}
	res.ImportID, err = tx.Commit(ctx, campaign.ImportRecord{
		Source: req.Source, RowsRead: res.Read, Imported: res.Imported,
		Duplicates: res.Duplicates, Rejected: res.Rejected, AttrKeys: p.cols.AttrKeys(), StartedAt: started,
	})
	if errors.Is(err, campaign.ErrCanceled) {
		return fmt.Errorf("%w during the import: nothing was imported", campaign.ErrCanceled)
	}
	res.Created = err == nil && create
	return err
}

// insertRows loads the stream's rows: COPY until the end of the file or
// until the held rows are full, insert those, go on. A file error wins
// over COPY's report of it.
func (im *Importer) insertRows(ctx context.Context, tx campaign.ImportTx, st *importStream) error {
	var nHeld int
	var heldTime time.Duration
	for !st.eof {
		var err error
		if st.ready() {
			_, err = tx.CopyRecipients(ctx, st)
		}
		if serr := st.Err(); serr != nil {
			return serr
		}
		if err != nil {
			return err
		}
		err = st.settle(func(rows []campaign.ImportRow) ([]int, error) {
			start := time.Now()
			defer func() { heldTime += time.Since(start) }()
			nHeld += len(rows)
			return tx.InsertRecipients(ctx, rows)
		})
		if err != nil {
			return err
		}
	}
	im.log.Debug("rows held and inserted apart", "rows", nHeld, "took", heldTime.Round(time.Millisecond))
	return nil
}
