package cli

import (
	"fmt"
	"io"
	"net/http"

	"github.com/spf13/cobra"
)

// `trellis ca get` prints the installation CA's certificate
// (GET /trellis/v1/certificate-authority; docs/certificates.md).

func caCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "ca", Short: "The installation CA that signs the certificates Trellis issues"}
	get := &cobra.Command{
		Use:   "get",
		Short: "Print the installation CA's certificate (PEM)",
		Long: `Print the certificate of the installation CA, PEM-encoded: the one certificate a client
trusts to verify the certificates Trellis issues.

  trellis ca get > trellis-ca.pem
  curl --cacert trellis-ca.pem https://...

--output json prints {"certificatePem": "..."} as the API answers it.`,
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, err := nativeDo(cmd, http.MethodGet, "certificate-authority", nil)
			if err != nil {
				return report(cmd, err)
			}
			return printCA(cmd, v)
		},
	}
	cmd.AddCommand(get)
	return cmd
}

func printCA(cmd *cobra.Command, v any) error {
	if cmd.Flags().Changed(flagOutput) && flagString(cmd, flagOutput, outputJSON) == outputJSON {
		return writeJSON(cmd.OutOrStdout(), v)
	}
	m, _ := v.(map[string]any)
	s, ok := m["certificatePem"].(string)
	if !ok || s == "" {
		return report(cmd, fmt.Errorf("the server answered no certificatePem"))
	}
	_, err := io.WriteString(cmd.OutOrStdout(), s)
	return err
}
