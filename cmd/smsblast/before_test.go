package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/smsblast/smsblast/twilio"
	"github.com/smsblast/smsblast/twilio/twiliosim"
)

// writeFile writes content to a file of its own and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// csvOf writes rows (the header first) as a CSV file.
func csvOf(t *testing.T, rows ...[]string) string {
	t.Helper()
	var b strings.Builder
	w := csv.NewWriter(&b)
	if err := w.WriteAll(rows); err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "r.csv", b.String())
}

// sqlRows runs a query through `smsblast db sql --json`.
func sqlRows(t *testing.T, env map[string]string, query string) []map[string]any {
	t.Helper()
	var rows []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, env, "db", "sql", query, "--json")), &rows); err != nil {
		t.Fatal(err)
	}
	return rows
}

func previewOf(t *testing.T, env map[string]string, args ...string) preview {
	t.Helper()
	var pv preview
	out := mustRun(t, env, append([]string{"preview", "--json"}, args...)...)
	if err := json.Unmarshal([]byte(out), &pv); err != nil {
		t.Fatalf("preview --json: %v\n%s", err, out)
	}
	return pv
}

// mixedBodies are GSM-7, UCS-2 and smart-encodable messages, one per row.
var mixedBodies = [][]string{
	{"phone", "msg"},
	{"+14155550100", "Hi Ada, your order ships today."},
	{"+14155550101", strings.Repeat("Long GSM-7 text. ", 12)}, // 204 characters: 2 segments
	{"+14155550102", "Party time 🎉 see you there"},
	{"+14155550103", "It’s “spring” — 20% off everything today… Reply STOP to opt out. Valid in every shop."}, // curly: 2 UCS-2 segments, 1 GSM-7
	{"+14155550104", "“Hi” 😀"},
	{"+14155550105", "Привет, Ada"},
	{"+14155550106", "Tab\tand non-breaking\u00a0space"},
	{"+14155550107", "Price: 10€ {braces} [brackets]"},
}

