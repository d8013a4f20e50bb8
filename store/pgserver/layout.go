package pgserver

// Where a cluster lives, and how it is touched. As root, everything in a
// cluster directory belongs to the server user, and so may be replaced by
// anything running as that user; and Home itself may be writable by others.
// A chown, chmod or write that followed a link planted there would hand any
// file or directory on the machine to the server user. So:
//
//   - Home/pg is either a real directory or the one symlink smsblast makes,
//     to sharedClusterDir(home); any other link is refused (ErrForeignLink),
//     checked with Lstat and Readlink, never followed to find out.
//   - Once found, the cluster directory is opened as an os.Root, and every
//     chown, mkdir, write and rename inside it goes through that handle:
//     no path can lead out of it. Directories are checked with Lstat and
//     chowned with Lchown; files are written as new files (O_EXCL) that are
//     renamed over the old name, so a link planted at that name is
//     replaced, not written through.

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// sharedClusterDir is where the cluster of home lives when the server user
// cannot reach home: /var/lib/smsblast/<hash of home's real path>. It is
// the only place Home/pg may link to.
func sharedClusterDir(home string) (string, error) {
	real, err := filepath.EvalSymlinks(home)
	if err != nil {
		return "", fmt.Errorf("resolve SMSBLAST_HOME %s: %w", home, err)
	}
	sum := sha256.Sum256([]byte(real))
	return filepath.Join(sharedClusterRoot, hex.EncodeToString(sum[:6])), nil
}

// locateCluster finds the cluster directory behind Home/pg without creating
// or following anything it did not make. linked reports whether Home/pg is
// smsblast's symlink. The error wraps fs.ErrNotExist when Home/pg, or the
// directory it links to, is missing; dir is then where it belongs.
func locateCluster(home string) (dir string, linked bool, err error) {
	link := filepath.Join(home, "pg")
	fi, err := os.Lstat(link)
	switch {
	case err != nil:
		return link, false, fmt.Errorf("inspect embedded cluster directory %s: %w", link, err)
	case fi.IsDir():
		return link, false, nil
	case fi.Mode()&fs.ModeSymlink == 0:
		return "", false, fmt.Errorf("use %s as the embedded cluster directory: it is not a directory: move it out of the way", link)
	}
	want, err := sharedClusterDir(home)
	if err != nil {
		return "", true, err
	}
	got, err := os.Readlink(link)
	if err != nil {
		return "", true, fmt.Errorf("read embedded cluster link %s: %w", link, err)
	}
	if got != want {
		return "", true, fmt.Errorf("use %s as the embedded cluster directory: it is %w (it points to %s); the only link smsblast follows there is its own, to %s: remove %s, or, if %s is this home's cluster from before SMSBLAST_HOME moved, move it to %s",
			link, ErrForeignLink, got, want, link, got, want)
	}
	fi, err = os.Lstat(want)
	switch {
	case err != nil:
		return want, true, fmt.Errorf("inspect embedded cluster directory %s: %w", want, err)
	case !fi.IsDir():
		return "", true, fmt.Errorf("use %s as the embedded cluster directory: it is not a directory: remove it", want)
	}
	return want, true, nil
}

// existingCluster resolves Home/pg without creating anything. A cluster
// that does not exist yet is returned uninitialised.
func existingCluster(home string) (*cluster, error) {
	dir, _, err := locateCluster(home)
	if errors.Is(err, fs.ErrNotExist) {
		return newCluster(filepath.Join(home, "pg"), nil), nil
	}
	if err != nil {
		return nil, err
	}
	runAs, err := serverUserFor(filepath.Join(dir, "data"))
	if err != nil {
		return nil, err
	}
	return newCluster(dir, runAs), nil
}

// prepareCluster finds or creates the cluster directory and its socket
// directory, as root choosing where the cluster lives (see the package
// doc), and opens it for the writes that follow. The caller holds the lock
// and closes the cluster.
func (e *Embedded) prepareCluster(home string) (*cluster, error) {
	dir, linked, err := locateCluster(home)
	missing := errors.Is(err, fs.ErrNotExist)
	if err != nil && !missing {
		return nil, err
	}
	runAs, err := serverUserFor(filepath.Join(dir, "data"))
	if err != nil {
		return nil, err
	}
	switch {
	case missing && linked:
		// smsblast's link, its target gone (a wiped /var/lib): recreate it.
		err = makeSharedDir(dir, home)
	case missing:
		dir, err = e.placeCluster(home, runAs)
	}
	if err != nil {
		return nil, err
	}

	c := newCluster(dir, runAs)
	if n := len(filepath.Join(c.runDir, fmt.Sprintf(".s.PGSQL.%d", embeddedPort))); n > maxSocketPath {
		return nil, fmt.Errorf("place embedded PostgreSQL socket in %s: the path is %d bytes, Unix sockets allow %d: set SMSBLAST_HOME to a shorter path", c.runDir, n, maxSocketPath)
	}
	if c.root, err = openDir(dir); err != nil {
		return nil, err
	}
	err = c.own(".")
	if err == nil {
		err = c.mkdir("run")
	}
	if err == nil {
		// initdb makes it; until then it must not be there as anything else.
		err = c.checkDir("data")
	}
	if err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// placeCluster creates the cluster directory of a new cluster: Home/pg, or,
// as root when the server user cannot reach Home, sharedClusterDir(home)
// with Home/pg a symlink to it.
func (e *Embedded) placeCluster(home string, runAs *serverUser) (string, error) {
	link := filepath.Join(home, "pg")
	if runAs == nil || canTraverse(home, runAs) {
		// Mkdir, not MkdirAll: it fails on anything planted at link since
		// locateCluster looked, a symlink included.
		if err := os.Mkdir(link, 0o700); err != nil {
			return "", fmt.Errorf("create embedded cluster directory %s: %w", link, err)
		}
		return link, nil
	}
	target, err := sharedClusterDir(home)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(sharedClusterRoot, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", sharedClusterRoot, err)
	}
	if !canTraverse(sharedClusterRoot, runAs) {
		return "", fmt.Errorf("place embedded cluster: the server user (uid %d) can reach neither %s nor %s: make one of them searchable", runAs.uid, home, sharedClusterRoot)
	}
	if err := makeSharedDir(target, home); err != nil {
		return "", err
	}
	if err := os.Symlink(target, link); err != nil {
		return "", fmt.Errorf("link embedded cluster %s to %s: %w", link, target, err)
	}
	e.logger().Info("embedded PostgreSQL cluster placed outside SMSBLAST_HOME: its server user cannot reach it",
		"home", home, "cluster", target, "link", link)
	return target, nil
}

// makeSharedDir creates dir under /var/lib/smsblast (prepareCluster hands
// it to the server user) with a note naming its home.
func makeSharedDir(dir, home string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create embedded cluster directory %s: %w", dir, err)
	}
	r, err := openDir(dir)
	if err != nil {
		return err
	}
	defer r.Close()
	// A note for whoever finds the directory and wonders whose it is.
	real, _ := filepath.EvalSymlinks(home)
	_ = writeFileIn(r, "HOME", []byte(real+"\n"), 0o644, nil)
	return nil
}

