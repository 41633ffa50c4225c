package model

import "time"

// ResourceShare is an AWS RAM resource share (docs/ram.md): an owner
// account shares Lattice resources it owns with principals (accounts and
// organizations). Its resource and principal associations live in the
// share itself, so one write changes a share and all its associations
// together; disassociated entries stay, with status DISASSOCIATED, as RAM
// keeps them listed.
type ResourceShare struct {
	ARN                     string             `json:"arn"` // arn:PARTITION:ram:REGION:OWNER:resource-share/UUID
	ID                      string             `json:"id"`  // the UUID
	Account                 string             `json:"account"`
	Name                    string             `json:"name"`
	AllowExternalPrincipals bool               `json:"allowExternalPrincipals"`
	Status                  string             `json:"status"` // ShareStatusActive or ShareStatusDeleted
	Tags                    map[string]string  `json:"tags,omitempty"`
	CreatedAt               time.Time          `json:"createdAt"`
	UpdatedAt               time.Time          `json:"updatedAt"`
	Resources               []ShareAssociation `json:"resources,omitempty"`
	Principals              []ShareAssociation `json:"principals,omitempty"`
}

// ShareAssociation is one resource or principal of a share (RAM's
// ResourceShareAssociation).
type ShareAssociation struct {
	// Entity is the resource ARN, or the principal: a 12-digit account
	// ID or an organization ID (o-...).
	Entity string `json:"entity"`
	// Type is the RAM resource type (ShareTypeServiceNetwork, ...) of a
	// resource association; empty for a principal.
	Type          string    `json:"type,omitempty"`
	Status        string    `json:"status"`
	StatusMessage string    `json:"statusMessage,omitempty"`
	External      bool      `json:"external,omitempty"`
	InvitationID  string    `json:"invitationId,omitempty"` // an external account's invitation
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
}

// ShareInvitation is RAM's ResourceShareInvitation: an account outside the
// owner's organization must accept a share before it sees it.
type ShareInvitation struct {
	ARN       string    `json:"arn"` // arn:PARTITION:ram:REGION:SENDER:resource-share-invitation/UUID
	ID        string    `json:"id"`
	ShareARN  string    `json:"shareArn"`
	ShareName string    `json:"shareName"`
	Sender    string    `json:"sender"`
	Receiver  string    `json:"receiver"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"createdAt"`
}

// RAM statuses (ResourceShareStatus, ResourceShareAssociationStatus,
// ResourceShareInvitationStatus) and the Lattice resource types RAM shares.
const (
	ShareStatusActive  = "ACTIVE"
	ShareStatusDeleted = "DELETED"

	ShareAssocAssociating   = "ASSOCIATING"
	ShareAssocAssociated    = "ASSOCIATED"
	ShareAssocDisassociated = "DISASSOCIATED"

	InvitationPending  = "PENDING"
	InvitationAccepted = "ACCEPTED"
	InvitationRejected = "REJECTED"

	ShareTypeServiceNetwork        = "vpc-lattice:ServiceNetwork"
	ShareTypeService               = "vpc-lattice:Service"
	ShareTypeResourceConfiguration = "vpc-lattice:ResourceConfiguration"

	TypeResourceShare = "RESOURCE_SHARE"
)

// Reasons that the RAM wire (internal/api/ram.go) answers as RAM's own
// exception types; the reason names the type after "ram:".
const (
	ReasonRAMMalformedArn           = "ram:MalformedArnException"
	ReasonRAMInvalidParameter       = "ram:InvalidParameterException"
	ReasonRAMMissingParameter       = "ram:MissingRequiredParameterException"
	ReasonRAMOperationNotPermitted  = "ram:OperationNotPermittedException"
	ReasonRAMInvalidStateTransition = "ram:InvalidStateTransitionException"
	ReasonRAMInvalidNextToken       = "ram:InvalidNextTokenException"
	ReasonRAMInvalidMaxResults      = "ram:InvalidMaxResultsException"
	ReasonRAMAlreadyAccepted        = "ram:ResourceShareInvitationAlreadyAcceptedException"
	ReasonRAMAlreadyRejected        = "ram:ResourceShareInvitationAlreadyRejectedException"
	ReasonRAMInvitationNotFound     = "ram:ResourceShareInvitationArnNotFoundException"
)

// QuotaResourceShares bounds an account's resource shares (RAM's default
// quota of resource shares per account).
var QuotaResourceShares = Quota{Name: "resource-shares", Code: "L-D3D8C3A0", ResourceType: TypeResourceShare,
	Description: "RAM resource shares per account", Default: 5000}
