package e2e

import "errors"

func asConflict[T error](err error, target *T) bool { return errors.As(err, target) }
