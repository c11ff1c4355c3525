// Package statustext shapes the text the operator writes into a
// PaymentMigration's status and Events: condition reasons made from AWS
// statuses, and messages cut to the API's limits.
package statustext

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// ellipsis marks a message that was cut.
const ellipsis = "..."

// Truncate keeps s within n bytes, the API's limit on a message (AWS error
// texts can be long): a longer s is cut and ends in "...". The cut falls on a
// rune boundary, so the message stays valid UTF-8, which the API server
// requires.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n < len(ellipsis) {
		return s[:runeStart(s, max(n, 0))]
	}
	return s[:runeStart(s, n-len(ellipsis))] + ellipsis
}

// runeStart moves i back to the start of the rune it falls in.
func runeStart(s string, i int) int {
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return i
}

// Camel turns an AWS status into a condition reason that reads well in
// kubectl: UPDATE_ROLLBACK_IN_PROGRESS (CloudFormation) becomes
// UpdateRollbackInProgress, failed-move (DMS) FailedMove. Underscores,
// hyphens and spaces separate the words.
func Camel(status string) string {
	var b strings.Builder
	for _, word := range strings.FieldsFunc(strings.ToLower(status), func(r rune) bool { return r == '_' || r == '-' || r == ' ' }) {
		first, size := utf8.DecodeRuneInString(word)
		b.WriteRune(unicode.ToUpper(first))
		b.WriteString(word[size:])
	}
	return b.String()
}
