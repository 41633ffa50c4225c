package cli

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Trellis-native identities (/trellis/v1/accounts, principals, accesskeys,
// sts): like VPCs, outside the Lattice API, so these commands sign their
// requests themselves (nativeCall).

const (
	flagName        = "name"
	flagOrgID       = "org-id"
	flagOrgPath     = "org-path"
	flagAccount     = "account"
	flagPrincipal   = "principal"
	flagRoleArn     = "role-arn"
	flagSessionName = "session-name"
	flagDuration    = "duration"
)

var (
	accountColumns   = cols("ACCOUNT ID", "accountId", "NAME", "name", "ORG ID", "orgId", "CREATED", "createdAt")
	principalColumns = cols("ARN", "arn", "TYPE", "type", "NAME", "name", "ACCOUNT", "account")
	accessKeyColumns = cols("ACCESS KEY ID", "accessKeyId", "PRINCIPAL", "principalArn", "STATUS", "status",
		"CREATED", "createdAt", "EXPIRATION", "expiration")
)

// nativeVerb is a verb of a Trellis-native noun.
func nativeVerb(use, short string, args cobra.PositionalArgs, flags func(fs *pflag.FlagSet),
	run func(cmd *cobra.Command, args []string) error) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Args: args, SilenceUsage: true, SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error { return report(cmd, run(cmd, args)) }}
	if flags != nil {
		flags(c.Flags())
	}
	return c
}

// addPageFlags adds --max-results and --next-token to a list verb.
func addPageFlags(fs *pflag.FlagSet) {
	fs.Int32(flagMaxResults, 0, "maximum number of items per page")
	fs.String(flagNextToken, "", "token of the page to fetch")
}

