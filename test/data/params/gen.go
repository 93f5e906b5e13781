// Makes strconv-golden.json: go run gen.go < cases.json (a JSON array of [kind, text] pairs).
// Test data only; nothing in gguf-tool runs Go.
//go:build ignore

package main

// For each [kind, text]: what strconv (as api.FormatParams uses it) makes of the text, and the JSON
// encoding/json writes for the typed value: {"ok":bool,"json":string}.
import (
	"encoding/json"
	"os"
	"strconv"
)

func main() {
	var cases [][2]string
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		panic(err)
	}
	type result struct {
		Kind  string `json:"kind"`
		Value string `json:"value"`
		OK    bool   `json:"ok"`
		JSON  string `json:"json,omitempty"`
	}
	var out []result
	for _, c := range cases {
		var v any
		var err error
		switch c[0] {
		case "int":
			v, err = strconv.ParseInt(c[1], 10, 64)
		case "float":
			var f float64
			f, err = strconv.ParseFloat(c[1], 32)
			v = float32(f)
		case "bool":
			v, err = strconv.ParseBool(c[1])
		}
		r := result{Kind: c[0], Value: c[1]}
		if err == nil {
			b, jerr := json.Marshal(v)
			if jerr == nil {
				r.OK = true
				r.JSON = string(b)
			}
		}
		out = append(out, r)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	enc.Encode(out)
}
