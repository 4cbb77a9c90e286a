package pipelinekit

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
	"github.com/google/go-cmp/cmp"
)

// entryPoints is every function the project deploys. Terraform and scripts/deploy.sh name the
// same entry points; the terraform tests check them against this list's source, the packages.
var entryPoints = []string{"Backfill", "CollectEvents", "LoadEvents", "RunBackfillTask", "ServeRankings", "StreamTweets", "UpdateRankings"}

// registrations finds, by reading the source, each functions.X("Name", ...) call in the init()
// of every package under functions/.
func registrations(t *testing.T) map[string][]string {
	t.Helper()
	dirs, err := filepath.Glob("functions/*")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, dir := range dirs {
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool { return !isTest(fi.Name()) }, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pkgs {
			for _, f := range p.Files {
				ast.Inspect(f, func(n ast.Node) bool {
					call, ok := n.(*ast.CallExpr)
					if !ok {
						return true
					}
					sel, ok := call.Fun.(*ast.SelectorExpr)
					if !ok || len(call.Args) == 0 {
						return true
					}
					if id, ok := sel.X.(*ast.Ident); !ok || id.Name != "functions" {
						return true
					}
					out[dir] = append(out[dir], constName(t, p, call.Args[0]))
					return true
				})
			}
		}
	}
	return out
}

func isTest(name string) bool { return strings.HasSuffix(name, "_test.go") }

// constName resolves a string literal or a package-level constant.
func constName(t *testing.T, p *ast.Package, e ast.Expr) string {
	switch v := e.(type) {
	case *ast.BasicLit:
		s, _ := strconv.Unquote(v.Value)
		return s
	case *ast.Ident:
		for _, f := range p.Files {
			if obj := f.Scope.Lookup(v.Name); obj != nil {
				if vs, ok := obj.Decl.(*ast.ValueSpec); ok && len(vs.Values) > 0 {
					return constName(t, p, vs.Values[0])
				}
			}
		}
	}
	t.Errorf("cannot resolve the entry point name %#v", e)
	return ""
}

func TestEachFunctionPackageRegistersOneEntryPoint(t *testing.T) {
	var names []string
	for dir, regs := range registrations(t) {
		if len(regs) != 1 {
			t.Errorf("%s registers %d entry points %v, want exactly 1", dir, len(regs), regs)
		}
		names = append(names, regs...)
	}
	sort.Strings(names)
	want := append([]string(nil), entryPoints...)
	sort.Strings(want)
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("registered entry points mismatch (-want +got):\n%s", diff)
	}
}

// TestEntryPointsServed starts the Functions Framework as the buildpack does (this package's
// imports are all it has) and checks that each entry point is served under its exact name.
func TestEntryPointsServed(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	t.Setenv("FUNCTION_TARGET", "")
	go funcframework.StartHostPort("127.0.0.1", strconv.Itoa(port)) //nolint:errcheck // runs until the test binary exits
	base := fmt.Sprintf("http://127.0.0.1:%d/", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(base + "no-such-function")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("GET /no-such-function = %d, want 404", resp.StatusCode)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("functions framework did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, name := range entryPoints {
		resp, err := http.Get(base + name)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			t.Errorf("GET /%s = 404: entry point %q is not registered", name, name)
		}
	}
}
