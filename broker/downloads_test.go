package broker

import "testing"

func TestDownloadOptions(t *testing.T) {
	plain := &Profile{}
	svgOK := &Profile{InlineTypes: []string{"image/svg+xml"}}
	all := &Profile{InlineTypes: []string{"*/*"}}
	const attach, inline = true, false
	for _, c := range []struct {
		p          *Profile
		ct         string
		attachment bool
		forcedType string
	}{
		{plain, "image/png", inline, ""},
		{plain, "video/mp4", inline, ""},
		{plain, "audio/mpeg", inline, ""},
		{plain, "text/plain; charset=utf-8", inline, ""},
		{plain, "application/pdf", inline, ""},
		{plain, "application/json", inline, ""},
		{plain, "application/zip", attach, ""},
		{plain, "application/octet-stream", attach, ""},
		{plain, "text/csv", attach, ""},
		{plain, "text/html", attach, octetStream},
		{plain, "Text/HTML; charset=utf-8", attach, octetStream},
		{plain, "application/xhtml+xml", attach, octetStream},
		{plain, "image/svg+xml", attach, octetStream},
		{plain, "application/xml", attach, octetStream},
		{plain, "text/xml", attach, octetStream},
		{plain, "application/rss+xml", attach, octetStream},
		{plain, "application/vnd.foo+xml", attach, octetStream},
		{plain, "text/javascript", attach, octetStream},
		{plain, "application/javascript", attach, octetStream},
		{plain, "application/ecmascript", attach, octetStream},
		{plain, "application/x-javascript", attach, octetStream},
		{plain, "text/javascript1.5", attach, octetStream},
		{plain, "text/xsl", attach, octetStream},
		{svgOK, "image/svg+xml", inline, ""},
		{svgOK, "text/html", attach, octetStream},
		{all, "text/html", inline, ""},
		{all, "application/zip", inline, ""},
	} {
		o := DownloadOptions(c.p, "f.x", c.ct)
		if o.Attachment != c.attachment || o.ContentType != c.forcedType || o.Filename != "f.x" {
			t.Errorf("%q (inline_types %v): %+v, want attachment %v, type %q", c.ct, c.p.InlineTypes, o, c.attachment, c.forcedType)
		}
	}
}
