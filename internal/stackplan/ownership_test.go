package stackplan

import (
	"strings"
	"testing"
)

func TestDecideOwnership(t *testing.T) {
	me := Owner{UID: "uid-me", Namespace: "payments", Name: "pm"}
	other := Owner{UID: "uid-other", Namespace: "team-b", Name: "pm"}
	for _, tc := range []struct {
		name        string
		tags        map[string]string
		adopt       string
		otherExists bool
		want        Ownership
		message     string
	}{
		{name: "my own stack", tags: me.Tags(), want: Owned},
		{name: "my own stack, whatever the annotation says", tags: me.Tags(), adopt: "TapStackOther", want: Owned},
		{name: "another living migration's", tags: other.Tags(), otherExists: true, want: NotOwned,
			message: "stack TapStackx is owned by PaymentMigration team-b/pm (uid uid-other), which exists: it is left to it"},
		{name: "another living migration's, even when asked to adopt", tags: other.Tags(), otherExists: true, adopt: "TapStackx", want: NotOwned,
			message: "owned by PaymentMigration team-b/pm"},
		{name: "a gone migration's (re-applied after Retain)", tags: other.Tags(), want: NotOwned,
			message: "which no longer exists: it is left as it is; to take it over, annotate this PaymentMigration with payments.tapstack.io/adopt-stack: TapStackx"},
		{name: "a gone migration's, adopted", tags: other.Tags(), adopt: "TapStackx", want: Adopt, message: "adopting stack TapStackx from PaymentMigration team-b/pm"},
		{name: "made by another tool", tags: map[string]string{"Environment": "dev"}, want: NotOwned, message: "no PaymentMigration owns it (no payments.tapstack.io/owner-uid tag)"},
		{name: "no tags at all", want: NotOwned, message: "no PaymentMigration owns it"},
		{name: "made by another tool, adopted", tags: map[string]string{}, adopt: "TapStackx", want: Adopt, message: "adopting stack TapStackx, which no PaymentMigration owned"},
		{name: "the annotation names another stack", adopt: "TapStacky", want: NotOwned, message: `the payments.tapstack.io/adopt-stack annotation names "TapStacky"`},
		{name: "an owner name tag alone proves nothing", tags: map[string]string{OwnerTag: "payments/pm"}, want: NotOwned, message: "no PaymentMigration owns it"},
		{name: "an empty uid is nobody", tags: map[string]string{OwnerUIDTag: ""}, want: NotOwned},
	} {
		t.Run(tc.name, func(t *testing.T) {
			me := me
			if tc.name == "an empty uid is nobody" {
				me.UID = ""
			}
			v := DecideOwnership(OwnershipInputs{StackName: "TapStackx", Tags: tc.tags, Me: me, AdoptStack: tc.adopt, OtherOwnerExists: tc.otherExists})
			if v.Ownership != tc.want || !strings.Contains(v.Message, tc.message) {
				t.Errorf("got %v %q, want %v with %q", v.Ownership, v.Message, tc.want, tc.message)
			}
			if (v.Ownership == NotOwned) != (v.Reason == "StackNotOwned") {
				t.Errorf("reason %q for %v", v.Reason, v.Ownership)
			}
		})
	}
}
