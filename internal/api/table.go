package api

import (
	"net/http"
)

// table lists every operation of the Lattice API (reference §2.1). Path
// labels named like identifier members ({serviceIdentifier}, ...) are
// checked as such before the operation runs; query and body declare the
// identifier members an operation takes elsewhere (checkIdentifiers).
func (s *Server) table() []route {
	const (
		get, post, put, patch, del = http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete
	)
	return []route{
		s.add(post, "/servicenetworks", "CreateServiceNetwork", s.createServiceNetwork),
		s.add(get, "/servicenetworks/{serviceNetworkIdentifier}", "GetServiceNetwork", s.getServiceNetwork),
		s.add(get, "/servicenetworks", "ListServiceNetworks", s.listServiceNetworks),
		s.add(patch, "/servicenetworks/{serviceNetworkIdentifier}", "UpdateServiceNetwork", s.updateServiceNetwork),
		s.add(del, "/servicenetworks/{serviceNetworkIdentifier}", "DeleteServiceNetwork", s.deleteServiceNetwork),

		s.add(post, "/services", "CreateService", s.createService),
		s.add(get, "/services/{serviceIdentifier}", "GetService", s.getService),
		s.add(get, "/services", "ListServices", s.listServices),
		s.add(patch, "/services/{serviceIdentifier}", "UpdateService", s.updateService),
		s.add(del, "/services/{serviceIdentifier}", "DeleteService", s.deleteService),

		s.add(post, "/services/{serviceIdentifier}/listeners", "CreateListener", s.createListener),
		s.add(get, "/services/{serviceIdentifier}/listeners/{listenerIdentifier}", "GetListener", s.getListener),
		s.add(get, "/services/{serviceIdentifier}/listeners", "ListListeners", s.listListeners),
		s.add(patch, "/services/{serviceIdentifier}/listeners/{listenerIdentifier}", "UpdateListener", s.updateListener),
		s.add(del, "/services/{serviceIdentifier}/listeners/{listenerIdentifier}", "DeleteListener", s.deleteListener),

		s.add(post, "/services/{serviceIdentifier}/listeners/{listenerIdentifier}/rules", "CreateRule", s.createRule),
		s.add(get, "/services/{serviceIdentifier}/listeners/{listenerIdentifier}/rules/{ruleIdentifier}", "GetRule", s.getRule),
		s.add(get, "/services/{serviceIdentifier}/listeners/{listenerIdentifier}/rules", "ListRules", s.listRules),
		s.add(patch, "/services/{serviceIdentifier}/listeners/{listenerIdentifier}/rules/{ruleIdentifier}", "UpdateRule", s.updateRule),
		s.add(patch, "/services/{serviceIdentifier}/listeners/{listenerIdentifier}/rules", "BatchUpdateRule", s.batchUpdateRule),
		s.add(del, "/services/{serviceIdentifier}/listeners/{listenerIdentifier}/rules/{ruleIdentifier}", "DeleteRule", s.deleteRule),

		s.add(post, "/targetgroups", "CreateTargetGroup", s.createTargetGroup),
		s.add(get, "/targetgroups/{targetGroupIdentifier}", "GetTargetGroup", s.getTargetGroup),
		s.add(get, "/targetgroups", "ListTargetGroups", s.listTargetGroups).query("vpcIdentifier"),
		s.add(patch, "/targetgroups/{targetGroupIdentifier}", "UpdateTargetGroup", s.updateTargetGroup),
		s.add(del, "/targetgroups/{targetGroupIdentifier}", "DeleteTargetGroup", s.deleteTargetGroup),
		s.add(post, "/targetgroups/{targetGroupIdentifier}/registertargets", "RegisterTargets", s.registerTargets),
		s.add(post, "/targetgroups/{targetGroupIdentifier}/deregistertargets", "DeregisterTargets", s.deregisterTargets),
		s.add(post, "/targetgroups/{targetGroupIdentifier}/listtargets", "ListTargets", s.listTargets),

		s.add(post, "/servicenetworkserviceassociations", "CreateServiceNetworkServiceAssociation", s.createSNSA).
			body("serviceNetworkIdentifier", "serviceIdentifier"),
		s.add(get, "/servicenetworkserviceassociations/{serviceNetworkServiceAssociationIdentifier}", "GetServiceNetworkServiceAssociation", s.getSNSA),
		s.add(get, "/servicenetworkserviceassociations", "ListServiceNetworkServiceAssociations", s.listSNSAs).
			query("serviceNetworkIdentifier", "serviceIdentifier"),
		s.add(del, "/servicenetworkserviceassociations/{serviceNetworkServiceAssociationIdentifier}", "DeleteServiceNetworkServiceAssociation", s.deleteSNSA),

		s.add(post, "/servicenetworkvpcassociations", "CreateServiceNetworkVpcAssociation", s.createSNVA).
			body("serviceNetworkIdentifier", "vpcIdentifier"),
		s.add(get, "/servicenetworkvpcassociations/{serviceNetworkVpcAssociationIdentifier}", "GetServiceNetworkVpcAssociation", s.getSNVA),
		s.add(get, "/servicenetworkvpcassociations", "ListServiceNetworkVpcAssociations", s.listSNVAs).
			query("serviceNetworkIdentifier", "vpcIdentifier"),
		s.add(patch, "/servicenetworkvpcassociations/{serviceNetworkVpcAssociationIdentifier}", "UpdateServiceNetworkVpcAssociation", s.updateSNVA),
		s.add(del, "/servicenetworkvpcassociations/{serviceNetworkVpcAssociationIdentifier}", "DeleteServiceNetworkVpcAssociation", s.deleteSNVA),

		s.add(put, "/authpolicy/{resourceIdentifier}", "PutAuthPolicy", s.putAuthPolicy),
		s.add(get, "/authpolicy/{resourceIdentifier}", "GetAuthPolicy", s.getAuthPolicy),
		s.add(del, "/authpolicy/{resourceIdentifier}", "DeleteAuthPolicy", s.deleteAuthPolicy),
		s.add(put, "/resourcepolicy/{resourceArn}", "PutResourcePolicy", s.putResourcePolicy),
		s.add(get, "/resourcepolicy/{resourceArn}", "GetResourcePolicy", s.getResourcePolicy),
		s.add(del, "/resourcepolicy/{resourceArn}", "DeleteResourcePolicy", s.deleteResourcePolicy),

		s.add(post, "/accesslogsubscriptions", "CreateAccessLogSubscription", s.createALS).body("resourceIdentifier"),
		s.add(get, "/accesslogsubscriptions/{accessLogSubscriptionIdentifier}", "GetAccessLogSubscription", s.getALS),
		s.add(get, "/accesslogsubscriptions", "ListAccessLogSubscriptions", s.listALSs).query("resourceIdentifier"),
		s.add(patch, "/accesslogsubscriptions/{accessLogSubscriptionIdentifier}", "UpdateAccessLogSubscription", s.updateALS),
		s.add(del, "/accesslogsubscriptions/{accessLogSubscriptionIdentifier}", "DeleteAccessLogSubscription", s.deleteALS),

		s.add(post, "/tags/{resourceArn}", "TagResource", s.tagResource),
		s.add(get, "/tags/{resourceArn}", "ListTagsForResource", s.listTags),
		s.add(del, "/tags/{resourceArn}", "UntagResource", s.untagResource),

		s.add(post, "/resourcegateways", "CreateResourceGateway", s.createResourceGateway),
		s.add(get, "/resourcegateways/{resourceGatewayIdentifier}", "GetResourceGateway", s.getResourceGateway),
		s.add(get, "/resourcegateways", "ListResourceGateways", s.listResourceGateways),
		s.add(patch, "/resourcegateways/{resourceGatewayIdentifier}", "UpdateResourceGateway", s.updateResourceGateway),
		s.add(del, "/resourcegateways/{resourceGatewayIdentifier}", "DeleteResourceGateway", s.deleteResourceGateway),

		s.add(post, "/resourceconfigurations", "CreateResourceConfiguration", s.createResourceConfiguration),
		s.add(get, "/resourceconfigurations/{resourceConfigurationIdentifier}", "GetResourceConfiguration", s.getResourceConfiguration),
		s.add(get, "/resourceconfigurations", "ListResourceConfigurations", s.listResourceConfigurations).
			query("resourceGatewayIdentifier", "resourceConfigurationGroupIdentifier", "domainVerificationIdentifier"),
		s.add(patch, "/resourceconfigurations/{resourceConfigurationIdentifier}", "UpdateResourceConfiguration", s.updateResourceConfiguration),
		s.add(del, "/resourceconfigurations/{resourceConfigurationIdentifier}", "DeleteResourceConfiguration", s.deleteResourceConfiguration),

		s.add(post, "/servicenetworkresourceassociations", "CreateServiceNetworkResourceAssociation", s.createSNRA).
			body("serviceNetworkIdentifier", "resourceConfigurationIdentifier"),
		s.add(get, "/servicenetworkresourceassociations/{serviceNetworkResourceAssociationIdentifier}", "GetServiceNetworkResourceAssociation", s.getSNRA),
		s.add(get, "/servicenetworkresourceassociations", "ListServiceNetworkResourceAssociations", s.listSNRAs).
			query("serviceNetworkIdentifier", "resourceConfigurationIdentifier"),
		s.add(del, "/servicenetworkresourceassociations/{serviceNetworkResourceAssociationIdentifier}", "DeleteServiceNetworkResourceAssociation", s.deleteSNRA),

		// Trellis has no VPC endpoints: resource_association.go.
		s.add(get, "/servicenetworkvpcendpointassociations", "ListServiceNetworkVpcEndpointAssociations", s.listSNVpcEndpointAssociations).
			query("serviceNetworkIdentifier"),
		s.add(get, "/resourceendpointassociations", "ListResourceEndpointAssociations", s.listResourceEndpointAssociations).
			query("resourceConfigurationIdentifier"),
		s.add(del, "/resourceendpointassociations/{resourceEndpointAssociationIdentifier}", "DeleteResourceEndpointAssociation", s.deleteResourceEndpointAssociation),

		s.add(post, "/domainverifications", "StartDomainVerification", s.startDomainVerification),
		s.add(get, "/domainverifications/{domainVerificationIdentifier}", "GetDomainVerification", s.getDomainVerification),
		s.add(get, "/domainverifications", "ListDomainVerifications", s.listDomainVerifications),
		s.add(del, "/domainverifications/{domainVerificationIdentifier}", "DeleteDomainVerification", s.deleteDomainVerification),
	}
}
