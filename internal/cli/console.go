package cli

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
)

// `trellis console` prints where the web console of the --endpoint server
// is: `trellis serve` serves it on its API address under /console/
// (docs/console.md). It sends nothing.
func consoleCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "console",
		Short: "Print the URL of the web console of the server at --endpoint (trellis serve --console)",
		Long: `Print the URL of the web console that 'trellis serve' serves on its API address,
under /console/. Open it in a browser and sign in with an access key (docs/console.md).`,
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			u, err := consoleURL(flagString(cmd, flagEndpoint, envOr(envEndpoint, DefaultEndpoint)))
			if err != nil {
				return report(cmd, err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), u)
			return nil
		},
	}
}

// consoleURL is endpoint's /console/, without credentials, query or
// fragment the endpoint may carry.
func consoleURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", usageErrorf("invalid --endpoint %q: want an http:// or https:// URL", endpoint)
	}
	out := url.URL{Scheme: u.Scheme, Host: u.Host, Path: strings.TrimSuffix(u.Path, "/") + "/console/"}
	return out.String(), nil
}
