package tapstack

import (
	"strings"
	"testing"

	"github.com/tapstack/payment-migration-operator/api/v1alpha1"
)

// An existing source is parameters, never resources: the stack cannot modify
// or delete what it does not contain.
func TestAnExistingSourceIsNotInTheStack(t *testing.T) {
	for _, v := range variants {
		spec, region := variantSpec(t, v)
		if !spec.Source.Existing() {
			continue
		}
		t.Run(v.name, func(t *testing.T) {
			d := rendered(t, synth(t, spec, region))
			for _, id := range []string{"SourceDatabase", "SourceDatabaseParameterGroup", "SourceDatabaseSecret",
				"SourceDatabaseSecretAttachment", "SourceBucket", "SourceBucketPolicy", idAppSecret, idBucketReplicationRole} {
				if _, ok := d.resources()[id]; ok {
					t.Errorf("resource %s is in the stack of an existing source", id)
				}
			}
			for _, id := range []string{"TargetDatabase", "TargetDatabaseSecret", "TargetBucket", "TargetBucketPolicy"} {
				d.resource(t, id)
			}
			if rc := at(d.props(t, "TargetBucket"), "ReplicationConfiguration"); rc != nil {
				t.Errorf("target bucket has a replication configuration: %s", js(rc))
			}
			params := d["Parameters"].(map[string]any)
			for _, p := range []string{ParamSourceDbInstanceID, ParamSourceDbAddress, ParamSourceDbSecretArn,
				ParamSourceSecurityGroupID, ParamSourceBucketName, ParamAppDbSecretArn} {
				if _, ok := params[p]; !ok {
					t.Errorf("no parameter %s", p)
				} else if _, hasDefault := params[p].(map[string]any)["Default"]; hasDefault {
					t.Errorf("parameter %s has a default: a stack without the source must fail", p)
				}
			}
			n := synth(t, spec, region).ResourceCount()
			if n < 80 || n > 90 {
				t.Errorf("%d resources", n)
			}
		})
	}
}

func existingDoc(t *testing.T) doc {
	spec := sampleSpec(t)
	existingAWSSource(&spec)
	return rendered(t, synth(t, spec, sampleRegion))
}

// Everything that named the source's resources now names the parameters.
func TestTheLayersReachAnExistingSourceThroughItsParameters(t *testing.T) {
	d := existingDoc(t)
	ep := d.props(t, "SourceDmsEndpoint")
	mustEqual(t, "source endpoint secret", at(ep, "PostgreSqlSettings", "SecretsManagerSecretId"), refTo(ParamSourceDbSecretArn))
	mustEqual(t, "source endpoint server", ep["ServerName"], refTo(ParamSourceDbAddress))
	mustEqual(t, "source endpoint port", ep["Port"], 6432)
	mustEqual(t, "target port", d.props(t, "TargetDatabase")["Port"], "6432")
	if dep := d.resource(t, "SourceDmsEndpoint")["DependsOn"]; dep != nil {
		t.Errorf("source endpoint depends on %s", js(dep))
	}
	// The reverse path writes into the source through an endpoint of its own.
	mustEqual(t, "reverse target endpoint server", d.props(t, "TargetDmsReverseEndpoint")["ServerName"], refTo(ParamSourceDbAddress))
	mustEqual(t, "writer record", at(d.props(t, idWriterRecord), "ResourceRecords", 0),
		map[string]any{"Fn::If": []any{condWriterIsTarget, getAttOf("TargetDatabase", "Endpoint.Address"), refTo(ParamSourceDbAddress)}})
	for out, want := range map[string]any{
		OutputSourceDbInstanceID: refTo(ParamSourceDbInstanceID), OutputSourceDbEndpoint: refTo(ParamSourceDbAddress),
		OutputSourceDbSecretArn: refTo(ParamSourceDbSecretArn), OutputSourceBucketName: refTo(ParamSourceBucketName),
		OutputAppDbSecretArn: refTo(ParamAppDbSecretArn),
	} {
		mustEqual(t, "output "+out, d.outputs()[out]["Value"], want)
	}
	secrets := at(d.props(t, "TaskDefinition"), "ContainerDefinitions", 0, "Secrets")
	if !strings.Contains(js(secrets), "${"+ParamAppDbSecretArn+"}:password::") {
		t.Errorf("the service does not read the current service's secret: %s", js(secrets))
	}
	if !strings.Contains(js(d.resources()["SourceDatabaseCpuAlarm"]), js(refTo(ParamSourceDbInstanceID))) {
		t.Errorf("the source CPU alarm does not watch the existing instance: %s", js(d.resources()["SourceDatabaseCpuAlarm"]))
	}
	mustEqual(t, "source entry point", at(d.props(t, "SourceAliasRecord"), "AliasTarget"), map[string]any{
		"DNSName": refTo(ParamSourceLoadBalancerDNSName), "HostedZoneId": refTo(ParamSourceLoadBalancerZoneID), "EvaluateTargetHealth": true})
	mustEqual(t, "target entry point", at(d.props(t, "TargetAliasRecord"), "AliasTarget", "DNSName"), getAttOf(idLoadBalancer, "DNSName"))
}

