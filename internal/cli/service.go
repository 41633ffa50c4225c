package cli

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

const flagService = "service"

func serviceCmd() *cobra.Command {
	type (
		createIn = vpclattice.CreateServiceInput
		getIn    = vpclattice.GetServiceInput
		listIn   = vpclattice.ListServicesInput
		updateIn = vpclattice.UpdateServiceInput
		deleteIn = vpclattice.DeleteServiceInput
	)
	idFlag := func(fs *pflag.FlagSet) {
		fs.String(flagService, "", "service name, ID or ARN")
	}
	return nounCmd("service", []string{"svc", "services"}, "Manage services",
		verb(verbSpec[createIn]{
			use:     "create",
			short:   "Create a service (CreateService)",
			example: "  trellis service create --name orders --auth-type AWS_IAM --tag team=orders",
			flags: func(fs *pflag.FlagSet) {
				fs.String("name", "", "name of the service")
				fs.String("auth-type", "", authTypeHelp)
				fs.String("custom-domain-name", "", "custom domain name of the service")
				fs.String("certificate-arn", "", "ARN of the certificate for HTTPS listeners")
				addTagFlags(fs)
			},
			apply: func(cmd *cobra.Command, in *createIn) error {
				setString(cmd, "name", &in.Name)
				setEnum(cmd, "auth-type", &in.AuthType)
				setString(cmd, "custom-domain-name", &in.CustomDomainName)
				setString(cmd, "certificate-arn", &in.CertificateArn)
				return applyTags(cmd, &in.Tags, &in.ClientToken)
			},
			required: []required[createIn]{req("name", func(in *createIn) bool { return isSetStr(in.Name) })},
			call: func(ctx context.Context, c *vpclattice.Client, in *createIn, _ bool) (any, error) {
				return c.CreateService(ctx, in)
			},
		}),
		verb(verbSpec[getIn]{
			use:    "get",
			short:  "Show a service (GetService)",
			idFlag: flagService,
			flags:  idFlag,
			apply: func(cmd *cobra.Command, in *getIn) error {
				setString(cmd, flagService, &in.ServiceIdentifier)
				return nil
			},
			required: []required[getIn]{req(flagService, func(in *getIn) bool { return isSetStr(in.ServiceIdentifier) })},
			call: func(ctx context.Context, c *vpclattice.Client, in *getIn, _ bool) (any, error) {
				return c.GetService(ctx, in)
			},
		}),
		verb(verbSpec[listIn]{
			use:   "list",
			short: "List services (ListServices)",
			list: cols("ID", "id", "NAME", "name", "STATUS", "status", "DNS NAME", "dnsEntry.domainName",
				"CUSTOM DOMAIN", "customDomainName", "ARN", "arn"),
			call: func(ctx context.Context, c *vpclattice.Client, in *listIn, all bool) (any, error) {
				if !all {
					return c.ListServices(ctx, in)
				}
				items, err := collect(ctx, vpclattice.NewListServicesPaginator(c, in),
					func(o *vpclattice.ListServicesOutput) []types.ServiceSummary { return o.Items })
				return &vpclattice.ListServicesOutput{Items: items}, err
			},
		}),
		verb(verbSpec[updateIn]{
			use:    "update",
			short:  "Update a service (UpdateService)",
			idFlag: flagService,
			flags: func(fs *pflag.FlagSet) {
				idFlag(fs)
				fs.String("auth-type", "", authTypeHelp)
				fs.String("certificate-arn", "", "ARN of the certificate for HTTPS listeners")
			},
			apply: func(cmd *cobra.Command, in *updateIn) error {
				setString(cmd, flagService, &in.ServiceIdentifier)
				setEnum(cmd, "auth-type", &in.AuthType)
				setString(cmd, "certificate-arn", &in.CertificateArn)
				return nil
			},
			required: []required[updateIn]{req(flagService, func(in *updateIn) bool { return isSetStr(in.ServiceIdentifier) })},
			call: func(ctx context.Context, c *vpclattice.Client, in *updateIn, _ bool) (any, error) {
				return c.UpdateService(ctx, in)
			},
		}),
		verb(verbSpec[deleteIn]{
			use:    "delete",
			short:  "Delete a service (DeleteService)",
			idFlag: flagService,
			flags:  idFlag,
			apply: func(cmd *cobra.Command, in *deleteIn) error {
				setString(cmd, flagService, &in.ServiceIdentifier)
				return nil
			},
			required: []required[deleteIn]{req(flagService, func(in *deleteIn) bool { return isSetStr(in.ServiceIdentifier) })},
			call: func(ctx context.Context, c *vpclattice.Client, in *deleteIn, _ bool) (any, error) {
				return c.DeleteService(ctx, in)
			},
		}),
	)
}
