package twilio

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// Defaults for the zero values of Config.
const (
	DefaultBaseURL  = "https://api.twilio.com"
	DefaultTimeout  = 10 * time.Second
	DefaultMaxConns = 100
)

// apiVersionPath is the version segment of every Messages URL.
const apiVersionPath = "/2010-04-01/Accounts/"

// Config configures a Client. Zero values take the defaults documented on
// each field. A Config holds secrets: its String, GoString and LogValue
// methods redact them, so it is safe to print or log.
type Config struct {
	// AccountSID is the account (AC + 32 hex digits). It is always in the
	// request path, even with API-key auth.
	AccountSID string
	// AuthToken authenticates as AccountSID:AuthToken, unless APIKeySID is set.
	AuthToken string
	// APIKeySID (SK + 32 hex digits) and APIKeySecret, when set, authenticate
	// instead of the auth token.
	APIKeySID    string
	APIKeySecret string
	// BaseURL is the API's scheme and host, optionally with a path prefix
	// (a proxy). Default DefaultBaseURL. A trailing slash is ignored.
	BaseURL string
	// Timeout bounds each request from dial to the end of the response
	// body. Default DefaultTimeout.
	Timeout time.Duration
	// MaxConns is the keep-alive pool size, and the cap on connections, to
	// the API host. Size it to the engine's concurrency: more in-flight
	// requests than connections queue for one. Default DefaultMaxConns.
	MaxConns int
	// HTTPClient replaces the client New builds (tests). Its Transport is
	// used as is; Timeout still applies per request.
	HTTPClient *http.Client
}

// ConfigFromEnv reads TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_API_KEY,
// TWILIO_API_SECRET and TWILIO_API_URL through getenv (os.Getenv in main, a
// map in tests). It requires the account sid and either the auth token or
// both API-key variables; its errors name the missing variable and never
// include a value. Timeouts and pool size keep their defaults.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := Config{
		AccountSID:   strings.TrimSpace(getenv("TWILIO_ACCOUNT_SID")),
		AuthToken:    strings.TrimSpace(getenv("TWILIO_AUTH_TOKEN")),
		APIKeySID:    strings.TrimSpace(getenv("TWILIO_API_KEY")),
		APIKeySecret: strings.TrimSpace(getenv("TWILIO_API_SECRET")),
		BaseURL:      strings.TrimSpace(getenv("TWILIO_API_URL")),
	}
	switch {
	case cfg.AccountSID == "":
		return Config{}, fmt.Errorf("%w: TWILIO_ACCOUNT_SID is not set", ErrInvalidConfig)
	case cfg.APIKeySID != "" && cfg.APIKeySecret == "":
		return Config{}, fmt.Errorf("%w: TWILIO_API_KEY is set but TWILIO_API_SECRET is not", ErrInvalidConfig)
	case cfg.APIKeySID == "" && cfg.APIKeySecret != "":
		return Config{}, fmt.Errorf("%w: TWILIO_API_SECRET is set but TWILIO_API_KEY is not", ErrInvalidConfig)
	case cfg.APIKeySID == "" && cfg.AuthToken == "":
		return Config{}, fmt.Errorf("%w: TWILIO_AUTH_TOKEN is not set (or set TWILIO_API_KEY and TWILIO_API_SECRET)", ErrInvalidConfig)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Validate reports the first problem New would refuse the Config for.
func (c Config) Validate() error {
	if !IsSID(c.AccountSID, "AC") {
		return fmt.Errorf("%w: account sid %q is not AC followed by 32 hex digits", ErrInvalidConfig, c.AccountSID)
	}
	if c.APIKeySID != "" {
		if !IsSID(c.APIKeySID, "SK") {
			return fmt.Errorf("%w: API key sid %q is not SK followed by 32 hex digits", ErrInvalidConfig, c.APIKeySID)
		}
		if c.APIKeySecret == "" {
			return fmt.Errorf("%w: API key secret is empty", ErrInvalidConfig)
		}
	} else if c.AuthToken == "" {
		return fmt.Errorf("%w: auth token is empty and no API key is set", ErrInvalidConfig)
	}
	if c.BaseURL != "" {
		if _, err := normalizeBaseURL(c.BaseURL); err != nil {
			return err
		}
	}
	if c.Timeout < 0 {
		return fmt.Errorf("%w: timeout %v is negative", ErrInvalidConfig, c.Timeout)
	}
	if c.MaxConns < 0 {
		return fmt.Errorf("%w: max conns %d is negative", ErrInvalidConfig, c.MaxConns)
	}
	return nil
}

func normalizeBaseURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%w: parse base URL: %w", ErrInvalidConfig, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("%w: base URL %q is not http(s)://host", ErrInvalidConfig, raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%w: base URL must not carry credentials, a query or a fragment", ErrInvalidConfig)
	}
	return strings.TrimRight(raw, "/"), nil
}

