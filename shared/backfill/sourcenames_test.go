package backfill

import (
	"go/scanner"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The core of backfills names no source: outside a source's own files, its name appears only on
// its registration line (registry.go). TestCoreNamesNoSource reads the core's Go code (identifiers
// and string literals; comments are prose) and fails on any other mention.
//
// sourceSpellings are the ways a source's name is spelled in code, lowercased.
var sourceSpellings = map[string][]string{
	SourceYouTube:  {"youtube"},
	SourceHTTPJSON: {"http_json", "httpjson"},
	SourceGA4:      {"ga4"},
	SourceXSearch:  {"x_search", "xsearch"},
}

// sourceFiles are each source's own files in this package. They are files of the core's package
// until each source moves into its own folder (docs/sources.md, "What is left").
var sourceFiles = map[string][]string{
	SourceYouTube:  {"shared/backfill/source_youtube.go", "shared/backfill/spec_youtube.go", "shared/backfill/vocab.go"},
	SourceHTTPJSON: {"shared/backfill/source_httpjson.go", "shared/backfill/spec_http.go", "shared/backfill/spec_secrets.go"},
	SourceGA4:      {"shared/backfill/spec_ga4.go"},
	SourceXSearch:  {"shared/backfill/source_xsearch.go", "functions/runbackfilltask/xsearch.go"},
}

// coreDirs are the packages that must name no source.
var coreDirs = []string{"shared/backfill", "functions/backfill", "functions/runbackfilltask", "scripts/backfill"}

// pendingCore are the core files that still name sources, each to be emptied by moving the
// worker's fetchers and settings onto the contract (docs/sources.md, "What is left"). The test
// fails when one of them no longer names a source, so the list only shrinks.
var pendingCore = []string{
	"functions/backfill/config.go",        // HTTP_JSON_ALLOWED_HOSTS: to become the source's declared setting
	"functions/runbackfilltask/config.go", // YOUTUBE_*, GA4_API_BASE_URL, HTTP_JSON_ALLOWED_HOSTS
	"functions/runbackfilltask/ga4.go",    // the ga4 fetcher
	"functions/runbackfilltask/runbackfilltask.go",
	"functions/runbackfilltask/stream.go",     // http_json's fetcher (a PageStreamer)
	"functions/runbackfilltask/stream_ga4.go", // ga4's streamed run
	"functions/runbackfilltask/worker.go",
	"functions/runbackfilltask/youtube.go", // the youtube fetcher
}

func TestCoreNamesNoSource(t *testing.T) {
	root := filepath.Join("..", "..")
	own := map[string]string{}
	for src, files := range sourceFiles {
		for _, f := range files {
			own[f] = src
		}
	}
	stillNaming := map[string]bool{}
	for _, dir := range coreDirs {
		paths, err := filepath.Glob(filepath.Join(root, dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range paths {
			rel := filepath.ToSlash(strings.TrimPrefix(path, root+string(filepath.Separator)))
			if strings.HasSuffix(rel, "_test.go") {
				continue
			}
			for _, m := range sourceMentions(t, path) {
				switch {
				case own[rel] == m.source:
				case rel == "shared/backfill/registry.go" && m.registration:
				case slices.Contains(pendingCore, rel):
					stillNaming[rel] = true
				default:
					t.Errorf("%s:%d names source %s (%s): the core names no source; move it into the source's files", rel, m.line, m.source, m.text)
				}
			}
		}
	}
	for _, rel := range pendingCore {
		if !stillNaming[rel] {
			t.Errorf("%s names no source any more: remove it from pendingCore", rel)
		}
	}
}

type mention struct {
	source, text string
	line         int
	registration bool
}

// sourceMentions lists the identifiers and string literals of a Go file that spell a source's
// name; a mention on a line of the form "\tname{}," (an element of registered) is a registration.
func sourceMentions(t *testing.T, path string) []mention {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(src), "\n")
	fset := token.NewFileSet()
	var s scanner.Scanner
	s.Init(fset.AddFile(path, -1, len(src)), src, nil, 0) // comments are skipped
	var out []mention
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			return out
		}
		if tok != token.IDENT && tok != token.STRING {
			continue
		}
		low := strings.ToLower(lit)
		for name, spellings := range sourceSpellings {
			for _, sp := range spellings {
				if strings.Contains(low, sp) {
					line := fset.Position(pos).Line
					text := strings.TrimSpace(lines[line-1])
					out = append(out, mention{source: name, text: lit, line: line,
						registration: strings.HasSuffix(text, "{},") && !strings.Contains(text, " ")})
				}
			}
		}
	}
}
