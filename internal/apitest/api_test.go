package apitest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/tools/go/gcexportdata"
)

const module = "github.com/v6kit/v6kit"

type listed struct {
	ImportPath string
	Export     string
	Name       string
	Standard   bool
}

// exports lists every package of the module and its dependencies with its export data,
// as the go command compiled them.
func exports(t *testing.T) map[string]listed {
	t.Helper()
	cmd := exec.Command("go", "list", "-export", "-deps", "-json=ImportPath,Export,Name,Standard", module+"/...")
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	pkgs := map[string]listed{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else {
			require.NoError(t, err)
		}
		pkgs[p.ImportPath] = p
	}
	return pkgs
}

// public reports whether path is a package a third party imports: in the module, not
// under internal/, cmd/ or examples/.
func public(path string) bool {
	if path != module && !strings.HasPrefix(path, module+"/") {
		return false
	}
	rest := strings.TrimPrefix(path, module)
	for _, seg := range strings.Split(rest, "/") {
		if seg == "internal" || seg == "cmd" || seg == "examples" {
			return false
		}
	}
	return true
}

func internal(path string) bool {
	return slices.Contains(strings.Split(path, "/"), "internal")
}

// leaks walks t and reports each internal named type it reaches.
type walker struct {
	seen  map[types.Type]bool
	found map[string]bool
}

func (w *walker) typ(t types.Type) {
	if t == nil || w.seen[t] {
		return
	}
	w.seen[t] = true
	switch t := t.(type) {
	case *types.Alias:
		if o := t.Obj(); o.Pkg() != nil && internal(o.Pkg().Path()) {
			w.found[o.Pkg().Path()+"."+o.Name()] = true
		}
		w.typ(types.Unalias(t))
	case *types.Named:
		o := t.Obj()
		if o.Pkg() != nil && internal(o.Pkg().Path()) {
			w.found[o.Pkg().Path()+"."+o.Name()] = true
			return
		}
		for i := range t.TypeArgs().Len() {
			w.typ(t.TypeArgs().At(i))
		}
		// An exported public type's own API is checked where it is declared; a type of
		// another module or the standard library is not ours to judge. An unexported type
		// of a public package is not checked anywhere else, yet its exported fields and
		// methods are API when an exported identifier reaches it (a func returning it, a
		// struct embedding it, whose fields and methods are promoted): walk it here.
		if o.Pkg() != nil && !o.Exported() {
			w.named(t)
		}
	case *types.Pointer:
		w.typ(t.Elem())
	case *types.Slice:
		w.typ(t.Elem())
	case *types.Array:
		w.typ(t.Elem())
	case *types.Chan:
		w.typ(t.Elem())
	case *types.Map:
		w.typ(t.Key())
		w.typ(t.Elem())
	case *types.Signature:
		for i := range t.TypeParams().Len() {
			w.typ(t.TypeParams().At(i))
		}
		w.tuple(t.Params())
		w.tuple(t.Results())
	case *types.Tuple:
		w.tuple(t)
	case *types.Struct:
		for i := range t.NumFields() {
			if f := t.Field(i); f.Exported() || f.Embedded() {
				w.typ(f.Type())
			}
		}
	case *types.Interface:
		for i := range t.NumMethods() {
			if m := t.Method(i); m.Exported() {
				w.typ(m.Type())
			}
		}
		for i := range t.NumEmbeddeds() {
			w.typ(t.EmbeddedType(i))
		}
	case *types.TypeParam:
		w.typ(t.Constraint())
	case *types.Union:
		for i := range t.Len() {
			w.typ(t.Term(i).Type())
		}
	}
}

func (w *walker) tuple(t *types.Tuple) {
	for i := range t.Len() {
		w.typ(t.At(i).Type())
	}
}

// object checks one exported package-level object: a function's signature, a variable's
// or constant's type, a type's definition (fields, embedded types, interface methods)
// and the exported methods of its method set.
func (w *walker) object(o types.Object) {
	switch o := o.(type) {
	case *types.TypeName:
		if o.IsAlias() {
			w.typ(o.Type())
			return
		}
		if named, ok := o.Type().(*types.Named); ok {
			w.named(named)
		}
	default:
		w.typ(o.Type())
	}
}

// named checks a defined type's definition (fields, embedded types, interface methods),
// its type parameters and the exported methods of its method set, promoted ones included.
func (w *walker) named(named *types.Named) {
	w.typ(named.Underlying())
	for i := range named.TypeParams().Len() {
		w.typ(named.TypeParams().At(i))
	}
	for i := range named.NumMethods() {
		if m := named.Method(i); m.Exported() {
			w.typ(m.Type())
		}
	}
	// Methods promoted from embedded fields are part of the API too.
	for _, t := range []types.Type{named, types.NewPointer(named)} {
		ms := types.NewMethodSet(t)
		for i := range ms.Len() {
			if m := ms.At(i).Obj(); m.Exported() {
				w.typ(m.Type())
			}
		}
	}
}