// IsSID reports whether s is a Twilio SID of the kind prefix names (AC an
// account, SK an API key, SM a message): the prefix and 32 hex digits.
func IsSID(s, prefix string) bool {
	if len(s) != 34 || !strings.HasPrefix(s, prefix) {
		return false
	}
	for i := 2; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func (c Config) authKind() string {
	switch {
	case c.APIKeySID != "":
		return "api_key"
	case c.AuthToken != "":
		return "auth_token"
	default:
		return "none"
	}
}

// String describes c with its secrets redacted.
func (c Config) String() string {
	return fmt.Sprintf("twilio.Config{AccountSID:%s Auth:%s APIKeySID:%s BaseURL:%s Timeout:%v MaxConns:%d}",
		c.AccountSID, c.authKind(), c.APIKeySID, c.BaseURL, c.Timeout, c.MaxConns)
}

// GoString is String, so that %#v does not print the secrets either.
func (c Config) GoString() string { return c.String() }

// LogValue lets slog log a Config without its secrets.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("account_sid", c.AccountSID),
		slog.String("auth", c.authKind()),
		slog.String("api_key_sid", c.APIKeySID),
		slog.String("base_url", c.BaseURL),
		slog.Duration("timeout", c.Timeout),
		slog.Int("max_conns", c.MaxConns),
	)
}

// Client calls Twilio's Messages API. It is safe for concurrent use and
// meant to be shared: it owns one connection pool.
type Client struct {
	accountSID  string
	baseURL     string
	messagesURL string // base + /2010-04-01/Accounts/{sid}/Messages.json
	messagesDir string // base + /2010-04-01/Accounts/{sid}/Messages/
	timeout     time.Duration
	hc          *http.Client

	// Header values computed once and shared read-only by every request,
	// so a send does not rebuild them (Header.Set allocates a slice).
	authHeader []string
	formType   []string
	acceptJSON []string
	userAgent  []string
}

// userAgent identifies smsblast to Twilio (and to the simulator's logs).
const userAgent = "smsblast-twilio/1 (Go)"

// New returns a Client for cfg after validating it.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	base := DefaultBaseURL
	if cfg.BaseURL != "" {
		base, _ = normalizeBaseURL(cfg.BaseURL) // validated above
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	maxConns := cfg.MaxConns
	if maxConns == 0 {
		maxConns = DefaultMaxConns
	}
	user, pass := cfg.AccountSID, cfg.AuthToken
	if cfg.APIKeySID != "" {
		user, pass = cfg.APIKeySID, cfg.APIKeySecret
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: newTransport(maxConns, timeout), CheckRedirect: noRedirects}
	}
	account := base + apiVersionPath + cfg.AccountSID
	return &Client{
		accountSID:  cfg.AccountSID,
		baseURL:     base,
		messagesURL: account + "/Messages.json",
		messagesDir: account + "/Messages/",
		timeout:     timeout,
		hc:          hc,
		authHeader:  []string{"Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))},
		formType:    []string{"application/x-www-form-urlencoded"},
		acceptJSON:  []string{"application/json"},
		userAgent:   []string{userAgent},
	}, nil
}

// newTransport builds the one Transport a Client uses. HTTP/1.1 on purpose
// (no ForceAttemptHTTP2): one request per connection makes MaxConns the real
// cap on in-flight requests, which is what Twilio's concurrency limit counts,
// and a stalled response cannot hold up the others on a shared connection.
func newTransport(maxConns int, timeout time.Duration) *http.Transport {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: timeout,
		MaxIdleConns:          maxConns,
		MaxIdleConnsPerHost:   maxConns,
		MaxConnsPerHost:       maxConns,
		IdleConnTimeout:       90 * time.Second,
		// Responses are small JSON; gzip would cost more CPU and
		// allocations than the bytes it saves on the wire.
		DisableCompression: true,
	}
}

