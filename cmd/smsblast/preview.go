package main

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/campaign/phone"
	"github.com/smsblast/smsblast/store"
	"github.com/smsblast/smsblast/twilio"
)

func previewCommand() *command {
	return &command{
		name:    "preview",
		args:    "CAMPAIGN",
		summary: "before sending: sample messages, segments, what forces UCS-2, what send would skip, and the cost",
		examples: `  smsblast preview spring-sale
  smsblast preview spring-sale --rows 10 --price 0.0083USD
  smsblast preview spring-sale --prices prices.csv --json | jq .cost
  (prices.csv: country,price_per_segment,currency — one row per ISO country code, * for the rest)`,
		run: runPreview,
	}
}

// maxPreviewRows caps --rows: samples are for reading.
const maxPreviewRows = 100

func runPreview(ctx context.Context, a *app, fs *flagSet, args []string) error {
	fs.dbFlag()
	rows := fs.Int("rows", 3, "how many rendered messages to show; the longest and a UCS-2 one are among them when there are any")
	price := fs.String("price", "", "estimate at this price per segment to every country, 0.0083 or 0.0083USD (default: the campaign's prices)")
	pricesFile := fs.String("prices", "", "estimate at the prices of this CSV: country,price_per_segment,currency (default: the campaign's prices)")
	asJSON := fs.Bool("json", false, "print JSON")
	var prices campaign.Prices
	source := "the campaign's prices"
	fs.validate = func(pos []string) error {
		if err := campaignArg(pos[0]); err != nil {
			return err
		}
		if *rows < 0 || *rows > maxPreviewRows {
			return usagef("--rows: must be from 0 to %d, not %d", maxPreviewRows, *rows)
		}
		switch {
		case *price != "" && *pricesFile != "":
			return usagef("--price and --prices: give one price for every country, or a file of prices by country, not both")
		case *price != "":
			p, err := parsePrice(*price)
			if err != nil {
				return usagef("--price: %v", err)
			}
			prices, source = campaign.Prices{"*": p}, "--price "+*price
		case *pricesFile != "":
			var err error
			if prices, err = readPricesFile(*pricesFile); err != nil {
				return usagef("--prices: %v", err)
			}
			source = "--prices " + *pricesFile
		}
		return nil
	}
	st, c, err := a.parseCampaign(ctx, fs, args)
	if err != nil {
		return err
	}
	defer st.Close()
	if prices == nil {
		if prices, err = st.Prices(ctx, c.ID); err != nil {
			return err
		}
	}
	pv, err := buildPreview(ctx, st, c, prices, *rows, time.Now())
	if err != nil {
		return err
	}
	pv.Cost.Source = source
	if *asJSON {
		writeJSON(a.stdout, pv)
		return nil
	}
	pv.print(a.stdout)
	return nil
}

// preview is what `smsblast preview` shows; its JSON is the --json output.
type preview struct {
	Campaign string `json:"campaign"`
	// Pending recipients; ToSend of them send would text (the rest it
	// skips, or cannot send).
	Pending int64           `json:"pending"`
	ToSend  int64           `json:"to_send"`
	Samples []previewSample `json:"samples"`
	// Segments and Encoding are of the messages send would send, as it
	// would send them.
	Segments    previewSegments `json:"segments"`
	Encoding    previewEncoding `json:"encoding"`
	SmartEncode previewSmart    `json:"smart_encode"`
	Skips       previewSkips    `json:"skips"`
	// HeldByWindow are pending recipients whose send window is closed
	// now: they are sent when it opens.
	HeldByWindow []campaign.Hold `json:"held_by_window"`
	Budget       *previewBudget  `json:"budget,omitempty"`
	Cost         previewCost     `json:"cost"`
}

type previewSample struct {
	Line     int    `json:"line"`
	Phone    string `json:"phone"` // masked
	Why      string `json:"why"`   // first, longest, ucs-2
	Segments int    `json:"segments"`
	Encoding string `json:"encoding"`
	Body     string `json:"body"`
}

type previewSegments struct {
	Total int64 `json:"total"`
	// PerMessage counts messages by their segments ("1": 950, "2": 50).
	PerMessage map[string]int64 `json:"per_message"`
}

