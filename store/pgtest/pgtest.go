// Package pgtest gives every package's tests a real PostgreSQL database:
// a fresh, fully migrated, empty database per test, cloned from a template
// that is migrated once, so tests run in parallel without seeing each
// other's rows.
//
// A package opts in with
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// and its tests call URL or Store. The server is found once per test binary,
// in this order:
//
//  1. TEST_DATABASE_URL, a server you run (its user needs CREATEDB). The
//     template stays there between runs, named after a hash of the
//     migrations, so a changed schema gets a new one; your own databases are
//     never touched.
//  2. testcontainers-go's postgres module, when a Docker daemon answers.
//  3. A throw-away cluster from the local PostgreSQL server binaries
//     (pgserver.Embedded on a temporary home), removed by Main.
//
// With none of these the tests fail, saying how to provide one.
//
// All functions are safe for concurrent use by parallel tests.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/smsblast/smsblast/migrations"
	"github.com/smsblast/smsblast/store"
	"github.com/smsblast/smsblast/twilio"
)

// EnvURL names the variable that points the tests at a server you run.
const EnvURL = "TEST_DATABASE_URL"

var (
	mainCalled atomic.Bool

	serverOnce sync.Once
	srv        *server
	srvErr     error

	// cloneMu serialises CREATE DATABASE … TEMPLATE within the binary:
	// Postgres refuses to clone a template while another session uses it,
	// and concurrent clones of one template only contend anyway.
	cloneMu sync.Mutex
	dbSeq   atomic.Int64
)

// server is a Postgres the test binary uses, with its template database.
type server struct {
	source   string // for messages: where the server came from
	maintURL string // the maintenance database, for CREATE/DROP DATABASE
	admin    *pgxpool.Pool
	template string
	prefix   string // names this binary's databases apart from other binaries'
	// cloneOpts is " STRATEGY FILE_COPY" on PostgreSQL 15+, whose default
	// (WAL_LOG) writes the whole template through the WAL: 3x slower here.
	cloneOpts string
	teardown  func(context.Context) error
}

// Main runs the tests and then tears down what pgtest started: the
// container, or the throw-away cluster with its files. Call it from TestMain.
func Main(m *testing.M) int {
	mainCalled.Store(true)
	code := m.Run()
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		srv.admin.Close()
		if srv.teardown != nil {
			if err := srv.teardown(ctx); err != nil {
				fmt.Fprintf(os.Stderr, "pgtest: tear down %s: %v\n", srv.source, err)
				if code == 0 {
					code = 1
				}
			}
		}
	}
	return code
}

// URL returns the connection string of a new database for this test: empty
// of rows, fully migrated, and dropped when the test ends.
func URL(t testing.TB) string {
	t.Helper()
	s := get(t)
	name := fmt.Sprintf("%s_%d", s.prefix, dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.clone(ctx, name); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// FORCE: a test may leave connections open; they must not leak
		// databases.
		if _, err := s.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+quoteIdent(name)+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return withDatabase(s.maintURL, name)
}

// Store opens a *store.Store on a new database (see URL), closed when the
// test ends.
func Store(t testing.TB) *store.Store {
	t.Helper()
	url := URL(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, url, store.Options{ApplicationName: "pgtest " + t.Name()})
	if err != nil {
		t.Fatalf("pgtest: open store: %v", err)
	}
	t.Cleanup(st.Close)
	return st
}

// ServerURL returns the connection string of the server's maintenance
// database, for tests that create their own databases or hand a server to a
// subprocess. Databases made there are the test's to drop.
func ServerURL(t testing.TB) string {
	t.Helper()
	return get(t).maintURL
}

func get(t testing.TB) *server {
	t.Helper()
	if !mainCalled.Load() {
		t.Fatalf("pgtest: the package's tests need func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }, so that the test server is torn down after them")
	}
	serverOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		srv, srvErr = connect(ctx, t.Logf)
	})
	if srvErr != nil {
		t.Fatalf("pgtest: %v", srvErr)
	}
	return srv
}

// connect finds a server and prepares its template.
func connect(ctx context.Context, logf func(string, ...any)) (*server, error) {
	s, err := findServer(ctx, logf)
	if err != nil {
		return nil, err
	}
	if err := s.setup(ctx); err != nil {
		if s.admin != nil {
			s.admin.Close()
		}
		if s.teardown != nil {
			_ = s.teardown(ctx)
		}
		return nil, fmt.Errorf("prepare test databases on %s: %w", s.source, err)
	}
	return s, nil
}