// withQuery appends the query of q (and the page flags) to path.
func withQuery(cmd *cobra.Command, path string, q url.Values) string {
	if q == nil {
		q = url.Values{}
	}
	fs := cmd.Flags()
	if fs.Changed(flagMaxResults) {
		n, _ := fs.GetInt32(flagMaxResults)
		q.Set("maxResults", strconv.Itoa(int(n)))
	}
	if fs.Changed(flagNextToken) {
		t, _ := fs.GetString(flagNextToken)
		q.Set("nextToken", t)
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

func changedString(cmd *cobra.Command, name string) (string, bool) {
	if !cmd.Flags().Changed(name) {
		return "", false
	}
	v, _ := cmd.Flags().GetString(name)
	return v, true
}

func accountCmd() *cobra.Command {
	put := nativeVerb("put ACCOUNT_ID", "Create an account or change its name or organization (administrator only)",
		cobra.ExactArgs(1), func(fs *pflag.FlagSet) {
			fs.String(flagName, "", "display name")
			fs.String(flagOrgID, "", "organization ID, o- followed by 10 to 32 lowercase letters or digits (empty clears it)")
			fs.String(flagOrgPath, "", "organization path, e.g. o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/ (empty clears it)")
		}, func(cmd *cobra.Command, args []string) error {
			body := map[string]any{}
			for flag, member := range map[string]string{flagName: "name", flagOrgID: "orgId", flagOrgPath: "orgPath"} {
				if v, ok := changedString(cmd, flag); ok {
					body[member] = v
				}
			}
			return nativeCall(cmd, http.MethodPut, "accounts/"+url.PathEscape(args[0]), body, accountColumns)
		})
	get := nativeVerb("get ACCOUNT_ID", "Describe an account", cobra.ExactArgs(1), nil,
		func(cmd *cobra.Command, args []string) error {
			return nativeCall(cmd, http.MethodGet, "accounts/"+url.PathEscape(args[0]), nil, accountColumns)
		})
	list := nativeVerb("list", "List accounts (all for the administrator, else your own)", cobra.NoArgs, addPageFlags,
		func(cmd *cobra.Command, _ []string) error {
			return nativeCall(cmd, http.MethodGet, withQuery(cmd, "accounts", nil), nil, accountColumns)
		})
	del := nativeVerb("delete ACCOUNT_ID", "Delete an account that holds no principal, key or resource (administrator only)",
		cobra.ExactArgs(1), nil, func(cmd *cobra.Command, args []string) error {
			return nativeCall(cmd, http.MethodDelete, "accounts/"+url.PathEscape(args[0]), nil, nil)
		})
	return nounCmd("account", []string{"accounts"}, "Trellis-native accounts: the tenants that own resources", put, get, list, del)
}

func principalCmd() *cobra.Command {
	put := nativeVerb("put PRINCIPAL_ARN", "Create a role or user (arn:aws:iam::ACCOUNT:role/NAME or :user/NAME), or replace its tags",
		cobra.ExactArgs(1), func(fs *pflag.FlagSet) {
			fs.StringArray(flagTag, nil, "tag KEY=VALUE (repeatable; replaces every tag)")
		}, func(cmd *cobra.Command, args []string) error {
			body := map[string]any{}
			if cmd.Flags().Changed(flagTag) {
				tags, err := parseTags(stringArray(cmd, flagTag), nil)
				if err != nil {
					return usageErrorf("%v", err)
				}
				body["tags"] = tags
			}
			return nativeCall(cmd, http.MethodPut, "principals/"+url.PathEscape(args[0]), body, principalColumns)
		})
	get := nativeVerb("get PRINCIPAL_ARN", "Describe a role or user", cobra.ExactArgs(1), nil,
		func(cmd *cobra.Command, args []string) error {
			return nativeCall(cmd, http.MethodGet, "principals/"+url.PathEscape(args[0]), nil, principalColumns)
		})
	list := nativeVerb("list", "List roles and users (of your account, or of --account)", cobra.NoArgs,
		func(fs *pflag.FlagSet) {
			fs.String(flagAccount, "", "account ID")
			addPageFlags(fs)
		}, func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			if v, ok := changedString(cmd, flagAccount); ok {
				q.Set("account", v)
			}
			return nativeCall(cmd, http.MethodGet, withQuery(cmd, "principals", q), nil, principalColumns)
		})
	del := nativeVerb("delete PRINCIPAL_ARN", "Delete a role or user and its access keys", cobra.ExactArgs(1), nil,
		func(cmd *cobra.Command, args []string) error {
			return nativeCall(cmd, http.MethodDelete, "principals/"+url.PathEscape(args[0]), nil, nil)
		})
	return nounCmd("principal", []string{"principals"}, "Trellis-native IAM roles and users", put, get, list, del)
}

func accessKeyCmd() *cobra.Command {
	create := nativeVerb("create", "Create an access key for a role or user (--principal) or an account's root (--account); prints the secret once",
		cobra.NoArgs, func(fs *pflag.FlagSet) {
			fs.String(flagPrincipal, "", "ARN of the role or user")
			fs.String(flagAccount, "", "account ID, for a key of its root")
		}, func(cmd *cobra.Command, _ []string) error {
			p, hasP := changedString(cmd, flagPrincipal)
			a, hasA := changedString(cmd, flagAccount)
			switch {
			case hasP == hasA:
				return usageErrorf("give exactly one of --principal and --account")
			case hasP:
				return nativeCall(cmd, http.MethodPost, "principals/"+url.PathEscape(p)+"/accesskeys", nil, accessKeyColumns)
			default:
				return nativeCall(cmd, http.MethodPost, "accounts/"+url.PathEscape(a)+"/accesskeys", nil, accessKeyColumns)
			}
		})
	list := nativeVerb("list", "List access keys (never their secrets) of your account, --account or --principal", cobra.NoArgs,
		func(fs *pflag.FlagSet) {
			fs.String(flagPrincipal, "", "ARN of a role, user or account root")
			fs.String(flagAccount, "", "account ID")
			addPageFlags(fs)
		}, func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			if v, ok := changedString(cmd, flagPrincipal); ok {
				q.Set("principalArn", v)
			}
			if v, ok := changedString(cmd, flagAccount); ok {
				q.Set("account", v)
			}
			return nativeCall(cmd, http.MethodGet, withQuery(cmd, "accesskeys", q), nil, accessKeyColumns)
		})
	del := nativeVerb("delete ACCESS_KEY_ID", "Delete an access key", cobra.ExactArgs(1), nil,
		func(cmd *cobra.Command, args []string) error {
			return nativeCall(cmd, http.MethodDelete, "accesskeys/"+url.PathEscape(args[0]), nil, nil)
		})
	return nounCmd("access-key", []string{"access-keys"}, "Trellis-native access keys of roles, users and account roots", create, list, del)
}

func stsCmd() *cobra.Command {
	assume := nativeVerb("assume-role", "Get temporary credentials of a role of your account", cobra.NoArgs,
		func(fs *pflag.FlagSet) {
			fs.String(flagRoleArn, "", "ARN of the role (required)")
			fs.String(flagSessionName, "", "session name, 2 to 64 letters, digits and _+=,.@- (required)")
			fs.Int32(flagDuration, 0, "validity in seconds, 900 to 43200 (default 3600)")
		}, func(cmd *cobra.Command, _ []string) error {
			role, _ := changedString(cmd, flagRoleArn)
			session, _ := changedString(cmd, flagSessionName)
			var missing []string
			if role == "" {
				missing = append(missing, "--"+flagRoleArn)
			}
			if session == "" {
				missing = append(missing, "--"+flagSessionName)
			}
			if len(missing) > 0 {
				return usageErrorf("required flag(s) %s not set", strings.Join(missing, ", "))
			}
			body := map[string]any{"roleArn": role, "roleSessionName": session}
			if cmd.Flags().Changed(flagDuration) {
				d, _ := cmd.Flags().GetInt32(flagDuration)
				body["durationSeconds"] = d
			}
			return nativeCall(cmd, http.MethodPost, "sts/assume-role", body, nil)
		})
	return nounCmd("sts", nil, "Trellis-native temporary credentials", assume)
}
