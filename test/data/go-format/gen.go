// Makes fixed-golden.json: go run gen.go < cases.json ([value, precision] pairs), zipped with the cases.
// Test data only; nothing in gguf-tool runs Go.
//go:build ignore

package main

// For each [value, precision]: fmt.Sprintf("%.<precision>f", value).
import (
	"encoding/json"
	"fmt"
	"os"
)

func main() {
	var cases [][2]float64
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		panic(err)
	}
	out := make([]string, 0, len(cases))
	for _, c := range cases {
		out = append(out, fmt.Sprintf("%.*f", int(c[1]), c[0]))
	}
	json.NewEncoder(os.Stdout).Encode(out)
}
