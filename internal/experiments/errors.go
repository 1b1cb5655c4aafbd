package experiments

import (
	"errors"
	"fmt"
)

// Code classifies an application error; the HTTP layer maps each code to
// one status in one place.
type Code string

// The error codes.
const (
	// CodeInvalid: the command is malformed or breaks a field rule.
	CodeInvalid Code = "invalid"
	// CodeNotFound: the aggregate does not exist (or the actor may not see it).
	CodeNotFound Code = "not_found"
	// CodeConflict: the command is not allowed in the aggregate's status, or
	// kept losing races against concurrent writers.
	CodeConflict Code = "conflict"
	// CodePrecondition: the caller's expected version is not the current one.
	CodePrecondition Code = "precondition_failed"
	// CodeForbidden: the principal may see the aggregate but not change it.
	CodeForbidden Code = "forbidden"
)

// Error is an application error: a code, a message fit to show a user, and
// the field it concerns, if any.
type Error struct {
	Code    Code
	Message string
	Field   string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Is makes errors.Is(err, ErrNotFound) and friends match any Error of the
// same code.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Message == "" && t.Code == e.Code
}

// Sentinels to test an error's code with errors.Is.
var (
	ErrInvalid      = &Error{Code: CodeInvalid}
	ErrNotFound     = &Error{Code: CodeNotFound}
	ErrConflict     = &Error{Code: CodeConflict}
	ErrPrecondition = &Error{Code: CodePrecondition}
	ErrForbidden    = &Error{Code: CodeForbidden}
)

// Invalid returns a CodeInvalid error about field.
func Invalid(field, format string, args ...any) error {
	return &Error{Code: CodeInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

func notFound(what, id string) error {
	return &Error{Code: CodeNotFound, Message: fmt.Sprintf("%s %s does not exist", what, id)}
}

func conflict(format string, args ...any) error {
	return &Error{Code: CodeConflict, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, or "" when err is not an *Error.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
