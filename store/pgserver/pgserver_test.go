package pgserver

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestDefaultHome(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want string
		err  bool
	}{
		{name: "SMSBLAST_HOME wins", env: map[string]string{"SMSBLAST_HOME": "/srv/sms", "XDG_DATA_HOME": "/x", "HOME": "/home/a"}, want: "/srv/sms"},
		{name: "XDG_DATA_HOME", env: map[string]string{"XDG_DATA_HOME": "/x/data", "HOME": "/home/a"}, want: "/x/data/smsblast"},
		{name: "relative XDG_DATA_HOME is ignored", env: map[string]string{"XDG_DATA_HOME": "rel", "HOME": "/home/a"}, want: "/home/a/.local/share/smsblast"},
		{name: "HOME", env: map[string]string{"HOME": "/home/a"}, want: "/home/a/.local/share/smsblast"},
		{name: "nothing", env: map[string]string{}, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := DefaultHome(func(k string) string { return tt.env[k] })
			if tt.err {
				if err == nil || !strings.Contains(err.Error(), "SMSBLAST_HOME") {
					t.Fatalf("DefaultHome = %q, %v; want an error naming SMSBLAST_HOME", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("DefaultHome = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestSocketURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ dir, want string }{
		{"/var/lib/smsblast/ab12/run", "postgres://smsblast@/smsblast?host=/var/lib/smsblast/ab12/run"},
		{"/tmp/a b&c+d", "postgres://smsblast@/smsblast?host=/tmp/a%20b%26c%2Bd"},
	}
	for _, tt := range tests {
		got := socketURL(tt.dir, "smsblast")
		if got != tt.want {
			t.Errorf("socketURL(%q) = %q, want %q", tt.dir, got, tt.want)
		}
		cfg, err := pgx.ParseConfig(got)
		if err != nil || cfg.Host != tt.dir || cfg.User != "smsblast" || cfg.Database != "smsblast" {
			t.Errorf("pgx reads %q as host %q user %q db %q (err %v)", got, cfg.Host, cfg.User, cfg.Database, err)
		}
	}
}

// writeFakeBinaries puts initdb and a pg_ctl reporting version in dir.
func writeFakeBinaries(t *testing.T, dir, version string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("#!/bin/sh\necho 'pg_ctl (PostgreSQL) %s'\n", version)
	for _, name := range []string{"initdb", "pg_ctl"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFindServerBinaries(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for _, v := range []string{"9.6", "16", "10"} {
		writeFakeBinaries(t, filepath.Join(root, "lib", v, "bin"), v+".2")
	}
	onPath := filepath.Join(root, "path")
	writeFakeBinaries(t, onPath, "14.1")
	glob := []string{filepath.Join(root, "lib", "*", "bin")}
	empty := filepath.Join(root, "empty")

	tests := []struct {
		name, pathEnv, major string
		globs                []string
		want                 string // directory of the chosen binaries
		wantErr              string
	}{
		{name: "highest version under the globs", pathEnv: empty, globs: glob, want: filepath.Join(root, "lib", "16", "bin")},
		{name: "PATH first", pathEnv: onPath, globs: glob, want: onPath},
		{name: "existing cluster keeps its version", pathEnv: onPath, globs: glob, major: "10", want: filepath.Join(root, "lib", "10", "bin")},
		{name: "two-part old majors", pathEnv: empty, globs: glob, major: "9.6", want: filepath.Join(root, "lib", "9.6", "bin")},
		{name: "existing cluster, version not installed", pathEnv: empty, globs: glob, major: "13", wantErr: "created by PostgreSQL 13"},
		{name: "nothing installed", pathEnv: empty, globs: []string{filepath.Join(root, "none", "*", "bin")}, wantErr: ErrNoServerBinaries.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := findServerBinaries(tt.pathEnv, tt.globs, tt.major)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("findServerBinaries = %+v, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got.pgCtl != filepath.Join(tt.want, "pg_ctl") || got.initdb != filepath.Join(tt.want, "initdb") {
				t.Fatalf("findServerBinaries = %+v, %v; want binaries in %s", got, err, tt.want)
			}
		})
	}
}

func TestHasIdentLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, conf string
		want       bool
	}{
		{name: "as written", conf: "# comment\n" + identLine("alice") + "\n", want: true},
		{name: "other spacing, trailing comment", conf: "smsblast\t\"alice\"   smsblast  # mine\n", want: true},
		{name: "no final newline", conf: identLine("alice"), want: true},
		{name: "commented out", conf: "# " + identLine("alice") + "\n"},
		{name: "another user", conf: identLine("bob") + "\n"},
		{name: "another role", conf: "smsblast \"alice\" postgres\n"},
		{name: "empty", conf: ""},
	}
	for _, tt := range tests {
		if got := hasIdentLine([]byte(tt.conf), "alice"); got != tt.want {
			t.Errorf("%s: hasIdentLine(%q) = %v, want %v", tt.name, tt.conf, got, tt.want)
		}
	}
}
