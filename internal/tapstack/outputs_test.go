package tapstack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

func TestAtLeast33OutputsEachDescribedAndExportedWithTheSuffix(t *testing.T) {
	outputs := sampleDoc(t).outputs()
	if len(outputs) < 33 {
		t.Errorf("%d outputs, want at least 33", len(outputs))
	}
	for name, o := range outputs {
		if d, _ := o["Description"].(string); d == "" {
			t.Errorf("output %s has no description", name)
		}
		mustEqual(t, name+" export", at(o, "Export", "Name"), "TapStackpr6185-"+name)
	}
}

func TestOutputsIncludeIdsArnsEndpointsAndTheDashboardURL(t *testing.T) {
	outputs := sampleDoc(t).outputs()
	want := map[string]any{
		"DMSTaskArn":           refTo(idDmsTask),
		"VpcId":                refTo(idVPC),
		"SourceDbEndpoint":     getAttOf("SourceDatabase", "Endpoint.Address"),
		"TargetDbSecretArn":    refTo("TargetDatabaseSecret"),
		"LoadBalancerDnsName":  getAttOf(idLoadBalancer, "DNSName"),
		"HostedZoneId":         refTo(idHostedZone),
		"AlarmTopicArn":        refTo(idAlarmTopic),
		"DashboardUrl":         map[string]any{"Fn::Sub": "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards:name=${Dashboard}"},
		"TargetHealthEndpoint": "http://target.payments.internal:80/",
	}
	for name, v := range want {
		mustEqual(t, name, outputs[name]["Value"], v)
	}
}

func TestOneRoute53CommandPerCutoverStepAndARollback(t *testing.T) {
	spec, region := variantSpec(t, variants[2]) // steps 5, 50, 100
	for _, c := range []struct {
		name  string
		d     doc
		steps []int
	}{{"sample", sampleDoc(t), []int{10, 25, 50, 100}}, {"custom steps", rendered(t, synth(t, spec, region)), []int{5, 50, 100}}} {
		t.Run(c.name, func(t *testing.T) {
			outputs := c.d.outputs()
			var got []string
			for name := range outputs {
				if strings.HasPrefix(name, "Route53Step") {
					got = append(got, name)
				}
			}
			var want []string
			for _, s := range c.steps {
				want = append(want, fmt.Sprintf("Route53Step%dPercentCommand", s))
			}
			sort.Strings(got)
			sort.Strings(want)
			mustEqual(t, "step outputs", got, want)
			if _, ok := outputs["Route53RollbackToSourceCommand"]; !ok {
				t.Error("no rollback command")
			}
		})
	}
}

func TestRunbookStepsAreOrdered(t *testing.T) {
	outputs := sampleDoc(t).outputs()
	for i := 1; i <= 8; i++ {
		name := fmt.Sprintf("RunbookStep%02d", i)
		if v, _ := outputs[name]["Value"].(string); v == "" {
			t.Errorf("runbook step %s missing", name)
		}
	}
}

// commands returns every output that is an aws command line, with the Fn::Sub
// references replaced by values of the right shape, as CloudFormation would.
func commands(t *testing.T, d doc) map[string]string {
	fake := map[string]string{
		idDmsTask:                         "arn:aws:dms:us-east-1:123456789012:task:ABCDEFGHIJKLMNOPQRSTUVWXYZ",
		idDmsReverseTask:                  "arn:aws:dms:us-east-1:123456789012:task:ZYXWVUTSRQPONMLKJIHGFEDCBA",
		idHostedZone:                      "Z0123456789ABCDEFGHIJ",
		idHealthCheck:                     "8f0e1f4c-6a9b-4d2e-9c3a-5b7d0e2f1a6c",
		"SourceDatabase.Endpoint.Address": "rds-source-pr6185.abcdefghijkl.us-east-1.rds.amazonaws.com",
		"TargetDatabase.Endpoint.Address": "rds-target-pr6185.abcdefghijkl.us-east-1.rds.amazonaws.com",
	}
	out := map[string]string{}
	for name, o := range d.outputs() {
		format, ok := at(o["Value"], "Fn::Sub").(string)
		if !ok || !strings.HasPrefix(format, "aws ") {
			continue
		}
		for _, r := range subRefs(format) {
			v, ok := fake[r]
			if !ok {
				t.Fatalf("output %s refers to ${%s}; add a fake value", name, r)
			}
			format = strings.ReplaceAll(format, "${"+r+"}", v)
		}
		out[name] = strings.ReplaceAll(format, "${!", "${") // Fn::Sub's literal escape
	}
	return out
}

