package youtubefake

// ValidToken reports whether tok is an access token this server issued and still honours, so
// another fake (the GA4 one, through WithGA4TokenCheck) can share its token endpoint.
func (s *YouTubeServer) ValidToken(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	expiry, ok := s.tokens[tok]
	return ok && s.opts.Now().Before(expiry)
}
