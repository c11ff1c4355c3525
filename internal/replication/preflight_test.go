package replication

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

const (
	sourceARN = "arn:aws:dms:eu-west-1:123456789012:endpoint:SRC"
	targetARN = "arn:aws:dms:eu-west-1:123456789012:endpoint:TGT"
)

// Line numbers of the checks in the PreflightPassed message.
const (
	lineLogicalReplication = iota
	lineRoles
	lineInstance
	lineSourceConnection
	lineTargetConnection
)

func healthyPreflight() PreflightObservation {
	return PreflightObservation{
		SourceDBStatus:       "available",
		ParameterGroup:       "payments-source-pg-dev",
		ParameterApplyStatus: "in-sync",
		LogicalReplication:   "1",
		Roles: []RoleCheck{
			{Name: "dms-vpc-role", Exists: true, TrustsDMS: true},
			{Name: "dms-cloudwatch-logs-role", Exists: true, TrustsDMS: true},
		},
		InstanceStatus: "available",
		Connections: []Connection{
			{Side: "source", EndpointARN: sourceARN, Status: "successful"},
			{Side: "target", EndpointARN: targetARN, Status: "successful"},
		},
		Databases: healthyDatabases(),
	}
}

// wantLine is what one check's line must look like.
type wantLine struct {
	line     int
	prefix   string // "ok   ", "wait " or "FAIL "
	contains string
}

