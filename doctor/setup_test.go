package doctor

import (
	"testing"

	"github.com/minio/minio-go/v7/pkg/cors"
)

// corsServes decides whether setup-bucket adds a rule: only when no rule
// lets each origin PUT with a Content-Type and read the ETag.
func TestCORSServes(t *testing.T) {
	good := cors.Rule{AllowedOrigin: []string{"https://app.example.com"}, AllowedMethod: []string{"GET", "PUT"}, AllowedHeader: []string{"*"}, ExposeHeader: []string{"ETag"}}
	anyOrigin := cors.Rule{AllowedOrigin: []string{"*"}, AllowedMethod: []string{"PUT"}, AllowedHeader: []string{"Content-Type"}, ExposeHeader: []string{"*"}}
	noETag := good
	noETag.ExposeHeader = nil
	noPut := good
	noPut.AllowedMethod = []string{"GET"}
	noHeader := good
	noHeader.AllowedHeader = nil
	for _, c := range []struct {
		name    string
		rules   []cors.Rule
		origins []string
		want    bool
	}{
		{"no rules", nil, []string{"https://app.example.com"}, false},
		{"matching rule", []cors.Rule{good}, []string{"https://app.example.com"}, true},
		{"any origin", []cors.Rule{anyOrigin}, []string{"https://app.example.com", "https://b.example.com"}, true},
		{"other origin", []cors.Rule{good}, []string{"https://b.example.com"}, false},
		{"one of two origins", []cors.Rule{good}, []string{"https://app.example.com", "https://b.example.com"}, false},
		{"star origin needs a star rule", []cors.Rule{good}, []string{"*"}, false},
		{"ETag not exposed", []cors.Rule{noETag}, []string{"https://app.example.com"}, false},
		{"no PUT", []cors.Rule{noPut}, []string{"https://app.example.com"}, false},
		{"Content-Type not allowed", []cors.Rule{noHeader}, []string{"https://app.example.com"}, false},
		{"split over two rules does not count", []cors.Rule{noETag, noPut}, []string{"https://app.example.com"}, false},
	} {
		if got := corsServes(c.rules, c.origins); got != c.want {
			t.Errorf("%s: corsServes = %v, want %v", c.name, got, c.want)
		}
	}
}
