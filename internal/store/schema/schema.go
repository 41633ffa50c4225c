// Package schema is the key layout of Trellis's store: which prefix holds
// which entity. The service layer writes through it and the snapshot
// compiler reads through it, so neither needs the other. Values are the JSON
// of internal/model entities.
package schema

// Key prefixes. Children live under their parent so a prefix scan lists them.
const (
	ServiceNetwork = "sn/"
	Service        = "svc/"
	Listener       = "lst/"  // lst/<svc>/<listener>
	Rule           = "rule/" // rule/<listener>/<rule>
	TargetGroup    = "tg/"
	Target         = "tgt/" // tgt/<tg>/<id>/<port>
	SNSA           = "snsa/"
	SNVA           = "snva/"
	AuthPolicy     = "authpolicy/"     // authpolicy/<sn-or-svc id>
	ResourcePolicy = "resourcepolicy/" // resourcepolicy/<sn-or-svc id>
	ALS            = "als/"
	VPC            = "vpc/"       // Trellis-native VPCs
	SecurityGroup  = "sg/"        // Trellis-native security groups
	Instance       = "ec2i/"      // ec2i/<instance id>: Trellis-native instances (INSTANCE targets)
	LoadBalancer   = "elb/"       // elb/<account>/<name>: Trellis-native load balancers (ALB targets)
	Certificate    = "acm/"       // acm/<uuid>: ACM certificates, with their private keys
	Function       = "fn/"        // fn/<account>/<name>: hosted functions (internal/functions)
	Account        = "account/"   // account/<id>
	Principal      = "principal/" // principal/<arn>
	AccessKey      = "accesskey/" // accesskey/<id>
	Name           = "name/"      // name/<kind>/<account>/<name> -> id
	Token          = "token/"     // token/<account>/<op>/<token>
	TGRef          = "ref/tg/"    // ref/tg/<tg>/<svc>/<rule>: rules that forward to a target group
	SvcTGRef       = "ref/svc/"   // ref/svc/<svc>/<tg>/<rule>: TGRef by service (the target-groups-per-service quota)
	Count          = "count/"     // count/<what>/<scope> -> decimal: kept in each write's transaction, so quotas never scan
	SNSAbySN       = "idx/snsa-sn/"
	SNSAbySvc      = "idx/snsa-svc/"
	SNVAbySN       = "idx/snva-sn/"
	SNVAbyVpc      = "idx/snva-vpc/"
	VPCAddr        = "idx/vpc-addr/" // idx/vpc-addr/<ingress address> -> vpc id
	SGbyVpc        = "idx/sg-vpc/"   // idx/sg-vpc/<vpc>/<sg>: the security groups of a VPC
	ALSbyResource  = "idx/als-res/"  // idx/als-res/<sn-or-svc id>/<als id>: the access log subscriptions of a resource
	SvcByCert      = "idx/svc-cert/" // idx/svc-cert/<certificate arn>/<svc id>: the services that use a certificate
	TGbyVpc        = "idx/tg-vpc/"   // idx/tg-vpc/<vpc>/<tg>: the target groups in a VPC
	Meta           = "meta/"
	Canary         = "canary/"         // canary/<canary id>: canary releases (internal/canary)
	CanaryRunning  = "idx/canary-run/" // idx/canary-run/<rule id> -> canary id: the one unfinished canary of a rule
)

// Resource gateways and configurations (internal/service/resource_*.go).
const (
	ResourceGateway       = "rgw/"           // rgw/<rgw id>
	ResourceConfiguration = "rcfg/"          // rcfg/<rcfg id>
	RGWbyVpc              = "idx/rgw-vpc/"   // idx/rgw-vpc/<vpc>/<rgw>: the resource gateways of a VPC
	RcfgByAccount         = "idx/rcfg-acct/" // idx/rcfg-acct/<account>/<rcfg>: the configurations of an account (quota)
	RcfgByGateway         = "idx/rcfg-rgw/"  // idx/rcfg-rgw/<rgw>/<rcfg>: the configurations that use a gateway
	RcfgByGroup           = "idx/rcfg-grp/"  // idx/rcfg-grp/<group>/<child>: the children of a GROUP
	SNRA                  = "snra/"          // snra/<snra id>
	SNRAbySN              = "idx/snra-sn/"   // idx/snra-sn/<sn>/<snra>
	SNRAbyRcfg            = "idx/snra-rcfg/" // idx/snra-rcfg/<rcfg>/<snra>
	DomainVerification    = "dv/"            // dv/<dv id>
	DVbyAccount           = "idx/dv-acct/"   // idx/dv-acct/<account>/<dv id>: an account's verifications (quota)
)

// AWS RAM (internal/service/share.go, docs/ram.md).
const (
	ResourceShare        = "ramshare/"        // ramshare/<owner>/<uuid>: resource shares with their associations
	ShareInvitation      = "raminv/"          // raminv/<uuid>: resource share invitations
	ShareByResource      = "idx/share-res/"   // idx/share-res/<resource arn>/<owner>/<uuid>: the shares that hold a resource
	ShareByPrincipal     = "idx/share-prin/"  // idx/share-prin/<account or org id>/<owner>/<uuid>: shares a principal is ASSOCIATED with
	InvitationByReceiver = "idx/raminv-recv/" // idx/raminv-recv/<account>/<uuid>: the invitations an account received
)
