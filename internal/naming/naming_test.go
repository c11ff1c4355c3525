package naming

import (
	"strings"
	"testing"
)

const (
	testAccount   = "123456789012"
	longestAlarm  = LongestAlarm
	longestExport = LongestOutput
)

func TestMaxSuffixLengthFitsEveryLimit(t *testing.T) {
	n := New(strings.Repeat("z", MaxSuffixLength))
	for _, named := range n.All(testAccount, longestAlarm, longestExport) {
		if len(named.Name) > named.Kind.Limit {
			t.Errorf("%s name %q is %d characters, limit %d", named.Kind.What, named.Name, len(named.Name), named.Kind.Limit)
		}
	}
}

// The bound must also be the tightest one: a suffix one character longer breaks a
// limit, otherwise users are refused suffixes that would have worked.
func TestMaxSuffixLengthIsTight(t *testing.T) {
	n := New(strings.Repeat("z", MaxSuffixLength+1))
	var broken []string
	for _, named := range n.All(testAccount, longestAlarm, longestExport) {
		if len(named.Name) > named.Kind.Limit {
			broken = append(broken, named.Kind.What)
		}
	}
	if len(broken) == 0 {
		t.Fatalf("a suffix of %d characters still fits every limit; raise MaxSuffixLength", MaxSuffixLength+1)
	}
}

func TestNamesCarryTheSuffix(t *testing.T) {
	n := New("pr6185")
	for _, named := range n.All(testAccount, longestAlarm, longestExport) {
		if named.Name == n.DMSVPCRole() || named.Name == n.DMSLogsRole() {
			continue // AWS looks these two up by exact name
		}
		if !strings.Contains(named.Name, "pr6185") {
			t.Errorf("%s name %q does not carry the suffix", named.Kind.What, named.Name)
		}
	}
}

func TestSidedNamesFollowConvention(t *testing.T) {
	n := New("pr6185")
	cases := map[string]string{
		n.DBInstance(Source):          "rds-source-pr6185",
		n.DBInstance(Target):          "rds-target-pr6185",
		n.Bucket(Source, testAccount): "payments-source-123456789012-pr6185",
		n.LoadBalancer():              "alb-target-pr6185",
		n.TargetGroup():               "tg-target-pr6185",
		n.Stack():                     "TapStackpr6185",
		n.DMSEndpoint(Target):         "dms-endpoint-target-pr6185",
		n.Export("DMSTaskArn"):        "TapStackpr6185-DMSTaskArn",
		n.DBSecret(Source):            "rds-credentials-source-pr6185",
		n.SecurityGroup("rds"):        "rds-sg-pr6185",
	}
	for got, want := range cases {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

// EC2 rejects security group names starting with "sg-", the prefix of group ids.
func TestSecurityGroupNamesAvoidTheReservedPrefix(t *testing.T) {
	n := New("pr6185")
	for _, tier := range []string{"alb", "ecs", "rds", "dms"} {
		if name := n.SecurityGroup(tier); strings.HasPrefix(name, "sg-") {
			t.Errorf("security group name %q starts with the reserved prefix sg-", name)
		}
	}
}
