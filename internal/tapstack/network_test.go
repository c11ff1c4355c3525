package tapstack

import (
	"strings"
	"testing"

	"github.com/tapstack/payment-migration-operator/api/v1alpha1"
)

func TestVPCUsesTheSpecCIDRWithDNS(t *testing.T) {
	p := sampleDoc(t).props(t, idVPC)
	mustEqual(t, "CidrBlock", p["CidrBlock"], "10.0.0.0/16")
	mustEqual(t, "EnableDnsHostnames", p["EnableDnsHostnames"], true)
	mustEqual(t, "EnableDnsSupport", p["EnableDnsSupport"], true)
}

func TestSubnetsArePublicAndPrivatePerAZCarvedWithFnCidr(t *testing.T) {
	d := sampleDoc(t)
	for az := range azCount {
		for _, c := range []struct {
			id     string
			index  int
			public bool
		}{{idPublicSubnet(az), az, true}, {idPrivateSubnet(az), azCount + az, false}} {
			p := d.props(t, c.id)
			mustEqual(t, c.id+" MapPublicIpOnLaunch", p["MapPublicIpOnLaunch"], c.public)
			mustEqual(t, c.id+" CidrBlock", p["CidrBlock"], map[string]any{"Fn::Select": []any{c.index,
				map[string]any{"Fn::Cidr": []any{getAttOf(idVPC, "CidrBlock"), 4, 8}}}})
			mustEqual(t, c.id+" AvailabilityZone", p["AvailabilityZone"],
				map[string]any{"Fn::Select": []any{az, map[string]any{"Fn::GetAZs": ""}}})
		}
	}
}

func TestPinnedAvailabilityZonesAreUsedAndTheirLintWarningJustified(t *testing.T) {
	spec, region := variantSpec(t, variants[1])
	d := rendered(t, synth(t, spec, region))
	for az, zone := range spec.Network.AvailabilityZones {
		r := d.resource(t, idPrivateSubnet(az))
		mustEqual(t, "AvailabilityZone", at(r, "Properties", "AvailabilityZone"), zone)
		mustEqual(t, "cfn-lint ignore", at(r, "Metadata", "cfn-lint", "config", "ignore_checks"), []string{"W3010"})
	}
}

func TestNATGatewaysOnePerAZOrSingle(t *testing.T) {
	cases := []struct {
		mode     v1alpha1.NATGateways
		gateways []string
	}{
		{v1alpha1.NATGatewaysOnePerAZ, []string{"NatGateway1", "NatGateway2"}},
		{v1alpha1.NATGatewaysSingle, []string{"NatGateway1", "NatGateway1"}},
	}
	for _, c := range cases {
		t.Run(string(c.mode), func(t *testing.T) {
			spec := sampleSpec(t)
			spec.Network.NATGateways = c.mode
			d := rendered(t, synth(t, spec, sampleRegion))
			if n := len(d.ofType("AWS::EC2::NatGateway")); n != len(unique(c.gateways)) {
				t.Errorf("%d NAT gateways, want %d", n, len(unique(c.gateways)))
			}
			if n := len(d.ofType("AWS::EC2::EIP")); n != len(unique(c.gateways)) {
				t.Errorf("%d EIPs, want %d", n, len(unique(c.gateways)))
			}
			for az, nat := range c.gateways {
				mustEqual(t, "private route of AZ", d.props(t, idPrivateDefaultRoute(az))["NatGatewayId"], refTo(nat))
			}
		})
	}
}

func unique(s []string) map[string]bool {
	m := map[string]bool{}
	for _, v := range s {
		m[v] = true
	}
	return m
}

func TestPublicSubnetsRouteToTheInternetGatewayAfterAttachment(t *testing.T) {
	d := sampleDoc(t)
	route := d.resource(t, idPublicDefaultRoute)
	mustEqual(t, "GatewayId", at(route, "Properties", "GatewayId"), refTo(idInternetGateway))
	mustEqual(t, "DependsOn", route["DependsOn"], []string{idGatewayAttachment})
	for az := range azCount {
		mustEqual(t, "association", d.props(t, idRouteTableAssociation(idPublicSubnet(az)))["RouteTableId"], refTo(idPublicRouteTable))
	}
}

