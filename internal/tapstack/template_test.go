package tapstack

import (
	"strings"
	"testing"

	"github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/naming"
)

// Template-wide requirements: references, names, secrets, tags and policies.

// allDocs is the sample and every variant, for requirements that hold everywhere.
func allDocs(t *testing.T) map[string]doc {
	docs := map[string]doc{"sample": sampleDoc(t)}
	for _, v := range variants {
		spec, region := variantSpec(t, v)
		docs[v.name] = rendered(t, synth(t, spec, region))
	}
	return docs
}

func TestEveryRefGetAttSubAndDependsOnTargetExists(t *testing.T) {
	for name, d := range allDocs(t) {
		t.Run(name, func(t *testing.T) {
			resources := d.resources()
			exists := func(target string) bool {
				if strings.HasPrefix(target, "AWS::") {
					return true // pseudo parameter
				}
				_, ok := resources[target]
				return ok
			}
			params, _ := d["Parameters"].(map[string]any)
			conditions, _ := d["Conditions"].(map[string]any)
			check := func(where, target string) {
				if !exists(target) {
					t.Errorf("%s refers to missing resource %q", where, target)
				}
			}
			// A Ref may name a template parameter too; GetAtt and DependsOn may not.
			checkRef := func(where, target string) {
				if _, ok := params[target]; !ok {
					check(where, target)
				}
			}
			walk(map[string]any(d), "", func(path string, v any) {
				m, ok := v.(map[string]any)
				if !ok {
					return
				}
				if target, ok := m["Ref"].(string); ok {
					checkRef(path, target)
				}
				if ga, ok := m["Fn::GetAtt"].([]any); ok {
					check(path, ga[0].(string))
				}
				if fi, ok := m["Fn::If"].([]any); ok {
					if _, declared := conditions[fi[0].(string)]; !declared {
						t.Errorf("%s: Fn::If names missing condition %q", path, fi[0])
					}
				}
				if s, ok := m["Fn::Sub"]; ok {
					format, vars := subParts(s)
					for _, r := range subRefs(format) {
						if _, isVar := vars[r]; !isVar {
							checkRef(path, strings.SplitN(r, ".", 2)[0])
						}
					}
				}
			})
			for id, r := range resources {
				deps, _ := r["DependsOn"].([]any)
				for _, dep := range deps {
					check(id+"/DependsOn", dep.(string))
				}
			}
		})
	}
}

func subParts(s any) (string, map[string]any) {
	switch v := s.(type) {
	case string:
		return v, nil
	case []any:
		vars, _ := v[1].(map[string]any)
		return v[0].(string), vars
	}
	return "", nil
}

// W3005: a DependsOn that a Ref or GetAtt already implies is noise, and hides the
// dependencies that matter (those without a reference).
func TestDependsOnOnlyWhereNoReferenceImpliesIt(t *testing.T) {
	d := sampleDoc(t)
	for id, r := range d.resources() {
		deps, _ := r["DependsOn"].([]any)
		props := js(r["Properties"])
		for _, dep := range deps {
			if strings.Contains(props, `"Ref":"`+dep.(string)+`"`) || strings.Contains(props, `["`+dep.(string)+`",`) {
				t.Errorf("%s DependsOn %s although it already references it", id, dep)
			}
		}
	}
}

func TestNamedResourcesCarryTheSuffix(t *testing.T) {
	nameProps := []string{"BucketName", "DBInstanceIdentifier", "DBParameterGroupName", "DBSubnetGroupName", "Name", "RoleName",
		"ReplicationInstanceIdentifier", "ReplicationSubnetGroupIdentifier", "EndpointIdentifier", "ReplicationTaskIdentifier",
		"ClusterName", "ServiceName", "Family", "LogGroupName", "DashboardName", "TopicName", "AlarmName", "GroupName", "PolicyName"}
	exempt := map[string]bool{naming.New("").DMSVPCRole(): true, naming.New("").DMSLogsRole(): true}
	d := sampleDoc(t)
	for id, r := range d.resources() {
		props, _ := r["Properties"].(map[string]any)
		for _, p := range nameProps {
			v, ok := props[p]
			if !ok {
				continue
			}
			if _, isRef := at(v, "Ref").(string); isRef {
				continue // names another resource, checked there
			}
			name := js(v)
			switch {
			case exempt[strings.Trim(name, `"`)]: // the two DMS roles AWS looks up by name
				continue
			case r["Type"] == "AWS::Route53::HostedZone" || r["Type"] == "AWS::Route53::RecordSet":
				continue // DNS names inside the zone the user named
			case r["Type"] == "AWS::RDS::DBParameterGroup" && p == "Family":
				continue // the engine family, not a name
			}
			if !strings.Contains(name, "pr6185") {
				t.Errorf("%s.%s = %s does not carry the suffix", id, p, name)
			}
		}
	}
}

