package sourcestest

import "strings"

// Each fake says how a worker reaches it: the environment that points its source's settings
// (base URLs, credentials, allow-lists) at the fake, so the local stack sets a worker's
// environment from its list of fakes without naming a variable of any source.

// Env points the youtube_analytics source at the fake: its token endpoint, its API and the
// grant it accepts (the values themselves, as local runs give them).
func (s *YouTubeServer) Env() map[string]string {
	return map[string]string{
		"YOUTUBE_CLIENT_ID":     DefaultClientID,
		"YOUTUBE_CLIENT_SECRET": DefaultClientSecret,
		"YOUTUBE_REFRESH_TOKEN": DefaultRefreshToken,
		"YOUTUBE_TOKEN_URL":     s.TokenURL(),
		"YOUTUBE_API_BASE_URL":  s.URL(),
	}
}

// Env points the ga4 source at the fake (its tokens come from the YouTube fake's grant).
func (s *GA4Server) Env() map[string]string {
	return map[string]string{"GA4_API_BASE_URL": s.URL()}
}

// Env lets the http_json source reach the fake's loopback host.
func (s *JSONAPIServer) Env() map[string]string {
	return map[string]string{"HTTP_JSON_ALLOWED_HOSTS": strings.Join([]string{"127.0.0.1", "localhost"}, ",")}
}

// Env points the x_search source at the fake, with the token it accepts (the stream fake's
// when it fronts one).
func (s *XSearchServer) Env() map[string]string {
	s.mu.Lock()
	token := s.token
	s.mu.Unlock()
	return map[string]string{"X_BEARER_TOKEN": token, "X_API_BASE_URL": s.URL()}
}
