package main

import (
	"fmt"
	"strings"

	"github.com/smsblast/smsblast/store"
	"github.com/smsblast/smsblast/twilio/twiliosim"
)

// The demo's report: what happened and which checks held, printed as the
// story's last lines or, with --json, as one JSON document for scripts.

// demoReport is the --json output: what happened and which checks held.
type demoReport struct {
	Campaign    string           `json:"campaign"`
	DatabaseURL string           `json:"database_url"`
	Import      demoImport       `json:"import"`
	Interrupt   demoInterrupt    `json:"interrupt"`
	Counts      map[string]int64 `json:"counts"`
	Failures    []demoFailure    `json:"failures"`
	Simulator   twiliosim.Stats  `json:"simulator"`
	Checks      []demoCheck      `json:"checks"`
	OK          bool             `json:"ok"`
	Elapsed     float64          `json:"elapsed_seconds"`
}

type demoImport struct {
	Read       int            `json:"read"`
	Imported   int            `json:"imported"`
	Duplicates int            `json:"duplicates"`
	Rejected   int            `json:"rejected"`
	RejectedBy map[string]int `json:"rejected_by"`
	Segments   int            `json:"segments"`
}

// demoInterrupt is where the first send stopped.
type demoInterrupt struct {
	// Done is how many recipients had an answer when the demo interrupted.
	Done int64 `json:"done"`
	// Pending and InDoubt are what the resume started from.
	Pending int64 `json:"pending"`
	InDoubt int64 `json:"in_doubt"`
}

type demoFailure struct {
	Status      string `json:"status"`
	Code        int    `json:"error_code"`
	Description string `json:"description"`
	Count       int    `json:"count"`
}

type demoCheck struct {
	What string `json:"what"`
	OK   bool   `json:"ok"`
	Got  string `json:"got,omitempty"`
}

// setResults keeps the counts of the campaign_stats row and the failures by
// error code, as the results step printed them.
func (r *demoReport) setResults(stats, failures store.QueryResult) {
	r.Counts = map[string]int64{}
	if len(stats.Rows) == 1 {
		for i, c := range stats.Columns {
			var n int64
			if _, err := fmt.Sscan(orEmpty(stats.Rows[0][i]), &n); err == nil && !strings.Contains(c.Name, "rate") {
				r.Counts[c.Name] = n
			}
		}
	}
	r.Failures = []demoFailure{}
	for _, row := range failures.Rows {
		var fl demoFailure
		fl.Status, fl.Description = orEmpty(row[0]), orEmpty(row[2])
		fmt.Sscan(orEmpty(row[1]), &fl.Code)
		fmt.Sscan(orEmpty(row[3]), &fl.Count)
		r.Failures = append(r.Failures, fl)
	}
}

// orEmpty is a query's text value, NULL as "".
func orEmpty(v *string) string {
	if v == nil {
		return ""
	}
	return *v
}

// failed counts the checks that did not hold, and sets OK.
func (r *demoReport) failed() int {
	n := 0
	for _, c := range r.Checks {
		if !c.OK {
			n++
		}
	}
	r.OK = n == 0
	return n
}

// printChecks lists the checks, each marked, with what was found instead
// for those that did not hold.
func (d *demo) printChecks() {
	for _, ck := range d.report.Checks {
		mark := "✓"
		if !ck.OK {
			mark = "✗"
		}
		d.say("  %s %s", mark, ck.What)
		if !ck.OK {
			d.say("      got: %s", ck.Got)
		}
	}
}