func TestEvaluatePreflight_Checks(t *testing.T) {
	for _, c := range []struct {
		name        string
		mutate      func(*PreflightObservation)
		allowReboot bool
		wantPassed  bool
		wantReason  string
		wantLines   []wantLine
		wantReboot  bool
		wantTests   []string
	}{
		{
			name: "everything in order passes with an ok line per check", wantPassed: true, wantReason: "AllChecksPassed",
			wantLines: []wantLine{
				{lineLogicalReplication, "ok   ", "in-sync"},
				{lineRoles, "ok   ", "dms-vpc-role, dms-cloudwatch-logs-role"},
				{lineInstance, "ok   ", "available"},
				{lineSourceConnection, "ok   ", "source endpoint connection: successful"},
				{lineTargetConnection, "ok   ", "target endpoint connection: successful"},
			},
		},
		{
			name:       "logical replication off fails",
			mutate:     func(o *PreflightObservation) { o.LogicalReplication = "0" },
			wantReason: "LogicalReplicationOff",
			wantLines:  []wantLine{{lineLogicalReplication, "FAIL ", `rds.logical_replication is "0" in payments-source-pg-dev`}},
		},
		{
			name:       "logical replication absent from the group fails",
			mutate:     func(o *PreflightObservation) { o.LogicalReplication = "" },
			wantReason: "LogicalReplicationOff",
			wantLines:  []wantLine{{lineLogicalReplication, "FAIL ", `rds.logical_replication is ""`}},
		},
		{
			name: "logical replication off is not fixed by a reboot, even when allowed",
			mutate: func(o *PreflightObservation) {
				o.LogicalReplication, o.ParameterApplyStatus = "0", "pending-reboot"
			},
			allowReboot: true,
			wantReason:  "LogicalReplicationOff",
			wantLines:   []wantLine{{lineLogicalReplication, "FAIL ", "needs 1"}},
		},
		{
			name:       "a parameter group still applying waits",
			mutate:     func(o *PreflightObservation) { o.ParameterApplyStatus = "applying" },
			wantReason: "ParameterApplying",
			wantLines:  []wantLine{{lineLogicalReplication, "wait ", "payments-source-pg-dev is applying"}},
		},
		{
			name:       "an unreported apply status waits",
			mutate:     func(o *PreflightObservation) { o.ParameterApplyStatus = "" },
			wantReason: "ParameterApplying",
			wantLines:  []wantLine{{lineLogicalReplication, "wait ", "no reason given"}},
		},
		{
			name:       "a pending reboot is reported and not rebooted when the spec does not allow it",
			mutate:     func(o *PreflightObservation) { o.ParameterApplyStatus = "pending-reboot" },
			wantReason: "RebootRequired",
			wantLines:  []wantLine{{lineLogicalReplication, "FAIL ", "allowRebootForParameterApply"}},
		},
		{
			name:        "a pending reboot on an available source is rebooted when the spec allows it",
			mutate:      func(o *PreflightObservation) { o.ParameterApplyStatus = "pending-reboot" },
			allowReboot: true,
			wantReason:  "RebootingSource",
			wantReboot:  true,
			wantLines:   []wantLine{{lineLogicalReplication, "wait ", "rebooting the source"}},
		},
		{
			name: "a source already rebooting is not rebooted again",
			mutate: func(o *PreflightObservation) {
				o.ParameterApplyStatus, o.SourceDBStatus = "pending-reboot", "rebooting"
			},
			allowReboot: true,
			wantReason:  "RebootingSource",
			wantLines:   []wantLine{{lineLogicalReplication, "wait ", "rebooting"}},
		},
		{
			name: "a source rebooting by someone else's hand is waited for when reboots are not allowed",
			mutate: func(o *PreflightObservation) {
				o.ParameterApplyStatus, o.SourceDBStatus = "pending-reboot", "rebooting"
			},
			wantReason: "RebootingSource",
			wantLines:  []wantLine{{lineLogicalReplication, "wait ", "rebooting"}},
		},
		{
			name: "a pending reboot is not rebooted while the source is busy with something else",
			mutate: func(o *PreflightObservation) {
				o.ParameterApplyStatus, o.SourceDBStatus = "pending-reboot", "backing-up"
			},
			allowReboot: true,
			wantReason:  "RebootRequired",
			wantLines:   []wantLine{{lineLogicalReplication, "wait ", "backing-up"}},
		},
		{
			name:       "a missing service role fails and is named",
			mutate:     func(o *PreflightObservation) { o.Roles[1].Exists, o.Roles[1].TrustsDMS = false, false },
			wantReason: "ServiceRoleMissing",
			wantLines:  []wantLine{{lineRoles, "FAIL ", "missing dms-cloudwatch-logs-role"}},
		},
		{
			name:       "a service role that does not trust DMS fails and is named",
			mutate:     func(o *PreflightObservation) { o.Roles[0].TrustsDMS = false },
			wantReason: "ServiceRoleUntrusted",
			wantLines:  []wantLine{{lineRoles, "FAIL ", "dms-vpc-role do not trust dms.amazonaws.com"}},
		},
		{
			name: "missing roles are reported before untrusted ones",
			mutate: func(o *PreflightObservation) {
				o.Roles[0].TrustsDMS = false
				o.Roles[1].Exists = false
			},
			wantReason: "ServiceRoleMissing",
			wantLines:  []wantLine{{lineRoles, "FAIL ", "missing dms-cloudwatch-logs-role"}},
		},
		{
			name: "a replication instance not available waits, and no connection is tested yet",
			mutate: func(o *PreflightObservation) {
				o.InstanceStatus = "creating"
				o.Connections[0].Status, o.Connections[1].Status = "", "failed"
			},
			wantReason: "InstanceNotAvailable",
			wantLines: []wantLine{
				{lineInstance, "wait ", "replication instance: creating"},
				{lineSourceConnection, "wait ", "source endpoint connection"},
				{lineTargetConnection, "FAIL ", "target endpoint connection"},
			},
		},
		{
			name:       "a replication instance with no status reported waits",
			mutate:     func(o *PreflightObservation) { o.InstanceStatus = "" },
			wantReason: "InstanceNotAvailable",
			wantLines:  []wantLine{{lineInstance, "wait ", "no reason given"}},
		},
		{
			name: "never-tested endpoints are tested once the instance is available",
			mutate: func(o *PreflightObservation) {
				o.Connections[0].Status, o.Connections[1].Status = "", ""
			},
			wantReason: "TestingConnections",
			wantTests:  []string{sourceARN, targetARN},
			wantLines: []wantLine{
				{lineSourceConnection, "wait ", "source endpoint connection: test started"},
				{lineTargetConnection, "wait ", "target endpoint connection: test started"},
			},
		},
		{
			name: "a failed connection fails with DMS's message and is tested again",
			mutate: func(o *PreflightObservation) {
				o.Connections[1].Status, o.Connections[1].Message = "failed", "Can't connect to the database: timeout"
			},
			wantReason: "ConnectionFailed",
			wantTests:  []string{targetARN},
			wantLines: []wantLine{
				{lineSourceConnection, "ok   ", "successful"},
				{lineTargetConnection, "FAIL ", "target endpoint connection: Can't connect to the database: timeout (testing again)"},
			},
		},
		{
			name: "a connection still testing is waited for, not tested again",
			mutate: func(o *PreflightObservation) {
				o.Connections[0].Status, o.Connections[1].Status = "testing", "testing"
			},
			wantReason: "TestingConnections",
			wantLines: []wantLine{
				{lineSourceConnection, "wait ", "source endpoint connection: testing"},
				{lineTargetConnection, "wait ", "target endpoint connection: testing"},
			},
		},
		{
			name: "only the endpoints that need it are tested",
			mutate: func(o *PreflightObservation) {
				o.Connections[0].Status = "testing"
				o.Connections[1].Status = "failed"
			},
			wantReason: "TestingConnections",
			wantTests:  []string{targetARN},
		},
		{
			name:       "a stack without DMS endpoints fails",
			mutate:     func(o *PreflightObservation) { o.Connections = nil },
			wantReason: "EndpointsMissing",
			wantLines:  []wantLine{{lineSourceConnection, "FAIL ", "no DMS endpoints"}},
		},
		{
			name: "the first failing check gives the reason: logical replication before roles and instance",
			mutate: func(o *PreflightObservation) {
				o.LogicalReplication = "0"
				o.Roles[0].Exists = false
				o.InstanceStatus = "modifying"
				o.Connections[0].Status = "failed"
			},
			wantReason: "LogicalReplicationOff",
			wantLines: []wantLine{
				{lineLogicalReplication, "FAIL ", ""},
				{lineRoles, "FAIL ", ""},
				{lineInstance, "wait ", ""},
				{lineSourceConnection, "FAIL ", ""},
			},
		},
		{
			name: "the first failing check gives the reason: roles before the instance",
			mutate: func(o *PreflightObservation) {
				o.Roles[1].TrustsDMS = false
				o.InstanceStatus = "modifying"
			},
			wantReason: "ServiceRoleUntrusted",
		},
		{
			name: "the first failing check gives the reason: the instance before the connections",
			mutate: func(o *PreflightObservation) {
				o.InstanceStatus = "modifying"
				o.Connections[0].Status = "testing"
			},
			wantReason: "InstanceNotAvailable",
		},
		{
			name: "the first failing check gives the reason: source connection before target",
			mutate: func(o *PreflightObservation) {
				o.Connections[0].Status = "testing"
				o.Connections[1].Status = "failed"
			},
			wantReason: "TestingConnections",
			wantTests:  []string{targetARN},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			obs := healthyPreflight()
			if c.mutate != nil {
				c.mutate(&obs)
			}
			got := EvaluatePreflight(obs, c.allowReboot)
			if got.Passed != c.wantPassed || got.Reason != c.wantReason {
				t.Errorf("passed %v reason %q, want passed %v reason %q\n%s", got.Passed, got.Reason, c.wantPassed, c.wantReason, got.Message)
			}
			if got.RebootSource != c.wantReboot {
				t.Errorf("reboot source %v, want %v", got.RebootSource, c.wantReboot)
			}
			if !reflect.DeepEqual(got.TestConnections, c.wantTests) {
				t.Errorf("connection tests %q, want %q", got.TestConnections, c.wantTests)
			}
			lines := strings.Split(got.Message, "\n")
			for _, w := range c.wantLines {
				if w.line >= len(lines) {
					t.Errorf("no line %d in\n%s", w.line, got.Message)
					continue
				}
				if l := lines[w.line]; !strings.HasPrefix(l, w.prefix) || !strings.Contains(l, w.contains) {
					t.Errorf("line %d = %q, want it to start with %q and contain %q", w.line, l, w.prefix, w.contains)
				}
			}
		})
	}
}