type previewEncoding struct {
	GSM7 int64 `json:"gsm7_messages"`
	UCS2 int64 `json:"ucs2_messages"`
	// Culprits are the characters that forced UCS-2, most messages first.
	Culprits []previewCulprit `json:"culprits"`
}

type previewCulprit struct {
	Char     string `json:"char"`
	Code     string `json:"code"` // U+2019
	Messages int64  `json:"messages"`
	// FirstLines are the first CSV lines where it appears.
	FirstLines []int `json:"first_lines"`
	// SmartEncodable: --smart-encode replaces it with a GSM-7 look-alike.
	SmartEncodable bool `json:"smart_encodable"`
}

// previewSmart compares the segments with smart encoding and without.
type previewSmart struct {
	On              bool  `json:"on"`
	SegmentsWith    int64 `json:"segments_with"`
	SegmentsWithout int64 `json:"segments_without"`
	UCS2With        int64 `json:"ucs2_messages_with"`
	UCS2Without     int64 `json:"ucs2_messages_without"`
}

type previewSkips struct {
	OptedOut        int64  `json:"opted_out"`
	FrequencyCapped int64  `json:"frequency_capped"`
	FrequencyCap    string `json:"frequency_cap"`
	// Unsendable bodies send fails without a request (a render error, an
	// empty body, too long, too many segments), by kind.
	Unsendable   int64            `json:"unsendable"`
	UnsendableBy map[string]int64 `json:"unsendable_by"`
}

type previewBudget struct {
	Segments      int64   `json:"segments,omitempty"`
	Amount        float64 `json:"amount,omitempty"`
	SpentSegments int64   `json:"spent_segments"`
	SpentAmount   float64 `json:"spent_amount"`
	// Enough: what is left of the budget covers the messages to send.
	Enough bool `json:"enough"`
}

type previewCost struct {
	Source   string  `json:"source"`
	Currency string  `json:"currency"`
	Total    float64 `json:"total"`
	// Complete is false when some country has no price: Total leaves its
	// messages out (they are listed, never priced at zero).
	Complete  bool             `json:"complete"`
	ByCountry []previewCountry `json:"by_country"`
}

type previewCountry struct {
	Country  string   `json:"country"` // ISO 3166; "" when unknown
	Messages int64    `json:"messages"`
	Segments int64    `json:"segments"`
	Price    *float64 `json:"price_per_segment"` // nil: no price
	Cost     *float64 `json:"cost"`
}

// previewer accumulates a preview over the pending recipients, one at a
// time: what it keeps is bounded by the samples asked for and the distinct
// characters and countries seen, not by the campaign's size.
type previewer struct {
	c      *campaign.Campaign
	tmpl   *campaign.Template
	static *renderedBody // the body, when the template reads no column
	rows   int
	pv     *preview

	first    []previewSample // the lowest lines, sorted
	longest  *previewSample
	ucs2     *previewSample
	culprits map[rune]*previewCulprit
	seen     map[rune]bool
	byRegion map[string]*previewCountry
}

// renderedBody is one message as send would send it, and the alternative
// with smart encoding the other way.
type renderedBody struct {
	sent          string
	segments      int
	enc           twilio.Encoding
	otherSegments int
	otherEnc      twilio.Encoding
	problem       *campaign.BodyError
}

