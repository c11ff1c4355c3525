package tapstack

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/awslabs/goformation/v7/cloudformation/cloudwatch"
	"github.com/awslabs/goformation/v7/cloudformation/sns"

	"github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/naming"
)

// Observability layer: an SNS topic for alarm and OK notifications, the alarms
// that guard the migration, and a dashboard of the whole pipeline.

const (
	idAlarmTopic        = "AlarmTopic"
	idAlarmSubscription = "AlarmEmailSubscription"
	idDashboard         = "Dashboard"

	alarmPeriod          = 60
	dbCPUThreshold       = 80
	freeStorageFraction  = 0.1
	http5xxThreshold     = 10
	gibibyte             = 1 << 30
	dmsNamespace         = "AWS/DMS"
	rdsNamespace         = "AWS/RDS"
	albNamespace         = "AWS/ApplicationELB"
	containerInsightsNS  = "ECS/ContainerInsights"
	dashboardWidgetWidth = 12
	dashboardWidgetHigh  = 6
)

// alarmSpec is the part of an alarm that differs from one alarm to the next.
type alarmSpec struct {
	id, name, description string
	namespace, metric     string
	dimensions            []cloudwatch.Alarm_Dimension
	statistic, comparison string
	threshold             float64
	evaluationPeriods     int
}

func (b *builder) observability() {
	b.add(idAlarmTopic, &sns.Topic{TopicName: ptr(b.names.Topic()), DisplayName: ptr("Payment migration " + b.spec.EnvironmentSuffix)})
	if email := b.spec.Alerts.Email; email != "" {
		b.add(idAlarmSubscription, &sns.Subscription{TopicArn: ref(idAlarmTopic), Protocol: "email", Endpoint: ptr(email)})
	}
	for _, a := range b.alarms() {
		b.add(a.id, b.alarm(a))
	}
	b.add(idDashboard, &cloudwatch.Dashboard{DashboardName: ptr(b.names.Dashboard()), DashboardBody: b.dashboardBody()})
}

// AlarmNames are the names of the stack's alarms for spec, sorted: the
// cutover's gate refuses to go on while any of them is in ALARM.
func AlarmNames(spec v1alpha1.PaymentMigrationSpec) []string {
	b := newBuilder(spec, "")
	var names []string
	for _, a := range b.alarms() {
		names = append(names, b.names.Alarm(a.name))
	}
	sort.Strings(names)
	return names
}

func dim(name, value string) cloudwatch.Alarm_Dimension {
	return cloudwatch.Alarm_Dimension{Name: name, Value: value}
}

// dmsTaskDimensions identify the task the way DMS publishes its metrics: the
// ReplicationTaskIdentifier dimension is the resource id at the end of the task
// ARN (Ref of the task), not the task's friendly identifier.
func (b *builder) dmsTaskDimensions() []cloudwatch.Alarm_Dimension {
	return []cloudwatch.Alarm_Dimension{
		dim("ReplicationInstanceIdentifier", b.names.DMSInstance()),
		dim("ReplicationTaskIdentifier", arnResourceID(ref(idDmsTask))),
	}
}

func (b *builder) albDimensions(withTargetGroup bool) []cloudwatch.Alarm_Dimension {
	d := []cloudwatch.Alarm_Dimension{dim("LoadBalancer", getAtt(idLoadBalancer, "LoadBalancerFullName"))}
	if withTargetGroup {
		d = append(d, dim("TargetGroup", getAtt(idTargetGroup, "TargetGroupFullName")))
	}
	return d
}

