package replication

import (
	"fmt"
	"strings"
	"time"
)

// RebootWait bounds how long a reboot request of the source stands while RDS
// does not show it: RDS reports "available" with "pending-reboot" for a while
// after RebootDBInstance returns, and a request is never repeated while it
// stands. Past it, RDS has shown no reboot (the call was lost, or never made
// because the manager stopped between recording it and calling), and the
// reboot may be requested again.
const RebootWait = 10 * time.Minute

// RoleCheck is what IAM says of one DMS service role.
type RoleCheck struct {
	Name      string
	Exists    bool
	TrustsDMS bool // trusts dms.amazonaws.com (and the regional principal)
}

// Connection is a DMS endpoint connection test (DescribeConnections).
type Connection struct {
	Side        string // source or target
	EndpointARN string
	// Status is testing, successful, failed, deleting, or "" when never tested.
	Status  string
	Message string
}

// PreflightObservation is everything the preflight checks read.
type PreflightObservation struct {
	// The source database and its parameter group.
	SourceDBStatus       string // available, rebooting, ...
	ParameterGroup       string
	ParameterApplyStatus string // in-sync, pending-reboot, applying
	LogicalReplication   string // value of rds.logical_replication in the group
	Roles                []RoleCheck
	InstanceStatus       string // DMS replication instance status
	Connections          []Connection
	// Databases is what the SQL runner read of the two databases; nil when
	// they could not be located.
	Databases *DatabaseObservation
	// RebootRequestedAt is the operator's own record of its last reboot
	// request of the source (status.replication.rebootRequestedAt), zero when
	// none stands; Now is the reconciler's clock, to bound it.
	RebootRequestedAt time.Time
	Now               time.Time
}

// PreflightResult is the PreflightPassed condition and what to do about it.
type PreflightResult struct {
	Passed  bool
	Reason  string
	Message string // one line per check
	// TestConnections lists endpoints whose connection test must be (re)started.
	TestConnections []string
	// RebootSource asks for a reboot of the source instance to apply the
	// logical replication parameter (only when the spec allows it, and no
	// earlier request stands). The caller records the request (Now) in
	// status, durably, before it calls RDS, and calls only if that write
	// succeeded.
	RebootSource bool
	// ClearRebootRequest: RDS has shown the requested reboot (the source
	// rebooting, or the parameter applied); the record can go.
	ClearRebootRequest bool
	// TargetSchema is the DDL that creates the mapped tables on the target
	// from the source's schema, to run in one transaction before DMS starts.
	TargetSchema []string
}

type check struct {
	ok     bool
	reason string // CamelCase reason when not ok
	line   string
}

// EvaluatePreflight runs the checks that must hold before DMS may start: logical
// replication applied on the source, the DMS service roles present with the right
// trust, the replication instance available, both endpoints reachable, and the
// databases themselves fit for it (see databaseChecks).
func EvaluatePreflight(obs PreflightObservation, allowReboot bool) PreflightResult {
	var res PreflightResult
	checks := []check{
		logicalReplicationCheck(obs, allowReboot, &res),
		rolesCheck(obs.Roles),
		instanceCheck(obs.InstanceStatus),
	}
	for _, c := range obs.Connections {
		checks = append(checks, connectionCheck(c, obs.InstanceStatus == "available", &res))
	}
	if len(obs.Connections) == 0 {
		checks = append(checks, check{reason: "EndpointsMissing", line: "FAIL endpoints: the stack has no DMS endpoints"})
	}
	checks = append(checks, databaseChecks(obs.Databases, &res)...)
	var lines []string
	res.Passed = true
	for _, c := range checks {
		lines = append(lines, c.line)
		if !c.ok && res.Passed {
			res.Passed, res.Reason = false, c.reason
		}
	}
	if res.Passed {
		res.Reason = "AllChecksPassed"
	}
	res.Message = strings.Join(lines, "\n")
	return res
}