// DMS and the service reach the source through rules on its own group, which
// go with the stack.
func TestTheStackOpensTheSourceGroupToDMSAndTheServiceOnly(t *testing.T) {
	d := existingDoc(t)
	var opened []string
	for _, id := range d.ofType("AWS::EC2::SecurityGroupIngress") {
		p := d.props(t, id)
		if js(p["GroupId"]) != js(refTo(ParamSourceSecurityGroupID)) {
			continue
		}
		if p["FromPort"] != float64(6432) || p["ToPort"] != float64(6432) || p["IpProtocol"] != "tcp" {
			t.Errorf("%s opens %v-%v/%v", id, p["FromPort"], p["ToPort"], p["IpProtocol"])
		}
		if p["CidrIp"] != nil {
			t.Errorf("%s admits a CIDR: %v", id, p["CidrIp"])
		}
		opened = append(opened, js(p["SourceSecurityGroupId"]))
	}
	mustEqual(t, "groups admitted to the source", opened,
		[]string{js(getAttOf(idDmsSecurityGroup, "GroupId")), js(getAttOf(idEcsSecurityGroup, "GroupId"))})
	for _, id := range []string{"DmsToSourceDatabaseEgress", "EcsToSourceDatabaseEgress"} {
		mustEqual(t, id, d.props(t, id)["DestinationSecurityGroupId"], refTo(ParamSourceSecurityGroupID))
	}
}

func TestSynthesizeRefusesAnExistingSourceWithoutItsFields(t *testing.T) {
	for _, c := range []struct {
		name, want string
		src        v1alpha1.SourceSpec
	}{
		{"ack without ack", "spec.source.ack", v1alpha1.SourceSpec{Type: v1alpha1.SourceACK, ApplicationSecretARN: testAppSecretARN}},
		{"aws without app secret", "spec.source.applicationSecretARN", v1alpha1.SourceSpec{Type: v1alpha1.SourceAWS, AWS: &v1alpha1.AWSSource{}}},
		{"unknown type", "spec.source.type", v1alpha1.SourceSpec{Type: "Existing"}},
	} {
		spec := sampleSpec(t)
		spec.Source = c.src
		_, err := Synthesize(spec, sampleRegion)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %s", c.name, err, c.want)
		}
	}
}

// The in-VPC runner finds an existing source where the operator resolved it:
// the secret RDS manages holds no host, port or database.
func TestTheInVPCRunnerReachesAnExistingSourceThroughTheParameters(t *testing.T) {
	spec := sampleSpec(t)
	existingAWSSource(&spec)
	spec.SQLRunner = v1alpha1.SQLRunnerSpec{Mode: v1alpha1.SQLRunnerInVPC, Image: "public.ecr.aws/docker/library/postgres:15-alpine"}
	d := rendered(t, synth(t, spec, sampleRegion))
	c := at(d.props(t, idSQLRunnerTaskDefinition), "ContainerDefinitions", 0).(map[string]any)
	env := map[string]string{}
	for _, kv := range c["Environment"].([]any) {
		m := kv.(map[string]any)
		env[m["Name"].(string)] = js(m["Value"])
	}
	mustEqual(t, "SOURCE_HOST", env["SOURCE_HOST"], js(refTo(ParamSourceDbAddress)))
	mustEqual(t, "SOURCE_PORT", env["SOURCE_PORT"], js("6432"))
	mustEqual(t, "SOURCE_DBNAME", env["SOURCE_DBNAME"], js(spec.Database.DatabaseName))
	var secrets []string
	for _, s := range c["Secrets"].([]any) {
		secrets = append(secrets, s.(map[string]any)["Name"].(string))
	}
	mustEqual(t, "runner secrets", secrets, []string{"SOURCE_USER", "SOURCE_PASSWORD", "TARGET_HOST", "TARGET_PORT", "TARGET_DBNAME", "TARGET_USER", "TARGET_PASSWORD", "APP_USER", "APP_PASSWORD"})
	if !strings.Contains(js(c["Secrets"]), ParamSourceDbSecretArn) || !strings.Contains(js(c["Secrets"]), ParamAppDbSecretArn) {
		t.Errorf("the runner's secrets are not the existing source's: %s", js(c["Secrets"]))
	}
}
