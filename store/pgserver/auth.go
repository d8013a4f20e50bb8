package pgserver

// Who may connect. The server has no TCP listener, only its Unix socket,
// whose directory belongs to the server user with mode 0700: only that user
// and root can reach it. Peer authentication narrows that to the OS user
// running smsblast: the server asks the kernel who is at the other end of
// the socket and admits only the users pg_ident.conf maps to a role in map
// "smsblast". smsblast adds the user it runs as — as root that is root, not
// the server user — so a process running as "postgres" or "nobody" is not
// a database superuser merely because it can reach the socket. There is no
// password, so none can leak through `smsblast db url`, ps or a shell
// history, and psql and any number of smsblast processes run by that user
// connect with the plain URL.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// identMap names smsblast's map in pg_ident.conf.
const identMap = "smsblast"

// hbaConf is the whole of pg_hba.conf, rewritten on every start.
const hbaConf = `# Written by smsblast on every start of the embedded server; edits are lost.
# Connections come only through the Unix socket (there is no TCP listener),
# and only from the OS users that pg_ident.conf maps to a database role in
# map "smsblast": smsblast adds the user that runs it. Anything else,
# TCP included, matches no line and is refused.
local all all peer map=smsblast
`

// invokingUser returns the name peer authentication sees for this process:
// that of its effective user id.
func invokingUser() (string, error) {
	uid := os.Geteuid()
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		return "", fmt.Errorf("name the OS user that may connect to embedded PostgreSQL: uid %d: %w: give it an entry in the user database, or set DATABASE_URL", uid, err)
	}
	if strings.ContainsAny(u.Username, "\"#") || strings.HasPrefix(u.Username, "/") ||
		strings.ContainsFunc(u.Username, func(r rune) bool { return r < ' ' }) {
		return "", fmt.Errorf("name the OS user that may connect to embedded PostgreSQL: %q cannot be written in pg_ident.conf: run smsblast as another user, or set DATABASE_URL", u.Username)
	}
	return u.Username, nil
}

// identLine maps OS user name to Role. Quoting keeps names with spaces,
// commas or capitals literal.
func identLine(name string) string {
	return identMap + ` "` + name + `" ` + Role
}

// hasIdentLine reports whether the pg_ident.conf text maps name the way
// identLine does, whatever the spacing.
func hasIdentLine(conf []byte, name string) bool {
	want := strings.Join(strings.Fields(identLine(name)), " ")
	for line := range strings.Lines(string(conf)) {
		line, _, _ = strings.Cut(line, "#")
		if strings.Join(strings.Fields(line), " ") == want {
			return true
		}
	}
	return false
}

// writeAuth makes pg_hba.conf hbaConf and makes sure pg_ident.conf lets
// osUser in, keeping the users already there. It reports whether it changed
// either, so that a running server must reload them; that is also how a
// cluster made by an older smsblast, which trusted every local connection,
// is switched over.
func (c *cluster) writeAuth(osUser string) (changed bool, err error) {
	const hba, ident = "data/pg_hba.conf", "data/pg_ident.conf"
	if b, err := c.root.ReadFile(hba); err != nil || string(b) != hbaConf {
		if err := c.writeFile(hba, []byte(hbaConf), 0o600); err != nil {
			return false, err
		}
		changed = true
	}
	b, err := c.root.ReadFile(ident)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return changed, fmt.Errorf("read %s: %w", c.path(ident), err)
	}
	if hasIdentLine(b, osUser) {
		return changed, nil
	}
	if len(b) > 0 && !bytes.HasSuffix(b, []byte("\n")) {
		b = append(b, '\n')
	}
	b = fmt.Appendf(b, "# Added by smsblast, run by this OS user.\n%s\n", identLine(osUser))
	if err := c.writeFile(ident, b, 0o600); err != nil {
		return changed, err
	}
	return true, nil
}

// authCurrent reports whether the cluster in dir has the pg_hba.conf this
// version writes. Start checks it even when the server lets it in: a
// cluster made by an older smsblast lets everyone in.
func authCurrent(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "data", "pg_hba.conf"))
	return err == nil && string(b) == hbaConf
}

// reload makes the running server read pg_hba.conf and pg_ident.conf again.
func (e *Embedded) reload(ctx context.Context, c *cluster, bins serverBinaries) error {
	e.logger().Info("reloading embedded PostgreSQL's authentication settings", "data", c.dataDir)
	if out, err := e.command(ctx, c, bins.pgCtl, "reload", "-D", c.dataDir); err != nil {
		return fmt.Errorf("reload embedded PostgreSQL in %s: %w: %s", c.dataDir, err, out)
	}
	return nil
}

// refusedLogin reports whether err is the server turning down a login, as
// opposed to no server answering.
func refusedLogin(err error) bool {
	var pgErr *pgconn.PgError
	// Class 28: invalid authorization specification.
	return errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "28")
}

// waitForLogin retries a connection until the server, which has been told
// to reload, lets us in; it applies the reload a moment after the signal.
func waitForLogin(ctx context.Context, url string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := ping(ctx, url)
		if err == nil || !refusedLogin(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
