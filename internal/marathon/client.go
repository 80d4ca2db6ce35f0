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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v2/queue", nil)
	if err != nil {
		return nil, fmt.Errorf("reading Marathon queue: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reading Marathon queue: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return nil, fmt.Errorf("reading Marathon queue: GET %s/v2/queue: %s: %s", c.base, resp.Status, strings.TrimSpace(string(excerpt)))
	}
	q, err := ReadQueue(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading Marathon queue from %s: %w", c.base, err)
	}
	return q, nil
}