func (b *builder) alarms() []alarmSpec {
	lag := float64(b.spec.Replication.LagThresholdSeconds)
	alarms := []alarmSpec{
		{id: "DmsCdcLatencySourceAlarm", name: "dms-cdc-latency-source", metric: "CDCLatencySource", namespace: dmsNamespace,
			description: fmt.Sprintf("DMS reads changes from the source more than %ds late", int(lag)),
			dimensions:  b.dmsTaskDimensions(), statistic: "Maximum", comparison: "GreaterThanThreshold", threshold: lag, evaluationPeriods: 3},
		{id: "DmsCdcLatencyTargetAlarm", name: "dms-cdc-latency-target", metric: "CDCLatencyTarget", namespace: dmsNamespace,
			description: fmt.Sprintf("Changes reach the target more than %ds after the source committed them", int(lag)),
			dimensions:  b.dmsTaskDimensions(), statistic: "Maximum", comparison: "GreaterThanThreshold", threshold: lag, evaluationPeriods: 3},
		{id: "EcsRunningTasksAlarm", name: "ecs-running-tasks", metric: "RunningTaskCount", namespace: containerInsightsNS,
			description: "Fewer payment service tasks running than the minimum capacity",
			dimensions:  []cloudwatch.Alarm_Dimension{dim("ClusterName", ref(idCluster)), dim("ServiceName", getAtt(idService, "Name"))},
			statistic:   "Minimum", comparison: "LessThanThreshold", threshold: float64(b.spec.Service.MinCapacity), evaluationPeriods: 3},
		{id: "AlbElb5xxAlarm", name: "alb-elb-5xx", metric: "HTTPCode_ELB_5XX_Count", namespace: albNamespace,
			description: "The load balancer answers with 5xx errors",
			dimensions:  b.albDimensions(false), statistic: "Sum", comparison: "GreaterThanThreshold", threshold: http5xxThreshold, evaluationPeriods: 2},
		{id: "AlbTarget5xxAlarm", name: "alb-target-5xx", metric: "HTTPCode_Target_5XX_Count", namespace: albNamespace,
			description: "The payment service answers with 5xx errors",
			dimensions:  b.albDimensions(true), statistic: "Sum", comparison: "GreaterThanThreshold", threshold: http5xxThreshold, evaluationPeriods: 2},
		{id: "AlbUnhealthyHostsAlarm", name: "alb-unhealthy-hosts", metric: "UnHealthyHostCount", namespace: albNamespace,
			description: "Payment service tasks fail the target group health check",
			dimensions:  b.albDimensions(true), statistic: "Maximum", comparison: "GreaterThanThreshold", threshold: 0, evaluationPeriods: 3},
	}
	for _, s := range naming.Sides {
		alarms = append(alarms, b.databaseAlarms(s)...)
	}
	return alarms
}

func (b *builder) databaseAlarms(s naming.Side) []alarmSpec {
	dims := []cloudwatch.Alarm_Dimension{dim("DBInstanceIdentifier", b.dbInstanceID(s))}
	minFree := freeStorageFraction * float64(b.spec.Database.AllocatedStorageGiB) * gibibyte
	return []alarmSpec{
		{id: sided(s, "DatabaseCpuAlarm"), name: "rds-cpu-" + string(s), metric: "CPUUtilization", namespace: rdsNamespace,
			description: fmt.Sprintf("CPU of the %s database above %d%%", s, dbCPUThreshold),
			dimensions:  dims, statistic: "Average", comparison: "GreaterThanThreshold", threshold: dbCPUThreshold, evaluationPeriods: 5},
		{id: sided(s, "DatabaseStorageAlarm"), name: "rds-storage-" + string(s), metric: "FreeStorageSpace", namespace: rdsNamespace,
			description: fmt.Sprintf("Less than %d%% of the %s database's storage is free", int(freeStorageFraction*100), s),
			dimensions:  dims, statistic: "Minimum", comparison: "LessThanThreshold", threshold: minFree, evaluationPeriods: 3},
	}
}

// alarm notifies the topic both ways: when it fires and when it clears, so the
// on-call (and the operator's alarm gate) sees recovery too. Missing data is not
// breaching: a stopped task or an idle service publishes nothing.
func (b *builder) alarm(a alarmSpec) *cloudwatch.Alarm {
	return &cloudwatch.Alarm{
		AlarmName:          ptr(b.names.Alarm(a.name)),
		AlarmDescription:   ptr(a.description),
		Namespace:          ptr(a.namespace),
		MetricName:         ptr(a.metric),
		Dimensions:         a.dimensions,
		Statistic:          ptr(a.statistic),
		Period:             ptr(alarmPeriod),
		EvaluationPeriods:  a.evaluationPeriods,
		Threshold:          ptr(a.threshold),
		ComparisonOperator: a.comparison,
		TreatMissingData:   ptr("notBreaching"),
		AlarmActions:       []string{ref(idAlarmTopic)},
		OKActions:          []string{ref(idAlarmTopic)},
	}
}

