package backends

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoWritesToHeaders backs PresignPart's read-only contract for
// PresignedRequest.Headers (partHeaderCache shares the maps among URLs
// and goroutines): no non-test Go file of the module writes through a
// selector named Headers — no x.Headers[k] = v or ++/--, no delete,
// clear, maps.Copy, maps.Insert or maps.DeleteFunc on x.Headers. The
// broker, the HTTP layer and the decorators copy a request's Headers
// into their own structs (PartURL, Upload, …) under that name, so the
// check covers them too. It is syntactic: a write through another
// variable holding the map escapes it, which the race detector and
// partHeaderCache's own guard are there for.
func TestNoWritesToHeaders(t *testing.T) {
	isHeaders := func(e ast.Expr) bool {
		s, ok := ast.Unparen(e).(*ast.SelectorExpr)
		return ok && s.Sel.Name == "Headers"
	}
	indexesHeaders := func(e ast.Expr) bool {
		ix, ok := ast.Unparen(e).(*ast.IndexExpr)
		return ok && isHeaders(ix.X)
	}
	var files, writes int
	fset := token.NewFileSet()
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != ".." && (strings.HasPrefix(n, ".") || n == "testdata" || n == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files++
		ast.Inspect(f, func(n ast.Node) bool {
			bad := false
			switch n := n.(type) {
			case *ast.AssignStmt:
				for _, l := range n.Lhs {
					bad = bad || indexesHeaders(l)
				}
			case *ast.IncDecStmt:
				bad = indexesHeaders(n.X)
			case *ast.CallExpr:
				if len(n.Args) > 0 && isHeaders(n.Args[0]) {
					switch fn := ast.Unparen(n.Fun).(type) {
					case *ast.Ident:
						bad = fn.Name == "delete" || fn.Name == "clear"
					case *ast.SelectorExpr:
						if pkg, ok := fn.X.(*ast.Ident); ok && pkg.Name == "maps" {
							bad = fn.Sel.Name == "Copy" || fn.Sel.Name == "Insert" || fn.Sel.Name == "DeleteFunc"
						}
					}
				}
			}
			if bad {
				writes++
				t.Errorf("%s writes to a Headers map, which PresignPart may share (copy it first)", fset.Position(n.Pos()))
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("checked only %d files: not the module's root?", files)
	}
	t.Logf("%d files checked", files)
}
