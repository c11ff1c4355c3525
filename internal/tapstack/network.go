package tapstack

import (
	"fmt"

	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/ec2"
	"github.com/awslabs/goformation/v7/cloudformation/tags"

	"github.com/tapstack/payment-migration-operator/api/v1alpha1"
)

// Network layer: a VPC over two availability zones, a public and a private subnet
// per zone, an internet gateway, NAT gateway(s) and routes, and the four security
// groups whose rules are the only paths between the tiers.

const (
	azCount = 2

	idVPC                = "VPC"
	idInternetGateway    = "InternetGateway"
	idGatewayAttachment  = "InternetGatewayAttachment"
	idPublicRouteTable   = "PublicRouteTable"
	idPublicDefaultRoute = "PublicDefaultRoute"

	idAlbSecurityGroup = "AlbSecurityGroup"
	idEcsSecurityGroup = "EcsSecurityGroup"
	idDBSecurityGroup  = "DatabaseSecurityGroup"
	idDmsSecurityGroup = "DmsSecurityGroup"

	postgresPort = 5432
	httpsPort    = 443
)

// Per-zone ids are numbered from 1: PublicSubnet1, NatGateway2, ...
func idPublicSubnet(az int) string      { return fmt.Sprintf("PublicSubnet%d", az+1) }
func idPrivateSubnet(az int) string     { return fmt.Sprintf("PrivateSubnet%d", az+1) }
func idNatEIP(az int) string            { return fmt.Sprintf("NatGateway%dEIP", az+1) }
func idNatGateway(az int) string        { return fmt.Sprintf("NatGateway%d", az+1) }
func idPrivateRouteTable(az int) string { return fmt.Sprintf("PrivateRouteTable%d", az+1) }
func idPrivateDefaultRoute(az int) string {
	return fmt.Sprintf("PrivateRouteTable%dDefaultRoute", az+1)
}
func idRouteTableAssociation(subnet string) string { return subnet + "RouteTableAssociation" }

func (b *builder) network() {
	b.add(idVPC, &ec2.VPC{
		CidrBlock:          ptr(b.spec.Network.VPCCIDR),
		EnableDnsHostnames: ptr(true), // private hosted zone and RDS endpoints resolve in the VPC
		EnableDnsSupport:   ptr(true),
		Tags:               nameTag("vpc-" + b.spec.EnvironmentSuffix),
	})
	b.add(idInternetGateway, &ec2.InternetGateway{Tags: nameTag("igw-" + b.spec.EnvironmentSuffix)})
	b.add(idGatewayAttachment, &ec2.VPCGatewayAttachment{VpcId: ref(idVPC), InternetGatewayId: ptr(ref(idInternetGateway))})
	b.publicSubnets()
	b.privateSubnets()
	b.securityGroups()
}

// subnetCIDR carves four /24s out of the VPC range (the API allows /16 to /22):
// the public subnets take the first two, the private subnets the last two.
func subnetCIDR(index int) string {
	return selectIndex(index, cidr(getAtt(idVPC, "CidrBlock"), 2*azCount, 8))
}

// availabilityZone is the pinned zone, or the region's az-th zone.
func (b *builder) availabilityZone(az int) string {
	if zones := b.spec.Network.AvailabilityZones; len(zones) == azCount {
		return zones[az]
	}
	return selectIndex(az, getAZs())
}

func (b *builder) subnet(az, cidrIndex int, public bool, name string) *ec2.Subnet {
	s := &ec2.Subnet{
		VpcId:               ref(idVPC),
		CidrBlock:           ptr(subnetCIDR(cidrIndex)),
		AvailabilityZone:    ptr(b.availabilityZone(az)),
		MapPublicIpOnLaunch: ptr(public),
		Tags:                nameTag(name),
	}
	if len(b.spec.Network.AvailabilityZones) == azCount {
		// W3010 warns about hard-coded zones; these are the ones the user pinned in
		// spec.network.availabilityZones on purpose.
		s.AWSCloudFormationMetadata = ignoreChecks("W3010")
	}
	return s
}

