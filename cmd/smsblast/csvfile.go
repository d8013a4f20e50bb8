package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/gocarina/gocsv"
)

// readCSVRows reads a CSV of a fixed schema — a header, then one record per
// row — into values of T with gocsv, whose csv struct tags name the
// columns. It calls fn for every record with the record's line in the file
// (where it starts: a quoted field may span lines) and the row, or the
// row's problem (a missing or extra field, a value gocsv cannot convert)
// as rowErr; fn decides whether a bad row stops the file. A malformed file
// (a bare quote, an unterminated field) stops it with the line.
//
// Headers are matched without regard to case or surrounding space (and a
// UTF-8 byte order mark); required lists the columns that must be there
// and hold a value in every row (gocsv reads a blank number as 0, which
// must never pass for a price).
// Rows are converted one at a time, so memory does not grow with the file
// and a bad row does not hide the rows after it.
func readCSVRows[T any](in io.Reader, required []string, fn func(line int, row *T, rowErr error) error) error {
	cr := csv.NewReader(in)
	cr.FieldsPerRecord = -1 // field counts are checked here, per row
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return errors.New("the file is empty: it needs a header line")
	}
	if err != nil {
		return csvFileError(err)
	}
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff")
		}
		header[i] = strings.ToLower(strings.TrimSpace(h))
	}
	for i, h := range header {
		if slices.Contains(header[:i], h) {
			return fmt.Errorf("line 1: column %q appears twice", h)
		}
	}
	var missing []string
	for _, r := range required {
		if !slices.Contains(header, r) {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("line 1: the header has no %s column (it has %s; the columns are %s)",
			strings.Join(missing, ", "), strings.Join(header, ","), strings.Join(required, ","))
	}
	one := &oneRecord{header: header}
	var out []T
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return csvFileError(err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(header) {
			if err := fn(line, nil, fmt.Errorf("has %d fields; the header has %d", len(rec), len(header))); err != nil {
				return err
			}
			continue
		}
		if col := blankColumn(header, rec, required); col != "" {
			if err := fn(line, nil, fmt.Errorf("%s is empty", col)); err != nil {
				return err
			}
			continue
		}
		one.rec, one.done = rec, false
		out = out[:0]
		if err := gocsv.UnmarshalCSV(one, &out); err != nil || len(out) != 1 {
			if err := fn(line, nil, conversionError(header, err)); err != nil {
				return err
			}
			continue
		}
		if err := fn(line, &out[0], nil); err != nil {
			return err
		}
	}
}

// blankColumn is the first of the required columns that is blank in rec.
func blankColumn(header, rec, required []string) string {
	for i, h := range header {
		if strings.TrimSpace(rec[i]) == "" && slices.Contains(required, h) {
			return h
		}
	}
	return ""
}

// oneRecord is a gocsv.CSVReader over the header and one record, so that
// gocsv converts one row at a time.
type oneRecord struct {
	header, rec []string
	done        bool
}

func (o *oneRecord) Read() ([]string, error) {
	rows, _ := o.ReadAll()
	if len(rows) == 0 {
		return nil, io.EOF
	}
	return rows[0], nil
}

func (o *oneRecord) ReadAll() ([][]string, error) {
	if o.done {
		return nil, nil
	}
	o.done = true
	return [][]string{o.header, o.rec}, nil
}

// conversionError names the column of a value gocsv could not convert.
func conversionError(header []string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) && pe.Column >= 1 && pe.Column <= len(header) {
		col := header[pe.Column-1]
		var ne *strconv.NumError
		if errors.As(pe.Err, &ne) {
			return fmt.Errorf("%s %q is not a number", col, ne.Num)
		}
		return fmt.Errorf("%s: %v", col, pe.Err)
	}
	if err == nil {
		err = errors.New("cannot be read")
	}
	return err
}

// csvFileError words encoding/csv's error about a malformed file with its
// line first, as every error about a file's content is.
func csvFileError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("line %d: %w", pe.StartLine, pe.Err)
	}
	return err
}
