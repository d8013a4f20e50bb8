package csvimport

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/smsblast/smsblast/campaign"
)

type csvRow struct {
	line   int
	fields string // joined with |
	raw    string
}

func readAllCSV(t *testing.T, in string, max int) ([]string, []csvRow, error) {
	t.Helper()
	r, err := NewReader(strings.NewReader(in), max)
	if err != nil {
		return nil, nil, err
	}
	var rows []csvRow
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return r.Header(), rows, nil
		}
		if err != nil {
			return r.Header(), rows, err
		}
		rows = append(rows, csvRow{rec.Line, strings.Join(rec.Fields, "|"), string(rec.Raw)})
	}
}

func TestCSVReader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		max     int
		header  string
		rows    []csvRow
		wantErr error
		errText string
	}{
		{name: "plain", in: "phone,name\n+14155550100,Ann\n+14155550101,Bob\n", header: "phone|name",
			rows: []csvRow{{2, "+14155550100|Ann", "+14155550100,Ann"}, {3, "+14155550101|Bob", "+14155550101,Bob"}}},
		{name: "bom crlf no final newline", in: "\xef\xbb\xbfphone,name\r\n1,A\r\n2,B", header: "phone|name",
			rows: []csvRow{{2, "1|A", "1,A"}, {3, "2|B", "2,B"}}},
		{name: "quoted newline and comma, blank lines", in: "phone,note\n\n1,\"a,\nb\"\n\r\n\n2,c\n", header: "phone|note",
			rows: []csvRow{{3, "1|a,\nb", "1,\"a,\nb\""}, {7, "2|c", "2,c"}}},
		{name: "wrong field count is a record", in: "phone,name\n1\n2,B,extra\n", header: "phone|name",
			rows: []csvRow{{2, "1", "1"}, {3, "2|B|extra", "2,B,extra"}}},
		{name: "empty", in: "", wantErr: ErrNoHeader, errText: "no header row: the file is empty"},
		{name: "only blank lines", in: "\n\r\n\n", wantErr: ErrNoHeader},
		{name: "bom only", in: "\xef\xbb\xbf", wantErr: ErrNoHeader},
		{name: "invalid utf8", in: "phone,name\n1,A\n2,\xff\xfe\xfd\n", header: "phone|name",
			rows: []csvRow{{2, "1|A", "1,A"}}, wantErr: ErrInvalidUTF8, errText: "line 3: invalid UTF-8"},
		{name: "binary", in: "phone,name\n1,\x00\x01\x02\n", header: "phone|name", wantErr: ErrBinary, errText: "line 2: binary data"},
		{name: "utf16", in: "\xff\xfep\x00h\x00", wantErr: ErrBinary, errText: "UTF-16"},
		{name: "bare quote", in: "phone,name\n1,A\n2,B\"x\n", header: "phone|name",
			rows: []csvRow{{2, "1|A", "1,A"}}, wantErr: ErrCSVSyntax, errText: "line 3: malformed CSV"},
		{name: "record too long", in: "phone,name\n1,A\n\n2,\"" + strings.Repeat("x", 300) + "\"\n", max: 100, header: "phone|name",
			rows: []csvRow{{2, "1|A", "1,A"}}, wantErr: ErrRecordTooLong, errText: "line 4: record too long"},
		{name: "lines ended by CR alone", in: "phone,name\r1,A\r\"2\r\",B\r\r3,C\r", header: "phone|name",
			rows: []csvRow{{2, "1|A", "1,A"}, {3, "2\n|B", "\"2\n\",B"}, {6, "3|C", "3,C"}}},
		{name: "a CR in the header of a CRLF file", in: "phone,\"na\rme\"\r\n1,A\r\n",
			wantErr: ErrCSVSyntax, errText: "line 1: malformed CSV: the header holds a carriage return"},
		{name: "unbalanced quote runs past cap", in: "phone,name\n1,A\n2,\"" + strings.Repeat("x,y\n", 100000), max: 1000, header: "phone|name",
			rows: []csvRow{{2, "1|A", "1,A"}}, wantErr: ErrRecordTooLong, errText: "line 3: record too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			header, rows, err := readAllCSV(t, tt.in, tt.max)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.errText) {
					t.Fatalf("error = %v; want %v containing %q", err, tt.wantErr, tt.errText)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(header, "|"); got != tt.header {
				t.Errorf("header = %q; want %q", got, tt.header)
			}
			if len(rows) != len(tt.rows) {
				t.Fatalf("rows = %+v; want %+v", rows, tt.rows)
			}
			for i := range rows {
				if rows[i] != tt.rows[i] {
					t.Errorf("row %d = %+v; want %+v", i, rows[i], tt.rows[i])
				}
			}
		})
	}
}