func (b *builder) publicSubnets() {
	b.add(idPublicRouteTable, &ec2.RouteTable{VpcId: ref(idVPC), Tags: nameTag("rt-public-" + b.spec.EnvironmentSuffix)})
	b.add(idPublicDefaultRoute, &ec2.Route{
		RouteTableId:         ref(idPublicRouteTable),
		DestinationCidrBlock: ptr("0.0.0.0/0"),
		GatewayId:            ptr(ref(idInternetGateway)),
		// A route through the gateway fails until the gateway is attached to the VPC.
		AWSCloudFormationDependsOn: []string{idGatewayAttachment},
	})
	for az := range azCount {
		id := idPublicSubnet(az)
		b.add(id, b.subnet(az, az, true, fmt.Sprintf("public-%d-%s", az+1, b.spec.EnvironmentSuffix)))
		b.add(idRouteTableAssociation(id), &ec2.SubnetRouteTableAssociation{SubnetId: ref(id), RouteTableId: ref(idPublicRouteTable)})
	}
	for az := range b.natGatewayCount() {
		b.add(idNatEIP(az), &ec2.EIP{
			Domain:                     ptr("vpc"),
			Tags:                       nameTag(fmt.Sprintf("nat-eip-%d-%s", az+1, b.spec.EnvironmentSuffix)),
			AWSCloudFormationDependsOn: []string{idGatewayAttachment},
		})
		b.add(idNatGateway(az), &ec2.NatGateway{
			AllocationId: ptr(getAtt(idNatEIP(az), "AllocationId")),
			SubnetId:     ref(idPublicSubnet(az)),
			Tags:         nameTag(fmt.Sprintf("nat-%d-%s", az+1, b.spec.EnvironmentSuffix)),
		})
	}
}

// natGatewayCount is one per zone (a zone outage keeps the other zone's egress)
// or a single shared one (cheaper).
func (b *builder) natGatewayCount() int {
	if b.spec.Network.NATGateways == v1alpha1.NATGatewaysSingle {
		return 1
	}
	return azCount
}

func (b *builder) privateSubnets() {
	for az := range azCount {
		id := idPrivateSubnet(az)
		b.add(id, b.subnet(az, azCount+az, false, fmt.Sprintf("private-%d-%s", az+1, b.spec.EnvironmentSuffix)))
		b.add(idPrivateRouteTable(az), &ec2.RouteTable{
			VpcId: ref(idVPC),
			Tags:  nameTag(fmt.Sprintf("rt-private-%d-%s", az+1, b.spec.EnvironmentSuffix)),
		})
		b.add(idPrivateDefaultRoute(az), &ec2.Route{
			RouteTableId:         ref(idPrivateRouteTable(az)),
			DestinationCidrBlock: ptr("0.0.0.0/0"),
			NatGatewayId:         ptr(ref(idNatGateway(min(az, b.natGatewayCount()-1)))),
		})
		b.add(idRouteTableAssociation(id), &ec2.SubnetRouteTableAssociation{SubnetId: ref(id), RouteTableId: ref(idPrivateRouteTable(az))})
	}
}

func (b *builder) subnetIDs(id func(int) string) []string {
	out := make([]string, azCount)
	for az := range azCount {
		out[az] = ref(id(az))
	}
	return out
}

// securityGroups wires least privilege between the tiers. Rules between two
// groups are separate resources: inline they would make the groups reference each
// other and CloudFormation would refuse the circular dependency. CloudFormation
// removes EC2's default allow-all egress only from a group with inline egress
// rules, so every group states some inline egress (noEgress where the separate
// rules are all it may send).
//
// The ALB admits the service port from two sources only: the Route 53 health
// checkers, through the AWS-managed prefix list of the region (its id differs
// per region and account partition, so the operator looks it up and passes it
// as the ParamRoute53HealthCheckPrefixList parameter: the template stays a pure
// function of the spec), and the VPC itself.
func (b *builder) securityGroups() {
	port := int(b.spec.Service.Port)
	b.route53HealthCheckParameter()
	b.add(idAlbSecurityGroup, b.securityGroup("alb",
		"Payment service ALB: service port from the Route 53 health checkers and the VPC only",
		[]ec2.SecurityGroup_Ingress{
			{IpProtocol: "tcp", FromPort: ptr(port), ToPort: ptr(port), SourcePrefixListId: ptr(ref(ParamRoute53HealthCheckPrefixList)),
				Description: ptr("Route 53 health checkers (AWS-managed prefix list)")},
			{IpProtocol: "tcp", FromPort: ptr(port), ToPort: ptr(port), CidrIp: ptr(getAtt(idVPC, "CidrBlock")),
				Description: ptr("Clients inside the VPC")},
		},
		noEgress()))
	b.add(idEcsSecurityGroup, b.securityGroup("ecs",
		"Payment service tasks: service port from the ALB only",
		nil,
		[]ec2.SecurityGroup_Egress{{IpProtocol: "tcp", FromPort: ptr(httpsPort), ToPort: ptr(httpsPort), CidrIp: ptr("0.0.0.0/0"),
			Description: ptr("Image pulls, Secrets Manager, S3 and CloudWatch Logs over HTTPS")}}))
	b.add(idDBSecurityGroup, b.securityGroup("rds",
		"Payment databases: PostgreSQL from DMS and the payment service only",
		nil,
		noEgress()))
	b.add(idDmsSecurityGroup, b.securityGroup("dms",
		"DMS replication instance: PostgreSQL to the databases, HTTPS to Secrets Manager",
		nil,
		[]ec2.SecurityGroup_Egress{{IpProtocol: "tcp", FromPort: ptr(httpsPort), ToPort: ptr(httpsPort), CidrIp: ptr("0.0.0.0/0"),
			Description: ptr("Secrets Manager and CloudWatch Logs over HTTPS")}}))

	b.allowBetween(idAlbSecurityGroup, idEcsSecurityGroup, port, "AlbToEcs", "ALB to payment service tasks")
	b.allowBetween(idEcsSecurityGroup, idDBSecurityGroup, b.dbPort(), "EcsToDatabase", "Payment service to PostgreSQL")
	b.allowBetween(idDmsSecurityGroup, idDBSecurityGroup, b.dbPort(), "DmsToDatabase", "DMS to PostgreSQL")
	b.sourceParameters()
	b.sourceAccess()
}

