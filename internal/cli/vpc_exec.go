package cli

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"

	"github.com/spf13/cobra"

	"github.com/trellis-net/trellis/internal/netns"
)

// ExitError asks main to exit with Code without printing anything: the
// command it ran has said what went wrong already.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// vpcExecCmd is `trellis vpc exec VPC -- CMD ARGS...`: CMD runs inside the
// VPC's network namespace through `ip netns exec`, which also shows it the
// namespace's /etc/resolv.conf (the VPC's DNS). It runs on this machine, so
// it works only where `trellis serve` runs, as root.
func vpcExecCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "exec VPC_ID -- COMMAND [ARG...]",
		Short: "Run a command inside a netns VPC (ip netns exec; on the machine running 'trellis serve', as root)",
		Long: `Run a command inside a network-namespace VPC: its network is the VPC's (every
address of its CIDR blocks is local; the VPC's services resolve through its
DNS), e.g.

  trellis vpc exec vpc-0123456789abcdef0 -- curl http://orders.internal:8080/

The namespace is on the machine that runs 'trellis serve': run this there, as
root (it calls 'ip netns exec', from iproute2). The command's exit status is
trellis's.`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.ArgsLenAtDash() != 1 {
				return usageErrorf("usage: trellis vpc exec VPC_ID -- COMMAND [ARG...]")
			}
			v, err := nativeDo(cmd, http.MethodGet, "vpcs/"+url.PathEscape(args[0]), nil)
			if err != nil {
				return err
			}
			m, _ := v.(map[string]any)
			mode, _ := m["mode"].(string)
			name, _ := m["netnsName"].(string)
			if mode != "netns" || name == "" {
				return fmt.Errorf("VPC %s is in mode %q: only netns VPCs have a namespace to run in", args[0], mode)
			}
			// The name comes from the server: checked before it reaches a
			// command line (no option, no path separator).
			if err := netns.ValidName(name); err != nil {
				return fmt.Errorf("the server named an invalid namespace: %w", err)
			}
			c := exec.CommandContext(cmd.Context(), "ip", append([]string{"netns", "exec", name}, args[1:]...)...)
			c.Stdin, c.Stdout, c.Stderr = os.Stdin, cmd.OutOrStdout(), cmd.ErrOrStderr()
			err = c.Run()
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return &ExitError{Code: max(ee.ExitCode(), 1)}
			}
			if err != nil {
				return fmt.Errorf("ip netns exec %s: %w (iproute2 installed? running as root on the machine of 'trellis serve'?)", name, err)
			}
			return nil
		},
	}
}
