package service

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
	"github.com/trellis-net/trellis/internal/store/schema"
)

// Counters and indexes that keep full scans out of write transactions.
//
// Writes are serialised, so a write that reads every entity of a kind (a
// quota check that decoded every service, issue 15) slows every other
// write as the installation grows. Instead, each quota reads a counter that
// the write creating or deleting the counted entity adjusts in the same
// transaction, and each "which X belong to Y" question reads an index key
// range. A store written before these existed is brought up to date once
// by Upgrade.

const (
	pfxCount         = schema.Count
	pfxSvcTGRef      = schema.SvcTGRef
	pfxALSbyResource = schema.ALSbyResource
	pfxSvcByCert     = schema.SvcByCert
	pfxTGbyVpc       = schema.TGbyVpc
)

// tgVPC is the VPC a target group is in, "" for none (LAMBDA).
func tgVPC(tg *model.TargetGroup) string {
	if tg.Config == nil {
		return ""
	}
	return tg.Config.VpcIdentifier
}

// ownedCountKey counts the entities under prefix (a kind) that account owns.
func ownedCountKey(prefix, account string) string {
	return pfxCount + "owned/" + strings.TrimSuffix(prefix, "/") + "/" + account
}

// childCountKey counts the index entries under index+parent+"/" (the
// associations of a service network).
func childCountKey(index, parent string) string {
	return pfxCount + "child/" + strings.TrimSuffix(index, "/") + "/" + parent
}

func getCount(tx store.ReadTx, key string) (int, error) {
	b, ok, err := tx.Get(key)
	if err != nil || !ok {
		return 0, err
	}
	n, err := strconv.Atoi(string(b))
	if err != nil {
		return 0, fmt.Errorf("decode %s: %w", key, err)
	}
	return n, nil
}

// addCount adds delta to the counter at key; a counter that reaches zero
// is deleted, so an empty store holds no counters.
func addCount(tx store.Tx, key string, delta int) error {
	n, err := getCount(tx, key)
	if err != nil {
		return err
	}
	n += delta
	// Below zero only if an entity was written without its count (by a
	// tool, or an older version after Upgrade): count it as none rather
	// than refuse the delete.
	if n <= 0 {
		return tx.Delete(key)
	}
	return tx.Put(key, []byte(strconv.Itoa(n)))
}

// countOwned counts the entities under prefix that account owns.
func (s *Service) countOwned(tx store.ReadTx, prefix, account string) (int, error) {
	return getCount(tx, ownedCountKey(prefix, account))
}

// ownedPrefixes are the kinds whose per-account counts quotas read.
var ownedPrefixes = []string{pfxServiceNetwork, pfxService, pfxTargetGroup, pfxCertificate}

// childIndexes are the indexes whose per-parent counts quotas read.
var childIndexes = []string{pfxSNSAbySN, pfxSNVAbySN}

// layoutKey records which derived keys (counters and indexes) the store
// holds; layoutVersion is this version's. Bump it when adding one, and
// rebuild it in rebuildDerived.
const (
	layoutKey     = schema.Meta + "layout"
	layoutVersion = "2"
)

// Upgrade brings a store written by an older version to this version's
// layout: when the store's layout is older, it rebuilds every counter and
// index from the entities, in one transaction. It reads everything once;
// it is meant for start-up, before the API serves.
func (s *Service) Upgrade(ctx context.Context) error {
	var current bool
	if err := s.view(ctx, func(tx store.ReadTx) error {
		v, ok, err := tx.Get(layoutKey)
		current = ok && string(v) == layoutVersion
		return err
	}); err != nil || current {
		return err
	}
	return s.update(ctx, func(tx store.Tx) error {
		if err := rebuildDerived(tx); err != nil {
			return fmt.Errorf("upgrade the store's layout to %s: %w", layoutVersion, err)
		}
		return tx.Put(layoutKey, []byte(layoutVersion))
	})
}

// rebuildDerived recomputes every counter and index from the entities.
func rebuildDerived(tx store.Tx) error {
	for _, p := range []string{pfxCount, pfxSvcTGRef, pfxALSbyResource, pfxSvcByCert, pfxTGbyVpc} {
		if err := deletePrefix(tx, p); err != nil {
			return err
		}
	}
	counts := map[string]int{}
	for _, p := range ownedPrefixes {
		err := tx.Scan(p, "", func(k string, b []byte) (bool, error) {
			var o struct {
				Account string `json:"account"`
			}
			if err := json.Unmarshal(b, &o); err != nil {
				return false, fmt.Errorf("decode %s: %w", k, err)
			}
			counts[ownedCountKey(p, o.Account)]++
			return true, nil
		})
		if err != nil {
			return err
		}
	}
	for _, idx := range childIndexes {
		err := tx.Scan(idx, "", func(k string, _ []byte) (bool, error) {
			parent, _, ok := strings.Cut(strings.TrimPrefix(k, idx), "/")
			if ok {
				counts[childCountKey(idx, parent)]++
			}
			return true, nil
		})
		if err != nil {
			return err
		}
	}
	for k, n := range counts {
		if err := tx.Put(k, []byte(strconv.Itoa(n))); err != nil {
			return err
		}
	}
	var refs []string
	if err := tx.Scan(pfxTGRef, "", func(k string, _ []byte) (bool, error) {
		refs = append(refs, k)
		return true, nil
	}); err != nil {
		return err
	}
	for _, k := range refs {
		parts := strings.Split(strings.TrimPrefix(k, pfxTGRef), "/")
		if len(parts) != 3 {
			continue
		}
		if err := tx.Put(svcRefKey(parts[1], parts[0], parts[2]), nil); err != nil {
			return err
		}
	}
	var subs [][2]string
	if err := scanJSON(tx, pfxALS, func(_ string, a *struct {
		ID         string `json:"id"`
		ResourceID string `json:"resourceId"`
	}) (bool, error) {
		subs = append(subs, [2]string{a.ResourceID, a.ID})
		return true, nil
	}); err != nil {
		return err
	}
	for _, sub := range subs {
		if err := tx.Put(alsIndexKey(sub[0], sub[1]), nil); err != nil {
			return err
		}
	}
	var put []string
	if err := scanJSON(tx, pfxService, func(_ string, svc *model.Service) (bool, error) {
		if svc.CertificateArn != "" {
			put = append(put, pfxSvcByCert+svc.CertificateArn+"/"+svc.ID)
		}
		return true, nil
	}); err != nil {
		return err
	}
	if err := scanJSON(tx, pfxTargetGroup, func(_ string, tg *model.TargetGroup) (bool, error) {
		if vpc := tgVPC(tg); vpc != "" {
			put = append(put, pfxTGbyVpc+vpc+"/"+tg.ID)
		}
		return true, nil
	}); err != nil {
		return err
	}
	for _, k := range put {
		if err := tx.Put(k, nil); err != nil {
			return err
		}
	}
	return nil
}

func alsIndexKey(resourceID, alsID string) string {
	return pfxALSbyResource + resourceID + "/" + alsID
}