// For a campaign with GSM-7, UCS-2 and smart-encodable bodies, preview's
// segment total is what Twilio counts once the messages are sent, and the
// characters it blames for UCS-2 are exactly those of the UCS-2 messages
// sent that GSM-7 lacks. With --smart-encode, the rows whose only such
// characters are typography drop to GSM-7, and what is sent is the
// smart-encoded body (Twilio is not asked to encode it).
func TestPreviewMatchesWhatTwilioCounts(t *testing.T) {
	t.Parallel()
	for _, smart := range []bool{false, true} {
		name := "plain"
		if smart {
			name = "smart-encode"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env, sim := cliWorld(t, twiliosim.Options{})
			args := []string{"import", "mixed", csvOf(t, mixedBodies...), "--from", "+15005550006", "--body", "{{.msg}}", "--send-window", "any"}
			if smart {
				args = append(args, "--smart-encode")
			}
			mustRun(t, env, args...)
			pv := previewOf(t, env, "mixed", "--rows", "3", "--price", "0.0079USD")
			if pv.Pending != 8 || pv.ToSend != 8 {
				t.Errorf("pending %d, to send %d; want 8 and 8", pv.Pending, pv.ToSend)
			}
			if len(pv.Samples) != 3 {
				t.Errorf("%d samples, want 3: %+v", len(pv.Samples), pv.Samples)
			}
			var hasUCS2, hasLongest bool
			for _, s := range pv.Samples {
				hasUCS2 = hasUCS2 || s.Encoding == "UCS-2"
				hasLongest = hasLongest || s.Why == "longest"
			}
			if !hasUCS2 || !hasLongest {
				t.Errorf("samples lack the longest or a UCS-2 one: %+v", pv.Samples)
			}

			mustRun(t, env, "send", "mixed", "--safety-window", "0")
			msgs := sim.Messages()
			if len(msgs) != 8 {
				t.Fatalf("%d messages in Twilio, want 8", len(msgs))
			}
			total := 0
			forced := map[string]bool{}
			ucs2 := 0
			for _, m := range msgs {
				total += m.NumSegments
				if _, enc := twilio.Segments(m.Body); enc == twilio.UCS2 {
					ucs2++
					for _, r := range m.Body {
						if !twilio.IsGSM7(r) {
							forced[string(r)] = true
						}
					}
				}
			}
			if int(pv.Segments.Total) != total {
				t.Errorf("preview counts %d segments; Twilio counted %d", pv.Segments.Total, total)
			}
			if int(pv.Encoding.UCS2) != ucs2 {
				t.Errorf("preview says %d UCS-2 messages; %d were sent", pv.Encoding.UCS2, ucs2)
			}
			var blamed []string
			for _, cu := range pv.Encoding.Culprits {
				blamed = append(blamed, cu.Char)
				if len(cu.FirstLines) == 0 || cu.Messages == 0 {
					t.Errorf("culprit %q without lines or messages: %+v", cu.Char, cu)
				}
			}
			var want []string
			for c := range forced {
				want = append(want, c)
			}
			slices.Sort(blamed)
			slices.Sort(want)
			if !slices.Equal(blamed, want) {
				t.Errorf("preview blames %q; the UCS-2 messages sent hold %q", blamed, want)
			}
			if pv.Cost.Currency != "USD" || !pv.Cost.Complete || len(pv.Cost.ByCountry) != 1 || pv.Cost.ByCountry[0].Country != "US" {
				t.Errorf("cost: %+v", pv.Cost)
			}
			if want := 0.0079 * float64(total); pv.Cost.Total < want-1e-9 || pv.Cost.Total > want+1e-9 {
				t.Errorf("cost %v, want %v", pv.Cost.Total, want)
			}

			curly := sim.MessagesTo("+14155550103")[0]
			quote := sim.MessagesTo("+14155550104")[0]
			if smart {
				if curly.Body != `It's "spring" - 20% off everything today... Reply STOP to opt out. Valid in every shop.` || curly.NumSegments != 1 {
					t.Errorf("smart-encoded curly row sent as %q (%d segments)", curly.Body, curly.NumSegments)
				}
				if quote.Body != `"Hi" 😀` {
					t.Errorf("smart-encoded emoji row sent as %q", quote.Body)
				}
				if ucs2 != 3 || pv.Encoding.UCS2 != 3 {
					t.Errorf("with --smart-encode %d UCS-2 messages sent, preview said %d; want 3 (emoji, emoji, Cyrillic)", ucs2, pv.Encoding.UCS2)
				}
				if sm := pv.SmartEncode; !sm.On || sm.SegmentsWithout-sm.SegmentsWith != 1 || sm.UCS2Without != 5 || sm.UCS2With != 3 {
					t.Errorf("smart encoding's saving: %+v", sm)
				}
			} else {
				if !strings.Contains(curly.Body, "’") || curly.NumSegments != 2 {
					t.Errorf("curly row sent as %q (%d segments), want as written in 2", curly.Body, curly.NumSegments)
				}
				if ucs2 != 5 {
					t.Errorf("%d UCS-2 messages, want 5", ucs2)
				}
				if sm := pv.SmartEncode; sm.On || sm.SegmentsWithout-sm.SegmentsWith != 1 || sm.UCS2With != 3 {
					t.Errorf("what smart encoding would save: %+v", sm)
				}
				for _, cu := range pv.Encoding.Culprits {
					if (cu.Char == "’" || cu.Char == "—") != cu.SmartEncodable && cu.Char != "“" && cu.Char != "”" && cu.Char != "…" && cu.Char != "\t" && cu.Char != "\u00a0" {
						t.Errorf("culprit %q: smart_encodable %v", cu.Char, cu.SmartEncodable)
					}
				}
			}
		})
	}
}

