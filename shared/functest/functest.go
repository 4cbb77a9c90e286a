// Package functest is what the tests of the function packages share: serving a test binary's
// registered functions through the Functions Framework in a child process, a buffer loggers can
// write to concurrently, and checks of errors and of LoadConfig tables. Only _test.go files
// import it (TestImportedOnlyByTests keeps it so).
//
// Reference: docs/local-stack.md.
package functest
