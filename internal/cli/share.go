package cli

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ram"
	ramtypes "github.com/aws/aws-sdk-go-v2/service/ram/types"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// `trellis share ...` drives AWS RAM on the API address (docs/ram.md) with
// aws-sdk-go-v2's ram client, so that the CLI exercises the same restJson1
// wire format a RAM user's tools do. Shares are named by ARN only: RAM has no
// IDs, and names are not unique (CreateResourceShare accepts duplicates).

const (
	flagShareResource  = "resource"
	flagSharePrincipal = "principal"
	flagShareOwner     = "owner"
	flagAllowExternal  = "allow-external-principals"
)

var (
	shareColumns = cols("NAME", "name", "ARN", "resourceShareArn", "STATUS", "status", "OWNER", "owningAccountId",
		"EXTERNAL", "allowExternalPrincipals", "CREATED", "creationTime")
	shareInvitationColumns = cols("INVITATION ARN", "resourceShareInvitationArn", "SHARE", "resourceShareName",
		"STATUS", "status", "SENDER", "senderAccountId", "RECEIVER", "receiverAccountId")
	shareAssociationColumns = cols("SHARE", "resourceShareName", "ENTITY", "associatedEntity", "TYPE", "associationType",
		"STATUS", "status", "EXTERNAL", "external")
	shareResourceColumns  = cols("ARN", "arn", "TYPE", "type", "SHARE", "resourceShareArn", "STATUS", "status")
	sharePrincipalColumns = cols("PRINCIPAL", "id", "SHARE", "resourceShareArn", "EXTERNAL", "external")
)

// newRAMClient builds a RAM client from the same global flags and
// credential chain as the Lattice client (client.go).
func newRAMClient(cmd *cobra.Command) (*ram.Client, error) {
	ep, region, creds, err := clientSettings(cmd)
	if err != nil {
		return nil, err
	}
	return ram.New(ram.Options{
		BaseEndpoint:     aws.String(ep),
		Region:           region,
		Credentials:      credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken),
		RetryMaxAttempts: retryMaxAttempts,
		HTTPClient:       &http.Client{Timeout: requestTimeout},
	}), nil
}

// ramVerb is one `share` verb: local checks happen in run before it asks
// for the client (so a usage mistake sends nothing); the result is printed
// as JSON or as a table of listKey's items (the object itself when
// listKey is "").
type ramVerb struct {
	use, short, example string
	args                cobra.PositionalArgs
	flags               func(fs *pflag.FlagSet)
	check               func(cmd *cobra.Command, args []string) error
	call                func(ctx context.Context, c *ram.Client, cmd *cobra.Command, args []string) (any, error)
	listKey             string
	columns             []column
}

func (v ramVerb) command() *cobra.Command {
	c := &cobra.Command{Use: v.use, Short: v.short, Example: v.example, Args: v.args,
		SilenceUsage: true, SilenceErrors: true}
	if c.Args == nil {
		c.Args = cobra.NoArgs
	}
	if v.flags != nil {
		v.flags(c.Flags())
	}
	c.RunE = func(cmd *cobra.Command, args []string) error {
		return report(cmd, v.run(cmd, args))
	}
	return c
}

func (v ramVerb) run(cmd *cobra.Command, args []string) error {
	format, err := outputFormat(cmd)
	if err != nil {
		return err
	}
	if v.check != nil {
		if err := v.check(cmd, args); err != nil {
			return err
		}
	}
	client, err := newRAMClient(cmd)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	res, err := v.call(ctx, client, cmd, args)
	if err != nil {
		return err
	}
	wire := toWire(res)
	if format == outputTable {
		if m, ok := wire.(map[string]any); ok && v.listKey != "" {
			items := m[v.listKey]
			if items == nil {
				items = []any{}
			}
			wire = map[string]any{"items": items}
		}
		return writeTable(cmd.OutOrStdout(), wire, v.columns)
	}
	return writeJSON(cmd.OutOrStdout(), wire)
}

// shareOwner maps --owner to RAM's resourceOwner: "self" (what this account
// shares) or "other" (what other accounts share with it).
func shareOwner(cmd *cobra.Command) (ramtypes.ResourceOwner, error) {
	o, _ := cmd.Flags().GetString(flagShareOwner)
	switch strings.ToLower(o) {
	case "self", "":
		return ramtypes.ResourceOwnerSelf, nil
	case "other", "other-accounts":
		return ramtypes.ResourceOwnerOtherAccounts, nil
	}
	return "", usageErrorf("invalid --%s %q: want self or other", flagShareOwner, o)
}