// Names built for the longest suffix the API allows must fit every AWS limit.
func TestNamesFitAWSLimitsForTheLongestSuffix(t *testing.T) {
	limits := map[string]map[string]int{
		"AWS::ElasticLoadBalancingV2::LoadBalancer": {"Name": 32},
		"AWS::ElasticLoadBalancingV2::TargetGroup":  {"Name": 32},
		"AWS::S3::Bucket":                           {"BucketName": 63},
		"AWS::RDS::DBInstance":                      {"DBInstanceIdentifier": 63},
		"AWS::DMS::ReplicationInstance":             {"ReplicationInstanceIdentifier": 63},
		"AWS::IAM::Role":                            {"RoleName": 64},
		"AWS::CloudWatch::Alarm":                    {"AlarmName": 255},
		"AWS::EC2::SecurityGroup":                   {"GroupName": 255},
		"AWS::SecretsManager::Secret":               {"Name": 512},
		"AWS::DMS::Endpoint":                        {"EndpointIdentifier": 255},
		"AWS::ECS::Cluster":                         {"ClusterName": 255},
	}
	spec := sampleSpec(t)
	spec.EnvironmentSuffix = strings.Repeat("z", naming.MaxSuffixLength)
	d := rendered(t, synth(t, spec, sampleRegion))
	for id, r := range d.resources() {
		for prop, limit := range limits[r["Type"].(string)] {
			v := at(r, "Properties", prop)
			name, ok := v.(string)
			if !ok { // Fn::Sub of a bucket name: the account id is 12 digits
				name = strings.ReplaceAll(at(v, "Fn::Sub").(string), "${AWS::AccountId}", strings.Repeat("1", naming.AccountIDLength))
			}
			if len(name) > limit {
				t.Errorf("%s.%s %q has %d characters, limit %d", id, prop, name, len(name), limit)
			}
		}
	}
	for name, o := range d.outputs() {
		if export := at(o, "Export", "Name").(string); len(export) > naming.KindExport.Limit {
			t.Errorf("output %s export name has %d characters", name, len(export))
		}
	}
}

// internal/naming checks its limits with the longest alarm and output names; a
// longer one here would make that check meaningless.
func TestNamingLimitChecksUseTheLongestAlarmAndOutputNames(t *testing.T) {
	d := sampleDoc(t)
	n := naming.New("pr6185")
	longestAlarm := len(n.Alarm(naming.LongestAlarm))
	for _, id := range d.ofType("AWS::CloudWatch::Alarm") {
		if name := d.props(t, id)["AlarmName"].(string); len(name) > longestAlarm {
			t.Errorf("alarm name %q is longer than naming.LongestAlarm allows for", name)
		}
	}
	for name := range d.outputs() {
		if len(name) > len(naming.LongestOutput) {
			t.Errorf("output %q is longer than naming.LongestOutput (%q)", name, naming.LongestOutput)
		}
	}
}

func TestBucketNamesUseTheAccountIDForGlobalUniqueness(t *testing.T) {
	d := sampleDoc(t)
	for _, s := range naming.Sides {
		mustEqual(t, string(s)+" bucket name", d.props(t, idBucket(s))["BucketName"],
			map[string]any{"Fn::Sub": "payments-" + string(s) + "-${AWS::AccountId}-pr6185"})
	}
}

// No password or secret value may appear in the template: only generated secrets
// and dynamic references.
func TestNoPasswordOrSecretValueInTheTemplate(t *testing.T) {
	for name, d := range allDocs(t) {
		t.Run(name, func(t *testing.T) {
			forbidden := map[string]bool{"Password": true, "Username": true, "SecretString": true}
			walk(map[string]any(d), "", func(path string, v any) {
				m, ok := v.(map[string]any)
				if !ok {
					return
				}
				for k := range m {
					if forbidden[k] {
						t.Errorf("%s has a %s property", path, k)
					}
				}
				if pw, ok := m["MasterUserPassword"]; ok {
					if !strings.HasPrefix(at(pw, "Fn::Sub").(string), "{{resolve:secretsmanager:") {
						t.Errorf("%s: MasterUserPassword is not a dynamic reference: %s", path, js(pw))
					}
				}
			})
			text := js(map[string]any(d))
			for _, needle := range []string{`"password":"`, "NoEcho", `"MasterUserPassword":"`} {
				if strings.Contains(text, needle) {
					t.Errorf("template contains %s", needle)
				}
			}
		})
	}
}

