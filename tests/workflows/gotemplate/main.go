// Renders the memory lines of Fluid's vineyard worker the way the operator and the chart do, with
// Go's own text/template: for each quota read from stdin (one a line), Fluid's request and limit
// (quota + 500Mi as a resource.Quantity prints it), then the chart's test of each against the
// quota. Prints "quota<TAB>request<TAB>limit", a field empty where the chart prints no memory.
// Sources: deploy/NOTES.md, "Worker memory".
package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"text/template"
)

// The chart's condition for each of limits and requests, less sprig's `default`, which only
// matters when Fluid sets no value (it always sets one with the quota).
const chart = `{{- if or (not .Memory) (lt .Memory .Size) }}{{ .Memory }}{{ end -}}`

var quantity = regexp.MustCompile(`^([0-9]+)(Ki|Mi|Gi|Ti)$`)
var suffixes = []string{"Ki", "Mi", "Gi", "Ti"}

// bytes of a binary quantity, and whether it is written as resource.Quantity would print it.
func parse(q string) (int64, bool, error) {
	m := quantity.FindStringSubmatch(q)
	if m == nil {
		return 0, false, fmt.Errorf("%q is not a whole number of Ki, Mi, Gi or Ti", q)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, false, err
	}
	exp := 0
	for i, s := range suffixes {
		if s == m[2] {
			exp = i + 1
		}
	}
	return n << (10 * exp), canonical(n<<(10*exp)) == q, nil
}

// resource.Quantity's canonical text for a binary-SI amount of at least 1Ki: the largest suffix
// that leaves a whole number.
func canonical(b int64) string {
	exp := 0
	for exp < len(suffixes) && b%1024 == 0 {
		b /= 1024
		exp++
	}
	if exp == 0 {
		return strconv.FormatInt(b, 10)
	}
	return strconv.FormatInt(b, 10) + suffixes[exp-1]
}

func main() {
	tmpl := template.Must(template.New("chart").Parse(chart))
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		size := strings.TrimSpace(in.Text())
		b, isCanonical, err := parse(size)
		if err != nil || !isCanonical {
			fmt.Fprintf(os.Stderr, "gotemplate: quota %q: not a quantity as Fluid writes it\n", size)
			os.Exit(1)
		}
		memory := canonical(b + 500<<20)
		var out [2]strings.Builder
		for i := range out {
			if err := tmpl.Execute(&out[i], map[string]string{"Memory": memory, "Size": size}); err != nil {
				fmt.Fprintln(os.Stderr, "gotemplate:", err)
				os.Exit(1)
			}
		}
		fmt.Printf("%s\t%s\t%s\n", size, out[1].String(), out[0].String())
	}
}
