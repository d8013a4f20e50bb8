package twiliosim

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// listAll follows next_page_uri from path and returns every page.
func (tb *testBundle) listAll(t *testing.T, path string) [][]map[string]any {
	t.Helper()
	var pages [][]map[string]any
	for path != "" {
		status, env := tb.request(t, "GET", path, nil)
		if status != 200 {
			t.Fatalf("list %s: %d %v", path, status, env)
		}
		var page []map[string]any
		for _, m := range env["messages"].([]any) {
			page = append(page, m.(map[string]any))
		}
		pages = append(pages, page)
		next, _ := env["next_page_uri"].(string)
		if next != "" && !strings.HasPrefix(next, "/2010-04-01/Accounts/") {
			t.Fatalf("next_page_uri %q is not relative", next)
		}
		path = next
		if len(pages) > 100 {
			t.Fatal("paging does not end")
		}
	}
	return pages
}

func (tb *testBundle) count(t *testing.T, query string) int {
	t.Helper()
	n := 0
	for _, p := range tb.listAll(t, tb.messagesPath()+"?"+query) {
		n += len(p)
	}
	return n
}

// waitAll waits until every stored message has a final status.
func waitAll(t *testing.T, s *Server, final ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		done := true
		for _, m := range s.Messages() {
			if m.Status != "delivered" && m.Status != "undelivered" && m.Status != "failed" {
				done = false
			}
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("messages never reached a final status")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestListFiltersAndPaging(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC))
	tb := setup(t, Options{Now: clock.Now})
	const a, b = "+14155550100", "+14155550111"
	for i := range 12 {
		tb.mustCreate(t, form("To", a, "From", testFrom, "Body", fmt.Sprintf("a%d", i)))
		clock.Add(time.Minute)
	}
	for i := range 5 {
		tb.mustCreate(t, form("To", b, "From", "+14155550199", "Body", fmt.Sprintf("b%d", i)))
		clock.Add(time.Minute)
	}
	waitAll(t, tb.sim)

	pages := tb.listAll(t, tb.messagesPath()+"?To=%2B14155550100&PageSize=5")
	if len(pages) != 3 || len(pages[0]) != 5 || len(pages[1]) != 5 || len(pages[2]) != 2 {
		t.Fatalf("page sizes: %d pages", len(pages))
	}
	want := 11
	for _, p := range pages {
		for _, m := range p {
			if m["body"] != fmt.Sprintf("a%d", want) || m["to"] != a {
				t.Errorf("got %v, want body a%d (newest first)", m["body"], want)
			}
			want--
		}
	}

	// The envelope of the second page, and previous_page_uri back to the first.
	_, first := tb.request(t, "GET", tb.messagesPath()+"?To=%2B14155550100&PageSize=5", nil)
	_, second := tb.request(t, "GET", first["next_page_uri"].(string), nil)
	if second["page"] != float64(1) || second["page_size"] != float64(5) || second["start"] != float64(5) || second["end"] != float64(9) {
		t.Errorf("second page envelope: %v", second)
	}
	if fp, _ := second["first_page_uri"].(string); fp != tb.messagesPath()+"?To=%2B14155550100&PageSize=5&Page=0" {
		t.Errorf("first_page_uri = %q", fp)
	}
	if first["previous_page_uri"] != nil {
		t.Errorf("first page has previous_page_uri %v", first["previous_page_uri"])
	}
	_, back := tb.request(t, "GET", second["previous_page_uri"].(string), nil)
	if fmt.Sprint(sids(back)) != fmt.Sprint(sids(first)) {
		t.Errorf("previous page %v, want first page %v", sids(back), sids(first))
	}

	tests := []struct {
		query string
		want  int
	}{
		{"", 17},
		{"PageSize=1000", 17},
		{"To=%2B14155550111", 5},
		{"To=%2B19995550000", 0},
		{"From=%2B14155550199", 5},
		{"From=%2B14155550199&To=%2B14155550100", 0},
		{"DateSent=2024-03-10", 17},
		{"DateSent=2024-03-11", 0},
		{"DateSent%3C=2024-03-09", 0},
		{"DateSent%3C=2024-03-10", 17},
		{"DateSent%3E=2024-03-10", 17},
		{"DateSent%3E=2024-03-11", 0},
		{"DateSent%3E=2024-03-10T12:05:00Z", 12},
		{"DateSent%3C=2024-03-10T12:05:00Z", 6},
		{"DateSent%3E=2024-03-10T12:05:00.5Z", 11}, // date_sent is kept to the second
		{"DateSent%3E=2024-03-10T13:05:00%2B01:00", 12},
		{"DateSent=2024-03-10T12:05:00Z", 1},
		{"To=%2B14155550100&DateSent%3E=2024-03-10T12:05:00Z&DateSent%3C=2024-03-10T12:07:00Z", 3},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			if got := tb.count(t, tt.query); got != tt.want {
				t.Errorf("%d messages, want %d", got, tt.want)
			}
		})
	}

	_, env := tb.request(t, "GET", tb.messagesPath()+"?PageSize=5000", nil)
	if env["page_size"] != float64(1000) {
		t.Errorf("PageSize 5000 → page_size %v, want 1000", env["page_size"])
	}
	for _, q := range []string{"DateSent=yesterday", "PageSize=0", "PageToken=bogus", "PageToken=PASM00000000000000000000000000000000"} {
		status, body := tb.request(t, "GET", tb.messagesPath()+"?"+q, nil)
		assertError(t, status, body, 400, 20001)
	}
}

