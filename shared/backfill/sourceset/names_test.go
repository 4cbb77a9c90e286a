package sourceset_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/pipelinekit/pipelinekit/shared/backfill/sourceset"
)

// A source is one folder: outside it, the repository's Go code (identifiers and string
// literals; comments are prose) names a source only on its registration line (sourceset.go),
// in the local stack's list of fakes (and its imports), and in CLI help (the usage text and
// flag help of scripts/backfill and scripts/dev). TestSourceNamedOnlyInItsFolder reads every non-test Go
// file of the module outside the sources' folders and fails on any other mention.

const module = "github.com/pipelinekit/pipelinekit/"

// source is a registered source as the test sees it: its folder and the ways code spells it.
type source struct {
	name, folder string
	spellings    []string
}

func registered(t *testing.T) []source {
	t.Helper()
	var out []source
	for _, s := range sourceset.All {
		pkg := reflect.TypeOf(s).PkgPath()
		if !strings.HasPrefix(pkg, module) {
			t.Fatalf("source %s lives outside the module (%s)", s.Name(), pkg)
		}
		src := source{name: s.Name(), folder: strings.TrimPrefix(pkg, module)}
		for _, sp := range []string{s.Name(), s.TaskKey(), path.Base(pkg)} {
			if sp = strings.ToLower(strings.ReplaceAll(sp, "_", "")); !slices.Contains(src.spellings, sp) {
				src.spellings = append(src.spellings, sp)
			}
		}
		out = append(out, src)
	}
	return out
}

// contractFiles may name a source for a reason outside the sources: the value is the reason.
var contractFiles = map[string]string{
	// A message's source attribute says where a tweet entered the pipeline (x_stream, replay,
	// app, x_search): the event contract's vocabulary (docs/event-contract.md), which published
	// messages carry; consumers ask event.CountsAtCreation rather than naming a value.
	"shared/event/kind.go": "the event contract's source values",
}

func TestSourceNamedOnlyInItsFolder(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	srcs := registered(t)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := filepath.ToSlash(strings.TrimPrefix(p, root+string(filepath.Separator)))
		if d.IsDir() {
			base := d.Name()
			if p != root && (strings.HasPrefix(base, ".") || base == "testdata" || base == "node_modules") {
				return filepath.SkipDir
			}
			for _, s := range srcs {
				if rel == s.folder {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		for _, m := range mentions(t, p, rel, srcs) {
			switch {
			case m.allowed, contractFiles[rel] != "":
			default:
				t.Errorf("%s:%d names source %s (%s): outside its folder a source is named only on its registration line, in the local stack's list of fakes and in CLI help", rel, m.line, m.source, m.text)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

type mention struct {
	source, text string
	line         int
	allowed      bool
}

// mentions lists the identifiers and string literals of a Go file that spell a source, each
// marked allowed when it is a registration (an import or an element of All in sourceset.go),
// an element of the local stack's fakes list, or CLI help.
func mentions(t *testing.T, path, rel string, srcs []source) []mention {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, b, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	var allowed []ast.Node // spans where a mention is allowed
	ast.Inspect(f, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.ImportSpec:
			// The registration line's and the list of fakes' imports.
			if rel == "shared/backfill/sourceset/sourceset.go" || strings.HasPrefix(rel, "shared/localstack/") && declaresFakes(f) {
				allowed = append(allowed, x)
			}
		case *ast.ValueSpec:
			for i, name := range x.Names {
				switch {
				case rel == "shared/backfill/sourceset/sourceset.go" && name.Name == "All",
					strings.HasPrefix(rel, "shared/localstack/") && name.Name == "fakes",
					isCLI(rel) && name.Name == "usage":
					if i < len(x.Values) {
						allowed = append(allowed, x.Values[i])
					}
				}
			}
		case *ast.CallExpr:
			// A flag's help, the last argument of fs.String(name, value, help) and the like.
			if sel, ok := x.Fun.(*ast.SelectorExpr); ok && isCLI(rel) && len(x.Args) >= 3 && isFlagDef(sel.Sel.Name) {
				allowed = append(allowed, x.Args[len(x.Args)-1])
			}
		}
		return true
	})
	in := func(pos token.Pos) bool {
		for _, n := range allowed {
			if n.Pos() <= pos && pos < n.End() {
				return true
			}
		}
		return false
	}
	var out []mention
	ast.Inspect(f, func(n ast.Node) bool {
		var lit string
		switch x := n.(type) {
		case *ast.Ident:
			lit = x.Name
		case *ast.BasicLit:
			if x.Kind != token.STRING {
				return true
			}
			lit = x.Value
		case *ast.ImportSpec:
			// The import path is a string literal too; the package name used is an identifier.
		default:
			return true
		}
		words := wordsOf(lit)
		for _, s := range srcs {
			for _, sp := range s.spellings {
				if spells(words, sp) {
					out = append(out, mention{source: s.name, text: lit, line: fset.Position(n.Pos()).Line, allowed: in(n.Pos())})
					return true
				}
			}
		}
		return true
	})
	return out
}

// declaresFakes reports whether f declares the local stack's list of fakes (a package-level
// var fakes).
func declaresFakes(f *ast.File) bool {
	for _, d := range f.Decls {
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.VAR {
			for _, sp := range g.Specs {
				for _, n := range sp.(*ast.ValueSpec).Names {
					if n.Name == "fakes" {
						return true
					}
				}
			}
		}
	}
	return false
}

// isCLI reports whether rel is a file of a command whose help may name sources.
func isCLI(rel string) bool {
	return strings.HasPrefix(rel, "scripts/backfill/") || strings.HasPrefix(rel, "scripts/dev/")
}

func isFlagDef(name string) bool {
	switch name {
	case "String", "Int", "Int64", "Uint", "Bool", "Duration", "Float64",
		"StringVar", "IntVar", "Int64Var", "UintVar", "BoolVar", "DurationVar", "Float64Var", "Var", "Func":
		return true
	}
	return false
}

// wordsOf splits an identifier or a literal into lowercase words: at anything not a letter or a
// digit, and at camel-case boundaries (YouTubeSpec: you tube spec; XSearch: x search;
// GA4Rows: ga4 rows; HTTPJSONSpec: httpjson spec).
func wordsOf(s string) []string {
	var words []string
	r := []rune(s)
	start := -1
	flush := func(end int) {
		if start >= 0 && end > start {
			words = append(words, strings.ToLower(string(r[start:end])))
		}
		start = -1
	}
	for i, c := range r {
		alnum := unicode.IsLetter(c) || unicode.IsDigit(c)
		switch {
		case !alnum:
			flush(i)
			continue
		case start < 0:
			start = i
			continue
		}
		prev := r[i-1]
		lowerToUpper := (unicode.IsLower(prev) || unicode.IsDigit(prev)) && unicode.IsUpper(c)
		acronymEnd := unicode.IsUpper(prev) && unicode.IsUpper(c) && i+1 < len(r) && unicode.IsLower(r[i+1])
		if lowerToUpper || acronymEnd {
			flush(i)
			start = i
		}
	}
	flush(len(r))
	return words
}

// spells reports whether consecutive words make up spelling sp (underscores removed).
func spells(words []string, sp string) bool {
	for i := range words {
		joined := ""
		for _, w := range words[i:] {
			joined += w
			if joined == sp {
				return true
			}
			if len(joined) >= len(sp) || !strings.HasPrefix(sp, joined) {
				break
			}
		}
	}
	return false
}