// noRedirects stops the client from following a redirect, which would turn
// a POST into a GET; the 3xx comes back as an *Error instead.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// AccountSID returns the account the client acts for.
func (c *Client) AccountSID() string { return c.accountSID }

// CloseIdleConnections closes the client's idle keep-alive connections.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// Response body limits: a Message is under 2 KiB and a 1000-message page
// under 4 MiB; anything far larger is not Twilio.
const (
	maxBodyBytes  = 1 << 20
	maxPageBytes  = 32 << 20
	maxDrainBytes = 64 << 10
)

// wroteTracker records, through httptrace, whether any of the request may
// have reached the connection. One per request; its hook runs on the
// transport's write goroutine, hence the atomic.
//
// It hooks WroteHeaders rather than WroteRequest on purpose. WroteRequest
// fires only after the last body byte, and a body larger than the 4 KiB write
// buffer (a long UCS-2 message, escaped) reaches the socket before that: a
// cancellation in between would leave a complete request on the wire yet
// read as "not written". Headers sit in the write buffer until the first
// flush, so once WroteHeaders has not fired, no byte has left. The price is
// an occasional "in doubt" for a request cancelled while still buffered,
// which reconciliation settles; the opposite error would text someone twice.
type wroteTracker struct {
	wrote atomic.Bool
	trace httptrace.ClientTrace
}

// do sends one request and decodes a 2xx body into out. Any non-2xx becomes
// an *Error; a failure without a response becomes a *TransportError.
func (c *Client) do(ctx context.Context, method, target string, body []byte, limit int64, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	t := new(wroteTracker)
	t.trace.WroteHeaders = func() { t.wrote.Store(true) }
	ctx = httptrace.WithClientTrace(ctx, &t.trace)

	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return fmt.Errorf("%w: build request: %w", ErrInvalidParams, err)
	}
	req.Header["Authorization"] = c.authHeader
	req.Header["Accept"] = c.acceptJSON
	req.Header["User-Agent"] = c.userAgent
	if body != nil {
		req.Header["Content-Type"] = c.formType
	}

	resp, err := c.hc.Do(req)
	if err != nil {
		return &TransportError{Method: method, Path: req.URL.Path, Written: t.wrote.Load(), Err: unwrapURLError(err)}
	}
	defer func() {
		// Drain so the connection goes back to the pool; bounded so a
		// misbehaving server cannot keep us reading.
		_, _ = io.CopyN(io.Discard, resp.Body, maxDrainBytes)
		resp.Body.Close()
	}()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return readError(resp, time.Now())
	}
	if err := decodeBody(resp.Body, limit, out); err != nil {
		return fmt.Errorf("%w: read HTTP %d body: %w", ErrMalformedResponse, resp.StatusCode, err)
	}
	return nil
}

// decodeBody reads the whole body, up to limit, and decodes it into out.
func decodeBody(r io.Reader, limit int64, out any) error {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return err
	}
	if int64(len(b)) > limit {
		return fmt.Errorf("body larger than %d bytes", limit)
	}
	return json.Unmarshal(b, out)
}

// unwrapURLError drops net/http's *url.Error layer, whose message repeats
// the full URL; TransportError already says which call failed.
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// wireError is Twilio's error body. Code and status arrive as numbers, but
// are decoded leniently like the Message fields.
type wireError struct {
	Code     flexInt    `json:"code"`
	Message  flexString `json:"message"`
	MoreInfo flexString `json:"more_info"`
	Status   flexInt    `json:"status"`
}

func readError(resp *http.Response, now time.Time) *Error {
	e := &Error{
		Status:     resp.StatusCode,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), now),
	}
	var w wireError
	if json.NewDecoder(io.LimitReader(resp.Body, maxDrainBytes)).Decode(&w) == nil {
		e.Code, e.Message, e.MoreInfo = int(w.Code), string(w.Message), string(w.MoreInfo)
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	return e
}

// appendFormField appends name=value (value query-escaped) to b, preceded
// by & unless b is empty. Names are our own constants and need no escaping.
func appendFormField(b []byte, name, value string) []byte {
	if len(b) > 0 {
		b = append(b, '&')
	}
	b = append(b, name...)
	b = append(b, '=')
	return appendQueryEscape(b, value)
}

// appendQueryEscape appends s escaped as url.QueryEscape would, without
// allocating a string.
func appendQueryEscape(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~':
			b = append(b, c)
		case c == ' ':
			b = append(b, '+')
		default:
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return b
}