func TestEvaluatePreflight_ExactlyOneLinePerCheckAndPassedOnlyWhenEveryLineIsOk(t *testing.T) {
	mutations := map[string]func(*PreflightObservation){
		"healthy":        func(*PreflightObservation) {},
		"logical off":    func(o *PreflightObservation) { o.LogicalReplication = "0" },
		"pending reboot": func(o *PreflightObservation) { o.ParameterApplyStatus = "pending-reboot" },
		"rebooting": func(o *PreflightObservation) {
			o.ParameterApplyStatus, o.SourceDBStatus = "pending-reboot", "rebooting"
		},
		"applying":        func(o *PreflightObservation) { o.ParameterApplyStatus = "applying" },
		"role missing":    func(o *PreflightObservation) { o.Roles[0].Exists = false },
		"role untrusted":  func(o *PreflightObservation) { o.Roles[1].TrustsDMS = false },
		"both roles bad":  func(o *PreflightObservation) { o.Roles[0].Exists, o.Roles[1].TrustsDMS = false, false },
		"instance down":   func(o *PreflightObservation) { o.InstanceStatus = "storage-full" },
		"never tested":    func(o *PreflightObservation) { o.Connections[0].Status, o.Connections[1].Status = "", "" },
		"failed":          func(o *PreflightObservation) { o.Connections[0].Status, o.Connections[1].Status = "failed", "failed" },
		"testing":         func(o *PreflightObservation) { o.Connections[1].Status = "testing" },
		"no endpoints":    func(o *PreflightObservation) { o.Connections = nil },
		"one endpoint":    func(o *PreflightObservation) { o.Connections = o.Connections[:1] },
		"everything bad":  func(o *PreflightObservation) { *o = PreflightObservation{Roles: []RoleCheck{{Name: "dms-vpc-role"}}} },
		"nothing at all":  func(o *PreflightObservation) { *o = PreflightObservation{} },
		"instance absent": func(o *PreflightObservation) { o.InstanceStatus = ""; o.Connections[0].Status = "" },
	}
	for name, mutate := range mutations {
		for _, allowReboot := range []bool{false, true} {
			obs := healthyPreflight()
			mutate(&obs)
			got := EvaluatePreflight(obs, allowReboot)
			lines := strings.Split(got.Message, "\n")
			// logical replication, roles, instance, one per endpoint (or one saying
			// there are none), then the five database checks (or one saying the
			// databases were not read)
			want := 3 + max(len(obs.Connections), 1) + 5
			if obs.Databases == nil {
				want -= 4
			}
			if len(lines) != want {
				t.Errorf("%s (allowReboot %v): %d lines, want %d:\n%s", name, allowReboot, len(lines), want, got.Message)
			}
			allOK := true
			for _, l := range lines {
				switch {
				case strings.HasPrefix(l, "ok   "):
				case strings.HasPrefix(l, "wait "), strings.HasPrefix(l, "FAIL "):
					allOK = false
				default:
					t.Errorf("%s: line %q starts with none of ok/wait/FAIL", name, l)
				}
			}
			if got.Passed != allOK {
				t.Errorf("%s (allowReboot %v): passed %v, but every line ok is %v:\n%s", name, allowReboot, got.Passed, allOK, got.Message)
			}
			if !camelCase.MatchString(got.Reason) {
				t.Errorf("%s: reason %q is not CamelCase", name, got.Reason)
			}
		}
	}
}

