package main

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateDemoCSV = flag.Bool("update-demo-csv", false, "rewrite testdata/demo.csv and cmd/smsblast/demo.csv from demoCSV")

// demoValid is how many unique valid US numbers demoCSV writes, in six
// national and international formats; demo.go's constants count the rest.
const demoValid = 2500

// demoCSV builds the demo's recipient file deterministically, so the
// checked-in file is explained by code rather than by hand edits. Every row
// is a line; the awkward rows are spread through the file.
func demoCSV() []byte {
	rng := rand.New(rand.NewPCG(6, 2026))
	first := []string{"Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Dennis", "Margaret", "José", "Zoë",
		"Łukasz", "Renée", "Søren", "Amélie", "Niamh", "Tomás", "李娜", "Aroha", "Chidi", "Priya"}
	last := []string{"Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Ritchie", "Hamilton",
		"García", "Smith, Jr.", "Nowak", "O'Brien", "Kierkegaard", "Dubois", "Walsh", "Ó Súilleabháin", "Wang", "Ngata", "Okafor", "Patel"}
	days := []string{"Mon", "Tue", "Wed", "Thu", "Fri"}
	areas := []string{"415", "628", "510", "646", "212"}
	formats := []func(area, ex, line string) string{
		func(a, e, l string) string { return "+1" + a + e + l },
		func(a, e, l string) string { return "(" + a + ") " + e + "-" + l },
		func(a, e, l string) string { return a + "." + e + "." + l },
		func(a, e, l string) string { return a + "-" + e + "-" + l },
		func(a, e, l string) string { return "+1 " + a + " " + e + " " + l },
		func(a, e, l string) string { return "1 (" + a + ") " + e + "-" + l },
	}
	number := func(i, format int) string {
		n := 2000000 + i
		return formats[format%len(formats)](areas[i%len(areas)], fmt.Sprint(n/10000), fmt.Sprintf("%04d", n%10000))
	}
	var b bytes.Buffer
	b.WriteString("Phone Number,First Name,Last Name,Appointment\n")
	row := func(phone, firstName, lastName, when string) {
		fields := []string{phone, firstName, lastName, when}
		for i, f := range fields {
			if strings.ContainsAny(f, ",\"\n") {
				fields[i] = `"` + strings.ReplaceAll(f, `"`, `""`) + `"`
			}
		}
		b.WriteString(strings.Join(fields, ",") + "\n")
	}
	appointment := func() string {
		return fmt.Sprintf("%s %d:%02d", days[rng.IntN(len(days))], 8+rng.IntN(9), 15*rng.IntN(4))
	}
	person := func() (string, string) { return first[rng.IntN(len(first))], last[rng.IntN(len(last))] }

	// The awkward rows, keyed by the valid row they follow.
	extras := map[int][]func(){}
	add := func(at int, f func()) { extras[at] = append(extras[at], f) }
	magic := []string{"+1 500-555-0001", "(500) 555-0002", "+15005550003", "500.555.0004", "+1 (500) 555-0009"}
	for k, m := range magic {
		add(300+k*450, func() { row(m, "Magic", "Number", appointment()) })
	}
	add(700, func() { row("+33 6 12 34 56 78", "Amélie", "Dubois", appointment()) })
	add(1900, func() { row("+49 1512 3456789", "Søren", "Bauer", appointment()) })
	invalid := []string{"555-01", "not a number", "", "+1 123 456 7890", "12345", "415-200-012", "(000) 000-0000", "+44 7700 900123"}
	for k, p := range invalid {
		add(150+k*290, func() { row(p, "Invalid", "Number", appointment()) })
	}
	add(2222, func() { b.WriteString("+14159990000,Too,Many,Fields,Here\n") })
	for k := range demoDuplicates {
		i := (k*61 + 5) % demoValid
		add(i+20+k, func() {
			f, l := person()
			row(number(i, i+1+k), f, l, appointment())
		})
	}
	for i := range demoValid {
		f, l := person()
		row(number(i, i), f, l, appointment())
		for _, e := range extras[i] {
			e()
		}
	}
	return b.Bytes()
}

// TestDemoCSV keeps the three copies of the demo's recipients identical: the
// generator above, testdata/demo.csv (the canonical file users read) and the
// copy embedded in the binary, so `smsblast demo` works from anywhere.
func TestDemoCSV(t *testing.T) {
	t.Parallel()
	want := demoCSV()
	canonical := filepath.Join("..", "..", "testdata", "demo.csv")
	if *updateDemoCSV {
		for _, p := range []string{canonical, "demo.csv"} {
			if err := os.WriteFile(p, want, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Skip("rewrote the demo CSV: rebuild to embed it")
	}
	got, err := os.ReadFile(canonical)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("testdata/demo.csv differs from demoCSV(): run go test ./cmd/smsblast -run TestDemoCSV -update-demo-csv")
	}
	if !bytes.Equal(demoRecipients, got) {
		t.Errorf("the embedded cmd/smsblast/demo.csv differs from testdata/demo.csv: run go generate ./cmd/smsblast")
	}
}
