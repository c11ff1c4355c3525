package tapstack

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/tapstack/payment-migration-operator/api/v1alpha1"
)

// The task dimension is the resource id at the end of the task ARN, derived from
// the task's Ref: DMS publishes task metrics under it, not the friendly name.
func taskIDFromARN() map[string]any {
	return map[string]any{"Fn::Select": []any{6, map[string]any{"Fn::Split": []any{":", refTo(idDmsTask)}}}}
}

func TestDMSLagAlarmsUseTheARNResourceIDAndTheLagThreshold(t *testing.T) {
	for _, lag := range []int32{60, 15} {
		spec := sampleSpec(t)
		spec.Replication.LagThresholdSeconds = lag
		d := rendered(t, synth(t, spec, sampleRegion))
		for id, metric := range map[string]string{"DmsCdcLatencySourceAlarm": "CDCLatencySource", "DmsCdcLatencyTargetAlarm": "CDCLatencyTarget"} {
			p := d.props(t, id)
			mustEqual(t, id+" metric", []any{p["Namespace"], p["MetricName"]}, []any{"AWS/DMS", metric})
			mustEqual(t, id+" threshold", []any{p["Threshold"], p["ComparisonOperator"]}, []any{lag, "GreaterThanThreshold"})
			mustEqual(t, id+" dimensions", p["Dimensions"], []any{
				map[string]any{"Name": "ReplicationInstanceIdentifier", "Value": "dms-instance-pr6185"},
				map[string]any{"Name": "ReplicationTaskIdentifier", "Value": taskIDFromARN()},
			})
		}
	}
}

func TestEveryAlarmNotifiesTheTopicOnAlarmAndOK(t *testing.T) {
	d := sampleDoc(t)
	alarms := d.ofType("AWS::CloudWatch::Alarm")
	for _, id := range alarms {
		p := d.props(t, id)
		mustEqual(t, id+" AlarmActions", p["AlarmActions"], []any{refTo(idAlarmTopic)})
		mustEqual(t, id+" OKActions", p["OKActions"], []any{refTo(idAlarmTopic)})
		if !strings.HasSuffix(p["AlarmName"].(string), "-pr6185") {
			t.Errorf("%s name %v lacks the suffix", id, p["AlarmName"])
		}
	}
}

func TestAlarmsCoverDatabaseCPUECSTasksAndALB5xx(t *testing.T) {
	d := sampleDoc(t)
	want := map[string][]any{
		"SourceDatabaseCpuAlarm": {"AWS/RDS", "CPUUtilization", "GreaterThanThreshold"},
		"TargetDatabaseCpuAlarm": {"AWS/RDS", "CPUUtilization", "GreaterThanThreshold"},
		"EcsRunningTasksAlarm":   {"ECS/ContainerInsights", "RunningTaskCount", "LessThanThreshold"},
		"AlbElb5xxAlarm":         {"AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "GreaterThanThreshold"},
		"AlbTarget5xxAlarm":      {"AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "GreaterThanThreshold"},
	}
	for id, w := range want {
		p := d.props(t, id)
		mustEqual(t, id, []any{p["Namespace"], p["MetricName"], p["ComparisonOperator"]}, w)
	}
	mustEqual(t, "ECS running tasks threshold", d.props(t, "EcsRunningTasksAlarm")["Threshold"], 2)
	mustEqual(t, "DB CPU dimension", d.props(t, "SourceDatabaseCpuAlarm")["Dimensions"],
		[]any{map[string]any{"Name": "DBInstanceIdentifier", "Value": refTo("SourceDatabase")}})
}

func TestDashboardHasAtLeastSixWidgetsOfTheWholePipeline(t *testing.T) {
	body := at(sampleDoc(t).props(t, idDashboard), "DashboardBody", "Fn::Sub")
	parts := body.([]any)
	mustEqual(t, "TaskId variable", at(parts[1], "TaskId"), taskIDFromARN())
	var dash dashboard
	if err := json.Unmarshal([]byte(parts[0].(string)), &dash); err != nil {
		t.Fatalf("dashboard body is not JSON: %v", err)
	}
	if len(dash.Widgets) < 6 {
		t.Fatalf("%d widgets, want at least 6", len(dash.Widgets))
	}
	text := parts[0].(string)
	for _, metric := range []string{"CDCLatencySource", "CDCThroughputRowsTarget", "CPUUtilization", "DatabaseConnections", "ReadIOPS", "RunningTaskCount", "RequestCount", "HTTPCode_ELB_5XX_Count"} {
		if !strings.Contains(text, `"`+metric+`"`) {
			t.Errorf("dashboard lacks %s", metric)
		}
	}
}

func TestEmailSubscriptionOnlyWhenAnAddressIsGiven(t *testing.T) {
	d := sampleDoc(t)
	mustEqual(t, "subscription", d.props(t, idAlarmSubscription), map[string]any{
		"TopicArn": refTo(idAlarmTopic), "Protocol": "email", "Endpoint": "payments-oncall@example.com"})
	spec, region := variantSpec(t, variants[1])
	if ids := rendered(t, synth(t, spec, region)).ofType("AWS::SNS::Subscription"); len(ids) != 0 {
		t.Errorf("subscriptions %v without alerts.email", ids)
	}
}

// The cutover's alarm gate asks for exactly the alarms the stack has.
func TestAlarmNamesAreTheTemplatesAlarms(t *testing.T) {
	for _, v := range append([]variant{{"sample", func(*v1alpha1.PaymentMigrationSpec) {}}}, variants...) {
		spec, region := variantSpec(t, v)
		d := rendered(t, synth(t, spec, region))
		var want []string
		for _, id := range d.ofType("AWS::CloudWatch::Alarm") {
			want = append(want, d.props(t, id)["AlarmName"].(string))
		}
		sort.Strings(want)
		mustEqual(t, v.name, AlarmNames(spec), want)
	}
}