// TestNoInternalTypeInPublicAPI walks every exported identifier of every public
// package (functions, variables, constants, types, aliases, fields, methods, promoted
// methods, type parameters) and fails on any type declared under internal/.
func TestNoInternalTypeInPublicAPI(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatalf("the go command is needed to read the module's export data: %v", err)
	}
	pkgs := exports(t)
	fset := token.NewFileSet()
	imports := map[string]*types.Package{}
	lookup := func(path string) (io.ReadCloser, error) {
		p, ok := pkgs[path]
		if !ok || p.Export == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(p.Export)
	}
	importer := importerFunc(func(path string) (*types.Package, error) {
		if p, ok := imports[path]; ok && p.Complete() {
			return p, nil
		}
		r, err := lookup(path)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		rd, err := gcexportdata.NewReader(r)
		if err != nil {
			return nil, err
		}
		return gcexportdata.Read(rd, fset, imports, path)
	})

	var checked []string
	leaks := map[string][]string{}
	for path := range pkgs {
		if !public(path) || pkgs[path].Name == "main" {
			continue
		}
		pkg, err := importer.Import(path)
		require.NoError(t, err, path)
		checked = append(checked, path)
		w := &walker{seen: map[types.Type]bool{}, found: map[string]bool{}}
		scope := pkg.Scope()
		for _, name := range scope.Names() {
			if o := scope.Lookup(name); o.Exported() {
				before := len(w.found)
				w.object(o)
				if len(w.found) > before {
					leaks[path] = append(leaks[path], name)
				}
			}
		}
		for f := range w.found {
			leaks[path] = append(leaks[path], "uses "+f)
		}
	}
	slices.Sort(checked)
	t.Logf("checked %d public packages: %s", len(checked), strings.Join(checked, ", "))
	require.Contains(t, checked, module+"/mastodon", "the catalogue is public")
	require.Contains(t, checked, module+"/bundle", "the whole-host composition is public")
	require.GreaterOrEqual(t, len(checked), 10)
	for path, names := range leaks {
		slices.Sort(names)
		t.Errorf("%s: exported API names internal types: %s", path, strings.Join(names, "; "))
	}
}

type importerFunc func(path string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path) }

// TestWalkerFindsEveryKindOfLeak proves the walker on a module made up here: each
// exported identifier of pub reaches internal/x's T in another way.
func TestWalkerFindsEveryKindOfLeak(t *testing.T) {
	fset := token.NewFileSet()
	check := func(path, src string, imp types.Importer) *types.Package {
		f, err := parser.ParseFile(fset, path+".go", src, 0)
		require.NoError(t, err)
		pkg, err := (&types.Config{Importer: imp}).Check(path, fset, []*ast.File{f}, nil)
		require.NoError(t, err)
		return pkg
	}
	x := check("example.com/m/internal/x", "package x\ntype T struct{}\nfunc (T) M() {}\n", nil)
	pub := check("example.com/m/pub", `package pub
import "example.com/m/internal/x"
type Alias = x.T
func Func() x.T { return x.T{} }
func Param(*x.T) {}
type Field struct{ F map[string][]x.T }
type Embeds struct{ x.T }
type Iface interface{ M() chan x.T }
type Method struct{}
func (Method) Get() func() x.T { return nil }
var Var x.T
type Generic[P interface{ ~[]x.T }] struct{}
type hidden struct{ F x.T }
type Clean struct{ f x.T; G int; h hidden }
func (Clean) unexported() x.T { return x.T{} }
func ReturnsHidden() hidden { return hidden{} }
type PromotesField struct{ hidden }
type hiddenMethod struct{}
func (hiddenMethod) Get() x.T { return x.T{} }
type PromotesMethod struct{ *hiddenMethod }
type hiddenAlias = x.T
func ViaHiddenAlias() []hiddenAlias { return nil }
`, importerFunc(func(string) (*types.Package, error) { return x, nil }))
	var leaking []string
	for _, name := range pub.Scope().Names() {
		o := pub.Scope().Lookup(name)
		w := &walker{seen: map[types.Type]bool{}, found: map[string]bool{}}
		if !o.Exported() {
			continue
		}
		w.object(o)
		if len(w.found) > 0 {
			leaking = append(leaking, name)
		}
	}
	require.Equal(t, []string{"Alias", "Embeds", "Field", "Func", "Generic", "Iface", "Method", "Param", "PromotesField", "PromotesMethod", "ReturnsHidden", "Var", "ViaHiddenAlias"}, leaking,
		"every exported identifier but Clean reaches x.T")
}

