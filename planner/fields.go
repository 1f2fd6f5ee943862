package planner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// diffJSON compares two canonical JSON documents and returns the changed
// fields. Objects are compared key by key (recursively, keys sorted);
// arrays and scalars are compared as whole values. A null value and an
// absent key are the same.
func diffJSON(before, after []byte) ([]Change, error) {
	var b, a any
	if len(before) > 0 {
		if err := decodeJSON(before, &b); err != nil {
			return nil, fmt.Errorf("decoding recorded snapshot: %w", err)
		}
	}
	if len(after) > 0 {
		if err := decodeJSON(after, &a); err != nil {
			return nil, fmt.Errorf("decoding desired configuration: %w", err)
		}
	}
	var out []Change
	diffValue("", b, a, &out)
	return out, nil
}

func decodeJSON(data []byte, v *any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(v)
}

func diffValue(path string, b, a any, out *[]Change) {
	bm, bok := b.(map[string]any)
	am, aok := a.(map[string]any)
	// A non-empty object against an absent value is compared key by key,
	// so that each added or removed key is its own line. An empty object
	// is a value of its own ("networks.front: {}" attaches to front).
	if bok && a == nil && len(bm) > 0 {
		am, aok = map[string]any{}, true
	}
	if aok && b == nil && len(am) > 0 {
		bm, bok = map[string]any{}, true
	}
	if bok && aok {
		keys := make([]string, 0, len(bm)+len(am))
		for k := range bm {
			keys = append(keys, k)
		}
		for k := range am {
			if _, ok := bm[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			diffValue(joinPath(path, k), bm[k], am[k], out)
		}
		return
	}
	if b == nil && a == nil {
		return
	}
	// Lists of objects of the same length (ports, ipam, volumes) are
	// compared element by element, so the diff names the field.
	bl, bok2 := b.([]any)
	al, aok2 := a.([]any)
	if bok2 && aok2 && len(bl) == len(al) && allObjects(bl) && allObjects(al) {
		for i := range bl {
			diffValue(fmt.Sprintf("%s[%d]", path, i), bl[i], al[i], out)
		}
		return
	}
	bj, aj := encodeValue(b), encodeValue(a)
	if bytes.Equal(bj, aj) {
		return
	}
	*out = append(*out, Change{Path: path, Before: bj, After: aj})
}

func allObjects(l []any) bool {
	for _, e := range l {
		if _, ok := e.(map[string]any); !ok {
			return false
		}
	}
	return true
}

// joinPath appends a key: plain keys with a dot, others quoted in brackets
// (environment variables and labels may hold dots).
func joinPath(path, key string) string {
	plain := key != ""
	for _, r := range key {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			plain = false
			break
		}
	}
	if !plain {
		return path + "[" + strconvQuote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// encodeValue is compact JSON without HTML escaping; nil for absent.
func encodeValue(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return json.RawMessage(strconvQuote(fmt.Sprint(v)))
	}
	return json.RawMessage(strings.TrimSuffix(buf.String(), "\n"))
}