func (s *server) setup(ctx context.Context) error {
	cfg, err := pgxpool.ParseConfig(s.maintURL)
	if err != nil {
		return fmt.Errorf("parse server URL: %w", err)
	}
	cfg.MaxConns = 4
	cfg.ConnConfig.RuntimeParams["application_name"] = "pgtest"
	if s.admin, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return fmt.Errorf("open admin pool: %w", err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	s.prefix = "smsblast_test_" + hex.EncodeToString(b[:])
	s.template = "smsblast_template_" + migrationsHash()
	var version int
	if err := s.admin.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		return fmt.Errorf("read server version: %w", err)
	}
	if version >= 150000 {
		s.cloneOpts = " STRATEGY FILE_COPY"
	}
	return s.buildTemplate(ctx)
}

// templateLockKey is the advisory lock that serialises template builds
// across test binaries sharing a server ("pgtest" in ASCII).
const templateLockKey = 0x7067746573740000

// buildTemplate creates and migrates the template unless it exists. Test
// binaries of `go test ./...` run in parallel and may share a server (with
// TEST_DATABASE_URL), so the check-and-build runs under an advisory lock,
// and the template only gets its final name once fully migrated: a binary
// that dies midway leaves a *_build database that the next one replaces.
func (s *server) buildTemplate(ctx context.Context) error {
	conn, err := s.admin.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connect to server: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(templateLockKey)); err != nil {
		return fmt.Errorf("lock template build: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(templateLockKey))

	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", s.template).Scan(&exists); err != nil {
		return fmt.Errorf("look up template %s: %w", s.template, err)
	}
	if exists {
		return nil
	}
	build := s.template + "_build"
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+quoteIdent(build)+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop unfinished template %s: %w", build, err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+quoteIdent(build)); err != nil {
		return fmt.Errorf("create template %s: %w", build, err)
	}
	st, err := store.Open(ctx, withDatabase(s.maintURL, build), store.Options{ApplicationName: "pgtest template", ErrorCodes: errorCodes()})
	if err != nil {
		return fmt.Errorf("migrate template %s: %w", build, err)
	}
	st.Close()
	// Backends of the closed pool may take a moment to exit, and renaming
	// needs the database to be unused.
	rename := "ALTER DATABASE " + quoteIdent(build) + " RENAME TO " + quoteIdent(s.template)
	if err := retryInUse(ctx, func() error { _, err := conn.Exec(ctx, rename); return err }); err != nil {
		return fmt.Errorf("finish template %s: %w", s.template, err)
	}
	// Nobody may connect to the template: a session on it would make every
	// clone fail.
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+quoteIdent(s.template)+" WITH ALLOW_CONNECTIONS false"); err != nil {
		return fmt.Errorf("close template %s to connections: %w", s.template, err)
	}
	return nil
}

func (s *server) clone(ctx context.Context, name string) error {
	cloneMu.Lock()
	defer cloneMu.Unlock()
	q := "CREATE DATABASE " + quoteIdent(name) + " TEMPLATE " + quoteIdent(s.template) + s.cloneOpts
	if err := retryInUse(ctx, func() error { _, err := s.admin.Exec(ctx, q); return err }); err != nil {
		return fmt.Errorf("create database %s from %s on %s: %w", name, s.template, s.source, err)
	}
	return nil
}

// retryInUse retries f while Postgres says the database is in use by other
// sessions (SQLSTATE 55006): sessions that have just disconnected can take a
// moment to go away.
func retryInUse(ctx context.Context, f func() error) error {
	for {
		err := f()
		var pgErr *pgconn.PgError
		if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "55006" {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// migrationsHash names the template's contents: any change to a migration
// file or to the error table changes it, so a template left on a shared
// server by an older checkout is never mistaken for the current one.
func migrationsHash() string {
	h := sha256.New()
	_ = fs.WalkDir(migrations.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS, path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
		h.Write(b)
		return nil
	})
	fmt.Fprintf(h, "%v", errorCodes())
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// withDatabase returns url naming database db instead, for both URL
// ("postgres://…/db?…") and keyword/value ("host=… dbname=…") forms.
func withDatabase(url, db string) string {
	if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
		rest := url[strings.Index(url, "://")+3:]
		scheme := url[:len(url)-len(rest)]
		query := ""
		if i := strings.IndexByte(rest, '?'); i >= 0 {
			rest, query = rest[:i], rest[i:]
		}
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			rest = rest[:i]
		}
		return scheme + rest + "/" + db + query
	}
	// libpq and pgx both let a later keyword override an earlier one.
	return url + " dbname=" + db
}

func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// errorCodes is the Twilio client's error table, which smsblast's commands
// keep twilio_errors in step with; every test database starts with it.
func errorCodes() []store.ErrorCode {
	var out []store.ErrorCode
	for _, c := range twilio.Codes() {
		out = append(out, store.ErrorCode{Code: c.Code, HTTPStatus: c.HTTPStatus, Description: c.Description, Class: c.TableClass(), Retryable: c.Retryable})
	}
	return out
}
