package tapstack

import "testing"

// BenchmarkSynthesize measures one whole synthesis of the sample, rendering and
// hashing included: what the controller pays on every reconcile.
func BenchmarkSynthesize(b *testing.B) {
	spec := sampleSpec(b)
	b.ReportAllocs()
	for b.Loop() {
		tmpl, err := Synthesize(spec, sampleRegion)
		if err != nil {
			b.Fatal(err)
		}
		_ = tmpl.Hash()
	}
}
