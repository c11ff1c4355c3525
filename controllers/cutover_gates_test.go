package controllers

import (
	"strings"
	"testing"

	"github.com/tapstack/payment-migration-operator/internal/cutover"
	"github.com/tapstack/payment-migration-operator/internal/pgcatalog"
	"github.com/tapstack/payment-migration-operator/internal/sqlrunner"
)

func TestTheSlotGateFailsOnLostWALAndWaitsWithoutAReader(t *testing.T) {
	healthy := sqlrunner.Slot{Name: "dms_a", Active: true, WALStatus: "reserved", RetainedBytes: 3 << 20}
	for _, tc := range []struct {
		name  string
		slots []sqlrunner.Slot
		want  cutover.GateState
		says  string
	}{
		{"one active slot", []sqlrunner.Slot{healthy}, cutover.Pass, "the most WAL retained: 3.0 MiB (dms_a)"},
		{"active, WAL beyond max_wal_size", []sqlrunner.Slot{{Name: "dms_a", Active: true, WALStatus: "extended", RetainedBytes: 1 << 30}}, cutover.Pass, "1024.0 MiB"},
		{"a slot that lost WAL", []sqlrunner.Slot{healthy, {Name: "dms_b", Active: false, WALStatus: "lost"}}, cutover.Fail, "slot dms_b is lost"},
		{"a slot about to lose WAL", []sqlrunner.Slot{{Name: "dms_a", Active: true, WALStatus: "unreserved"}}, cutover.Fail, "slot dms_a is unreserved"},
		{"no slot read from", []sqlrunner.Slot{{Name: "dms_a", WALStatus: "reserved"}}, cutover.Unknown, "(1 inactive)"},
		{"no slot at all", nil, cutover.Unknown, "no logical replication slot"},
	} {
		g := slotsGate(tc.slots)
		if g.State != tc.want || !strings.Contains(g.Message, tc.says) || g.Name != "replication slot" {
			t.Errorf("%s: %+v, want %v saying %q", tc.name, g, tc.want, tc.says)
		}
	}
}

func TestTheTargetReplicationGateNeedsLogicalWALASlotAndASender(t *testing.T) {
	ok := pgcatalog.Settings{WALLevel: "logical", MaxReplicationSlots: 10, UsedReplicationSlots: 2, MaxWALSenders: 10, UsedWALSenders: 1}
	with := func(f func(*pgcatalog.Settings)) pgcatalog.Settings { s := ok; f(&s); return s }
	for _, tc := range []struct {
		name   string
		s      pgcatalog.Settings
		exists bool
		want   cutover.GateState
		says   string
	}{
		{"room for the slot and the task", ok, false, cutover.Pass, "wal_level=logical; the reverse slot is made at the end of the steps; 8 of 10 replication slots and 9 of 10 WAL senders free"},
		{"the slot made already, none free", with(func(s *pgcatalog.Settings) { s.UsedReplicationSlots = 10 }), true, cutover.Pass, "the reverse slot exists"},
		{"wal_level replica", with(func(s *pgcatalog.Settings) { s.WALLevel = "replica" }), false, cutover.Fail, "wal_level is replica on the target"},
		{"not read", with(func(s *pgcatalog.Settings) { s.WALLevel = "" }), false, cutover.Fail, "wal_level is unknown"},
		{"no free slot", with(func(s *pgcatalog.Settings) { s.UsedReplicationSlots = 10 }), false, cutover.Fail, "10 of max_replication_slots=10 in use on the target"},
		{"no free sender", with(func(s *pgcatalog.Settings) { s.UsedWALSenders = 10 }), true, cutover.Fail, "10 of max_wal_senders=10 in use"},
	} {
		g := targetReplication(tc.s, tc.exists)
		if g.State != tc.want || !strings.Contains(g.Message, tc.says) || g.Name != "target logical replication" {
			t.Errorf("%s: %+v, want %v saying %q", tc.name, g, tc.want, tc.says)
		}
		if g.State == cutover.Fail && !strings.Contains(g.Message, "spec.cutover.reversePath") {
			t.Errorf("%s: the failure does not say how to go without the reverse path: %s", tc.name, g.Message)
		}
	}
}