// Every resource is destroyable: deleting the stack leaves nothing behind.
func TestEveryResourceHasDeletionAndUpdateReplacePolicyDelete(t *testing.T) {
	for id, r := range sampleDoc(t).resources() {
		if r["DeletionPolicy"] != "Delete" || r["UpdateReplacePolicy"] != "Delete" {
			t.Errorf("%s: DeletionPolicy %v, UpdateReplacePolicy %v", id, r["DeletionPolicy"], r["UpdateReplacePolicy"])
		}
	}
}

// deletionPolicy Snapshot keeps the data and only the data: the databases
// leave final snapshots and the buckets stay, on deletion and on replacement;
// everything else is destroyable as with Delete. Retain is the operator's
// (it leaves the stack), so its template is Delete's.
func TestDeletionPolicySnapshotKeepsDatabasesAndBuckets(t *testing.T) {
	for _, policy := range []v1alpha1.DeletionPolicy{v1alpha1.DeletionPolicySnapshot, v1alpha1.DeletionPolicyRetain, v1alpha1.DeletionPolicyDelete} {
		t.Run(string(policy), func(t *testing.T) {
			spec := sampleSpec(t)
			spec.DeletionPolicy = policy
			res := rendered(t, synth(t, spec, sampleRegion)).resources()
			if got, want := len(res), len(sampleDoc(t).resources()); got != want {
				t.Errorf("%d resources, want the sample's %d", got, want)
			}
			kept := 0
			for id, r := range res {
				want := "Delete"
				if policy == v1alpha1.DeletionPolicySnapshot {
					switch r["Type"] {
					case "AWS::RDS::DBInstance":
						want = "Snapshot"
					case "AWS::S3::Bucket":
						want = "Retain"
					}
				}
				if want != "Delete" {
					kept++
				}
				if r["DeletionPolicy"] != want || r["UpdateReplacePolicy"] != want {
					t.Errorf("%s (%v): DeletionPolicy %v, UpdateReplacePolicy %v, want %s", id, r["Type"], r["DeletionPolicy"], r["UpdateReplacePolicy"], want)
				}
			}
			if policy == v1alpha1.DeletionPolicySnapshot && kept != 4 {
				t.Errorf("%d resources keep their data, want 2 databases and 2 buckets", kept)
			}
		})
	}
}

// nonTaggable are the resource types CloudFormation cannot tag.
var nonTaggable = map[string]bool{
	"AWS::EC2::VPCGatewayAttachment": true, "AWS::EC2::Route": true, "AWS::EC2::SubnetRouteTableAssociation": true,
	"AWS::EC2::SecurityGroupIngress": true, "AWS::EC2::SecurityGroupEgress": true,
	"AWS::SecretsManager::SecretTargetAttachment": true, "AWS::S3::BucketPolicy": true,
	"AWS::ElasticLoadBalancingV2::Listener": true, "AWS::ApplicationAutoScaling::ScalableTarget": true,
	"AWS::ApplicationAutoScaling::ScalingPolicy": true, "AWS::Route53::RecordSet": true,
	"AWS::CloudWatch::Dashboard": true, "AWS::SNS::Subscription": true,
}

func tagsOf(r map[string]any) map[string]string {
	props, _ := r["Properties"].(map[string]any)
	out := map[string]string{}
	for _, key := range []string{"Tags", "HostedZoneTags", "HealthCheckTags"} {
		list, _ := props[key].([]any)
		for _, tag := range list {
			out[at(tag, "Key").(string)] = at(tag, "Value").(string)
		}
	}
	return out
}

func TestEveryTaggableResourceCarriesAllStackTags(t *testing.T) {
	spec := sampleSpec(t)
	for id, r := range sampleDoc(t).resources() {
		if nonTaggable[r["Type"].(string)] {
			continue
		}
		got := tagsOf(r)
		for k, v := range spec.Tags {
			if got[k] != v {
				t.Errorf("%s (%s): tag %s = %q, want %q", id, r["Type"], k, got[k], v)
			}
		}
	}
}

func TestRequiredTagsArePresentInTheSample(t *testing.T) {
	spec := sampleSpec(t)
	for _, k := range requiredTags {
		if spec.Tags[k] == "" {
			t.Errorf("sample spec lacks tag %s", k)
		}
	}
	mustEqual(t, "VPC Environment tag", tagsOf(sampleDoc(t).resource(t, idVPC))["Environment"], "pr6185")
}
