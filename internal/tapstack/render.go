package tapstack

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/awslabs/goformation/v7/cloudformation"
	"sigs.k8s.io/yaml"
)

// render turns the finished goformation template into minified JSON: marshal,
// expand the encoded intrinsics, marshal again. encoding/json sorts map keys, so
// the same template always yields the same bytes.
func render(t *cloudformation.Template) ([]byte, error) {
	raw, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("marshal template: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep integers exactly as written
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("re-read template: %w", err)
	}
	expanded, err := expand(doc)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false) // keep '&', '<' and '>' of commands and URLs readable
	if err := enc.Encode(expanded); err != nil {
		return nil, fmt.Errorf("marshal expanded template: %w", err)
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n")), nil
}

// expand replaces every encoded intrinsic string by its JSON object, recursively
// (intrinsics nest).
func expand(v any) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			e, err := expand(child)
			if err != nil {
				return nil, err
			}
			v[k] = e
		}
		return v, nil
	case []any:
		for i, child := range v {
			e, err := expand(child)
			if err != nil {
				return nil, err
			}
			v[i] = e
		}
		return v, nil
	case string:
		fn, ok := decodeIntrinsic(v)
		if !ok {
			return v, nil
		}
		return expand(fn)
	default:
		return v, nil
	}
}

// decodeIntrinsic recognises strings built by intrinsic: base64 of a JSON object
// whose only key is an intrinsic function name.
func decodeIntrinsic(s string) (map[string]any, bool) {
	if len(s) < 8 || len(s)%4 != 0 {
		return nil, false
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) == 0 || b[0] != '{' {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var fn map[string]any
	if err := dec.Decode(&fn); err != nil || len(fn) != 1 {
		return nil, false
	}
	for name := range fn {
		if !intrinsicNames[name] {
			return nil, false
		}
	}
	return fn, true
}

func prettyJSON(minified []byte) ([]byte, error) {
	var out bytes.Buffer
	if err := json.Indent(&out, minified, "", "  "); err != nil {
		return nil, fmt.Errorf("indent template: %w", err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

func toYAML(minified []byte) ([]byte, error) {
	y, err := yaml.JSONToYAML(minified)
	if err != nil {
		return nil, fmt.Errorf("convert template to YAML: %w", err)
	}
	return y, nil
}
