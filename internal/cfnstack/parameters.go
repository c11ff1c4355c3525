package cfnstack

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

// DesiredHash is what identifies a deployment of the template whose content
// hash is templateHash with these parameter values: templateHash itself when
// there are none, else the sha256 of it and every key=value in key order. The
// controller compares it with the hash recorded in status, so a parameter that
// takes another value (a prefix list id that AWS replaced) updates the stack.
func DesiredHash(templateHash string, params map[string]string) string {
	if len(params) == 0 {
		return templateHash
	}
	h := sha256.New()
	fmt.Fprintf(h, "template=%s\n", templateHash)
	for _, k := range sortedKeys(params) {
		// Lengths first: no key or value can make two different sets collide.
		fmt.Fprintf(h, "%d:%s=%d:%s\n", len(k), k, len(params[k]), params[k])
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// stackParameters renders parameter values in a stable order; every one is
// given explicitly (never UsePreviousValue): the operator's values are the
// ones that count.
func stackParameters(params map[string]string) []cfntypes.Parameter {
	if len(params) == 0 {
		return nil
	}
	out := make([]cfntypes.Parameter, 0, len(params))
	for _, k := range sortedKeys(params) {
		out = append(out, cfntypes.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(params[k])})
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
