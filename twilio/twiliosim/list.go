package twiliosim

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	defaultPageSize = 50
	maxPageSize     = 1000
)

// listQuery is a parsed list request.
type listQuery struct {
	to, from  string
	dated     bool      // some DateSent filter was given
	after     time.Time // date_sent >= after (zero: unbounded)
	before    time.Time // date_sent < before (zero: unbounded)
	filters   string    // the filters, query-encoded, each followed by "&"
	pageSize  int
	page      int
	token     string
	backward  bool // token is a PB… (previous page) token
	cursorSID string
}

// parseList reads the list parameters, or returns an error message.
func parseList(q url.Values) (listQuery, string) {
	lq := listQuery{to: q.Get("To"), from: q.Get("From"), pageSize: defaultPageSize}
	var f strings.Builder
	for _, k := range [...]string{"To", "From", "DateSent", "DateSent<", "DateSent>"} {
		v, ok := q[k]
		if !ok || v[0] == "" {
			continue
		}
		f.WriteString(url.QueryEscape(k) + "=" + url.QueryEscape(v[0]) + "&")
		if !strings.HasPrefix(k, "DateSent") {
			continue
		}
		t, dateOnly, err := parseDateFilter(v[0])
		if err != nil {
			return lq, "Invalid " + k + " value " + strconv.Quote(v[0]) + ": want YYYY-MM-DD or RFC 3339."
		}
		lq.dated = true
		// Twilio stores date_sent to the second. A date means the whole
		// (UTC) day; a timestamp means that second exactly, and the
		// bounds are inclusive ("on or before", "on or after").
		lo, hi := t, t.Add(1) // a timestamp: [t, t]
		if dateOnly {
			hi = t.AddDate(0, 0, 1) // a day: [t, t+1d)
		}
		switch k {
		case "DateSent":
			lq.narrow(lo, hi)
		case "DateSent<":
			lq.narrow(time.Time{}, hi)
		case "DateSent>":
			lq.narrow(lo, time.Time{})
		}
	}
	lq.filters = f.String()
	if v := q.Get("PageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return lq, "Invalid PageSize " + strconv.Quote(v) + "."
		}
		// Twilio caps PageSize at 1000; clamping (rather than refusing)
		// keeps a client that asks for more honest about following
		// next_page_uri.
		lq.pageSize = min(n, maxPageSize)
	}
	if v := q.Get("Page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return lq, "Invalid Page " + strconv.Quote(v) + "."
		}
		lq.page = n
	}
	if tok := q.Get("PageToken"); tok != "" {
		switch {
		case strings.HasPrefix(tok, "PA") && validSID(tok[2:], "SM"):
		case strings.HasPrefix(tok, "PB") && validSID(tok[2:], "SM"):
			lq.backward = true
		default:
			return lq, "Invalid PageToken " + strconv.Quote(tok) + "."
		}
		lq.token, lq.cursorSID = tok, tok[2:]
	}
	return lq, ""
}

func (lq *listQuery) narrow(lo, hi time.Time) {
	if !lo.IsZero() && (lq.after.IsZero() || lo.After(lq.after)) {
		lq.after = lo
	}
	if !hi.IsZero() && (lq.before.IsZero() || hi.Before(lq.before)) {
		lq.before = hi
	}
}

func parseDateFilter(v string) (t time.Time, dateOnly bool, err error) {
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, true, nil
	}
	t, err = time.Parse(time.RFC3339, v)
	return t, false, err
}

// match reports whether r is in the list's results. Caller holds s.mu.
func (lq *listQuery) match(r *record, now time.Time) bool {
	if r.visibleAt.After(now) {
		return false
	}
	if lq.from != "" && r.From != lq.from {
		return false
	}
	if lq.dated {
		// A message not sent yet has no date_sent, and the conservative
		// reading is that no DateSent filter matches it.
		if r.DateSent.IsZero() {
			return false
		}
		ds := r.DateSent.Truncate(time.Second)
		if !lq.after.IsZero() && ds.Before(lq.after) {
			return false
		}
		if !lq.before.IsZero() && !ds.Before(lq.before) {
			return false
		}
	}
	return true
}