// The text preview names the culprits, the skips and the cost.
func TestPreviewText(t *testing.T) {
	t.Parallel()
	env, _ := cliWorld(t, twiliosim.Options{})
	rows := append(slices.Clone(mixedBodies), []string{"+442079460123", "Hello London"})
	mustRun(t, env, "import", "mixed", csvOf(t, rows...), "--from", "+15005550006", "--body", "{{.msg}}",
		"--send-window", "any", "--frequency-cap", "1/24h")
	mustRun(t, env, "db", "sql", "INSERT INTO opt_outs (phone, reason) VALUES ('+14155550100', 'complained')")
	prices := writeFile(t, "prices.csv", "country,price_per_segment,currency\nUS,0.0079,USD\n")
	out := mustRun(t, env, "preview", "mixed", "--prices", prices)
	for _, want := range []string{
		`campaign "mixed": 9 recipients pending, 8 messages to send`,
		"forced into UCS-2 by:", `"’"`, "U+2019", "--smart-encode replaces it", `"🎉"`, "first on line 4",
		"--smart-encode would save 1 segments",
		"opted out", "frequency-capped (cap 1/24h)",
		"US  7 messages", "× 0.0079 =",
		"GB  1 message", "no price: not counted",
		"without the countries that have no price",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("preview lacks %q:\n%s", want, out)
		}
	}
}

// Bodies that cannot be sent — empty, over 1,600 characters, over
// --max-segments — are rejected rows at import, with their line and why,
// and send makes no request for them; a body that fails the same way for
// every row is refused before any row is read.
func TestBadBodiesAreImportRejects(t *testing.T) {
	t.Parallel()
	env, sim := cliWorld(t, twiliosim.Options{})
	body := `{{if eq .kind "huge"}}{{printf "%01000000d" 1}}{{else}}{{.text}}{{end}}`
	path := csvOf(t,
		[]string{"phone", "kind", "text"},
		[]string{"+14155550100", "ok", "Hi Ada"},
		[]string{"+14155550101", "empty", "  "},
		[]string{"+14155550102", "long", strings.Repeat("x", 1700)},
		[]string{"+14155550103", "huge", ""},
		[]string{"+14155550104", "segments", strings.Repeat("y", 1000)}, // 7 segments, over --max-segments 5
		[]string{"+14155550105", "ok", "Hi Alan"},
	)
	out := mustRun(t, env, "import", "bad", path, "--from", "+15005550006", "--body", body, "--send-window", "any",
		"--max-segments", "5", "--json")
	var res importOutput
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if res.Imported != 2 || res.Rejected != 4 || res.RejectedBy["empty_body"] != 1 || res.RejectedBy["body_too_long"] != 2 ||
		res.RejectedBy["too_many_segments"] != 1 {
		t.Errorf("import: %+v", res)
	}
	rejects := sqlRows(t, env, "SELECT source_line, reason FROM import_rejects ORDER BY source_line")
	want := map[float64]string{
		3: "the body renders empty: Twilio refuses an empty message (21602)",
		4: "the body renders 1700 characters, over Twilio's limit of 1600 (21617)",
		5: "the body renders more than 1600 characters, Twilio's limit (21617)",
		6: "the body renders 7 segments, over the campaign's --max-segments 5",
	}
	if len(rejects) != len(want) {
		t.Errorf("import_rejects: %v", rejects)
	}
	for _, r := range rejects {
		if line := r["source_line"].(float64); r["reason"] != want[line] {
			t.Errorf("line %v rejected for %q, want %q", line, r["reason"], want[line])
		}
	}
	mustRun(t, env, "send", "bad", "--safety-window", "0")
	if st := sim.Stats(); st.Created != 2 || st.Rejected != 0 {
		t.Errorf("Twilio saw %d creates and %d refusals; want 2 and none", st.Created, st.Rejected)
	}

	// Always the same failure: refused once, nothing read or created.
	for _, tt := range []struct{ body, want string }{
		{`{{printf "%01000000d" 1}}`, "--body: reads no column, so every recipient gets the same message, and the body renders more than 1600 characters"},
		{"{{if false}}Hi {{.name}}{{end}}", "renders empty for every recipient"},
		{strings.Repeat("z", 1000), "the body renders 7 segments, over the campaign's --max-segments 5: shorten it or raise --max-segments"},
	} {
		code, _, errOut := runApp(t, env, "import", "never", writeCSV(t, 0, 3), "--from", "+15005550006", "--body", tt.body,
			"--send-window", "any", "--max-segments", "5")
		if code != 2 || !strings.Contains(errOut, tt.want) {
			t.Errorf("import --body %.40q: exit %d, %s", tt.body, code, errOut)
		}
	}
	if rows := sqlRows(t, env, "SELECT name FROM campaigns WHERE name = 'never'"); len(rows) != 0 {
		t.Errorf("a refused body created its campaign")
	}
	// A body made unsendable after import (set) fails without a request.
	mustRun(t, env, "import", "later", writeCSV(t, 0, 2), "--from", "+15005550006", "--body", "Hi {{.name}}", "--send-window", "any")
	mustRun(t, env, "set", "later", "--body", "{{if eq .name \"N0\"}}{{.name}}{{end}}")
	before := sim.Stats().Created
	mustRun(t, env, "send", "later", "--safety-window", "0")
	if n := sim.Stats().Created - before; n != 1 {
		t.Errorf("%d messages created for one sendable body of two", n)
	}
	failed := sqlRows(t, env, "SELECT error_message FROM recipients r JOIN campaigns c ON c.id = r.campaign_id WHERE c.name = 'later' AND r.status = 'failed'")
	if len(failed) != 1 || !strings.Contains(failed[0]["error_message"].(string), "not sent: the body renders empty") {
		t.Errorf("failed recipients: %v", failed)
	}
}

