package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/trellis-net/trellis/internal/store"
	"github.com/trellis-net/trellis/internal/store/embedded"
	"github.com/trellis-net/trellis/internal/store/etcd"
)

func storeCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "store", Short: "Work on a store directly (servers stopped)"}
	cmd.AddCommand(storeCopyCommand())
	return cmd
}

func storeCopyCommand() *cobra.Command {
	var from, to string
	var force bool
	var etcdf etcdFlags
	cmd := &cobra.Command{
		Use:   "copy --from embedded:DIR|etcd:URL[,URL] --to embedded:DIR|etcd:URL[,URL]",
		Short: "Copy every key of one store into another: a data directory into etcd, or back",
		Long: `Copy every key of one store into another, values as they are: from the embedded
store of a data directory (embedded:DIR, DIR as serve's --data-dir) into etcd
(etcd:URL[,URL], under --etcd-prefix, TLS as serve's --etcd-* flags), or back.

Stop every trellis serve using either store first: a data directory in use is
refused, and nothing may write to etcd under the prefix meanwhile. A destination
that holds keys is refused unless --force, which makes it equal to the source
(its other keys are deleted). Revisions are not copied; nodes started on the
destination read everything. Root credentials and the CA are not in the store:
with --store etcd they are given to every node (docs/etcd.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			src, err := openStoreSpec(ctx, "--from", from, &etcdf, false)
			if err != nil {
				return err
			}
			defer src.Close()
			dst, err := openStoreSpec(ctx, "--to", to, &etcdf, true)
			if err != nil {
				return err
			}
			defer dst.Close()
			n, err := store.Copy(ctx, dst, src, force)
			if errors.Is(err, store.ErrNotEmpty) {
				return fmt.Errorf("--to %s: %w (use --force to make it equal to --from)", to, err)
			}
			if err != nil {
				return fmt.Errorf("copied %d keys, then: %w", n, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "copied %d keys from %s to %s\n", n, from, to)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "the source: embedded:DIR (a data directory) or etcd:URL[,URL]")
	f.StringVar(&to, "to", "", "the destination: embedded:DIR or etcd:URL[,URL]")
	f.BoolVar(&force, "force", false, "copy into a destination that holds keys, deleting those the source does not hold")
	etcdf.add(f, false)
	return cmd
}

// openStoreSpec opens embedded:DIR or etcd:URL[,URL], naming flag in
// errors. An embedded source must exist (a typo must not read as empty);
// a destination directory is made.
func openStoreSpec(ctx context.Context, flag, spec string, e *etcdFlags, dest bool) (store.Store, error) {
	kind, arg, ok := strings.Cut(spec, ":")
	if !ok || arg == "" {
		return nil, fmt.Errorf("%s %q: want embedded:DIR or etcd:URL[,URL]", flag, spec)
	}
	switch kind {
	case "embedded":
		path := filepath.Join(arg, "trellis.db")
		if dest {
			if err := os.MkdirAll(arg, 0o700); err != nil {
				return nil, fmt.Errorf("%s: %w", flag, err)
			}
		} else if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("%s %s: no store there: %w", flag, arg, err)
		}
		st, err := embedded.Open(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		return st, nil
	case "etcd":
		c, err := e.config(flag, arg)
		if err != nil {
			return nil, err
		}
		st, err := etcd.Open(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		return st, nil
	}
	return nil, fmt.Errorf("%s %q: want embedded:DIR or etcd:URL[,URL]", flag, spec)
}
