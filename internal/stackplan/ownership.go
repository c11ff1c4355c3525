package stackplan

import "fmt"

// The owner tags a stack carries from its creation: which PaymentMigration
// owns it. Nothing else ties a stack named TapStack<suffix> to a migration:
// another namespace can use the same suffix, a migration can be re-applied
// after a Retain delete, another tool can make a stack of that name.
const (
	OwnerUIDTag = "payments.tapstack.io/owner-uid"
	OwnerTag    = "payments.tapstack.io/owner" // namespace/name
	// AdoptAnnotation on a PaymentMigration names a stack (by name) it may
	// take over: one with no owner tag, or whose owner no longer exists.
	AdoptAnnotation = "payments.tapstack.io/adopt-stack"
)

// Owner identifies a PaymentMigration.
type Owner struct {
	UID, Namespace, Name string
}

func (o Owner) String() string { return o.Namespace + "/" + o.Name }

// Tags are the owner tags of a stack o owns.
func (o Owner) Tags() map[string]string {
	return map[string]string{OwnerUIDTag: o.UID, OwnerTag: o.String()}
}

// Ownership is what the operator may do with an existing stack.
type Ownership int

const (
	// NotOwned: never update, empty or delete it.
	NotOwned Ownership = iota
	// Owned: the stack is this migration's.
	Owned
	// Adopt: the migration may take it over (its annotation asks for exactly
	// this stack, and no living migration owns it).
	Adopt
)

// OwnershipInputs is what decides whose a stack is.
type OwnershipInputs struct {
	StackName string
	Tags      map[string]string // the stack's tags
	Me        Owner
	// AdoptStack is the value of the migration's AdoptAnnotation ("" none).
	AdoptStack string
	// OtherOwnerExists: the migration the owner tags name exists with that UID.
	OtherOwnerExists bool
}

// OwnershipVerdict is the decision and, when the stack is not owned, the
// StackReady reason and a message that names the owner.
type OwnershipVerdict struct {
	Ownership Ownership
	Reason    string
	Message   string
}

// DecideOwnership says whether the migration owns an existing stack.
func DecideOwnership(in OwnershipInputs) OwnershipVerdict {
	uid, owner := in.Tags[OwnerUIDTag], in.Tags[OwnerTag]
	if uid != "" && uid == in.Me.UID {
		return OwnershipVerdict{Ownership: Owned}
	}
	adoptHint := fmt.Sprintf("; to take it over, annotate this PaymentMigration with %s: %s", AdoptAnnotation, in.StackName)
	switch {
	case in.AdoptStack != "" && in.AdoptStack != in.StackName:
		return notOwned(fmt.Sprintf("stack %s exists and is not this migration's; the %s annotation names %q, not it", in.StackName, AdoptAnnotation, in.AdoptStack))
	case uid == "" && in.AdoptStack == in.StackName:
		return OwnershipVerdict{Ownership: Adopt, Message: fmt.Sprintf("adopting stack %s, which no PaymentMigration owned (annotation %s)", in.StackName, AdoptAnnotation)}
	case uid == "":
		return notOwned(fmt.Sprintf("stack %s exists and no PaymentMigration owns it (no %s tag): it was made by something else and is left as it is%s", in.StackName, OwnerUIDTag, adoptHint))
	case in.OtherOwnerExists:
		return notOwned(fmt.Sprintf("stack %s is owned by PaymentMigration %s (uid %s), which exists: it is left to it; choose another environmentSuffix", in.StackName, orUnnamed(owner), uid))
	case in.AdoptStack == in.StackName:
		return OwnershipVerdict{Ownership: Adopt, Message: fmt.Sprintf("adopting stack %s from PaymentMigration %s (uid %s), which no longer exists (annotation %s)", in.StackName, orUnnamed(owner), uid, AdoptAnnotation)}
	}
	return notOwned(fmt.Sprintf("stack %s was owned by PaymentMigration %s (uid %s), which no longer exists: it is left as it is%s", in.StackName, orUnnamed(owner), uid, adoptHint))
}

func notOwned(msg string) OwnershipVerdict {
	return OwnershipVerdict{Ownership: NotOwned, Reason: "StackNotOwned", Message: msg}
}

func orUnnamed(owner string) string {
	if owner == "" {
		return "(unnamed)"
	}
	return owner
}