// listPackages runs go list -f format over every package of the module, a line each.
func listPackages(t *testing.T, format string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", format, module+"/...")
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// TestExamplesInternalOnlyHelpsTests keeps examples/internal what it is meant to be:
// helpers of the examples' tests. The composition a third party needs is public
// (bundle); no program or library of the module may import examples/internal, only a
// _test.go file.
func TestExamplesInternalOnlyHelpsTests(t *testing.T) {
	lines := listPackages(t, "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}")
	var helpers int
	for _, line := range lines {
		fields := strings.Fields(line)
		if strings.HasPrefix(fields[0], module+"/examples/internal/") {
			helpers++
		}
		for _, imp := range fields[1:] {
			if strings.HasPrefix(imp, module+"/examples/internal/") && !strings.HasPrefix(fields[0], module+"/examples/internal/") {
				t.Errorf("%s imports %s outside its tests: move what it needs into a public package (bundle)", fields[0], imp)
			}
		}
	}
	t.Logf("%d helper packages under examples/internal, imported by tests only", helpers)
}

// TestExamplesUsePublicPackagesOnly: every example installer's program imports only
// v6kit's public packages, so a third party's module can do what it does by copying it.
// (Its tests may use the module's test helpers.)
func TestExamplesUsePublicPackagesOnly(t *testing.T) {
	var programs int
	for _, line := range listPackages(t, "{{.ImportPath}} {{.Name}}{{range .Imports}} {{.}}{{end}}") {
		fields := strings.Fields(line)
		if !strings.HasPrefix(fields[0], module+"/examples/") || strings.HasPrefix(fields[0], module+"/examples/internal/") || fields[1] != "main" {
			continue
		}
		programs++
		for _, imp := range fields[2:] {
			if strings.HasPrefix(imp, module+"/internal/") || strings.HasPrefix(imp, module+"/examples/internal/") {
				t.Errorf("%s imports %s: a third party's module can't; use or add a public package (bundle.NewClusterCommand is the command line of a multi-host installer)", fields[0], imp)
			}
		}
	}
	require.GreaterOrEqual(t, programs, 4, "allinone, dualstack, split and ha at least")
	t.Logf("%d example programs, public imports only", programs)
}

// TestOneReleaseConvention holds every public package to one way of naming the target
// Mastodon release: a struct field of type mastodon.Release is called Release and its
// doc says the zero value means the newest line; no exported field or parameter names
// the release as a string or under another name. (The zero value's behaviour is
// proved by TestZeroReleaseIsNewest.)
func TestOneReleaseConvention(t *testing.T) {
	lines := listPackages(t, "{{.ImportPath}} {{.Name}} {{.Dir}}")
	// An input says its zero value means the newest line; a result says it is never
	// zero, and why (the input's zero resolved to the newest line).
	zeroNewest := regexp.MustCompile(`(?is)\bzero\b.*\bnewest\b|\bnewest\b.*\bzero\b`)
	stringy := regexp.MustCompile(`(?i)^(rel|release|mastodon\w*|version|mastodonversion)$`)
	fset := token.NewFileSet()
	var fields, params int
	for _, line := range lines {
		path, rest, _ := strings.Cut(line, " ")
		name, dir, _ := strings.Cut(rest, " ")
		if !public(path) || name == "main" {
			continue
		}
		isRelease := func(e ast.Expr) bool {
			if s, ok := e.(*ast.SelectorExpr); ok {
				x, ok := s.X.(*ast.Ident)
				return ok && x.Name == "mastodon" && s.Sel.Name == "Release"
			}
			id, ok := e.(*ast.Ident)
			return ok && name == "mastodon" && id.Name == "Release"
		}
		isString := func(e ast.Expr) bool { id, ok := e.(*ast.Ident); return ok && id.Name == "string" }
		pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, parser.ParseComments)
		require.NoError(t, err, dir)
		for _, pkg := range pkgs {
			for _, f := range pkg.Files {
				ast.Inspect(f, func(n ast.Node) bool {
					switch n := n.(type) {
					case *ast.TypeSpec:
						st, ok := n.Type.(*ast.StructType)
						if !ok || !n.Name.IsExported() {
							return true
						}
						for _, fl := range st.Fields.List {
							for _, id := range fl.Names {
								if !id.IsExported() {
									continue
								}
								at := fmt.Sprintf("%s.%s.%s (%s)", path, n.Name.Name, id.Name, fset.Position(id.Pos()))
								switch {
								case isRelease(fl.Type):
									fields++
									if id.Name != "Release" {
										t.Errorf("%s: a mastodon.Release field is called Release", at)
									}
									if doc := fl.Doc.Text() + fl.Comment.Text(); !zeroNewest.MatchString(doc) {
										t.Errorf("%s: its doc must say what zero means (the newest line, [mastodon.Newest]): %q", at, doc)
									}
								case id.Name == "Release" || (isString(fl.Type) && stringy.MatchString(id.Name) && id.Name != "Version"):
									t.Errorf("%s: the release is a field Release of type mastodon.Release", at)
								}
							}
						}
					case *ast.FuncDecl:
						if !n.Name.IsExported() {
							return false
						}
						for _, fl := range n.Type.Params.List {
							for _, id := range fl.Names {
								if isRelease(fl.Type) {
									params++
								} else if isString(fl.Type) && stringy.MatchString(id.Name) && id.Name != "version" {
									t.Errorf("%s.%s (%s): parameter %s names the release as a string: take a mastodon.Release", path, n.Name.Name, fset.Position(id.Pos()), id.Name)
								}
							}
						}
						return false
					}
					return true
				})
			}
		}
	}
	t.Logf("%d mastodon.Release fields, %d mastodon.Release parameters", fields, params)
	require.GreaterOrEqual(t, fields, 12, "the walk found too few Release fields to prove anything")
}
