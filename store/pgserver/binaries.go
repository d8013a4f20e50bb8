package pgserver

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// serverBinaries are the absolute paths of the programs Embedded runs.
type serverBinaries struct {
	initdb, pgCtl string
}

// findServerBinaries looks for initdb and pg_ctl on pathEnv, then under the
// globs, highest version first. major, when set, is the version of an
// existing cluster: only binaries of that major version can run it.
func findServerBinaries(pathEnv string, globs []string, major string) (serverBinaries, error) {
	var dirs []string
	for _, d := range filepath.SplitList(pathEnv) {
		if d != "" && filepath.IsAbs(d) {
			dirs = append(dirs, d)
		}
	}
	var versioned []string
	for _, g := range globs {
		m, _ := filepath.Glob(g)
		versioned = append(versioned, m...)
	}
	// /usr/lib/postgresql/16/bin before /usr/lib/postgresql/9.6/bin.
	sort.SliceStable(versioned, func(i, j int) bool {
		return versionLess(dirVersion(versioned[j]), dirVersion(versioned[i]))
	})
	dirs = append(dirs, versioned...)

	var found []string
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "pg_ctl")) {
			found = append(found, d)
		}
	}
	if len(found) == 0 {
		return serverBinaries{}, ErrNoServerBinaries
	}
	pick := found[0]
	if major != "" {
		pick = ""
		for _, d := range found {
			if binaryMajor(d) == major {
				pick = d
				break
			}
		}
		if pick == "" {
			return serverBinaries{}, fmt.Errorf("find PostgreSQL %s server binaries: the embedded cluster was created by PostgreSQL %s, but only other versions are installed (%s): install PostgreSQL %s, or upgrade the cluster with pg_upgrade", major, major, strings.Join(found, ", "), major)
		}
	}
	return serverBinaries{initdb: filepath.Join(pick, "initdb"), pgCtl: filepath.Join(pick, "pg_ctl")}, nil
}

// binaryMajor returns the major version of the pg_ctl in dir ("15", "9.6").
func binaryMajor(dir string) string {
	out, err := exec.Command(filepath.Join(dir, "pg_ctl"), "--version").Output()
	if err != nil {
		return ""
	}
	// "pg_ctl (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
	fields := strings.Fields(string(out))
	if len(fields) < 3 {
		return ""
	}
	v := strings.Split(fields[2], ".")
	major := leadingDigits(v[0])
	if n, _ := strconv.Atoi(major); n > 0 && n < 10 && len(v) >= 2 {
		return major + "." + leadingDigits(v[1]) // 9.6 and older: two-part majors
	}
	return major
}

func leadingDigits(s string) string {
	for i, r := range s {
		if r < '0' || r > '9' {
			return s[:i]
		}
	}
	return s
}

// dirVersion extracts "16" from /usr/lib/postgresql/16/bin.
func dirVersion(binDir string) string {
	return filepath.Base(filepath.Dir(binDir))
}

// versionLess compares dotted version numbers numerically.
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, _ := strconv.Atoi(as[i])
		y, _ := strconv.Atoi(bs[i])
		if x != y {
			return x < y
		}
	}
	return len(as) < len(bs)
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
