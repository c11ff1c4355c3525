package iampolicy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// The manager's AWS calls are found by static analysis of its source, so that
// a call added anywhere in the binary (through a narrow interface, a concrete
// client, a paginator or a waiter) shows up without anybody listing it: every
// call expression that passes a *<Op>Input of an aws-sdk-go-v2 service
// package is a call of <Op> on that service. The SDK's operations, paginators
// and waiters all take that input, so the rule finds them all; a helper of
// ours that takes an input and hands it on is counted too, which can only
// name an operation the code does reach.

// sdkServicePrefix is the import path of the SDK's service packages.
const sdkServicePrefix = "github.com/aws/aws-sdk-go-v2/service/"

// sdkCall is one AWS operation the code calls, and one place it does.
type sdkCall struct {
	Service   string // the SDK package's name: s3, databasemigrationservice, ...
	Operation string // the API name: ListObjectVersions
	Where     string // path/in/the/module.go:line of one call
}

// listedPackage is the part of `go list -json` the analysis reads.
type listedPackage struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	CgoFiles   []string
	Export     string
	ImportMap  map[string]string
	Module     *struct {
		Main bool
		Path string
	}
	Error *struct{ Err string }
}

// sdkCallsOf returns the AWS operations called by the non-test code of this
// module's packages that pattern builds into (its dependencies included, so
// `./cmd/manager` is everything the manager binary links), keyed by
// "service.Operation". Imports are type-checked from the compiler's export
// data (`go list -export`), so only this module's packages are parsed.
func sdkCallsOf(pattern string) (map[string]sdkCall, error) {
	pkgs, err := goList(pattern)
	if err != nil {
		return nil, err
	}
	exports := map[string]string{}
	for _, p := range pkgs {
		if p.Error != nil {
			return nil, fmt.Errorf("go list: %s: %s", p.ImportPath, p.Error.Err)
		}
		exports[p.ImportPath] = p.Export
	}
	calls := map[string]sdkCall{}
	fset := token.NewFileSet()
	for _, p := range pkgs {
		if p.Module == nil || !p.Module.Main {
			continue
		}
		if len(p.CgoFiles) > 0 {
			return nil, fmt.Errorf("%s has cgo files, which this analysis does not type-check", p.ImportPath)
		}
		info, files, err := typeCheck(fset, p, exports)
		if err != nil {
			return nil, err
		}
		dir := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, p.Module.Path), "/")
		for _, f := range files {
			for _, c := range callsIn(fset, f, info, dir) {
				key := c.Service + "." + c.Operation
				if _, seen := calls[key]; !seen {
					calls[key] = c
				}
			}
		}
	}
	return calls, nil
}

func goList(pattern string) ([]listedPackage, error) {
	cmd := exec.Command("go", "list", "-deps", "-export", "-json=ImportPath,Dir,GoFiles,CgoFiles,Export,ImportMap,Module,Error", pattern)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list %s: %w: %s", pattern, err, stderr.String())
	}
	var pkgs []listedPackage
	for dec := json.NewDecoder(bytes.NewReader(out)); ; {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("decoding go list output: %w", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}

// typeCheck parses and checks one package of the module against the export
// data of its imports.
func typeCheck(fset *token.FileSet, p listedPackage, exports map[string]string) (*types.Info, []*ast.File, error) {
	var files []*ast.File
	for _, name := range p.GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, nil, fmt.Errorf("parsing %s: %w", name, err)
		}
		files = append(files, f)
	}
	lookup := func(path string) (io.ReadCloser, error) {
		export := exports[path]
		if export == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(export)
	}
	conf := types.Config{
		Importer: importerWithMap{importer.ForCompiler(fset, "gc", lookup).(types.ImporterFrom), p.ImportMap},
	}
	info := &types.Info{Types: map[ast.Expr]types.TypeAndValue{}}
	if _, err := conf.Check(p.ImportPath, fset, files, info); err != nil {
		return nil, nil, fmt.Errorf("type-checking %s: %w", p.ImportPath, err)
	}
	return info, files, nil
}

// importerWithMap resolves an import as written in the source to the package
// path go list built (vendoring, or the standard library's own vendored
// packages, make them differ).
type importerWithMap struct {
	types.ImporterFrom
	importMap map[string]string
}

func (m importerWithMap) Import(path string) (*types.Package, error) {
	return m.ImportFrom(path, "", 0)
}

func (m importerWithMap) ImportFrom(path, dir string, mode types.ImportMode) (*types.Package, error) {
	if mapped, ok := m.importMap[path]; ok {
		path = mapped
	}
	return m.ImporterFrom.ImportFrom(path, dir, mode)
}

// callsIn finds the calls of f, a file of the module's directory dir, that
// pass an SDK operation's input.
func callsIn(fset *token.FileSet, f *ast.File, info *types.Info, dir string) []sdkCall {
	var calls []sdkCall
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		for _, arg := range call.Args {
			service, op, ok := operationInput(info.TypeOf(arg))
			if !ok {
				continue
			}
			pos := fset.Position(call.Pos())
			calls = append(calls, sdkCall{Service: service, Operation: op,
				Where: fmt.Sprintf("%s:%d", path.Join(dir, filepath.Base(pos.Filename)), pos.Line)})
		}
		return true
	})
	return calls
}

// operationInput reports whether t is *<Op>Input of an SDK service package
// (not of its types subpackage, whose *Input names are data shapes).
func operationInput(t types.Type) (service, operation string, ok bool) {
	ptr, isPtr := t.(*types.Pointer)
	if !isPtr {
		return "", "", false
	}
	named, isNamed := ptr.Elem().(*types.Named)
	if !isNamed || named.Obj().Pkg() == nil {
		return "", "", false
	}
	path := named.Obj().Pkg().Path()
	service, isService := strings.CutPrefix(path, sdkServicePrefix)
	if !isService || strings.Contains(service, "/") {
		return "", "", false
	}
	operation, isInput := strings.CutSuffix(named.Obj().Name(), "Input")
	if !isInput || operation == "" {
		return "", "", false
	}
	return service, operation, true
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
