package backfill

// Spec is the plan's spec, for the external tests.
func (p *Plan) Spec() *Spec { return p.spec }

// LargestTaskBytes exposes largestTaskBytes to the external tests.
func (p *Plan) LargestTaskBytes() (int, error) { return p.largestTaskBytes() }