// A test send texts the given numbers with the chosen recipient's message,
// records each in test_sends, and leaves every recipient pending.
func TestSendTestMessages(t *testing.T) {
	t.Parallel()
	env, sim := cliWorld(t, twiliosim.Options{})
	mustRun(t, env, "import", "spring", writeCSV(t, 0, 5), "--from", "+15005550006", "--body", "Hi {{.name}} “soon”",
		"--send-window", "any", "--smart-encode")
	out := mustRun(t, env, "send", "spring", "--test", "+14155550190, (415) 555-0191", "--test-line", "4")
	if !strings.Contains(out, "the message of CSV line 4") || strings.Count(out, "queued") != 2 {
		t.Errorf("send --test:\n%s", out)
	}
	msgs := sim.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages in Twilio, want 2", len(msgs))
	}
	for _, m := range msgs {
		if m.Body != `Hi N2 "soon"` || (m.To != "+14155550190" && m.To != "+14155550191") {
			t.Errorf("test message %q to %s", m.Body, m.To)
		}
	}
	var st statusJSON
	if err := json.Unmarshal([]byte(mustRun(t, env, "status", "spring", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Counts["pending"] != 5 || st.Status != "draft" {
		t.Errorf("after a test send: %s, counts %v; want draft with 5 pending", st.Status, st.Counts)
	}
	rows := sqlRows(t, env, "SELECT to_number, message_sid, status, source_line FROM test_sends ORDER BY to_number")
	if len(rows) != 2 || rows[0]["to_number"] != "+14155550190" || rows[0]["status"] != "queued" || rows[0]["source_line"] != 4.0 {
		t.Errorf("test_sends: %v", rows)
	}
	for _, r := range rows {
		if _, ok := sim.Message(r["message_sid"].(string)); !ok {
			t.Errorf("test_sends sid %v is not in Twilio", r["message_sid"])
		}
	}
	// The first recipient by default; an opted-out number is skipped.
	mustRun(t, env, "db", "sql", "INSERT INTO opt_outs (phone) VALUES ('+14155550192')")
	out = mustRun(t, env, "send", "spring", "--test", "+14155550192", "--test", "+14155550193")
	if !strings.Contains(out, "the message of CSV line 2") || !strings.Contains(out, "skipped") {
		t.Errorf("send --test:\n%s", out)
	}
	if msgs := sim.MessagesTo("+14155550192"); len(msgs) != 0 {
		t.Errorf("an opted-out test number was texted")
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--test", "555"}, "--test: phone \"555\""},
		{[]string{"--test-line", "3"}, "--test-line: give the numbers"},
		{[]string{"--test", "+14155550190", "--test-line", "99"}, "--test-line: campaign \"spring\" has no recipient from CSV line 99"},
	} {
		code, _, errOut := runApp(t, env, append([]string{"send", "spring"}, tt.args...)...)
		if code != 2 || !strings.Contains(errOut, tt.want) {
			t.Errorf("send %v: exit %d, %s", tt.args, code, errOut)
		}
	}
}

// Suppression lists: imported through gocsv with numbers normalised as an
// import does and bad rows reported by line; exported complete to a private
// file; counted by source; and send skips them.
func TestOptoutsImportExport(t *testing.T) {
	t.Parallel()
	env, sim := cliWorld(t, twiliosim.Options{})
	list := writeFile(t, "stops.csv", "\ufeffPhone,Reason\n"+
		"+14155550100,complained\n"+
		"(415) 555-0101,\n"+
		"555,typo\n"+
		"+14155550102,\"said \"\"stop\"\"\nin two lines\"\n"+
		"+14155550100,again\n"+
		"+14155550103,too,many\n"+
		",no number\n")
	out := mustRun(t, env, "optouts", "import", list)
	for _, want := range []string{
		"7 rows read, 3 numbers added, 1 already opted out (or repeated), 3 rejected",
		// The quoted reason of line 5 spans two lines.
		`line 4: phone "555" is not a valid US number`, "line 8: has 3 fields; the header has 2", "line 9: phone is empty",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("optouts import lacks %q:\n%s", want, out)
		}
	}
	// Again: nothing new.
	if out := mustRun(t, env, "optouts", "import", list); !strings.Contains(out, "0 numbers added, 4 already opted out") {
		t.Errorf("second import:\n%s", out)
	}
	mustRun(t, env, "db", "sql", "INSERT INTO opt_outs (phone, reason, source) VALUES ('+14155550109', '=HYPERLINK(\"x\")', 'inbound')")
	out = mustRun(t, env, "optouts")
	if !strings.Contains(out, "import   3") || !strings.Contains(out, "inbound  1") || !strings.Contains(out, "total    4") {
		t.Errorf("optouts:\n%s", out)
	}

	path := filepath.Join(t.TempDir(), "out.csv")
	mustRun(t, env, "optouts", "export", "--output", path)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("export file mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	recs, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	if err != nil || len(recs) != 5 || strings.Join(recs[0], ",") != "phone,reason,source,created_at" {
		t.Fatalf("export: %v\n%s", err, b)
	}
	if recs[1][0] != "+14155550100" || recs[1][1] != "complained" || recs[3][1] != "said \"stop\"\nin two lines" || recs[4][1] != `'=HYPERLINK("x")` {
		t.Errorf("export rows: %q", recs)
	}
	// The export imports back as it is.
	if out := mustRun(t, env, "optouts", "import", path); !strings.Contains(out, "4 rows read, 0 numbers added, 4 already") {
		t.Errorf("re-import of the export:\n%s", out)
	}

	// A bad file is refused with its line and nothing kept.
	if code, _, errOut := runApp(t, env, "optouts", "import", writeFile(t, "bad.csv", "phone\n+14155550104\n\"+1415\"x\n")); code != 1 || !strings.Contains(errOut, "line 3:") {
		t.Errorf("malformed list: exit %d, %s", code, errOut)
	}
	if code, _, errOut := runApp(t, env, "optouts", "import", writeFile(t, "nophone.csv", "number,reason\n+14155550104,x\n")); code != 1 || !strings.Contains(errOut, "line 1: the header has no phone column") {
		t.Errorf("list without a phone column: exit %d, %s", code, errOut)
	}
	if rows := sqlRows(t, env, "SELECT phone FROM opt_outs WHERE phone = '+14155550104'"); len(rows) != 0 {
		t.Errorf("a refused file added numbers")
	}

	// Send skips them; preview said it would.
	mustRun(t, env, "import", "spring", writeCSV(t, 100, 5), "--from", "+15005550006", "--body", "Hi {{.name}}", "--send-window", "any")
	if pv := previewOf(t, env, "spring"); pv.Skips.OptedOut != 3 || pv.ToSend != 2 {
		t.Errorf("preview: %d opted out, %d to send; want 3 and 2", pv.Skips.OptedOut, pv.ToSend)
	}
	mustRun(t, env, "send", "spring", "--safety-window", "0")
	if n := len(sim.Messages()); n != 2 {
		t.Errorf("%d messages sent, want 2 (3 of 5 opted out)", n)
	}
}