func TestNormalizeHeader(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"First Name": "first_name", "firstName": "first_name", " Phone-Number ": "phone_number",
		"E-mail": "e_mail", "userID": "user_id", "ZIP code (5)": "zip_code_5", "Prénom": "prénom",
		"__x__": "x", "": "", "MSISDN": "msisdn", "address2": "address2",
	} {
		if got := NormalizeHeader(in); got != want {
			t.Errorf("NormalizeHeader(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestPlanColumns(t *testing.T) {
	t.Parallel()
	tests := []struct {
		header  string
		flag    string
		phone   int
		keys    string
		wantErr error
		errText string
	}{
		{header: "Name,Phone Number,City", phone: 1, keys: "name|city"},
		{header: "to,mobile", phone: 0, keys: "mobile"},
		{header: "Cell,First Name", phone: 0, keys: "first_name"},
		{header: "home,work", flag: "Work", phone: 1, keys: "home"},
		{header: "name,email", wantErr: ErrNoPhoneColumn, errText: `headers found: "name", "email"`},
		{header: "name,phone", flag: "mobile", wantErr: ErrNoPhoneColumn, errText: `no column "mobile"`},
		{header: "phone,First Name,first_name", wantErr: ErrDuplicateColumn, errText: `"First Name" (column 2) and "first_name" (column 3) both become first_name`},
		{header: "phone,,x", phone: 0, keys: "column_2|x"},
	}
	for _, tt := range tests {
		cols, err := PlanColumns(strings.Split(tt.header, ","), tt.flag)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("PlanColumns(%q) error = %v; want %v containing %q", tt.header, err, tt.wantErr, tt.errText)
			}
			continue
		}
		if err != nil {
			t.Errorf("PlanColumns(%q): %v", tt.header, err)
			continue
		}
		if cols.Phone != tt.phone || strings.Join(cols.AttrKeys(), "|") != tt.keys {
			t.Errorf("PlanColumns(%q) = phone %d keys %q; want %d %q", tt.header, cols.Phone, cols.AttrKeys(), tt.phone, tt.keys)
		}
	}
}

func TestCheckTemplate(t *testing.T) {
	t.Parallel()
	cols, err := PlanColumns([]string{"Phone", "First Name", "City"}, "")
	if err != nil {
		t.Fatal(err)
	}
	for body, errText := range map[string]string{
		"Hi {{.first_name}} in {{.city}}":       "",
		"Hi {{.name}}":                          "reads .name but the CSV has no such column; columns: first_name, city",
		"{{if .vip}}VIP{{end}} {{.first_name}}": "reads .vip",
		"Your number {{.phone}}":                "it is the phone column",
		"static text":                           "",
	} {
		tmpl, err := campaign.ParseTemplate(body)
		if err != nil {
			t.Fatal(err)
		}
		err = cols.CheckTemplate(tmpl)
		if errText == "" && err != nil || errText != "" && (!errors.Is(err, ErrMissingColumn) || !strings.Contains(err.Error(), errText)) {
			t.Errorf("CheckTemplate(%q) = %v; want %q", body, err, errText)
		}
	}
}