func logicalReplicationCheck(obs PreflightObservation, allowReboot bool, res *PreflightResult) check {
	requested := !obs.RebootRequestedAt.IsZero()
	shown := obs.SourceDBStatus == "rebooting" || obs.ParameterApplyStatus == "in-sync"
	if requested && shown {
		res.ClearRebootRequest = true
	}
	// A request stands until RDS shows it or RebootWait passes; a record
	// stamped after now (clocks differ) stands too.
	standing := requested && !shown && obs.Now.Sub(obs.RebootRequestedAt) < RebootWait
	switch {
	case obs.LogicalReplication != "1":
		return check{reason: "LogicalReplicationOff", line: fmt.Sprintf("FAIL logical replication: rds.logical_replication is %q in %s, DMS CDC needs 1", obs.LogicalReplication, obs.ParameterGroup)}
	case obs.ParameterApplyStatus == "in-sync":
		return check{ok: true, line: fmt.Sprintf("ok   logical replication: rds.logical_replication=1 applied (%s in-sync)", obs.ParameterGroup)}
	case obs.ParameterApplyStatus == "pending-reboot" && obs.SourceDBStatus == "rebooting":
		return check{reason: "RebootingSource", line: "wait logical replication: the source is rebooting to apply it"}
	case obs.ParameterApplyStatus == "pending-reboot" && standing:
		return check{reason: "RebootRequested", line: fmt.Sprintf("wait logical replication: a reboot of the source was requested at %s; RDS (%s, pending-reboot) does not show it yet; no other is requested before %s",
			obs.RebootRequestedAt.UTC().Format(time.RFC3339), orUnknown(obs.SourceDBStatus), obs.RebootRequestedAt.Add(RebootWait).UTC().Format(time.RFC3339))}
	case obs.ParameterApplyStatus == "pending-reboot" && obs.SourceDBStatus == "available" && allowReboot:
		res.RebootSource = true
		line := "wait logical replication: pending reboot; rebooting the source (spec.database.allowRebootForParameterApply)"
		if requested {
			line = fmt.Sprintf("wait logical replication: pending reboot; RDS showed no reboot in the %s since the request at %s: rebooting the source again (spec.database.allowRebootForParameterApply)",
				RebootWait, obs.RebootRequestedAt.UTC().Format(time.RFC3339))
		}
		return check{reason: "RebootingSource", line: line}
	case obs.ParameterApplyStatus == "pending-reboot" && allowReboot:
		return check{reason: "RebootRequired", line: fmt.Sprintf("wait logical replication: pending reboot; the source is %s, rebooting it once available", orUnknown(obs.SourceDBStatus))}
	case obs.ParameterApplyStatus == "pending-reboot":
		return check{reason: "RebootRequired", line: "FAIL logical replication: set but pending a reboot of the source; reboot it, or set spec.database.allowRebootForParameterApply"}
	default:
		return check{reason: "ParameterApplying", line: fmt.Sprintf("wait logical replication: parameter group %s is %s", obs.ParameterGroup, orUnknown(obs.ParameterApplyStatus))}
	}
}

func rolesCheck(roles []RoleCheck) check {
	var missing, untrusted, names []string
	for _, r := range roles {
		names = append(names, r.Name)
		switch {
		case !r.Exists:
			missing = append(missing, r.Name)
		case !r.TrustsDMS:
			untrusted = append(untrusted, r.Name)
		}
	}
	switch {
	case len(missing) > 0:
		return check{reason: "ServiceRoleMissing", line: "FAIL DMS service roles: missing " + strings.Join(missing, ", ")}
	case len(untrusted) > 0:
		return check{reason: "ServiceRoleUntrusted", line: "FAIL DMS service roles: " + strings.Join(untrusted, ", ") + " do not trust dms.amazonaws.com"}
	default:
		return check{ok: true, line: "ok   DMS service roles: " + strings.Join(names, ", ") + " trust DMS"}
	}
}

func instanceCheck(status string) check {
	if status == "available" {
		return check{ok: true, line: "ok   replication instance: available"}
	}
	return check{reason: "InstanceNotAvailable", line: "wait replication instance: " + orUnknown(status)}
}

func connectionCheck(c Connection, instanceAvailable bool, res *PreflightResult) check {
	name := c.Side + " endpoint connection"
	switch c.Status {
	case "successful":
		return check{ok: true, line: "ok   " + name + ": successful"}
	case "testing":
		return check{reason: "TestingConnections", line: "wait " + name + ": testing"}
	}
	next := "tested once the replication instance is available"
	if instanceAvailable {
		// Never tested, or failed: test (again). A failure may have been fixed
		// since (a security group, a secret), and the test is cheap.
		res.TestConnections = append(res.TestConnections, c.EndpointARN)
		next = "test started"
	}
	if c.Status == "failed" {
		if instanceAvailable {
			next = "testing again"
		}
		return check{reason: "ConnectionFailed", line: fmt.Sprintf("FAIL %s: %s (%s)", name, orUnknown(c.Message), next)}
	}
	return check{reason: "TestingConnections", line: "wait " + name + ": " + next}
}

// EndpointRef names one DMS endpoint of the stack.
type EndpointRef struct {
	Side string // source or target
	ARN  string
}

// PreflightTargets says what the preflight checks look at, from the stack's
// outputs and the naming table.
type PreflightTargets struct {
	SourceDBInstanceID string
	ParameterGroup     string
	RoleNames          []string
	InstanceARN        string
	Endpoints          []EndpointRef
}
