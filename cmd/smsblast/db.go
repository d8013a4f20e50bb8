package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/store"
)

func dbCommand() *command {
	return &command{
		name:    "db",
		args:    "url | sql SQL | check | stop",
		summary: "the database: print its connection string, run SQL and print a table, check the counters, stop the embedded server",
		examples: `  psql "$(smsblast db url)"
  smsblast db sql "SELECT name, status FROM campaigns"
  smsblast db sql --json "SELECT * FROM campaign_stats"
  echo "SELECT count(*) FROM recipients" | smsblast db sql -
  smsblast db check      # recount every campaign from its rows; exit 1 if a counter differs
  smsblast db stop`,
		run: runDB,
	}
}

var dbSubcommands = []string{"url", "sql", "check", "stop"}

func runDB(ctx context.Context, a *app, fs *flagSet, args []string) error {
	fs.dbFlag()
	asJSON := fs.Bool("json", false, "sql: print the rows of the last statement as a JSON array of objects; check: print the outcome as JSON")
	fs.validate = func(pos []string) error {
		switch sub := pos[0]; {
		case (sub == "url" || sub == "stop" || sub == "check") && len(pos) != 1:
			return usagef("usage: smsblast db %s", sub)
		case sub == "sql" && len(pos) != 2:
			return usagef(`usage: smsblast db sql "SELECT …" (or - to read it from standard input)`)
		case sub == "sql" && strings.TrimSpace(pos[1]) == "":
			return usagef("db sql: the SQL is empty")
		case !slices.Contains(dbSubcommands, sub):
			msg := fmt.Sprintf("db: unknown subcommand %s: use url, sql, check or stop", campaign.QuoteShort(sub, 20))
			if s := nearest(sub, dbSubcommands); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			return usagef("%s", msg)
		}
		return nil
	}
	pos, err := a.parse(fs, args, 1, 2)
	if err != nil {
		return err
	}
	switch pos[0] {
	case "url":
		return a.printDatabaseURL(ctx, fs)
	case "stop":
		return a.stopEmbedded(ctx)
	case "check":
		return a.checkCounters(ctx, fs, *asJSON)
	}
	query := pos[1]
	if query == "-" {
		b, err := io.ReadAll(a.stdin)
		if err != nil {
			return fmt.Errorf("read SQL from standard input: %w", err)
		}
		query = string(b)
	}
	if strings.TrimSpace(query) == "" {
		return usagef("db sql: the SQL is empty")
	}
	return a.runSQL(ctx, fs, query, *asJSON)
}

// printDatabaseURL prints --db or DATABASE_URL as given, without
// connecting (scripts want the string even when the server is down). The
// embedded server is started and migrated, so that the first thing a user
// sees in psql is smsblast's tables rather than an empty database.
func (a *app) printDatabaseURL(ctx context.Context, fs *flagSet) error {
	if (fs.db != nil && *fs.db != "") || a.getenv("DATABASE_URL") != "" {
		url, err := a.databaseURL(ctx, fs)
		if err != nil {
			return err
		}
		fmt.Fprintln(a.stdout, url)
		return nil
	}
	url, err := a.databaseURL(ctx, fs)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, url, a.storeOptions())
	if err != nil {
		return err
	}
	st.Close()
	fmt.Fprintln(a.stdout, url)
	return nil
}

// stopEmbedded stops the embedded server whatever DATABASE_URL says: that
// server is the only one smsblast starts, so it is the only one it stops.
func (a *app) stopEmbedded(ctx context.Context) error {
	e, err := a.embedded()
	if err != nil {
		return err
	}
	if !e.Running() {
		fmt.Fprintf(a.stdout, "embedded PostgreSQL in %s is not running\n", e.Home)
		return nil
	}
	if err := e.Stop(ctx); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "stopped embedded PostgreSQL in %s\n", e.Home)
	return nil
}