// list answers GET …/Messages.json: newest first, paged by PageToken.
func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	lq, msg := parseList(r.URL.Query())
	if msg != "" {
		s.writeError(w, codeUnknownParam, msg)
		return
	}
	now := s.now()
	page := make([]Message, 0, min(lq.pageSize, 64))
	var hasNext, hasPrev bool

	s.mu.Lock()
	cands := s.recs
	if lq.to != "" {
		cands = s.byTo[lq.to] // the index keeps per-recipient lists cheap at any size
	}
	if lq.token != "" {
		cur, ok := s.bySID[lq.cursorSID]
		if !ok {
			s.mu.Unlock()
			s.writeError(w, codeUnknownParam, "Invalid PageToken "+strconv.Quote(lq.token)+".")
			return
		}
		// First candidate created after the cursor; cands is in seq order.
		i := sort.Search(len(cands), func(i int) bool { return cands[i].seq > cur.seq })
		if lq.backward {
			// The page just before (newer than) the cursor: walk up, then
			// present newest first.
			for ; i < len(cands); i++ {
				if !lq.match(cands[i], now) {
					continue
				}
				if len(page) == lq.pageSize {
					hasPrev = true
					break
				}
				page = append(page, cands[i].Message)
			}
			for a, b := 0, len(page)-1; a < b; a, b = a+1, b-1 {
				page[a], page[b] = page[b], page[a]
			}
			hasNext = true // the cursor itself is older
		} else {
			// Skip the cursor itself: the page after it is strictly older.
			j := sort.Search(len(cands), func(i int) bool { return cands[i].seq >= cur.seq })
			hasNext = s.walkDown(cands[:j], &lq, now, &page, 0)
			hasPrev = lq.page > 0
		}
	} else {
		// No token: Page alone counts pages from the newest, as Twilio's
		// older paging did.
		hasNext = s.walkDown(cands, &lq, now, &page, lq.page*lq.pageSize)
		hasPrev = lq.page > 0
	}
	s.mu.Unlock()
	// Redact the page's copies, not the stored messages: filters above
	// matched the real numbers, and paging tokens use sids only.
	for i := range page {
		s.opts.Redact.apply(&page[i])
	}

	s.writeList(w, &lq, page, hasNext, hasPrev && len(page) > 0)
}

// walkDown appends to page, newest first, the matches in cands after skipping
// skip of them, and reports whether there are more. Caller holds s.mu.
func (s *Server) walkDown(cands []*record, lq *listQuery, now time.Time, page *[]Message, skip int) bool {
	for i := len(cands) - 1; i >= 0; i-- {
		if !lq.match(cands[i], now) {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		if len(*page) == lq.pageSize {
			return true
		}
		*page = append(*page, cands[i].Message)
	}
	return false
}

func (s *Server) writeList(w http.ResponseWriter, lq *listQuery, page []Message, hasNext, hasPrev bool) {
	base := accountsPrefix + s.opts.AccountSID + "/Messages.json?" + lq.filters + "PageSize=" + strconv.Itoa(lq.pageSize) + "&Page="
	start := lq.page * lq.pageSize
	end := start
	if len(page) > 0 {
		end = start + len(page) - 1
	}
	wp := wirePage{
		End: end, FirstPageURI: base + "0", Messages: make([]wireMessage, len(page)),
		Page: lq.page, PageSize: lq.pageSize, Start: start, URI: base + strconv.Itoa(lq.page),
	}
	for i := range page {
		wp.Messages[i] = wire(&page[i])
	}
	if hasNext && len(page) > 0 {
		wp.NextPageURI = nullable(base + strconv.Itoa(lq.page+1) + "&PageToken=PA" + page[len(page)-1].SID)
	}
	if hasPrev {
		wp.PreviousPageURI = nullable(base + strconv.Itoa(max(lq.page-1, 0)) + "&PageToken=PB" + page[0].SID)
	}
	if lq.token != "" {
		wp.URI += "&PageToken=" + lq.token
	}
	writeJSON(w, http.StatusOK, marshal(wp))
}

// fetch answers GET …/Messages/{sid}.json. Unlike List, fetch sees a message
// at once: ListLag models the list's eventual consistency only.
func (s *Server) fetch(w http.ResponseWriter, r *http.Request, sid string) {
	s.mu.Lock()
	rec, ok := s.bySID[sid]
	var m Message
	if ok {
		m = rec.Message
	}
	s.mu.Unlock()
	if !ok {
		s.writeError(w, codeNotFound, "The requested resource "+r.URL.Path+" was not found")
		return
	}
	s.opts.Redact.apply(&m)
	writeJSON(w, http.StatusOK, marshal(wire(&m)))
}