// Least privilege: the only ingress paths are Route 53 health checkers and the
// VPC -> ALB on the service port, ALB->ECS on the service port, ECS and DMS ->
// RDS on 5432.
func TestSecurityGroupIngressIsLeastPrivilege(t *testing.T) {
	d := sampleDoc(t)
	albIngress := at(d.props(t, idAlbSecurityGroup), "SecurityGroupIngress").([]any)
	wantALB := []any{
		map[string]any{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "SourcePrefixListId": refTo(ParamRoute53HealthCheckPrefixList),
			"Description": "Route 53 health checkers (AWS-managed prefix list)"},
		map[string]any{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "CidrIp": getAttOf(idVPC, "CidrBlock"),
			"Description": "Clients inside the VPC"},
	}
	if js(albIngress) != js(wantALB) {
		t.Errorf("ALB ingress = %s, want port 80 from the Route 53 health checkers' prefix list and the VPC only: %s", js(albIngress), js(wantALB))
	}
	if strings.Contains(js(d.props(t, idAlbSecurityGroup)), "0.0.0.0/0") {
		t.Errorf("ALB security group still admits the internet: %s", js(d.props(t, idAlbSecurityGroup)))
	}
	for _, id := range []string{idEcsSecurityGroup, idDBSecurityGroup, idDmsSecurityGroup} {
		if in := d.props(t, id)["SecurityGroupIngress"]; in != nil {
			t.Errorf("%s has inline ingress %s; only rules from named groups are allowed", id, js(in))
		}
	}
	want := map[string]struct {
		group, source string
		port          int
	}{
		"AlbToEcsIngress":      {idEcsSecurityGroup, idAlbSecurityGroup, 80},
		"EcsToDatabaseIngress": {idDBSecurityGroup, idEcsSecurityGroup, 5432},
		"DmsToDatabaseIngress": {idDBSecurityGroup, idDmsSecurityGroup, 5432},
	}
	ingress := d.ofType("AWS::EC2::SecurityGroupIngress")
	if len(ingress) != len(want) {
		t.Errorf("ingress rules %v, want %d", ingress, len(want))
	}
	for id, w := range want {
		p := d.props(t, id)
		mustEqual(t, id+" GroupId", p["GroupId"], getAttOf(w.group, "GroupId"))
		mustEqual(t, id+" source", p["SourceSecurityGroupId"], getAttOf(w.source, "GroupId"))
		mustEqual(t, id+" ports", []any{p["FromPort"], p["ToPort"], p["IpProtocol"]}, []any{w.port, w.port, "tcp"})
	}
}

func TestDatabaseSecurityGroupHasNoOutboundAccess(t *testing.T) {
	egress := at(sampleDoc(t).props(t, idDBSecurityGroup), "SecurityGroupEgress").([]any)
	if len(egress) != 1 || at(egress[0], "CidrIp") != "255.255.255.255/32" {
		t.Errorf("database egress = %s, want the match-nothing placeholder only", js(egress))
	}
}

func TestSecurityGroupNamesAreValidEC2Names(t *testing.T) {
	d := sampleDoc(t)
	for _, id := range d.ofType("AWS::EC2::SecurityGroup") {
		name := d.props(t, id)["GroupName"].(string)
		if len(name) < 3 || name[:3] == "sg-" {
			t.Errorf("%s GroupName %q starts with the reserved sg- prefix", id, name)
		}
	}
}

// A group without inline egress keeps EC2's allow-all egress even when separate
// egress rules are added; every group must therefore list inline egress, and no
// group but those that call AWS APIs may reach the internet.
func TestEveryGroupReplacesTheDefaultAllowAllEgress(t *testing.T) {
	d := sampleDoc(t)
	internet := map[string]bool{idEcsSecurityGroup: true, idDmsSecurityGroup: true}
	for _, id := range d.ofType("AWS::EC2::SecurityGroup") {
		egress, _ := d.props(t, id)["SecurityGroupEgress"].([]any)
		if len(egress) == 0 {
			t.Errorf("%s has no inline egress and keeps the default allow-all", id)
		}
		for _, e := range egress {
			if at(e, "CidrIp") == "0.0.0.0/0" && (!internet[id] || js(at(e, "FromPort")) != "443") {
				t.Errorf("%s egress %s reaches the internet", id, js(e))
			}
		}
	}
}

// The prefix list id is a parameter without a default (the operator looks it up
// per region), constrained to the shape of a prefix list id.
func TestRoute53HealthCheckPrefixListIsARequiredParameter(t *testing.T) {
	for _, region := range []string{sampleRegion, "eu-west-1"} {
		spec := sampleSpec(t)
		d := rendered(t, synth(t, spec, region))
		p, ok := at(map[string]any(d), "Parameters", ParamRoute53HealthCheckPrefixList).(map[string]any)
		if !ok {
			t.Fatalf("%s: no parameter %s in %s", region, ParamRoute53HealthCheckPrefixList, js(d["Parameters"]))
		}
		mustEqual(t, "Type", p["Type"], "String")
		mustEqual(t, "AllowedPattern", p["AllowedPattern"], "^pl-[0-9a-f]+$")
		if _, has := p["Default"]; has {
			t.Errorf("%s: parameter has a default %v; a stack without the looked-up id must fail", region, p["Default"])
		}
		if desc, _ := p["Description"].(string); !strings.Contains(desc, Route53HealthChecksPrefixList(region)) {
			t.Errorf("%s: description %q does not name the prefix list", region, desc)
		}
		// The only parameter without a default: the cutover state parameters
		// default to the state before any cutover.
		for name, other := range d["Parameters"].(map[string]any) {
			if _, has := other.(map[string]any)["Default"]; name != ParamRoute53HealthCheckPrefixList && !has {
				t.Errorf("%s: parameter %s has no default", region, name)
			}
		}
		if n := len(d["Parameters"].(map[string]any)); n != 4 {
			t.Errorf("%s: %d parameters, want the prefix list and the 3 cutover state parameters", region, n)
		}
	}
	if got := Route53HealthChecksPrefixList("eu-central-1"); got != "com.amazonaws.eu-central-1.route53-healthchecks" {
		t.Errorf("prefix list name = %q", got)
	}
}
