package sessionmesh_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"
)

// TestReadmeExample: README.md's embedding example is, line for line, the
// body of Example_server, which compiles with the package: the README never
// shows code that does not build.
func TestReadmeExample(t *testing.T) {
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "example_test.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	var body string
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Name.Name == "Example_server" {
			b := src[fset.Position(fn.Body.Lbrace).Offset+1 : fset.Position(fn.Body.Rbrace).Offset]
			lines := strings.Split(strings.Trim(string(b), "\n"), "\n")
			for i, l := range lines {
				lines[i] = strings.TrimPrefix(l, "\t")
			}
			body = strings.Join(lines, "\n")
		}
	}
	if body == "" {
		t.Fatal("no Example_server in example_test.go")
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	const marker = "<!-- the body of Example_server in example_test.go"
	_, after, ok := strings.Cut(string(readme), marker)
	if !ok {
		t.Fatal("README.md has no Example_server block")
	}
	_, block, _ := strings.Cut(after, "```go\n")
	block, _, _ = strings.Cut(block, "\n```")
	if block != body {
		t.Errorf("README.md's example differs from Example_server; README:\n%s\n\nexample_test.go:\n%s", block, body)
	}
}