// filterFlags are the flags of the listings by owner and share
// (resources, principals).
func filterFlags(what string) func(*pflag.FlagSet) {
	return func(fs *pflag.FlagSet) {
		ownerFlag(fs)
		fs.String("share", "", "only this share's "+what+" (share ARN)")
	}
}

// shareFilter reads filterFlags (the owner was checked by shareOwner).
func shareFilter(cmd *cobra.Command) (ramtypes.ResourceOwner, []string) {
	owner, _ := shareOwner(cmd)
	var shares []string
	if s, _ := cmd.Flags().GetString("share"); s != "" {
		shares = []string{s}
	}
	return owner, shares
}

func ownerFlag(fs *pflag.FlagSet) {
	fs.String(flagShareOwner, "self", "whose shares: self (yours) or other (shared with you)")
}

// needShareMembers checks associate and disassociate: a share ARN, and
// resources or principals to add or remove.
func needShareMembers(cmd *cobra.Command, args []string) error {
	if err := needArn("resource share")(cmd, args); err != nil {
		return err
	}
	return needMembers(cmd, args)
}

// needArn checks the single positional ARN of a verb.
func needArn(what string) func(*cobra.Command, []string) error {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != 1 || !strings.HasPrefix(args[0], "arn:") {
			return usageErrorf("give the %s ARN as the only argument", what)
		}
		return nil
	}
}

func needMembers(cmd *cobra.Command, _ []string) error {
	if len(stringArray(cmd, flagShareResource)) == 0 && len(stringArray(cmd, flagSharePrincipal)) == 0 {
		return usageErrorf("give at least one --%s or --%s", flagShareResource, flagSharePrincipal)
	}
	return nil
}

func memberFlags(fs *pflag.FlagSet) {
	fs.StringArray(flagShareResource, nil, "ARN of a service network, service or resource configuration to share (repeatable)")
	fs.StringArray(flagSharePrincipal, nil, "account ID, organization ARN or organizational unit ARN to share with (repeatable)")
}