func TestEvaluatePreflight_RebootOnlyWhenPendingRebootAllowedAndSourceAvailable(t *testing.T) {
	for _, apply := range []string{"in-sync", "pending-reboot", "applying", ""} {
		for _, db := range []string{"available", "rebooting", "modifying", "backing-up", ""} {
			for _, logical := range []string{"1", "0"} {
				for _, allow := range []bool{false, true} {
					obs := healthyPreflight()
					obs.ParameterApplyStatus, obs.SourceDBStatus, obs.LogicalReplication = apply, db, logical
					got := EvaluatePreflight(obs, allow)
					want := apply == "pending-reboot" && db == "available" && logical == "1" && allow
					if got.RebootSource != want {
						t.Errorf("apply %q source %q logical %q allowReboot %v: reboot %v, want %v", apply, db, logical, allow, got.RebootSource, want)
					}
				}
			}
		}
	}
}

// RDS reads "available" + "pending-reboot" for a while after a reboot
// request; a standing request is never repeated until RDS shows the reboot
// (rebooting, or in-sync) or RebootWait passes.
func TestEvaluatePreflight_OneRebootPerRequest(t *testing.T) {
	requested := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name        string
		db, apply   string
		requestedAt time.Time
		since       time.Duration // now - requestedAt
		allow       bool
		wantReboot  bool
		wantClear   bool
		wantReason  string
		wantLine    string
	}{
		{"no request yet: reboot", "available", "pending-reboot", time.Time{}, 0, true, true, false, "RebootingSource", "rebooting the source"},
		{"RDS still shows available + pending-reboot 15 s after the request: wait", "available", "pending-reboot", requested, 15 * time.Second, true, false, false, "RebootRequested", "does not show it yet"},
		{"just under the bound: still wait", "available", "pending-reboot", requested, RebootWait - time.Second, true, false, false, "RebootRequested", "no other is requested before 2026-03-01T12:10:00Z"},
		{"the bound passed with no sign of a reboot: request again", "available", "pending-reboot", requested, RebootWait, true, true, false, "RebootingSource", "RDS showed no reboot in the 10m0s"},
		{"a record stamped ahead of the clock stands", "available", "pending-reboot", requested, -time.Minute, true, false, false, "RebootRequested", "requested at"},
		{"RDS shows the source rebooting: the record goes, nothing is requested", "rebooting", "pending-reboot", requested, 30 * time.Second, true, false, true, "RebootingSource", "the source is rebooting"},
		{"the parameter applied: the record goes and the check passes", "available", "in-sync", requested, 2 * time.Minute, true, false, true, "AllChecksPassed", "applied"},
		{"after the reboot showed, a pending reboot again may be requested", "available", "pending-reboot", time.Time{}, 0, true, true, false, "RebootingSource", "rebooting the source"},
		{"a standing request is not repeated once the spec no longer allows it either", "available", "pending-reboot", requested, time.Minute, false, false, false, "RebootRequested", "does not show it yet"},
		{"a source busy with something else is not rebooted, even past the bound", "modifying", "pending-reboot", requested, time.Hour, true, false, false, "RebootRequired", "rebooting it once available"},
	} {
		t.Run(c.name, func(t *testing.T) {
			obs := healthyPreflight()
			obs.SourceDBStatus, obs.ParameterApplyStatus = c.db, c.apply
			obs.RebootRequestedAt = c.requestedAt
			base := c.requestedAt
			if base.IsZero() {
				base = requested
			}
			obs.Now = base.Add(c.since)
			got := EvaluatePreflight(obs, c.allow)
			line := strings.Split(got.Message, "\n")[lineLogicalReplication]
			if got.RebootSource != c.wantReboot || got.ClearRebootRequest != c.wantClear || got.Reason != c.wantReason || !strings.Contains(line, c.wantLine) {
				t.Errorf("reboot %v, clear %v, reason %s, line %q; want %v, %v, %s, a line with %q",
					got.RebootSource, got.ClearRebootRequest, got.Reason, line, c.wantReboot, c.wantClear, c.wantReason, c.wantLine)
			}
		})
	}
}

func TestEvaluatePreflight_ConnectionTestsOnlyForNeverTestedOrFailedEndpointsOnAnAvailableInstance(t *testing.T) {
	for _, instance := range []string{"available", "creating", "modifying", "upgrading", ""} {
		for _, status := range []string{"", "failed", "testing", "successful"} {
			obs := healthyPreflight()
			obs.InstanceStatus = instance
			obs.Connections[0].Status = status
			got := EvaluatePreflight(obs, false)
			var want []string
			if instance == "available" && (status == "" || status == "failed") {
				want = []string{sourceARN}
			}
			if !reflect.DeepEqual(got.TestConnections, want) {
				t.Errorf("instance %q, source connection %q: tests %q, want %q", instance, status, got.TestConnections, want)
			}
			line := strings.Split(got.Message, "\n")[lineSourceConnection]
			if len(want) == 0 && (strings.Contains(line, "test started") || strings.Contains(line, "testing again")) {
				t.Errorf("instance %q, source connection %q: line %q claims a test was started, but none was", instance, status, line)
			}
		}
	}
}