func sids(env map[string]any) []string {
	var out []string
	for _, m := range env["messages"].([]any) {
		out = append(out, m.(map[string]any)["sid"].(string))
	}
	return out
}

func TestListDateSentSkipsUnsent(t *testing.T) {
	t.Parallel()
	tb := setup(t, Options{DeliverAfter: time.Hour})
	tb.mustCreate(t, form("To", "+14155550100", "From", testFrom, "Body", "x"))
	if got := tb.count(t, "To=%2B14155550100"); got != 1 {
		t.Errorf("by To: %d, want 1", got)
	}
	if got := tb.count(t, "To=%2B14155550100&DateSent%3E=2000-01-01"); got != 0 {
		t.Errorf("a queued message matched a DateSent filter")
	}
}

func TestListLag(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC))
	tb := setup(t, Options{Now: clock.Now, ListLag: 10 * time.Second})
	sid := tb.mustCreate(t, form("To", "+14155550100", "From", testFrom, "Body", "x"))
	if got := tb.count(t, "To=%2B14155550100"); got != 0 {
		t.Errorf("listed %d before ListLag passed", got)
	}
	if got := tb.count(t, ""); got != 0 {
		t.Errorf("listed %d (no filter) before ListLag passed", got)
	}
	tb.fetch(t, sid) // fetch sees it at once
	clock.Add(10 * time.Second)
	if got := tb.count(t, "To=%2B14155550100"); got != 1 {
		t.Errorf("listed %d after ListLag, want 1", got)
	}
}

// TestListScalesWithIndex stores 100k messages and pages through one
// recipient's: the To index must answer without touching the rest.
func TestListScalesWithIndex(t *testing.T) {
	t.Parallel()
	tb := setup(t, Options{DeliverAfter: time.Hour})
	fill(tb.sim, 100_000)
	if got := len(tb.sim.Messages()); got != 100_000 {
		t.Fatalf("stored %d", got)
	}
	if got := tb.count(t, "To=%2B14155551234&PageSize=3"); got != 100_000/1000 {
		t.Errorf("listed %d for one recipient, want %d", got, 100_000/1000)
	}
	status, env := tb.request(t, "GET", tb.messagesPath()+"?PageSize=1000", nil)
	if list, _ := env["messages"].([]any); status != http.StatusOK || len(list) != 1000 || env["next_page_uri"] == nil {
		t.Errorf("first page of everything: %d, %d messages", status, len(list))
	}
}

// fill stores n messages directly, spread over 1000 recipients
// (+14155551000 … +14155551999).
func fill(s *Server, n int) {
	now := s.now()
	for i := range n {
		m := Message{
			AccountSID: s.opts.AccountSID, To: fmt.Sprintf("+1415555%04d", 1000+i%1000), From: testFrom,
			Body: "x", Status: "queued", NumSegments: 1, DateCreated: now, DateUpdated: now, ValidityPeriod: 36000,
		}
		ev, _ := s.insert(&m, 0, now)
		_ = ev // never scheduled: these messages stay queued
	}
}
