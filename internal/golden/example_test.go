package golden_test

import (
	"fmt"

	"github.com/v6kit/v6kit/internal/golden"
)

// A golden file holds an input and the expected output; the test read the input, then
// produced a different output. Diff is what Check prints (Check then also names the
// go test … -update command).
func ExampleArchive_Diff() {
	a := golden.Parse("testdata/v6only.txtar", []byte(`An IPv6-only site.
-- options.json --
{"domain": "social.example.org"}
-- plan --
dns.aaaa.web
inbound.tcp443
inbound.tls
`))
	opts, _ := a.Input("options.json")
	fmt.Printf("input: %s", opts)
	fmt.Print(a.Diff(golden.Section{Name: "plan", Data: "dns.aaaa.web\ninbound.tcp443\ninbound.ipv4-refused\ninbound.tls\n"}))
	// Output:
	// input: {"domain": "social.example.org"}
	// section "plan" differs:
	// @@ -1,3 +1,4 @@
	//  dns.aaaa.web
	//  inbound.tcp443
	// +inbound.ipv4-refused
	//  inbound.tls
}