// ParamRoute53HealthCheckPrefixList is the template parameter holding the id of
// the AWS-managed prefix list com.amazonaws.<region>.route53-healthchecks
// (Route53HealthChecksPrefixList). It has no default: a stack created without
// it fails at once, whereas a placeholder would deploy an ALB nobody can reach.
const ParamRoute53HealthCheckPrefixList = "Route53HealthCheckPrefixListId"

// Route53HealthChecksPrefixList is the name of the AWS-managed prefix list of
// the Route 53 health checkers' addresses in region.
func Route53HealthChecksPrefixList(region string) string {
	return "com.amazonaws." + region + ".route53-healthchecks"
}

func (b *builder) route53HealthCheckParameter() {
	name := Route53HealthChecksPrefixList(b.region)
	b.t.Parameters[ParamRoute53HealthCheckPrefixList] = cloudformation.Parameter{
		Type: "String",
		Description: ptr(fmt.Sprintf("Id of the AWS-managed prefix list %s, the only internet source the ALB admits. "+
			"The operator looks it up; to deploy this template by hand, pass the id that "+
			"'aws ec2 describe-managed-prefix-lists --region %s --filters Name=prefix-list-name,Values=%s' prints.", name, b.region, name)),
		AllowedPattern:        ptr("^pl-[0-9a-f]+$"),
		ConstraintDescription: ptr("a prefix list id, pl- followed by hexadecimal digits"),
	}
}

// noEgress is an egress rule that matches nothing (ICMP type 252 code 86 to the
// broadcast address, as CDK does): its presence removes the default allow-all.
func noEgress() []ec2.SecurityGroup_Egress {
	return []ec2.SecurityGroup_Egress{{IpProtocol: "icmp", FromPort: ptr(252), ToPort: ptr(86), CidrIp: ptr("255.255.255.255/32"),
		Description: ptr("No other outbound traffic (placeholder rule that matches nothing)")}}
}

func (b *builder) securityGroup(tier, description string, ingress []ec2.SecurityGroup_Ingress, egress []ec2.SecurityGroup_Egress) *ec2.SecurityGroup {
	name := b.names.SecurityGroup(tier)
	return &ec2.SecurityGroup{
		GroupName:            ptr(name),
		GroupDescription:     description,
		VpcId:                ptr(ref(idVPC)),
		SecurityGroupIngress: ingress,
		SecurityGroupEgress:  egress,
		Tags:                 nameTag(name),
	}
}

// allowBetween opens port from one group to another: an egress rule on the
// sender and the matching ingress rule on the receiver (<id>Egress, <id>Ingress).
func (b *builder) allowBetween(from, to string, port int, id, description string) {
	b.add(id+"Egress", &ec2.SecurityGroupEgress{
		GroupId: getAtt(from, "GroupId"), IpProtocol: "tcp", FromPort: ptr(port), ToPort: ptr(port),
		DestinationSecurityGroupId: ptr(getAtt(to, "GroupId")), Description: ptr(description),
	})
	b.add(id+"Ingress", &ec2.SecurityGroupIngress{
		GroupId: ptr(getAtt(to, "GroupId")), IpProtocol: "tcp", FromPort: ptr(port), ToPort: ptr(port),
		SourceSecurityGroupId: ptr(getAtt(from, "GroupId")), Description: ptr(description),
	})
}

// nameTag is the console's Name tag; the stack tags are added by tagResources.
func nameTag(name string) []tags.Tag { return []tags.Tag{{Key: "Name", Value: name}} }

// ignoreChecks is the resource metadata that makes cfn-lint skip the given rules.
// Every use carries the reason in a comment next to it.
func ignoreChecks(rules ...string) map[string]any {
	return map[string]any{"cfn-lint": map[string]any{"config": map[string]any{"ignore_checks": rules}}}
}
