package pgtest

import "testing"

func TestWithDatabase(t *testing.T) {
	t.Parallel()
	tests := []struct{ url, want string }{
		{"postgres://smsblast@/postgres?host=/tmp/x/run", "postgres://smsblast@/db1?host=/tmp/x/run"},
		{"postgresql://u:p%2Fq@h:5433/app?sslmode=disable", "postgresql://u:p%2Fq@h:5433/db1?sslmode=disable"},
		{"postgres://u@h1:5432,h2:5432", "postgres://u@h1:5432,h2:5432/db1"},
		{"host=/run/pg dbname=app user=u", "host=/run/pg dbname=app user=u dbname=db1"},
	}
	for _, tt := range tests {
		if got := withDatabase(tt.url, "db1"); got != tt.want {
			t.Errorf("withDatabase(%q) = %q, want %q", tt.url, got, tt.want)
		}
	}
}

func TestMigrationsHashIsStable(t *testing.T) {
	t.Parallel()
	a, b := migrationsHash(), migrationsHash()
	if a != b || len(a) != 12 {
		t.Fatalf("migrationsHash = %q then %q", a, b)
	}
}
