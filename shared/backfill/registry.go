package backfill

// registered are the backfill sources, one line each; the order is the order error messages
// list them in. A new source adds its line here (see docs/backfills.md, "Adding a source").
var registered = []Source{
	youTubeSource{},
	httpJSONSource{},
	ga4Source{},
	xSearchSource{},
}
