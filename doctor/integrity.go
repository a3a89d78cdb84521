package doctor

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/chute-dev/chute/backends"
	"github.com/chute-dev/chute/checksum"
)

// The integrity checks run the store probe chute serve runs at start for
// a store without a preset ((*backends.S3).Probe: checksums and
// conditional writes, tried with test objects that it removes), and
// compare what it found with what the provider preset claims: the claims
// are what Chute relies on (docs/compatibility.md).

// checkIntegrity probes the store once and reports checksums and
// conditional writes.
func checkIntegrity(ctx context.Context, s3 *backends.S3, p backends.Preset) []Result {
	probed, err := s3.Probe(ctx)
	if err != nil {
		detail := "could not test: " + shortErr(err)
		return []Result{
			{Name: "checksums", Status: Warn, Detail: detail},
			{Name: "conditional writes", Status: Warn, Detail: detail},
		}
	}
	return []Result{checksumsResult(probed, p), conditionalResult(probed, p)}
}

// checksumsResult compares the algorithms whose part checksums the store
// verified with those the preset claims: a claimed one it does not check
// fails.
func checksumsResult(probed backends.Probed, p backends.Preset) Result {
	const name = "checksums"
	var missing []string
	for _, a := range p.PartChecksums {
		if !slices.Contains(probed.PartChecksums, a) {
			missing = append(missing, string(a))
		}
	}
	var unverified []string
	for _, a := range checksum.All {
		if !slices.Contains(probed.PartChecksums, a) {
			unverified = append(unverified, string(a))
		}
	}
	detail := "part checksums verified by the store: " + orNone(checksum.List(probed.PartChecksums))
	if len(unverified) > 0 {
		detail += "; not verified: " + strings.Join(unverified, ", ")
	}
	if len(probed.FullObjectChecksums) > 0 {
		detail += "; whole-object (FULL_OBJECT) checks: " + checksum.List(probed.FullObjectChecksums)
	}
	switch {
	case len(missing) > 0:
		return Result{Name: name, Status: Fail,
			Detail: fmt.Sprintf("%s; but provider %q says the store checks %s", detail, p.Name, strings.Join(missing, ", ")),
			Fix:    "check the backend's provider setting; a store that accepts parts whose bytes do not match their signed checksum lets corrupted uploads through where Chute relies on it"}
	case len(probed.PartChecksums) == 0:
		return Result{Name: name, Status: Warn, Detail: detail,
			Fix: "Chute then checks a declared checksum at complete by reading the object back (slower for large files); see docs/compatibility.md"}
	case len(p.PartChecksums) == 0:
		detail += fmt.Sprintf(" (provider %q claims none; chute serve probes a store without a preset at start and relies on what it finds)", p.Name)
	}
	return Result{Name: name, Status: OK, Detail: detail}
}

// conditionalResult compares whether a complete with If-None-Match: *
// onto an existing object was refused with what the preset claims.
func conditionalResult(probed backends.Probed, p backends.Preset) Result {
	const name = "conditional writes"
	honoured := probed.ConditionalWrites
	switch {
	case !probed.ConditionalTested:
		return Result{Name: name, Status: Warn, Detail: "could not test: the probe's test upload did not get as far as a complete"}
	case honoured && p.ConditionalWrites:
		return Result{Name: name, Status: OK, Detail: "If-None-Match: * is honoured: a completed upload never replaces an existing object"}
	case honoured:
		return Result{Name: name, Status: Warn,
			Detail: fmt.Sprintf("the store honours If-None-Match: *, but provider %q does not claim it, so Chute does not rely on it", p.Name),
			Fix:    "key templates with {id} never collide; without {id}, an upload may replace an existing object"}
	case p.ConditionalWrites:
		return Result{Name: name, Status: Fail,
			Detail: fmt.Sprintf("a complete with If-None-Match: * replaced an existing object, although provider %q says the store refuses that", p.Name),
			Fix:    "check the backend's provider setting; until then, give every profile a key template with {id}"}
	}
	return Result{Name: name, Status: Warn, Detail: "the store ignores If-None-Match: *: Chute cannot stop a completed upload from replacing an existing object",
		Fix: "give every profile a key template with {id} (keys never collide then)"}
}

// orNone is s, or "none" when s is empty.
func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// shortErr is a store error without the "backends: " prefix.
func shortErr(err error) string {
	return strings.TrimPrefix(err.Error(), "backends: ")
}