type dashboard struct {
	Widgets []widget `json:"widgets"`
}

type widget struct {
	Type       string           `json:"type"`
	X          int              `json:"x"`
	Y          int              `json:"y"`
	Width      int              `json:"width"`
	Height     int              `json:"height"`
	Properties widgetProperties `json:"properties"`
}

type widgetProperties struct {
	Title   string     `json:"title"`
	Region  string     `json:"region"`
	View    string     `json:"view"`
	Stat    string     `json:"stat"`
	Period  int        `json:"period"`
	Metrics [][]string `json:"metrics"`
}

// dashboardBody is the dashboard JSON as an Fn::Sub template: ${...} placeholders
// are resolved by CloudFormation to the ids the metrics are published under.
func (b *builder) dashboardBody() string {
	dmsTask := []string{"ReplicationInstanceIdentifier", b.names.DMSInstance(), "ReplicationTaskIdentifier", "${TaskId}"}
	db := func(metric string) [][]string {
		var m [][]string
		for _, s := range naming.Sides {
			m = append(m, []string{rdsNamespace, metric, "DBInstanceIdentifier", "${" + b.subDBInstanceID(s) + "}"})
		}
		return m
	}
	ecsDims := []string{"ClusterName", "${" + idCluster + "}", "ServiceName", "${" + idService + ".Name}"}
	alb := []string{"LoadBalancer", "${" + idLoadBalancer + ".LoadBalancerFullName}"}
	panels := []struct {
		title, stat string
		metrics     [][]string
	}{
		{"DMS replication lag (s)", "Maximum", [][]string{
			append([]string{dmsNamespace, "CDCLatencySource"}, dmsTask...),
			append([]string{dmsNamespace, "CDCLatencyTarget"}, dmsTask...)}},
		{"DMS throughput (rows/s) and incoming changes", "Average", [][]string{
			append([]string{dmsNamespace, "CDCThroughputRowsSource"}, dmsTask...),
			append([]string{dmsNamespace, "CDCThroughputRowsTarget"}, dmsTask...),
			append([]string{dmsNamespace, "CDCIncomingChanges"}, dmsTask...)}},
		{"Database CPU (%)", "Average", db("CPUUtilization")},
		{"Database connections", "Average", db("DatabaseConnections")},
		{"Database IOPS", "Average", append(db("ReadIOPS"), db("WriteIOPS")...)},
		{"Payment service tasks", "Average", [][]string{
			append([]string{containerInsightsNS, "RunningTaskCount"}, ecsDims...),
			append([]string{containerInsightsNS, "DesiredTaskCount"}, ecsDims...)}},
		{"Payment service CPU and memory (%)", "Average", [][]string{
			append([]string{"AWS/ECS", "CPUUtilization"}, ecsDims...),
			append([]string{"AWS/ECS", "MemoryUtilization"}, ecsDims...)}},
		{"ALB requests and 5xx", "Sum", [][]string{
			append([]string{albNamespace, "RequestCount"}, alb...),
			append([]string{albNamespace, "HTTPCode_ELB_5XX_Count"}, alb...),
			append([]string{albNamespace, "HTTPCode_Target_5XX_Count"}, alb...)}},
	}
	var d dashboard
	for i, p := range panels {
		d.Widgets = append(d.Widgets, widget{
			Type: "metric", X: (i % 2) * dashboardWidgetWidth, Y: (i / 2) * dashboardWidgetHigh,
			Width: dashboardWidgetWidth, Height: dashboardWidgetHigh,
			Properties: widgetProperties{Title: p.title, Region: b.region, View: "timeSeries", Stat: p.stat, Period: alarmPeriod, Metrics: p.metrics},
		})
	}
	body, err := json.Marshal(d)
	if err != nil {
		panic(err) // typed dashboard always marshals
	}
	return subVars(string(body), map[string]string{"TaskId": arnResourceID(ref(idDmsTask))})
}
