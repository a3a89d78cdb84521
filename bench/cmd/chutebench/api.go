package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// api is a small JSON client of Chute's /v1 routes.
type api struct {
	base  string // http://host:port
	token string
	hc    *http.Client
}

func newAPI(base, token string) *api {
	return &api{base: base, token: token, hc: &http.Client{
		Timeout:   2 * time.Minute,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true},
	}}
}

// call sends body as JSON and decodes the answer into out, failing on
// any status other than want.
func (a *api) call(method, path string, body, out any, want int) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d: %.300s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

type partURL struct {
	PartNumber int               `json:"part_number"`
	URL        string            `json:"url"`
	Headers    map[string]string `json:"headers"`
	Size       int64             `json:"size"`
}

type created struct {
	ID        string    `json:"id"`
	Key       string    `json:"key"`
	Strategy  string    `json:"strategy"`
	PartSize  int64     `json:"part_size"`
	PartCount int       `json:"part_count"`
	Parts     []partURL `json:"parts"`
}

type createReq struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	Profile     string `json:"profile,omitempty"`
}

func (a *api) create(size int64, profile string) (*created, error) {
	var c created
	err := a.call(http.MethodPost, "/v1/uploads", createReq{Filename: "bench.bin", ContentType: "application/octet-stream", Size: size, Profile: profile}, &c, http.StatusCreated)
	return &c, err
}

func (a *api) partURLs(id string, nums []int) ([]partURL, error) {
	var out struct {
		Parts []partURL `json:"parts"`
	}
	err := a.call(http.MethodPost, "/v1/uploads/"+id+"/part-urls", map[string]any{"part_numbers": nums}, &out, http.StatusOK)
	return out.Parts, err
}

func (a *api) report(id string, n int, etag string, size int64) error {
	return a.call(http.MethodPut, fmt.Sprintf("/v1/uploads/%s/parts/%d", id, n), map[string]any{"etag": etag, "size": size}, nil, http.StatusOK)
}

func (a *api) complete(id string) error {
	return a.call(http.MethodPost, "/v1/uploads/"+id+"/complete", nil, nil, http.StatusOK)
}
