// Makes golden.json: go run gen.go < cases.json (a JSON array of template strings), then zip
// each case with its result. Go 1.19 text/template, with Ollama's extra function names.
// Test data only; nothing in gguf-tool runs Go.
//go:build ignore

// Reads a JSON array of template strings on stdin and prints, for each, whether Go's
// text/template (with Ollama's extra function names) parses it: [{"ok":bool,"error":string}].
package main

import (
	"encoding/json"
	"os"
	"text/template"
)

func main() {
	var cases []string
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		panic(err)
	}
	funcs := template.FuncMap{
		"json":             func(v any) string { return "" },
		"currentDate":      func() string { return "" },
		"yesterdayDate":    func() string { return "" },
		"toTypeScriptType": func(v any) string { return "" },
	}
	type result struct {
		OK    bool   `json:"ok"`
		Error string `json:"error,omitempty"`
	}
	out := make([]result, 0, len(cases))
	for _, c := range cases {
		_, err := template.New("").Option("missingkey=zero").Funcs(funcs).Parse(c)
		if err != nil {
			out = append(out, result{false, err.Error()})
		} else {
			out = append(out, result{OK: true})
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	enc.Encode(out)
}
