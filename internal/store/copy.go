package store

import (
	"context"
	"errors"
	"fmt"
)

// ErrNotEmpty is returned by Copy when the destination holds keys and
// force is off.
var ErrNotEmpty = errors.New("the destination store is not empty")

// copyBatchKeys and copyBatchBytes bound one destination transaction of
// Copy: under etcd's default limits (128 operations, 1.5 MiB a request),
// so a copy into etcd needs no tuning.
const (
	copyBatchKeys  = 100
	copyBatchBytes = 512 << 10
)

// Copy puts every key of src, with its value as stored, into dst, reading
// src in one view (a consistent copy). A dst that holds keys is refused
// with ErrNotEmpty unless force is set; then its keys that src does not
// hold are deleted, so that dst ends equal to src. Revisions are not
// copied: dst's moves by one per batch. It returns how many keys it
// copied. Nothing else may write to either store meanwhile.
func Copy(ctx context.Context, dst, src Store, force bool) (int, error) {
	empty := true
	if err := dst.View(ctx, func(tx ReadTx) error {
		return tx.Scan("", "", func(string, []byte) (bool, error) { empty = false; return false, nil })
	}); err != nil {
		return 0, fmt.Errorf("read the destination: %w", err)
	}
	if !empty && !force {
		return 0, ErrNotEmpty
	}
	type kv struct {
		k string
		v []byte
	}
	var batch []kv
	size, n := 0, 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, err := dst.Update(ctx, func(tx Tx) error {
			for _, e := range batch {
				if err := tx.Put(e.k, e.v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("write the destination: %w", err)
		}
		n += len(batch)
		batch, size = batch[:0], 0
		return nil
	}
	var have map[string]bool // src's keys, when dst's others must go
	if !empty {
		have = map[string]bool{}
	}
	err := src.View(ctx, func(tx ReadTx) error {
		return tx.Scan("", "", func(k string, v []byte) (bool, error) {
			if have != nil {
				have[k] = true
			}
			batch = append(batch, kv{k, v})
			size += len(k) + len(v)
			if len(batch) >= copyBatchKeys || size >= copyBatchBytes {
				return true, flush()
			}
			return true, nil
		})
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return n, err
	}
	if have == nil {
		return n, nil
	}
	// force: delete what dst holds and src does not.
	var gone []string
	if err := dst.View(ctx, func(tx ReadTx) error {
		return tx.Scan("", "", func(k string, _ []byte) (bool, error) {
			if !have[k] {
				gone = append(gone, k)
			}
			return true, nil
		})
	}); err != nil {
		return n, fmt.Errorf("read the destination: %w", err)
	}
	for len(gone) > 0 {
		part := gone[:min(len(gone), copyBatchKeys)]
		gone = gone[len(part):]
		if _, err := dst.Update(ctx, func(tx Tx) error {
			for _, k := range part {
				if err := tx.Delete(k); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return n, fmt.Errorf("write the destination: %w", err)
		}
	}
	return n, nil
}