// openDir opens dir, which must be a real directory (not a symlink), as an
// os.Root, and makes sure the handle is the directory now at that path.
func openDir(dir string) (*os.Root, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open embedded cluster directory %s: %w", dir, err)
	}
	opened, err1 := r.Stat(".")
	now, err2 := os.Lstat(dir)
	if err := errors.Join(err1, err2); err != nil {
		r.Close()
		return nil, fmt.Errorf("open embedded cluster directory %s: %w", dir, err)
	}
	if !now.IsDir() || !os.SameFile(opened, now) {
		r.Close()
		return nil, fmt.Errorf("open embedded cluster directory %s: it was replaced while being opened: check who else can write to %s", dir, filepath.Dir(dir))
	}
	return r, nil
}

// mkdir creates the directory name in the cluster directory unless it
// exists, and hands it to the server user.
func (c *cluster) mkdir(name string) error {
	if err := c.root.Mkdir(name, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create embedded cluster directory %s: %w", c.path(name), err)
	}
	return c.own(name)
}

// checkDir fails when name, in the cluster directory, exists as anything
// but a directory.
func (c *cluster) checkDir(name string) error {
	fi, err := c.root.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("inspect %s: %w", c.path(name), err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("use %s: it is %w: remove it", c.path(name), ErrForeignLink)
	case !fi.IsDir():
		return fmt.Errorf("use %s: it is not a directory: remove it", c.path(name))
	}
	return nil
}

// own hands the directory name, in the cluster directory, to the server
// user when we run as root, refusing a symlink and never following one.
func (c *cluster) own(name string) error {
	if err := c.checkDir(name); err != nil {
		return err
	}
	if c.runAs == nil {
		return nil
	}
	fi, err := c.root.Lstat(name)
	if err != nil {
		return fmt.Errorf("inspect %s: %w", c.path(name), err)
	}
	if uid, gid, ok := fileOwner(fi); ok && uid == c.runAs.uid && gid == c.runAs.gid {
		return nil
	}
	if err := c.root.Lchown(name, int(c.runAs.uid), int(c.runAs.gid)); err != nil {
		return fmt.Errorf("hand %s to the server user: %w", c.path(name), err)
	}
	return nil
}

// writeFile replaces name, in the cluster directory, with data, owned by
// the server user.
func (c *cluster) writeFile(name string, data []byte, perm fs.FileMode) error {
	if err := writeFileIn(c.root, name, data, perm, c.runAs); err != nil {
		return fmt.Errorf("write %s: %w", c.path(name), err)
	}
	return nil
}

// writeFileIn writes data to a new file beside name, owned by owner (nil:
// by us), and renames it over name: a symlink or hard link planted at name
// is replaced, never written through or chowned.
func writeFileIn(r *os.Root, name string, data []byte, perm fs.FileMode, owner *serverUser) error {
	tmp := name + ".smsblast-new"
	if err := r.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := r.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil && owner != nil {
		err = f.Chown(int(owner.uid), int(owner.gid))
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = r.Rename(tmp, name)
	}
	if err != nil {
		_ = r.Remove(tmp)
	}
	return err
}

// canTraverse reports whether u may search every directory from / down to
// dir (itself included), judged by the permission bits (ACLs are ignored).
func canTraverse(dir string, u *serverUser) bool {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return false
	}
	for p := real; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return false
		}
		uid, gid, ok := fileOwner(fi)
		if !ok {
			return false
		}
		perm := fi.Mode().Perm()
		var can bool
		switch {
		case uid == u.uid:
			can = perm&0o100 != 0
		case gid == u.gid || slices.Contains(u.groups, gid):
			can = perm&0o010 != 0
		default:
			can = perm&0o001 != 0
		}
		if !can {
			return false
		}
		if parent := filepath.Dir(p); parent == p {
			return true
		}
	}
}
