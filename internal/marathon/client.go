package marathon

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Client reads Marathon's HTTP API.
type Client struct {
	base string
	http *http.Client
	auth string // Authorization header value, empty for none
}

// NewClient returns a Client for the Marathon at baseURL ("http://marathon:8080"). hc may be
// nil (http.DefaultClient); authorization, when not empty, is sent as the Authorization header.
func NewClient(baseURL string, hc *http.Client, authorization string) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), http: hc, auth: authorization}
}

// Queue reads the launch queue. Source: Marathon GET /v2/queue.
func (c *Client) Queue(ctx context.Context) ([]QueueItem, error) {
	return get(ctx, c, "/v2/queue", "queue", ReadQueue)
}

// Apps reads the applications (ids, instances, per-task resources, constraints, accepted
// roles). Source: Marathon GET /v2/apps.
func (c *Client) Apps(ctx context.Context) ([]App, error) {
	return get(ctx, c, "/v2/apps", "apps", ReadApps)
}

func get[T any](ctx context.Context, c *Client, path, what string, read func(io.Reader) (T, error)) (T, error) {
	var zero T
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return zero, fmt.Errorf("reading Marathon %s: %w", what, err)
	}
	req.Header.Set("Accept", "application/json")
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return zero, fmt.Errorf("reading Marathon %s: %w", what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return zero, fmt.Errorf("reading Marathon %s: GET %s%s: %s: %s", what, c.base, path, resp.Status, strings.TrimSpace(string(excerpt)))
	}
	v, err := read(resp.Body)
	if err != nil {
		return zero, fmt.Errorf("reading Marathon %s from %s: %w", what, c.base, err)
	}
	return v, nil
}