func shareCmd() *cobra.Command {
	anyArgs := cobra.ArbitraryArgs
	verbs := []ramVerb{{
		use:   "create",
		short: "Share service networks, services or resource configurations with accounts (CreateResourceShare)",
		example: `  trellis share create --name payments-net --resource arn:aws:vpc-lattice:us-east-1:111111111111:servicenetwork/sn-0123456789abcdef0 \
      --principal 222222222222 --principal 333333333333`,
		flags: func(fs *pflag.FlagSet) {
			fs.String(flagName, "", "name of the share (required)")
			memberFlags(fs)
			fs.Bool(flagAllowExternal, true, "allow principals outside your organization (they get an invitation)")
			addTagFlags(fs)
		},
		check: func(cmd *cobra.Command, _ []string) error {
			if n, _ := cmd.Flags().GetString(flagName); n == "" {
				return usageErrorf("--%s is required", flagName)
			}
			var tags map[string]string
			return applyTags(cmd, &tags, nil)
		},
		call: func(ctx context.Context, c *ram.Client, cmd *cobra.Command, _ []string) (any, error) {
			fs := cmd.Flags()
			name, _ := fs.GetString(flagName)
			ext, _ := fs.GetBool(flagAllowExternal)
			in := &ram.CreateResourceShareInput{Name: &name, ResourceArns: stringArray(cmd, flagShareResource),
				Principals: stringArray(cmd, flagSharePrincipal), AllowExternalPrincipals: &ext}
			setString(cmd, flagClientToken, &in.ClientToken)
			var tags map[string]string
			if err := applyTags(cmd, &tags, nil); err != nil {
				return nil, err
			}
			for k, v := range tags {
				in.Tags = append(in.Tags, ramtypes.Tag{Key: ptr(k), Value: ptr(v)})
			}
			out, err := c.CreateResourceShare(ctx, in)
			if err != nil {
				return nil, err
			}
			return out.ResourceShare, nil
		},
		columns: shareColumns,
	}, {
		use:   "list",
		short: "List resource shares: yours, or those shared with you (GetResourceShares)",
		flags: ownerFlag,
		check: func(cmd *cobra.Command, _ []string) error { _, err := shareOwner(cmd); return err },
		call: func(ctx context.Context, c *ram.Client, cmd *cobra.Command, _ []string) (any, error) {
			owner, _ := shareOwner(cmd)
			return collectRAM(ctx, "resourceShares", func(tok *string) ([]ramtypes.ResourceShare, *string, error) {
				out, err := c.GetResourceShares(ctx, &ram.GetResourceSharesInput{ResourceOwner: owner, NextToken: tok})
				if err != nil {
					return nil, nil, err
				}
				return out.ResourceShares, out.NextToken, nil
			})
		},
		listKey: "resourceShares", columns: shareColumns,
	}, {
		use:   "get SHARE_ARN",
		short: "Describe one resource share, yours or shared with you (GetResourceShares)",
		args:  anyArgs,
		check: needArn("resource share"),
		call: func(ctx context.Context, c *ram.Client, _ *cobra.Command, args []string) (any, error) {
			// RAM has no GetResourceShare: the share is looked for among the
			// caller's own, then among those shared with it.
			for _, owner := range []ramtypes.ResourceOwner{ramtypes.ResourceOwnerSelf, ramtypes.ResourceOwnerOtherAccounts} {
				out, err := c.GetResourceShares(ctx, &ram.GetResourceSharesInput{ResourceOwner: owner, ResourceShareArns: args})
				if err != nil {
					return nil, err
				}
				if len(out.ResourceShares) > 0 {
					return out.ResourceShares[0], nil
				}
			}
			return nil, errors.New("UnknownResourceException: no resource share " + sanitizeCell(args[0]) + " visible to this account")
		},
		columns: shareColumns,
	}, {
		use:   "update SHARE_ARN",
		short: "Rename a share or change whether it allows external principals (UpdateResourceShare)",
		args:  anyArgs,
		flags: func(fs *pflag.FlagSet) {
			fs.String(flagName, "", "new name")
			fs.Bool(flagAllowExternal, true, "allow principals outside your organization")
		},
		check: func(cmd *cobra.Command, args []string) error {
			if err := needArn("resource share")(cmd, args); err != nil {
				return err
			}
			if !cmd.Flags().Changed(flagName) && !cmd.Flags().Changed(flagAllowExternal) {
				return usageErrorf("give --%s or --%s", flagName, flagAllowExternal)
			}
			return nil
		},
		call: func(ctx context.Context, c *ram.Client, cmd *cobra.Command, args []string) (any, error) {
			in := &ram.UpdateResourceShareInput{ResourceShareArn: &args[0]}
			setString(cmd, flagName, &in.Name)
			setBool(cmd, flagAllowExternal, &in.AllowExternalPrincipals)
			out, err := c.UpdateResourceShare(ctx, in)
			if err != nil {
				return nil, err
			}
			return out.ResourceShare, nil
		},
		columns: shareColumns,
	}, {
		use:   "delete SHARE_ARN",
		short: "Delete a share; the cross-account associations it enabled are removed (DeleteResourceShare)",
		args:  anyArgs,
		check: needArn("resource share"),
		call: func(ctx context.Context, c *ram.Client, _ *cobra.Command, args []string) (any, error) {
			return c.DeleteResourceShare(ctx, &ram.DeleteResourceShareInput{ResourceShareArn: &args[0]})
		},
	}, {
		use:     "associate SHARE_ARN",
		short:   "Add resources or principals to a share (AssociateResourceShare)",
		example: "  trellis share associate arn:aws:ram:us-east-1:111111111111:resource-share/... --principal 444444444444",
		args:    anyArgs, flags: memberFlags,
		check: needShareMembers,
		call: func(ctx context.Context, c *ram.Client, cmd *cobra.Command, args []string) (any, error) {
			return c.AssociateResourceShare(ctx, &ram.AssociateResourceShareInput{ResourceShareArn: &args[0],
				ResourceArns: stringArray(cmd, flagShareResource), Principals: stringArray(cmd, flagSharePrincipal)})
		},
		listKey: "resourceShareAssociations", columns: shareAssociationColumns,
	}, {
		use:   "disassociate SHARE_ARN",
		short: "Remove resources or principals from a share; the associations they enabled go too (DisassociateResourceShare)",
		args:  anyArgs, flags: memberFlags,
		check: needShareMembers,
		call: func(ctx context.Context, c *ram.Client, cmd *cobra.Command, args []string) (any, error) {
			return c.DisassociateResourceShare(ctx, &ram.DisassociateResourceShareInput{ResourceShareArn: &args[0],
				ResourceArns: stringArray(cmd, flagShareResource), Principals: stringArray(cmd, flagSharePrincipal)})
		},
		listKey: "resourceShareAssociations", columns: shareAssociationColumns,
	}, {
		use:   "invitations",
		short: "List the share invitations sent to this account (GetResourceShareInvitations)",
		call: func(ctx context.Context, c *ram.Client, _ *cobra.Command, _ []string) (any, error) {
			return collectRAM(ctx, "resourceShareInvitations", func(tok *string) ([]ramtypes.ResourceShareInvitation, *string, error) {
				out, err := c.GetResourceShareInvitations(ctx, &ram.GetResourceShareInvitationsInput{NextToken: tok})
				if err != nil {
					return nil, nil, err
				}
				return out.ResourceShareInvitations, out.NextToken, nil
			})
		},
		listKey: "resourceShareInvitations", columns: shareInvitationColumns,
	}, {
		use:   "accept INVITATION_ARN",
		short: "Accept a share invitation: its resources become usable by this account (AcceptResourceShareInvitation)",
		args:  anyArgs,
		check: needArn("invitation"),
		call: func(ctx context.Context, c *ram.Client, _ *cobra.Command, args []string) (any, error) {
			out, err := c.AcceptResourceShareInvitation(ctx, &ram.AcceptResourceShareInvitationInput{ResourceShareInvitationArn: &args[0]})
			if err != nil {
				return nil, err
			}
			return out.ResourceShareInvitation, nil
		},
		columns: shareInvitationColumns,
	}, {
		use:   "reject INVITATION_ARN",
		short: "Reject a share invitation (RejectResourceShareInvitation)",
		args:  anyArgs,
		check: needArn("invitation"),
		call: func(ctx context.Context, c *ram.Client, _ *cobra.Command, args []string) (any, error) {
			out, err := c.RejectResourceShareInvitation(ctx, &ram.RejectResourceShareInvitationInput{ResourceShareInvitationArn: &args[0]})
			if err != nil {
				return nil, err
			}
			return out.ResourceShareInvitation, nil
		},
		columns: shareInvitationColumns,
	}, {
		use:   "resources",
		short: "List shared resources: those you share, or those shared with you (ListResources)",
		flags: filterFlags("resources"),
		check: func(cmd *cobra.Command, _ []string) error { _, err := shareOwner(cmd); return err },
		call: func(ctx context.Context, c *ram.Client, cmd *cobra.Command, _ []string) (any, error) {
			owner, shares := shareFilter(cmd)
			return collectRAM(ctx, "resources", func(tok *string) ([]ramtypes.Resource, *string, error) {
				out, err := c.ListResources(ctx, &ram.ListResourcesInput{ResourceOwner: owner, ResourceShareArns: shares, NextToken: tok})
				if err != nil {
					return nil, nil, err
				}
				return out.Resources, out.NextToken, nil
			})
		},
		listKey: "resources", columns: shareResourceColumns,
	}, {
		use:   "principals",
		short: "List principals: those you share with, or the owners sharing with you (ListPrincipals)",
		flags: filterFlags("principals"),
		check: func(cmd *cobra.Command, _ []string) error { _, err := shareOwner(cmd); return err },
		call: func(ctx context.Context, c *ram.Client, cmd *cobra.Command, _ []string) (any, error) {
			owner, shares := shareFilter(cmd)
			return collectRAM(ctx, "principals", func(tok *string) ([]ramtypes.Principal, *string, error) {
				out, err := c.ListPrincipals(ctx, &ram.ListPrincipalsInput{ResourceOwner: owner, ResourceShareArns: shares, NextToken: tok})
				if err != nil {
					return nil, nil, err
				}
				return out.Principals, out.NextToken, nil
			})
		},
		listKey: "principals", columns: sharePrincipalColumns,
	}}
	cmds := make([]*cobra.Command, len(verbs))
	for i, v := range verbs {
		cmds[i] = v.command()
	}
	return nounCmd("share", []string{"shares", "resource-share"}, "Share service networks, services and resource configurations with other accounts (AWS RAM)", cmds...)
}

// collectRAM follows nextToken through every page and returns
// {key: items}; shares are few, so the CLI always lists them whole.
func collectRAM[T any](_ context.Context, key string, page func(tok *string) ([]T, *string, error)) (map[string]any, error) {
	var all []T
	var tok *string
	for {
		items, next, err := page(tok)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if next == nil || *next == "" {
			break
		}
		tok = next
	}
	list := make([]any, len(all))
	for i := range all {
		list[i] = toWire(all[i])
	}
	return map[string]any{key: list}, nil
}
