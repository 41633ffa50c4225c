package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/spf13/cobra"
)

// Trellis-native VPCs live under /trellis/v1/vpcs, outside the Lattice API,
// so the SDK has no operation for them: these commands sign their requests
// with the SDK's SigV4 signer themselves.

func vpcCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "vpc", Short: "Trellis-native VPCs: where clients and targets live (host mode: a loopback ingress address each; netns: a Linux network namespace each)"}
	var (
		mode  string
		cidrs []string
	)
	put := &cobra.Command{
		Use:     "put VPC_ID",
		Aliases: []string{"create"},
		Short:   "Declare a VPC (created if new; host mode gets a loopback ingress address, netns mode a namespace)",
		Long: `Declare a VPC: created if new, kept as it is if it exists (its mode and
CIDR blocks never change; delete it and declare it again).

  --mode host   (default) clients reach an ingress address on loopback;
                targets are dialed from the host.
  --mode netns  a Linux network namespace holding the VPC's --cidr blocks
                (repeat the flag, 1 to 5); clients and targets run inside it
                ('trellis vpc exec'). Needs 'trellis serve' on Linux as root.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body := map[string]any{}
			if mode != "" {
				body["mode"] = mode
			}
			if len(cidrs) > 0 {
				body["cidrBlocks"] = cidrs
			}
			return report(cmd, nativeCall(cmd, http.MethodPut, "vpcs/"+url.PathEscape(args[0]), body, vpcColumns))
		},
	}
	put.Flags().StringVar(&mode, "mode", "", "host (the default for a new VPC: an ingress address on loopback) or netns (a Linux network namespace)")
	put.Flags().StringArrayVar(&cidrs, "cidr", nil, "a CIDR block of a netns VPC, e.g. 10.0.0.0/16 (repeat for more, up to 5)")
	get := &cobra.Command{Use: "get VPC_ID", Short: "Describe a VPC, with its ingress address", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return report(cmd, nativeCall(cmd, http.MethodGet, "vpcs/"+url.PathEscape(args[0]), nil, vpcColumns))
		}}
	list := &cobra.Command{Use: "list", Short: "List VPCs", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return report(cmd, nativeCall(cmd, http.MethodGet, "vpcs", nil, vpcColumns))
		}}
	del := &cobra.Command{Use: "delete VPC_ID", Short: "Delete a VPC no association or target group uses (a netns VPC's namespace goes with it)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return report(cmd, nativeCall(cmd, http.MethodDelete, "vpcs/"+url.PathEscape(args[0]), nil, nil))
		}}
	for _, c := range []*cobra.Command{put, get, list, del, vpcExecCmd()} {
		c.SilenceUsage = true
		cmd.AddCommand(c)
	}
	return cmd
}

var vpcColumns = cols("VPC ID", "vpcId", "MODE", "mode", "INGRESS", "ingressAddress", "DNS", "dnsAddress", "NETNS", "netnsName", "ARN", "arn")

// nativeError is the AWS-shaped error of a native endpoint.
type nativeError struct {
	code, msg string
}

func (e *nativeError) Error() string { return e.code + ": " + e.msg }

// nativeCall sends a signed request to /trellis/v1/PATH and prints the answer.
func nativeCall(cmd *cobra.Command, method, path string, body any, columns []column) error {
	format, err := outputFormat(cmd)
	if err != nil {
		return err
	}
	v, err := nativeDo(cmd, method, path, body)
	if err != nil || v == nil {
		return err
	}
	if format == "table" {
		return writeTable(cmd.OutOrStdout(), v, columns)
	}
	return writeJSON(cmd.OutOrStdout(), v)
}

// nativeDo sends a signed request to /trellis/v1/PATH and returns the
// decoded answer (nil for an empty one).
func nativeDo(cmd *cobra.Command, method, path string, body any) (any, error) {
	ep := strings.TrimSuffix(flagString(cmd, flagEndpoint, envOr(envEndpoint, DefaultEndpoint)), "/")
	region := flagString(cmd, flagRegion, envOr(envRegion, defaultRegion))
	creds, err := resolveCredentials(os.Getenv, flagString(cmd, flagDataDir, envOr(envDataDir, defaultDataDir)))
	if err != nil {
		return nil, err
	}
	var payload []byte
	if body != nil {
		if payload, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	req, err := http.NewRequestWithContext(cmd.Context(), method, ep+"/trellis/v1/"+path, bytes.NewReader(payload))
	if err != nil {
		return nil, usageErrorf("invalid --endpoint %q: %v", ep, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	sum := sha256.Sum256(payload)
	err = v4.NewSigner().SignHTTP(cmd.Context(), aws.Credentials{AccessKeyID: creds.AccessKeyID,
		SecretAccessKey: creds.SecretAccessKey, SessionToken: creds.SessionToken},
		req, hex.EncodeToString(sum[:]), "vpc-lattice", region, time.Now())
	if err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Timeout: requestTimeout}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the Trellis API at %s: %w (is 'trellis serve' running? see --endpoint)", ep, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(b, &e)
		code := resp.Header.Get("X-Amzn-ErrorType")
		if code == "" {
			code = resp.Status
		}
		return nil, &nativeError{code: code, msg: e.Message}
	}
	if resp.StatusCode == http.StatusNoContent || len(b) == 0 {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("decoding the answer: %w", err)
	}
	return v, nil
}