// Prices come from CSV through gocsv: set --prices stores them, preview
// prices by country and names a country without a price; a bad file is
// refused with the line of every bad row.
func TestPricesFile(t *testing.T) {
	t.Parallel()
	env, _ := cliWorld(t, twiliosim.Options{})
	mustRun(t, env, "import", "world", csvOf(t,
		[]string{"phone", "name"},
		[]string{"+14155550100", "Ada"},
		[]string{"+442079460123", "Alan"},
		[]string{"+33612345678", "Marie"},
	), "--from", "+15005550006", "--body", "Hi {{.name}}", "--send-window", "any")
	bad := writeFile(t, "bad.csv", "Country,Price_Per_Segment,Currency\nUS,0.0079,USD\nUSA,0.01,USD\nGB,abc,USD\nFR,,USD\nDE,0.07,EUR\nUS,0.0080,USD\nIT,0.05\n")
	code, _, errOut := runApp(t, env, "set", "world", "--prices", bad)
	for _, want := range []string{
		"--prices: ", "line 3: country \"USA\" is not a two-letter ISO 3166 code", `line 4: price_per_segment "abc" is not a number`,
		"line 5: price_per_segment is empty", "line 6: currency EUR differs from the file's USD",
		"line 7: country US is priced already on line 2", "line 8: has 2 fields; the header has 3",
	} {
		if code != 2 || !strings.Contains(errOut, want) {
			t.Errorf("set --prices bad.csv: exit %d, lacks %q: %s", code, want, errOut)
		}
	}
	good := writeFile(t, "prices.csv", "country,price_per_segment,currency\nUS,0.0079,USD\nGB,0.0400,USD\n")
	mustRun(t, env, "set", "world", "--prices", good)
	pv := previewOf(t, env, "world")
	if pv.Cost.Complete || pv.Cost.Currency != "USD" || len(pv.Cost.ByCountry) != 3 {
		t.Fatalf("cost: %+v", pv.Cost)
	}
	for _, cc := range pv.Cost.ByCountry {
		switch cc.Country {
		case "US", "GB":
			if cc.Price == nil || cc.Cost == nil {
				t.Errorf("%s unpriced", cc.Country)
			}
		case "FR":
			if cc.Price != nil || cc.Cost != nil {
				t.Errorf("FR priced without a price: %+v", cc)
			}
		}
	}
	if want := 0.0079 + 0.04; pv.Cost.Total < want-1e-9 || pv.Cost.Total > want+1e-9 {
		t.Errorf("total %v, want %v (FR left out)", pv.Cost.Total, want)
	}
	// --price for every country, on the command line only.
	if pv := previewOf(t, env, "world", "--price", "0.01"); !pv.Cost.Complete || pv.Cost.Total < 0.03-1e-9 || pv.Cost.Total > 0.03+1e-9 {
		t.Errorf("preview --price: %+v", pv.Cost)
	}
}
