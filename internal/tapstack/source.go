package tapstack

import (
	"fmt"

	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/ec2"

	"github.com/tapstack/payment-migration-operator/internal/naming"
)

// Where the source comes from (spec.source). A managed source is resources of
// the stack; an existing one (ACK or plain AWS) is parameters the operator
// fills from what it resolved, so the stack never owns, modifies or deletes
// it: no database, parameter group, secret or bucket of the source in the
// template, only ingress rules on its security group for DMS and the service
// (removed with the stack). Every other layer reaches the source through the
// functions below, whichever way it is given.

// The parameters of an existing source.
const (
	ParamSourceDbInstanceID    = "SourceDbInstanceIdentifier"
	ParamSourceDbAddress       = "SourceDbAddress"
	ParamSourceDbSecretArn     = "SourceDbSecretArn"
	ParamSourceSecurityGroupID = "SourceDbSecurityGroupId"
	ParamSourceBucketName      = "SourceBucketName"
	ParamAppDbSecretArn        = "AppDbSecretArn"
	// With spec.source.loadBalancer: the current service as the source side.
	ParamSourceLoadBalancerDNSName = "SourceLoadBalancerDnsName"
	ParamSourceLoadBalancerZoneID  = "SourceLoadBalancerHostedZoneId"
)

// dbPort is the port of both databases: an existing source's (the target is
// created on it too, since the service reaches either database through the
// writer record and one DB_PORT), else PostgreSQL's.
func (b *builder) dbPort() int { return b.spec.Source.DatabasePort() }

func (b *builder) existingSource() bool { return b.spec.Source.Existing() }

// creates reports whether the stack creates side's database and bucket.
func (b *builder) creates(s naming.Side) bool { return s == naming.Target || !b.existingSource() }

// dbInstanceID is the expression of side's DB instance identifier; subDB is
// the name of the same value inside an Fn::Sub string.
func (b *builder) dbInstanceID(s naming.Side) string {
	if b.creates(s) {
		return ref(idDatabase(s))
	}
	return ref(ParamSourceDbInstanceID)
}

func (b *builder) subDBInstanceID(s naming.Side) string {
	if b.creates(s) {
		return idDatabase(s)
	}
	return ParamSourceDbInstanceID
}

func (b *builder) dbAddress(s naming.Side) string {
	if b.creates(s) {
		return getAtt(idDatabase(s), "Endpoint.Address")
	}
	return ref(ParamSourceDbAddress)
}

func (b *builder) subDBAddress(s naming.Side) string {
	if b.creates(s) {
		return idDatabase(s) + ".Endpoint.Address"
	}
	return ParamSourceDbAddress
}

// dbSecret is side's master secret.
func (b *builder) dbSecret(s naming.Side) string {
	if b.creates(s) {
		return ref(idDBSecret(s))
	}
	return ref(ParamSourceDbSecretArn)
}

func (b *builder) subDBSecret(s naming.Side) string {
	if b.creates(s) {
		return idDBSecret(s)
	}
	return ParamSourceDbSecretArn
}

func (b *builder) bucketRef(s naming.Side) string {
	if b.creates(s) {
		return ref(idBucket(s))
	}
	return ref(ParamSourceBucketName)
}

// appSecretRef is the secret of the service's database role: the stack's own,
// or with an existing source the one the current service already uses.
func (b *builder) appSecretRef() string {
	if b.existingSource() {
		return ref(ParamAppDbSecretArn)
	}
	return ref(idAppSecret)
}

func (b *builder) subAppSecret() string {
	if b.existingSource() {
		return ParamAppDbSecretArn
	}
	return idAppSecret
}

// sourceParameters declares the parameters of an existing source. None has a
// default: a stack without them must fail rather than migrate from nothing.
func (b *builder) sourceParameters() {
	if !b.existingSource() {
		return
	}
	arn := "^arn:aws(-[a-z]+)*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@!-]+$"
	for name, p := range map[string]cloudformation.Parameter{
		ParamSourceDbInstanceID: {Description: ptr("DB instance identifier of the existing source database"),
			AllowedPattern: ptr("^[a-zA-Z][a-zA-Z0-9-]{0,62}$")},
		ParamSourceDbAddress: {Description: ptr(fmt.Sprintf("Endpoint address of the existing source database (port %d)", b.dbPort())),
			AllowedPattern: ptr("^[A-Za-z0-9.-]+$")},
		ParamSourceDbSecretArn: {Description: ptr("Secrets Manager secret of the source's master user (username, password)"),
			AllowedPattern: ptr(arn)},
		ParamSourceSecurityGroupID: {Description: ptr("Security group of the source database; the stack adds ingress rules for DMS and the service"),
			AllowedPattern: ptr("^sg-[0-9a-f]+$")},
		ParamSourceBucketName: {Description: ptr("Existing source bucket (transaction logs, audit trails)"),
			AllowedPattern: ptr("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")},
		ParamAppDbSecretArn: {Description: ptr(fmt.Sprintf("Secrets Manager secret of %s, the role the current service writes as (username, password)",
			b.spec.Database.ApplicationUsername)), AllowedPattern: ptr(arn)},
	} {
		p.Type = "String"
		b.t.Parameters[name] = p
	}
	if b.spec.Source.LoadBalancer != nil {
		b.t.Parameters[ParamSourceLoadBalancerDNSName] = cloudformation.Parameter{Type: "String",
			Description: ptr("DNS name of the current service's load balancer, the source side of the weighted record")}
		b.t.Parameters[ParamSourceLoadBalancerZoneID] = cloudformation.Parameter{Type: "String",
			Description: ptr("Canonical hosted zone id of that load balancer"), AllowedPattern: ptr("^Z[A-Z0-9]+$")}
	}
}

// sourceAccess opens the existing source's security group to DMS and the
// service, and lets those two send to it: the same pairs of rules that join
// them to the stack's own database group.
func (b *builder) sourceAccess() {
	if !b.existingSource() {
		return
	}
	for _, from := range []struct{ group, id, description string }{
		{idEcsSecurityGroup, "EcsToSourceDatabase", "Payment service to the existing source PostgreSQL"},
		{idDmsSecurityGroup, "DmsToSourceDatabase", "DMS to the existing source PostgreSQL"},
	} {
		b.add(from.id+"Egress", &ec2.SecurityGroupEgress{
			GroupId: getAtt(from.group, "GroupId"), IpProtocol: "tcp", FromPort: ptr(b.dbPort()), ToPort: ptr(b.dbPort()),
			DestinationSecurityGroupId: ptr(ref(ParamSourceSecurityGroupID)), Description: ptr(from.description),
		})
		b.add(from.id+"Ingress", &ec2.SecurityGroupIngress{
			GroupId: ptr(ref(ParamSourceSecurityGroupID)), IpProtocol: "tcp", FromPort: ptr(b.dbPort()), ToPort: ptr(b.dbPort()),
			SourceSecurityGroupId: ptr(getAtt(from.group, "GroupId")), Description: ptr(from.description),
		})
	}
}