// shellWords splits a command line as sh does for the quoting used in outputs:
// single quotes, double quotes, plain words.
func shellWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		switch c := line[i]; c {
		case ' ':
			if inWord {
				words, inWord = append(words, cur.String()), false
				cur.Reset()
			}
		case '\'', '"':
			end := strings.IndexByte(line[i+1:], c)
			if end < 0 {
				return nil, fmt.Errorf("unterminated %c quote", c)
			}
			cur.WriteString(line[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case '\\', '$', '`', '|', ';', '&', '<', '>', '(', ')':
			return nil, fmt.Errorf("unquoted shell metacharacter %q", c)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// cliOps are the operations outputs may print, with their required flags.
var cliOps = map[string][]string{
	"dms describe-replication-tasks":      {"--filters"},
	"dms start-replication-task":          {"--replication-task-arn", "--start-replication-task-type"},
	"dms stop-replication-task":           {"--replication-task-arn"},
	"dms describe-table-statistics":       {"--replication-task-arn"},
	"route53 get-health-check-status":     {"--health-check-id"},
	"route53 change-resource-record-sets": {"--hosted-zone-id", "--change-batch"},
}

func parseCommand(t *testing.T, line string) (op string, flags map[string]string) {
	t.Helper()
	words, err := shellWords(line)
	if err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	if len(words) < 3 || words[0] != "aws" {
		t.Fatalf("%q is not an aws command", line)
	}
	op = words[1] + " " + words[2]
	flags = map[string]string{}
	rest := words[3:]
	for i := 0; i < len(rest); i += 2 {
		if !strings.HasPrefix(rest[i], "--") || i+1 >= len(rest) || strings.HasPrefix(rest[i+1], "--") {
			t.Fatalf("%q: flag %q without a value", line, rest[i])
		}
		if _, dup := flags[rest[i]]; dup {
			t.Fatalf("%q: flag %s twice", line, rest[i])
		}
		flags[rest[i]] = rest[i+1]
	}
	return op, flags
}

func TestEveryAWSCommandParsesWithTheRightFlagsAndRegion(t *testing.T) {
	cmds := commands(t, sampleDoc(t))
	if len(cmds) < 11 {
		t.Errorf("%d command outputs, want at least 11", len(cmds))
	}
	for name, line := range cmds {
		t.Run(name, func(t *testing.T) {
			op, flags := parseCommand(t, line)
			required, known := cliOps[op]
			if !known {
				t.Fatalf("unexpected operation %q", op)
			}
			for _, f := range required {
				if flags[f] == "" {
					t.Errorf("missing %s", f)
				}
			}
			mustEqual(t, "--region", flags["--region"], sampleRegion)
			if batch, ok := flags["--change-batch"]; ok {
				var cb changeBatch
				dec := json.NewDecoder(strings.NewReader(batch))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&cb); err != nil {
					t.Fatalf("--change-batch is not valid JSON of a change batch: %v", err)
				}
			}
		})
	}
}

// A change batch must UPSERT exactly the two weighted records CloudFormation
// created (same name, type, set identifier and alias target), weights summing
// to 100, so Route 53 replaces them instead of adding records.
func TestChangeBatchesMatchTheWeightedRecordsAndSumTo100(t *testing.T) {
	d := sampleDoc(t)
	for name, line := range commands(t, d) {
		_, flags := parseCommand(t, line)
		batch, ok := flags["--change-batch"]
		if !ok {
			continue
		}
		var cb changeBatch
		if err := json.Unmarshal([]byte(batch), &cb); err != nil {
			t.Fatal(err)
		}
		if len(cb.Changes) > 0 && cb.Changes[0].ResourceRecordSet.Type == "CNAME" {
			continue // the writer record, see TestWriterCommandsUpsertExactlyTheWriterRecord
		}
		sum := 0
		for i, c := range cb.Changes {
			rec := d.props(t, []string{"SourceWeightedRecord", "TargetWeightedRecord"}[i])
			rrs := c.ResourceRecordSet
			mustEqual(t, name+" action", c.Action, "UPSERT")
			mustEqual(t, name+" record", []any{rrs.Name, rrs.Type, rrs.SetIdentifier, rrs.AliasTarget.DNSName, rrs.AliasTarget.EvaluateTargetHealth},
				[]any{rec["Name"], rec["Type"], rec["SetIdentifier"], at(rec, "AliasTarget", "DNSName"), at(rec, "AliasTarget", "EvaluateTargetHealth")})
			mustEqual(t, name+" alias zone", rrs.AliasTarget.HostedZoneID, flags["--hosted-zone-id"])
			if rrs.Weight == nil {
				t.Fatalf("%s: change without a weight", name)
			}
			sum += *rrs.Weight
		}
		if len(cb.Changes) != 2 || sum != 100 {
			t.Errorf("%s: %d changes with weights summing to %d", name, len(cb.Changes), sum)
		}
	}
	_, rollback := parseCommand(t, commands(t, d)["Route53RollbackToSourceCommand"])
	if !strings.Contains(rollback["--change-batch"], `"SetIdentifier":"source","Weight":100`) {
		t.Errorf("rollback does not send all traffic to the source: %s", rollback["--change-batch"])
	}
}

// The AWS CLI itself validates each command's parameters (names, shapes, JSON of
// --change-batch, shorthand of --filters) before it sends anything; pointed at a
// closed port it then fails to connect, which proves the command was accepted.
func TestAWSCLIAcceptsEveryCommandAsPrinted(t *testing.T) {
	aws, err := exec.LookPath("aws")
	if err != nil {
		t.Fatal("the AWS CLI is not on PATH; it is installed on every machine of this project (pip install awscli)")
	}
	for name, line := range commands(t, sampleDoc(t)) {
		t.Run(name, func(t *testing.T) {
			t.Parallel() // each run is mostly the CLI's start-up time
			words, err := shellWords(line)
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(aws, append(words[1:], "--endpoint-url", "http://127.0.0.1:9", "--cli-connect-timeout", "1")...)
			cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing", "AWS_MAX_ATTEMPTS=1",
				"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			_ = cmd.Run() // always fails: nothing listens on the endpoint
			if !strings.Contains(stderr.String(), "Could not connect to the endpoint URL") {
				t.Errorf("aws rejected %q:\n%s", line, stderr.String())
			}
		})
	}
}

// The keys the operator reads back name the outputs that hold those values.
func TestReadBackOutputKeysNameTheirOutputs(t *testing.T) {
	outputs := sampleDoc(t).outputs()
	want := map[string]any{
		OutputDMSReplicationInstanceArn: refTo(idDmsInstance),
		OutputDMSSourceEndpointArn:      refTo(idDmsEndpoint("source")),
		OutputDMSTargetEndpointArn:      refTo(idDmsEndpoint("target")),
		OutputDMSTaskArn:                refTo(idDmsTask),
		OutputSourceDbInstanceID:        refTo(idDatabase("source")),
		OutputTargetDbInstanceID:        refTo(idDatabase("target")),
		OutputSourceDbSecretArn:         refTo(idDBSecret("source")),
		OutputTargetDbSecretArn:         refTo(idDBSecret("target")),
		OutputSourceBucketName:          refTo(idBucket("source")),
		OutputTargetBucketName:          refTo(idBucket("target")),
		OutputAppDbSecretArn:            refTo(idAppSecret),
		OutputReverseDMSTaskArn:         refTo(idDmsReverseTask),
		OutputSourceDbEndpoint:          getAttOf(idDatabase("source"), "Endpoint.Address"),
		OutputTargetDbEndpoint:          getAttOf(idDatabase("target"), "Endpoint.Address"),
		OutputHostedZoneID:              refTo(idHostedZone),
		OutputHealthCheckID:             refTo(idHealthCheck),
		OutputWeightedRecordName:        "api.payments.internal.",
		OutputWriterRecordName:          "db.payments.internal.",
	}
	for key, v := range want {
		if _, ok := outputs[key]; !ok {
			t.Errorf("no output %s", key)
			continue
		}
		mustEqual(t, key, outputs[key]["Value"], v)
	}
}

// Each writer command UPSERTs the one writer record exactly as the template
// renders it for that WriterSide (name, type, TTL, the side's address), so
// Route 53 replaces the record rather than refusing a second CNAME.
func TestWriterCommandsUpsertExactlyTheWriterRecord(t *testing.T) {
	spec, region := variantSpec(t, noReversePath)
	for _, c := range []struct {
		name string
		d    doc
	}{{"sample", sampleDoc(t)}, {"custom writer record", rendered(t, synth(t, spec, region))}} {
		t.Run(c.name, func(t *testing.T) {
			rec := c.d.props(t, idWriterRecord)
			cmds := commands(t, c.d)
			for output, side := range map[string]string{"Route53WriterToSourceCommand": "source", "Route53WriterToTargetCommand": "target"} {
				_, flags := parseCommand(t, cmds[output])
				mustEqual(t, output+" zone", flags["--hosted-zone-id"], "Z0123456789ABCDEFGHIJ")
				var cb changeBatch
				if err := json.Unmarshal([]byte(flags["--change-batch"]), &cb); err != nil {
					t.Fatalf("%s: %v", output, err)
				}
				if len(cb.Changes) != 1 {
					t.Fatalf("%s: %d changes, want the writer record only", output, len(cb.Changes))
				}
				rrs := cb.Changes[0].ResourceRecordSet
				mustEqual(t, output+" action", cb.Changes[0].Action, "UPSERT")
				mustEqual(t, output+" record", []any{rrs.Name, rrs.Type, fmt.Sprint(rrs.TTL), rrs.SetIdentifier, rrs.Weight, rrs.AliasTarget},
					[]any{rec["Name"], "CNAME", rec["TTL"], "", nil, nil})
				// The printed value is the address the template's record takes for that side.
				address := c.d.evaluate(t, rec["ResourceRecords"], map[string]any{ParamWriterSide: side}).([]any)[0]
				dbID := at(address, "Fn::GetAtt", 0).(string)
				mustEqual(t, output+" value", rrs.ResourceRecords, []resourceRecord{{Value: map[string]string{
					"SourceDatabase": "rds-source-pr6185.abcdefghijkl.us-east-1.rds.amazonaws.com",
					"TargetDatabase": "rds-target-pr6185.abcdefghijkl.us-east-1.rds.amazonaws.com",
				}[dbID]}})
				if !strings.HasPrefix(dbID, strings.ToUpper(side[:1])+side[1:]) {
					t.Errorf("%s points at %s", output, dbID)
				}
			}
		})
	}
}

// start-replication on a task that ran reloads the target: the runbook says
// the start command is for the first start only, and points at resume.
func TestTheRunbookStartCommandIsForTheFirstStartOnly(t *testing.T) {
	outputs := sampleDoc(t).outputs()
	d, _ := outputs["DMSStartTaskCommand"]["Description"].(string)
	if !strings.Contains(d, "first start only") || !strings.Contains(d, "DMSResumeTaskCommand") {
		t.Errorf("DMSStartTaskCommand description %q does not say it is for the first start only", d)
	}
	step, _ := outputs["RunbookStep03"]["Value"].(string)
	if !strings.Contains(step, "once") || !strings.Contains(step, "DMSResumeTaskCommand") {
		t.Errorf("runbook step 3 %q does not say the task is started once", step)
	}
}
