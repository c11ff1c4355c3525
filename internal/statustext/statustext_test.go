package statustext

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTruncate(t *testing.T) {
	tests := []struct {
		name string
		s    string
		n    int
		want string
	}{
		{"short text stays", "stack ready", 1024, "stack ready"},
		{"exactly at the limit stays", "abcdef", 6, "abcdef"},
		{"ASCII is cut with an ellipsis", "abcdefghij", 8, "abcde..."},
		{"empty", "", 3, ""},
		// "é" is two bytes (c3 a9): a cut between them moves back before it.
		{"a cut inside a two-byte rune moves before it", "aaéééé", 6, "aa..."},
		{"a cut after a whole rune keeps it", "aaéééé", 7, "aaé..."},
		// "€" is three bytes, "𝄞" four.
		{"three-byte runes", "€€€€", 10, "€€..."},
		{"four-byte runes", "𝄞𝄞𝄞", 9, "𝄞..."},
		{"Japanese", "スタックの作成に失敗しました", 20, "スタックの..."},
		{"a limit below the ellipsis cuts without one", "éé", 2, "é"},
		{"a limit of the ellipsis alone", "éé", 3, "..."},
		{"a limit of zero", "abc", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Truncate(tt.s, tt.n)
			if got != tt.want {
				t.Errorf("Truncate(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
			}
			if len(got) > tt.n && tt.s != "" {
				t.Errorf("Truncate(%q, %d) is %d bytes, over the limit", tt.s, tt.n, len(got))
			}
			if !utf8.ValidString(got) {
				t.Errorf("Truncate(%q, %d) = %q is not valid UTF-8", tt.s, tt.n, got)
			}
		})
	}
}

// Every cut of a long multi-byte message is valid UTF-8 within the limit.
func TestTruncateEveryLimitOfAMultiByteMessage(t *testing.T) {
	s := strings.Repeat("ü€𝄞a", 40)
	for n := range len(s) + 2 {
		got := Truncate(s, n)
		if len(got) > n || !utf8.ValidString(got) {
			t.Fatalf("Truncate(s, %d) = %q (%d bytes, valid %t)", n, got, len(got), utf8.ValidString(got))
		}
		if n >= len(s) && got != s {
			t.Fatalf("Truncate(s, %d) cut a message within the limit", n)
		}
		if n < len(s) && n >= 3 && !strings.HasSuffix(got, "...") {
			t.Fatalf("Truncate(s, %d) = %q does not end in ...", n, got)
		}
	}
}

func TestCamel(t *testing.T) {
	tests := map[string]string{
		// CloudFormation stack statuses (internal/stackplan)
		"UPDATE_ROLLBACK_IN_PROGRESS":                  "UpdateRollbackInProgress",
		"UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS": "UpdateRollbackCompleteCleanupInProgress",
		"CREATE_FAILED":                                "CreateFailed",
		"_ODD__STATUS_":                                "OddStatus",
		// DMS task statuses (internal/replication)
		"creating":    "Creating",
		"failed-move": "FailedMove",
		"a_b c":       "ABC",
		"":            "",
	}
	for in, want := range tests {
		if got := Camel(in); got != want {
			t.Errorf("Camel(%q) = %q, want %q", in, got, want)
		}
	}
}