// runSQL runs the user's SQL; it may hold several statements, and every
// result comes back as text, exactly as psql would show it (see store.Query).
func (a *app) runSQL(ctx context.Context, fs *flagSet, query string, asJSON bool) error {
	st, err := a.openStore(ctx, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	results, err := st.Query(ctx, query)
	if err != nil {
		return err
	}
	if asJSON {
		return printResultJSON(a.stdout, results)
	}
	printResultTables(a.stdout, results)
	return nil
}

// checkCounters recounts every campaign's recipients from the rows and
// compares the counters that status, campaign_stats and /metrics read. A
// difference is printed and makes the command fail (exit 1): the counters
// are kept by triggers in the same transactions as the rows, so one means a
// bug, or triggers disabled by hand.
func (a *app) checkCounters(ctx context.Context, fs *flagSet, asJSON bool) error {
	st, err := a.openStore(ctx, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := st.CheckCounters(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		mismatches := res.Mismatches
		if mismatches == nil {
			mismatches = []store.CounterMismatch{}
		}
		writeJSON(a.stdout, struct {
			Campaigns  int                     `json:"campaigns"`
			Recipients int64                   `json:"recipients"`
			Mismatches []store.CounterMismatch `json:"mismatches"`
		}{res.Campaigns, res.Recipients, mismatches})
	} else if len(res.Mismatches) == 0 {
		fmt.Fprintf(a.stdout, "counters match a recount of the rows (campaigns: %d, recipients: %d)\n", res.Campaigns, res.Recipients)
	} else {
		tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "campaign\tcounter\tcounters say\trows say")
		for _, m := range res.Mismatches {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.Campaign, m.Counter, m.Counted, m.Actual)
		}
		tw.Flush()
	}
	if n := len(res.Mismatches); n > 0 {
		return fmt.Errorf("counters differ from a recount of the rows: %d differences (campaigns: %d, recipients: %d), listed above", n, res.Campaigns, res.Recipients)
	}
	return nil
}

// printResultTables prints each statement's rows as an aligned table, or
// its command tag ("INSERT 0 3") when it returns none.
func printResultTables(w io.Writer, results []store.QueryResult) {
	for i, r := range results {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if len(r.Rows) == 0 {
			fmt.Fprintln(w, r.Tag)
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		var header, rule []string
		for _, c := range r.Columns {
			header = append(header, c.Name)
			rule = append(rule, strings.Repeat("-", max(len(c.Name), 1)))
		}
		fmt.Fprintln(tw, strings.Join(header, "\t"))
		fmt.Fprintln(tw, strings.Join(rule, "\t"))
		for _, row := range r.Rows {
			cells := make([]string, len(row))
			for j, v := range row {
				cells[j] = tableCell(v)
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
		tw.Flush()
		if n := len(r.Rows); n == 1 {
			fmt.Fprintln(w, "(1 row)")
		} else {
			fmt.Fprintf(w, "(%d rows)\n", n)
		}
	}
}

// tableCell shows NULL as NULL (an empty cell would read as ”), and escapes
// the characters that would break the table's lines and columns.
func tableCell(v *string) string {
	if v == nil {
		return "NULL"
	}
	return strings.NewReplacer("\\", `\\`, "\n", `\n`, "\r", `\r`, "\t", `\t`).Replace(*v)
}

// printResultJSON prints the rows of the last statement that returned rows
// as an array of objects, keys in column order. Numbers, booleans and json
// columns keep their JSON type; everything else is a string as Postgres
// prints it (timestamps in ISO 8601).
func printResultJSON(w io.Writer, results []store.QueryResult) error {
	var last *store.QueryResult
	for i, r := range results {
		if len(r.Rows) > 0 {
			last = &results[i]
		}
	}
	rows := []json.RawMessage{}
	if last != nil {
		for _, row := range last.Rows {
			obj, err := rowJSON(last.Columns, row)
			if err != nil {
				return err
			}
			rows = append(rows, obj)
		}
	}
	writeJSON(w, rows)
	return nil
}

func rowJSON(cols []store.Column, row []*string) (json.RawMessage, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, c := range cols {
		if i > 0 {
			b.WriteByte(',')
		}
		key, _ := json.Marshal(c.Name)
		b.Write(key)
		b.WriteByte(':')
		b.Write(jsonValue(c.Type, row[i]))
	}
	b.WriteByte('}')
	if !json.Valid(b.Bytes()) {
		return nil, fmt.Errorf("print row as JSON: invalid JSON %s", b.Bytes())
	}
	return b.Bytes(), nil
}

// jsonValue converts one text-format value of a column of type typ.
func jsonValue(typ string, v *string) []byte {
	if v == nil {
		return []byte("null")
	}
	switch typ {
	case "int2", "int4", "int8", "oid", "float4", "float8", "numeric":
		// NaN and Infinity are not JSON numbers: keep them as strings.
		if _, err := strconv.ParseFloat(*v, 64); err == nil && json.Valid([]byte(*v)) {
			return []byte(*v)
		}
	case "bool":
		if *v == "t" {
			return []byte("true")
		}
		return []byte("false")
	case "json", "jsonb":
		if json.Valid([]byte(*v)) {
			return []byte(*v)
		}
	}
	s, _ := json.Marshal(*v)
	return s
}
