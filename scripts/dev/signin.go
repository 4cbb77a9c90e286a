package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/pipelinekit/pipelinekit/shared/localstack"
	"github.com/pipelinekit/pipelinekit/shared/signin/authemu"
)

// serveSignIn is the Auth emulator `dev --serve` runs ServeRankings against
// (DECK_AUTH=firebase, docs/sign-in.md): its host, or nil when it could not be had, in which case
// --serve says so in one line on w and runs with sign-in off.
func serveSignIn(ctx context.Context, root, project string, w io.Writer) (*authemu.Emulator, error) {
	em, err := authemu.Run(ctx, root, project)
	if errors.Is(err, authemu.ErrUnavailable) {
		fmt.Fprintf(w, "sign-in off: %v\n", err)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("starting the Firebase Auth emulator: %w", err)
	}
	return em, nil
}

// signInHint is what --serve prints to sign in: the demo user's email, typed in the deck's
// account box, which on the emulator signs in any email.
func signInHint(email string) string {
	return fmt.Sprintf("sign in as %s: type it in the account box and press \"Sign in (emulator)\" (any email signs in)", email)
}

// demoToken signs the demo user in on the emulator, creating the account, and returns its ID
// token for the banner's curl commands.
func demoToken(ctx context.Context, s *localstack.Stack) (string, error) {
	tok, err := s.SignInAs(ctx, localstack.DemoUser)
	if err != nil {
		return "", fmt.Errorf("signing the demo user in: %w", err)
	}
	return tok, nil
}
