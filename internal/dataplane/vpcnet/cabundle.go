//go:build linux

package vpcnet

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// The installation CA in a netns VPC's trust store.
//
// `ip netns exec NAME` (and so `trellis vpc exec`) gives the program its own
// mount namespace and bind-mounts each top-level entry of /etc/netns/NAME
// onto /etc/ENTRY (iproute2 ip/ipnetns.c bind_etc: it iterates the entries
// of /etc/netns/NAME, one level only). An entry "ssl" therefore hides the
// whole of the host's /etc/ssl, not one file in it. So the runner writes a
// replica of each host trust tree that holds a system bundle (/etc/ssl on
// Debian, Ubuntu and Alpine; /etc/pki on Fedora and RHEL) into
// /etc/netns/NAME, with each bundle file the host's bundle followed by the
// installation CA. Go (crypto/x509 reads the first of these files that
// exists), curl, wget and openssl (their default CA file is the bundle)
// then trust the CA inside with no SSL_CERT_FILE.
//
// The replica copies directories (mode, owner), symbolic links as links
// (Debian's certs/*.pem point into /usr/share/ca-certificates, which the
// namespace sees unchanged; the hash links are relative) and regular files,
// except that directories named "private" are made empty: private keys
// are not copied out of the host's tree (a program inside that needs one
// of them must be given it another way).
//
// The replica is made when the namespace is (built aside, renamed into
// place); later, when the CA changes, only the bundle files are rewritten,
// in place: a program already running inside has the old directory's inode
// mounted and sees only in-place changes. A host bundle updated later
// (update-ca-certificates) reaches the namespace at the next start of
// Trellis that converges it (see caBundleTrees).

// trustBundles are the system bundle files Go's crypto/x509 tries on Linux
// (root_linux.go certFiles), relative to /etc, in its order.
var trustBundles = []string{
	"ssl/certs/ca-certificates.crt",                // Debian, Ubuntu, Gentoo
	"pki/tls/certs/ca-bundle.crt",                  // Fedora, RHEL 6
	"ssl/ca-bundle.pem",                            // OpenSUSE
	"pki/tls/cacert.pem",                           // OpenELEC
	"pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // CentOS, RHEL 7
	"ssl/cert.pem",                                 // Alpine
}

// defaultBundle is written, holding the CA alone, when the host has /etc/ssl
// but none of trustBundles (no ca-certificates package).
const defaultBundle = "ssl/certs/ca-certificates.crt"

