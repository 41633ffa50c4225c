package main

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/pflag"

	"github.com/trellis-net/trellis/internal/app"
	"github.com/trellis-net/trellis/internal/cluster"
	"github.com/trellis-net/trellis/internal/store/etcd"
)

// etcdFlags are the flags that say how to reach etcd, shared by serve and
// store copy.
type etcdFlags struct {
	endpoints, prefix, cacert, cert, key string
}

func (e *etcdFlags) add(f *pflag.FlagSet, withEndpoints bool) {
	if withEndpoints {
		f.StringVar(&e.endpoints, "etcd-endpoints", "", "client URLs of the etcd cluster with --store etcd, comma-separated, e.g. http://10.0.0.1:2379,http://10.0.0.2:2379 (docs/etcd.md)")
	}
	f.StringVar(&e.prefix, "etcd-prefix", etcd.DefaultPrefix, "the key prefix in etcd under which Trellis keeps its state (one installation per prefix)")
	f.StringVar(&e.cacert, "etcd-cacert", "", "PEM CA bundle that verifies the etcd members' certificates (https endpoints; default: the system's roots)")
	f.StringVar(&e.cert, "etcd-cert", "", "PEM client certificate presented to etcd, with --etcd-key")
	f.StringVar(&e.key, "etcd-key", "", "PEM private key of --etcd-cert")
}

// config checks the flags and builds the store configuration of the
// endpoints given by the flag named flag (--etcd-endpoints, or store
// copy's --from/--to etcd:URL).
func (e *etcdFlags) config(flag, endpoints string) (etcd.Config, error) {
	eps, err := etcd.ParseEndpoints(endpoints)
	if err != nil {
		return etcd.Config{}, fmt.Errorf("%s: %w", flag, err)
	}
	if err := etcd.ValidatePrefix(e.prefix); err != nil {
		return etcd.Config{}, fmt.Errorf("--etcd-prefix: %w", err)
	}
	tlsCfg, err := etcd.TLSConfig(e.cacert, e.cert, e.key)
	if err != nil {
		return etcd.Config{}, err
	}
	if tlsCfg != nil {
		for _, ep := range eps {
			if !strings.HasPrefix(ep, "https://") {
				return etcd.Config{}, fmt.Errorf("etcd endpoint %q: the TLS flags need https:// endpoints", ep)
			}
		}
	}
	return etcd.Config{Endpoints: eps, Prefix: e.prefix, TLS: tlsCfg}, nil
}

// changed tells whether any etcd flag was given.
func (e *etcdFlags) changed(f *pflag.FlagSet) string {
	for _, n := range []string{"etcd-endpoints", "etcd-prefix", "etcd-cacert", "etcd-cert", "etcd-key"} {
		if fl := f.Lookup(n); fl != nil && fl.Changed {
			return n
		}
	}
	return ""
}

// nodeName is what --node-name accepts: a DNS label's characters, as it
// names the node in logs, metrics, etcd keys (<prefix>nodes/NAME,
// <prefix>health/NAME/...) and S3 access-log object names.
var nodeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

func defaultNodeName() string {
	h, err := os.Hostname()
	if err != nil || !nodeName.MatchString(h) {
		return "trellis"
	}
	return h
}

// checkStoreFlags sets cfg's store from --store, the etcd flags and
// --node-name, naming the flag that is wrong.
func checkStoreFlags(f *pflag.FlagSet, cfg *app.Config, kind string, e *etcdFlags, roles string) error {
	if !nodeName.MatchString(cfg.NodeName) {
		return fmt.Errorf("--node-name %q: want 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit", cfg.NodeName)
	}
	r, err := cluster.ParseRoles(roles)
	if err != nil {
		return err
	}
	if !r.All() && kind != app.StoreEtcd {
		// One node on its own store must do everything (docs/etcd.md).
		return fmt.Errorf("--roles %s: needs --store etcd (with the embedded store one node runs every role)", r)
	}
	cfg.Roles = r
	switch kind {
	case app.StoreEmbedded:
		if n := e.changed(f); n != "" {
			return fmt.Errorf("--%s: needs --store etcd", n)
		}
	case app.StoreEtcd:
		if e.endpoints == "" {
			return errors.New("--store etcd: needs --etcd-endpoints URL[,URL]")
		}
		c, err := e.config("--etcd-endpoints", e.endpoints)
		if err != nil {
			return err
		}
		cfg.Etcd = c
	default:
		return fmt.Errorf("--store %q: want embedded or etcd", kind)
	}
	cfg.Store = kind
	return nil
}
