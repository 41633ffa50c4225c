package app

import (
	"errors"
	"os"
	"runtime"
)

// netnsSupported reports whether this process can run network-namespace
// VPCs: Linux, as root (making namespaces and entering them needs
// CAP_SYS_ADMIN; binding port 53 inside needs CAP_NET_BIND_SERVICE).
// PUT /trellis/v1/vpcs/{id} with mode netns is refused with this error.
func netnsSupported() error {
	if runtime.GOOS != "linux" {
		return errors.New("network namespaces are Linux only (this host runs " + runtime.GOOS + ")")
	}
	if os.Geteuid() != 0 {
		return errors.New("trellis serve must run as root to make network namespaces")
	}
	return nil
}