func buildPreview(ctx context.Context, st *store.Store, c *campaign.Campaign, prices campaign.Prices, rows int, now time.Time) (*preview, error) {
	tmpl, err := campaign.ParseTemplate(c.BodyTemplate)
	if err != nil {
		return nil, err
	}
	p := &previewer{
		c: c, tmpl: tmpl, rows: rows,
		pv: &preview{Campaign: c.Name, Segments: previewSegments{PerMessage: map[string]int64{}},
			Skips: previewSkips{UnsendableBy: map[string]int64{}, FrequencyCap: c.Frequency.String()}},
		culprits: map[rune]*previewCulprit{}, seen: map[rune]bool{}, byRegion: map[string]*previewCountry{},
	}
	p.pv.SmartEncode.On = c.SmartEncode
	if len(tmpl.Fields()) == 0 {
		if body, err := tmpl.Render(nil); err == nil {
			rb := p.measure(body)
			p.static = &rb
		}
	}
	err = st.EachPending(ctx, c.ID, c.Frequency, now, func(r *store.PendingRecipient) error {
		p.add(r)
		return ctx.Err()
	})
	if err != nil {
		return nil, err
	}
	byZone, err := st.PendingByZone(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	p.pv.HeldByWindow = c.WindowHolds(byZone, now)
	if c.BudgetSegments > 0 || c.BudgetAmount > 0 {
		spent, err := st.Spent(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		p.pv.Budget = &previewBudget{Segments: c.BudgetSegments, Amount: c.BudgetAmount,
			SpentSegments: spent.Segments, SpentAmount: spent.Amount}
	}
	p.finish(prices)
	return p.pv, nil
}

// measure counts a rendered body as send would send it (smart-encoded or
// not, as the campaign says), and as it would be the other way.
func (p *previewer) measure(body string) renderedBody {
	encoded := twilio.SmartEncode(body)
	sent, other := body, encoded
	if p.c.SmartEncode {
		sent, other = encoded, body
	}
	rb := renderedBody{sent: sent}
	rb.segments, rb.enc = twilio.Segments(sent)
	rb.otherSegments, rb.otherEnc = rb.segments, rb.enc
	if other != sent {
		rb.otherSegments, rb.otherEnc = twilio.Segments(other)
	}
	rb.problem = campaign.CheckBody(sent, rb.segments, p.c.MaxSegments)
	return rb
}

func (p *previewer) add(r *store.PendingRecipient) {
	pv := p.pv
	pv.Pending++
	if r.OptedOut {
		pv.Skips.OptedOut++
		return
	}
	if f := p.c.Frequency; f.Count > 0 && r.Contacts >= f.Count {
		pv.Skips.FrequencyCapped++
		return
	}
	var rb renderedBody
	if p.static != nil {
		rb = *p.static
	} else {
		body, err := p.tmpl.Render(r.Attrs)
		if err != nil {
			pv.Skips.Unsendable++
			pv.Skips.UnsendableBy[campaign.RejectRender]++
			return
		}
		rb = p.measure(body)
	}
	if rb.problem != nil {
		pv.Skips.Unsendable++
		pv.Skips.UnsendableBy[rb.problem.Kind]++
		return
	}
	pv.ToSend++
	pv.Segments.Total += int64(rb.segments)
	pv.Segments.PerMessage[strconv.Itoa(rb.segments)]++
	with, without := &pv.SmartEncode.SegmentsWith, &pv.SmartEncode.SegmentsWithout
	ucsWith, ucsWithout := &pv.SmartEncode.UCS2With, &pv.SmartEncode.UCS2Without
	if !p.c.SmartEncode {
		with, without, ucsWith, ucsWithout = without, with, ucsWithout, ucsWith
	}
	*with += int64(rb.segments)
	*without += int64(rb.otherSegments)
	if rb.enc == twilio.UCS2 {
		*ucsWith++
	}
	if rb.otherEnc == twilio.UCS2 {
		*ucsWithout++
	}
	if rb.enc == twilio.UCS2 {
		pv.Encoding.UCS2++
		p.blame(rb.sent, r.Line)
	} else {
		pv.Encoding.GSM7++
	}
	region := phone.Region(r.Phone)
	cc := p.byRegion[region]
	if cc == nil {
		cc = &previewCountry{Country: region}
		p.byRegion[region] = cc
	}
	cc.Messages++
	cc.Segments += int64(rb.segments)
	p.sample(r, &rb)
}

// blame counts each character of a UCS-2 body that GSM-7 lacks, once per
// message, keeping the first lines where it appears.
func (p *previewer) blame(body string, line int) {
	clear(p.seen)
	for _, r := range body {
		if twilio.IsGSM7(r) || p.seen[r] {
			continue
		}
		p.seen[r] = true
		cu := p.culprits[r]
		if cu == nil {
			cu = &previewCulprit{Char: string(r), Code: fmt.Sprintf("U+%04X", r), SmartEncodable: twilio.SmartEncodes(r)}
			p.culprits[r] = cu
		}
		cu.Messages++
		cu.FirstLines = keepLowest(cu.FirstLines, line, 3)
	}
}

// keepLowest inserts v into the sorted s, keeping its n lowest values.
func keepLowest(s []int, v, n int) []int {
	i, _ := slices.BinarySearch(s, v)
	if i >= n {
		return s
	}
	s = slices.Insert(s, i, v)
	return s[:min(len(s), n)]
}

// maxSampleBody caps a sample's body as kept and shown.
const maxSampleBody = campaign.MaxBodyLength

func (p *previewer) sample(r *store.PendingRecipient, rb *renderedBody) {
	if p.rows == 0 {
		return
	}
	mk := func(why string) *previewSample {
		body := rb.sent
		if len(body) > maxSampleBody {
			cut := maxSampleBody
			for cut > 0 && !utf8.RuneStart(body[cut]) {
				cut--
			}
			body = body[:cut] + "…"
		}
		return &previewSample{Line: r.Line, Phone: campaign.MaskPhone(r.Phone), Why: why,
			Segments: rb.segments, Encoding: rb.enc.String(), Body: body}
	}
	if l := p.longest; l == nil || rb.segments > l.Segments ||
		(rb.segments == l.Segments && (utf8.RuneCountInString(rb.sent) > utf8.RuneCountInString(l.Body) ||
			utf8.RuneCountInString(rb.sent) == utf8.RuneCountInString(l.Body) && r.Line < l.Line)) {
		p.longest = mk("longest")
	}
	if rb.enc == twilio.UCS2 && (p.ucs2 == nil || r.Line < p.ucs2.Line) {
		p.ucs2 = mk("ucs-2")
	}
	i, _ := slices.BinarySearchFunc(p.first, r.Line, func(s previewSample, line int) int { return cmp.Compare(s.Line, line) })
	if i < p.rows {
		p.first = slices.Insert(p.first, i, *mk("first"))
		p.first = p.first[:min(len(p.first), p.rows)]
	}
}

func (p *previewer) finish(prices campaign.Prices) {
	pv := p.pv
	// Samples: the longest and a UCS-2 one, then the first lines.
	var picked []previewSample
	has := func(line int) bool {
		return slices.ContainsFunc(picked, func(s previewSample) bool { return s.Line == line })
	}
	for _, s := range []*previewSample{p.longest, p.ucs2} {
		if s != nil && len(picked) < p.rows && !has(s.Line) {
			picked = append(picked, *s)
		}
	}
	for _, s := range p.first {
		if len(picked) < p.rows && !has(s.Line) {
			picked = append(picked, s)
		}
	}
	slices.SortFunc(picked, func(a, b previewSample) int { return cmp.Compare(a.Line, b.Line) })
	pv.Samples = picked
	if pv.Samples == nil {
		pv.Samples = []previewSample{}
	}

	pv.Encoding.Culprits = []previewCulprit{}
	for _, cu := range p.culprits {
		pv.Encoding.Culprits = append(pv.Encoding.Culprits, *cu)
	}
	slices.SortFunc(pv.Encoding.Culprits, func(a, b previewCulprit) int {
		return cmp.Or(cmp.Compare(b.Messages, a.Messages), cmp.Compare(a.FirstLines[0], b.FirstLines[0]), strings.Compare(a.Char, b.Char))
	})

	cost := &pv.Cost
	cost.Currency, cost.Complete = prices.Currency(), true
	cost.ByCountry = []previewCountry{}
	for _, cc := range p.byRegion {
		// An unknown country ("") is priced by "*" only.
		if pr, ok := prices.Of(cc.Country); ok {
			v, total := pr.PerSegment, pr.PerSegment*float64(cc.Segments)
			cc.Price, cc.Cost = &v, &total
			cost.Total += total
		} else {
			cost.Complete = false
		}
		cost.ByCountry = append(cost.ByCountry, *cc)
	}
	slices.SortFunc(cost.ByCountry, func(a, b previewCountry) int {
		return cmp.Or(cmp.Compare(b.Segments, a.Segments), strings.Compare(a.Country, b.Country))
	})
	if b := pv.Budget; b != nil {
		b.Enough = (b.Segments == 0 || b.SpentSegments+pv.Segments.Total <= b.Segments) &&
			(b.Amount == 0 || cost.Complete && b.SpentAmount+cost.Total <= b.Amount+1e-9)
	}
}
