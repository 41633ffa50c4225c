package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/spf13/cobra"
)

const (
	// DefaultEndpoint is the endpoint used when neither --endpoint nor
	// TRELLIS_ENDPOINT is set.
	DefaultEndpoint = "http://127.0.0.1:8686"
	// defaultRegion is the region used when neither --region nor
	// TRELLIS_REGION is set.
	defaultRegion = "us-east-1"
	// defaultDataDir is the data directory used when neither --data-dir nor
	// TRELLIS_DATA_DIR is set.
	defaultDataDir = "./trellis-data"
	// credentialsFile is the name of the file, inside the data directory,
	// where "trellis serve" writes the generated root credentials.
	credentialsFile = "credentials.json"

	// Environment variables read by the CLI.
	envEndpoint            = "TRELLIS_ENDPOINT"
	envRegion              = "TRELLIS_REGION"
	envDataDir             = "TRELLIS_DATA_DIR"
	envAccessKeyID         = "TRELLIS_ACCESS_KEY_ID"
	envSecretAccessKey     = "TRELLIS_SECRET_ACCESS_KEY"
	envSessionToken        = "TRELLIS_SESSION_TOKEN"
	envRootAccessKeyID     = "TRELLIS_ROOT_ACCESS_KEY_ID"
	envRootSecretAccessKey = "TRELLIS_ROOT_SECRET_ACCESS_KEY"

	flagEndpoint = "endpoint"
	flagRegion   = "region"
	flagOutput   = "output"
	flagDataDir  = "data-dir"

	outputJSON  = "json"
	outputTable = "table"

	requestTimeout = 60 * time.Second
)

// addGlobalFlags registers the persistent flags on root, skipping any that
// the root command already defines (for instance --data-dir shared with
// "serve").
func addGlobalFlags(root *cobra.Command) {
	pf := root.PersistentFlags()
	if pf.Lookup(flagEndpoint) == nil {
		pf.String(flagEndpoint, envOr(envEndpoint, DefaultEndpoint), "Trellis API endpoint (env "+envEndpoint+")")
	}
	if pf.Lookup(flagRegion) == nil {
		pf.String(flagRegion, envOr(envRegion, defaultRegion), "region used to sign requests (env "+envRegion+")")
	}
	if pf.Lookup(flagOutput) == nil {
		pf.String(flagOutput, outputJSON, "output format: json or table")
	}
	if pf.Lookup(flagDataDir) == nil {
		pf.String(flagDataDir, envOr(envDataDir, defaultDataDir), "data directory holding "+credentialsFile+" (env "+envDataDir+")")
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// flagString reads a (possibly inherited) string flag; missing flags yield
// def.
func flagString(cmd *cobra.Command, name, def string) string {
	f := cmd.Flags().Lookup(name)
	if f == nil {
		f = cmd.InheritedFlags().Lookup(name)
	}
	if f == nil {
		return def
	}
	return f.Value.String()
}

func outputFormat(cmd *cobra.Command) (string, error) {
	switch o := strings.ToLower(flagString(cmd, flagOutput, outputJSON)); o {
	case outputJSON, outputTable:
		return o, nil
	default:
		return "", usageErrorf("invalid --output %q: want json or table", o)
	}
}

// credentialSet holds the static credentials used to sign requests.
type credentialSet struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
	SessionToken    string `json:"sessionToken,omitempty"`
	Account         string `json:"account,omitempty"`
	// Source says where the credentials were found, for error messages.
	Source string `json:"-"`
}

// resolveCredentials applies the CLI's credential chain:
// TRELLIS_ACCESS_KEY_ID/TRELLIS_SECRET_ACCESS_KEY[/TRELLIS_SESSION_TOKEN],
// then TRELLIS_ROOT_ACCESS_KEY_ID/TRELLIS_ROOT_SECRET_ACCESS_KEY, then
// <dataDir>/credentials.json. It never reads ~/.aws or instance metadata.
func resolveCredentials(getenv func(string) string, dataDir string) (credentialSet, error) {
	if id, secret := getenv(envAccessKeyID), getenv(envSecretAccessKey); id != "" || secret != "" {
		if id == "" || secret == "" {
			return credentialSet{}, fmt.Errorf("both %s and %s must be set", envAccessKeyID, envSecretAccessKey)
		}
		return credentialSet{AccessKeyID: id, SecretAccessKey: secret, SessionToken: getenv(envSessionToken), Source: "environment"}, nil
	}
	if id, secret := getenv(envRootAccessKeyID), getenv(envRootSecretAccessKey); id != "" || secret != "" {
		if id == "" || secret == "" {
			return credentialSet{}, fmt.Errorf("both %s and %s must be set", envRootAccessKeyID, envRootSecretAccessKey)
		}
		return credentialSet{AccessKeyID: id, SecretAccessKey: secret, Source: "environment (root)"}, nil
	}
	path := filepath.Join(dataDir, credentialsFile)
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return credentialSet{}, fmt.Errorf("no credentials: set %s and %s, or point --data-dir (env %s) at the directory where 'trellis serve' wrote %s (looked for %s)",
				envAccessKeyID, envSecretAccessKey, envDataDir, credentialsFile, path)
		}
		return credentialSet{}, fmt.Errorf("reading credentials: %w", err)
	}
	var c credentialSet
	if err := json.Unmarshal(b, &c); err != nil {
		return credentialSet{}, fmt.Errorf("reading credentials from %s: %w", path, err)
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return credentialSet{}, fmt.Errorf("reading credentials from %s: accessKeyId and secretAccessKey must be set", path)
	}
	c.Source = path
	return c, nil
}

// newClient builds the vpclattice client from the command's global flags.
func newClient(cmd *cobra.Command) (*vpclattice.Client, error) {
	ep, region, creds, err := clientSettings(cmd)
	if err != nil {
		return nil, err
	}
	return newSDKClient(ep, region, creds), nil
}

// clientSettings resolves the global flags every SDK client of the CLI is
// built from: the endpoint (an http or https URL), the region and the
// credentials.
func clientSettings(cmd *cobra.Command) (endpoint, region string, creds credentialSet, err error) {
	endpoint = flagString(cmd, flagEndpoint, envOr(envEndpoint, DefaultEndpoint))
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", "", credentialSet{}, usageErrorf("invalid --endpoint %q: want an http:// or https:// URL", endpoint)
	}
	region = flagString(cmd, flagRegion, envOr(envRegion, defaultRegion))
	if region == "" {
		return "", "", credentialSet{}, usageErrorf("--region must not be empty")
	}
	creds, err = resolveCredentials(os.Getenv, flagString(cmd, flagDataDir, envOr(envDataDir, defaultDataDir)))
	return endpoint, region, creds, err
}

// newSDKClient returns a vpclattice client for a Trellis endpoint with static
// credentials. No shared configuration, profile or instance metadata is
// consulted.
func newSDKClient(endpoint, region string, creds credentialSet) *vpclattice.Client {
	return vpclattice.New(vpclattice.Options{
		BaseEndpoint:     aws.String(endpoint),
		Region:           region,
		Credentials:      credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken),
		RetryMaxAttempts: retryMaxAttempts,
		HTTPClient:       &http.Client{Timeout: requestTimeout},
	})
}

// retryMaxAttempts is the SDK's maximum number of attempts per request
// (a variable so that tests can shorten it).
var retryMaxAttempts = 3
