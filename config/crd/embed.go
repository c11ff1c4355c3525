// Package crd embeds the generated CustomResourceDefinitions so that tools built
// from this module (the tapstack CLI, the test suites) use the very schema the API
// server enforces, defaults included, instead of a second copy of it.
package crd

import _ "embed"

// PaymentMigrations is the CRD of payments.tapstack.io/v1alpha1 PaymentMigration.
//
//go:embed bases/payments.tapstack.io_paymentmigrations.yaml
var PaymentMigrations []byte
