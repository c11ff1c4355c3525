package approval

import (
	"testing"
	"time"
)

func TestReadTakesOnlyAWholeStamp(t *testing.T) {
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	cases := []struct {
		name        string
		annotations map[string]string
		want        Stamp
		ok          bool
	}{
		{"as the webhook writes it", aliceStamp, Stamp{By: "alice", UID: "uid-alice", At: at}, true},
		{"without a UID", map[string]string{AnnotationApprovedBy: "alice", AnnotationApprovedAt: "2026-03-01T09:00:00Z"}, Stamp{By: "alice", At: at}, true},
		{"no annotations", nil, Stamp{}, false},
		{"a user without a time", map[string]string{AnnotationApprovedBy: "alice"}, Stamp{}, false},
		{"a time that is not RFC 3339", map[string]string{AnnotationApprovedBy: "alice", AnnotationApprovedAt: "yesterday"}, Stamp{}, false},
		{"an empty user", map[string]string{AnnotationApprovedBy: "", AnnotationApprovedAt: "2026-03-01T09:00:00Z"}, Stamp{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := Read(c.annotations)
			if ok != c.ok || !got.At.Equal(c.want.At) || got.By != c.want.By || got.UID != c.want.UID {
				t.Errorf("Read = %+v, %v; want %+v, %v", got, ok, c.want, c.ok)
			}
		})
	}
}

// What the webhook writes, the controller reads back.
func TestAnnotationsRoundTrip(t *testing.T) {
	for _, s := range []Stamp{
		{By: "alice", UID: "uid-alice", At: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)},
		{By: "system:serviceaccount:ops:approver", At: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)},
	} {
		a := s.Annotations()
		if _, has := a[AnnotationApprovedByUID]; has != (s.UID != "") {
			t.Errorf("%+v: UID annotation present %v", s, has)
		}
		got, ok := Read(a)
		if !ok || got.By != s.By || got.UID != s.UID || !got.At.Equal(s.At) {
			t.Errorf("Read(%v) = %+v, %v; want %+v", a, got, ok, s)
		}
	}
}
