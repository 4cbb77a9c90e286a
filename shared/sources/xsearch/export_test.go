package xsearch

// The spec's bounds, for the external tests.
var (
	Window       = xSearchWindow
	WindowMargin = xSearchWindowMargin
	ArchiveStart = xArchiveStart
	EndLag       = xSearchEndLag
)
