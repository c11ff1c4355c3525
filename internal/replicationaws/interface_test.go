package replicationaws_test

import (
	"github.com/tapstack/payment-migration-operator/controllers"
	"github.com/tapstack/payment-migration-operator/internal/replicationaws"
)

// The reconciler depends on the interface, this package on nothing of the
// reconciler's: the check lives here, where the import direction allows it.
var _ controllers.ReplicationAWS = (*replicationaws.Client)(nil)
