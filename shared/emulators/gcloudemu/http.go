package gcloudemu

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Ping reports whether an emulator answers on host (host:port): both
// emulators reply 200 "Ok" to GET /.
func Ping(ctx context.Context, host string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/", nil)
	if err != nil {
		return fmt.Errorf("building request to %s: %w", host, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("asking emulator at %s: %w", host, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("emulator at %s answered %s", host, resp.Status)
	}
	return nil
}

// ResetFirestore deletes every document of project's default database in the
// Firestore emulator at host, so tests sharing a project start clean.
func ResetFirestore(ctx context.Context, host, project string) error {
	u := "http://" + host + "/emulator/v1/projects/" + url.PathEscape(project) + "/databases/(default)/documents"
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, u, nil)
	if err != nil {
		return fmt.Errorf("building reset request for project %s: %w", project, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("resetting Firestore emulator data of project %s: %w", project, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("resetting Firestore emulator data of project %s: %s: %s", project, resp.Status, body)
	}
	return nil
}