// caBundleTrees returns the top-level /etc entries (under etc) that hold a
// trust bundle: "ssl", "pki".
func caBundleTrees(etc string) []string {
	var out []string
	for _, b := range trustBundles {
		top, _, _ := strings.Cut(b, "/")
		if st, err := os.Stat(filepath.Join(etc, top)); err != nil || !st.IsDir() {
			continue
		}
		if !contains(out, top) {
			out = append(out, top)
		}
	}
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// writeCABundle makes the trust trees of the namespace name (under
// netnsEtc, /etc/netns in production) hold caPEM besides the bundles of the
// host's trees under etc (/etc). It is idempotent: a replica already there
// gets its bundle files rewritten in place when their content differs, and
// is not touched when it does not.
func writeCABundle(etc, netnsEtc, name string, caPEM []byte) error {
	if len(caPEM) == 0 {
		return nil
	}
	dir := filepath.Join(netnsEtc, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// Only on a host without any bundle does the replica get one of its
	// own (the CA alone): on any other, a bundle earlier in Go's order
	// than the host's would hide the host's roots.
	hostHasBundle := false
	for _, b := range trustBundles {
		if st, err := os.Stat(filepath.Join(etc, b)); err == nil && st.Mode().IsRegular() {
			hostHasBundle = true
		}
	}
	var errs []error
	for _, top := range caBundleTrees(etc) {
		dst := filepath.Join(dir, top)
		if _, err := os.Lstat(dst); errors.Is(err, fs.ErrNotExist) {
			// Built aside (outside /etc/netns/NAME: an entry there would be
			// bind-mounted too) and renamed in whole.
			tmp := filepath.Join(netnsEtc, "."+name+"."+top+".tmp")
			_ = os.RemoveAll(tmp)
			err := replicate(filepath.Join(etc, top), tmp)
			if err == nil {
				err = writeBundles(etc, tmp, top, caPEM, hostHasBundle)
			}
			if err == nil {
				err = os.Rename(tmp, dst)
			}
			if err != nil {
				_ = os.RemoveAll(tmp)
				errs = append(errs, fmt.Errorf("vpc namespace %s: CA bundle: %w", name, err))
			}
			continue
		}
		if err := writeBundles(etc, dst, top, caPEM, hostHasBundle); err != nil {
			errs = append(errs, fmt.Errorf("vpc namespace %s: CA bundle: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// writeBundles writes, into the replica root of the host tree etc/top, each
// bundle of trustBundles under top that the host has: the host's content
// and then caPEM. When the host has no bundle at all, it writes
// defaultBundle (for "ssl") holding caPEM alone.
func writeBundles(etc, root, top string, caPEM []byte, hostHasBundle bool) error {
	for _, b := range trustBundles {
		rest, ok := strings.CutPrefix(b, top+"/")
		if !ok {
			continue
		}
		host, err := os.ReadFile(filepath.Join(etc, b)) // follows the host's links
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if err := writeInPlace(filepath.Join(root, rest), amend(host, caPEM)); err != nil {
			return err
		}
	}
	if !hostHasBundle && strings.HasPrefix(defaultBundle, top+"/") {
		rest := strings.TrimPrefix(defaultBundle, top+"/")
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, rest)), 0o755); err != nil {
			return err
		}
		return writeInPlace(filepath.Join(root, rest), amend(nil, caPEM))
	}
	return nil
}

// amend returns the bundle host followed by caPEM, with a line break
// between them, and a comment naming what was added.
func amend(host, caPEM []byte) []byte {
	var b bytes.Buffer
	b.Write(host)
	if len(host) > 0 && host[len(host)-1] != '\n' {
		b.WriteByte('\n')
	}
	b.WriteString("# Trellis installation CA (added by trellis serve for this VPC's namespace)\n")
	b.Write(caPEM)
	if len(caPEM) > 0 && caPEM[len(caPEM)-1] != '\n' {
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// writeInPlace makes path a regular file holding data, rewriting an
// existing regular file in place (same inode) when its content differs; a
// symbolic link there (copied from the host) is replaced by the file.
func writeInPlace(path string, data []byte) error {
	if st, err := os.Lstat(path); err == nil && st.Mode()&fs.ModeSymlink != 0 {
		if err := os.Remove(path); err != nil {
			return err
		}
	}
	if have, err := os.ReadFile(path); err == nil && bytes.Equal(have, data) {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	return errors.Join(err, f.Close())
}

// replicate copies the tree src to dst (which must not exist): directories
// with their mode and owner, symbolic links as links, regular files with
// their content, mode and owner; directories named "private" are made
// empty; other kinds of file are skipped.
func replicate(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		info, err := os.Lstat(path)
		if err != nil {
			return err
		}
		switch {
		case info.IsDir():
			if err := os.Mkdir(to, info.Mode().Perm()); err != nil {
				return err
			}
			if err := sameOwnerMode(to, info); err != nil {
				return err
			}
			if d.Name() == "private" && path != src {
				return fs.SkipDir
			}
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			if err := os.Symlink(target, to); err != nil {
				return err
			}
		case info.Mode().IsRegular():
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if err := os.WriteFile(to, data, info.Mode().Perm()); err != nil {
				return err
			}
			if err := sameOwnerMode(to, info); err != nil {
				return err
			}
		}
		return nil
	})
}

// sameOwnerMode gives path info's owner, group and permission bits (the
// umask may have narrowed them). The owner only when running as root.
func sameOwnerMode(path string, info fs.FileInfo) error {
	if st, ok := info.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
		if err := os.Lchown(path, int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
	}
	return os.Chmod(path, info.Mode().Perm())
}
