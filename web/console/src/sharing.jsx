// Sharing through AWS RAM (docs/ram.md): the shares this account owns (their
// resources and principals, which it adds and removes), the shares other
// accounts made with it, and the invitations it received (Accept / Reject).
// Every call is the RAM API, signed for "ram" by the SDK's RAM client.
import { call, current, ramCall } from './aws.js';
import { Action, ErrorBox, Field, Form, Loading, StatusBadge, fmtTime, listAll, useAsync } from './ui.jsx';

const lines = (v) => String(v || '').split(/[\s,]+/).filter(Boolean);

async function loadOwned() {
  const shares = await listAll((nextToken) => ramCall('GetResourceShares', { resourceOwner: 'SELF', nextToken }), 'resourceShares');
  const live = shares.filter((s) => s.status !== 'DELETED');
  if (live.length === 0) return [];
  const arns = live.map((s) => s.resourceShareArn);
  const assoc = async (associationType) => listAll((nextToken) => ramCall('GetResourceShareAssociations',
    { associationType, resourceShareArns: arns, nextToken }), 'resourceShareAssociations');
  const [principals, resources] = await Promise.all([assoc('PRINCIPAL'), assoc('RESOURCE')]);
  const of = (list, arn) => list.filter((a) => a.resourceShareArn === arn && a.status !== 'DISASSOCIATED');
  return live.map((s) => ({ ...s, principals: of(principals, s.resourceShareArn), resources: of(resources, s.resourceShareArn) }));
}

// SharingPage; resource (an ARN, from a network's or a service's "Share"
// link) starts the create form with it.
export function SharingPage({ resource = '' }) {
  const owned = useAsync(loadOwned, []);
  // What the account may share, to pick from (services by ARN in the text
  // field: an installation may have thousands).
  const mine = useAsync(async () => {
    const [nets, cfgs] = await Promise.all([
      listAll((nextToken) => call('ListServiceNetworks', { maxResults: 100, nextToken })),
      listAll((nextToken) => call('ListResourceConfigurations', { maxResults: 100, nextToken })),
    ]);
    // Lists include what is shared with the account: only its own can be shared.
    const own = (x) => String(x.arn || '').split(':')[4] === current()?.account;
    return [
      ...nets.filter(own).map((n) => ({ arn: n.arn, label: 'service network ' + n.name })),
      ...cfgs.filter((c) => own(c) && c.type !== 'CHILD').map((c) => ({ arn: c.arn, label: `resource configuration ${c.name} (${c.type})` })),
    ];
  }, []);
  const invitations = useAsync(() => listAll((nextToken) => ramCall('GetResourceShareInvitations', { nextToken }), 'resourceShareInvitations'), []);
  const shared = useAsync(async () => {
    const [shares, resources] = await Promise.all([
      listAll((nextToken) => ramCall('GetResourceShares', { resourceOwner: 'OTHER-ACCOUNTS', nextToken }), 'resourceShares'),
      listAll((nextToken) => ramCall('ListResources', { resourceOwner: 'OTHER-ACCOUNTS', nextToken }), 'resources'),
    ]);
    return { shares, resources };
  }, []);
  const reloadAll = () => { owned.reload(); invitations.reload(); shared.reload(); };
  return (
    <section aria-labelledby="h-sharing">
      <h1 id="h-sharing">Sharing</h1>
      <p class="muted">AWS RAM resource shares: share a service network, a service or a resource configuration with other
        accounts. An account outside your organization gets an invitation to accept; once it has, it can associate its VPCs
        or services with a shared network, by the network's ARN.</p>

      <h2>Invitations to this account</h2>
      <ErrorBox error={invitations.error} />
      {invitations.loading && !invitations.data ? <Loading what="invitations" /> : (
        <table>
          <caption class="sr-only">Invitations</caption>
          <thead><tr><th scope="col">Share</th><th scope="col">From account</th><th scope="col">Status</th><th scope="col">Sent</th>
            <th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {(invitations.data || []).map((i) => (
              <tr key={i.resourceShareInvitationArn}>
                <td>{i.resourceShareName}<div class="mono small muted">{i.resourceShareArn}</div></td>
                <td class="mono">{i.senderAccountId}</td>
                <td><StatusBadge status={i.status} /></td>
                <td>{fmtTime(i.invitationTimestamp)}</td>
                <td>{i.status === 'PENDING' && (
                  <>
                    <Action label="Accept" ariaLabel={'Accept invitation to ' + i.resourceShareName} fn={async () => {
                      await ramCall('AcceptResourceShareInvitation', { resourceShareInvitationArn: i.resourceShareInvitationArn }); reloadAll();
                    }} />
                    <Action label="Reject" ariaLabel={'Reject invitation to ' + i.resourceShareName} danger fn={async () => {
                      await ramCall('RejectResourceShareInvitation', { resourceShareInvitationArn: i.resourceShareInvitationArn }); reloadAll();
                    }} />
                  </>
                )}</td>
              </tr>
            ))}
            {invitations.data && invitations.data.length === 0 && <tr><td colSpan={5} class="muted">No invitations.</td></tr>}
          </tbody>
        </table>
      )}

      <h2>Shared with this account</h2>
      <ErrorBox error={shared.error} />
      {shared.loading && !shared.data ? <Loading what="shares" /> : (
        <table>
          <caption class="sr-only">Resources shared with this account</caption>
          <thead><tr><th scope="col">Resource ARN</th><th scope="col">Type</th><th scope="col">Share</th><th scope="col">Owner</th></tr></thead>
          <tbody>
            {(shared.data?.resources || []).map((r) => {
              const s = (shared.data.shares || []).find((x) => x.resourceShareArn === r.resourceShareArn);
              return (
                <tr key={r.arn + r.resourceShareArn}>
                  <td class="mono">{r.arn}</td>
                  <td>{r.type}</td>
                  <td>{s ? s.name : r.resourceShareArn}</td>
                  <td class="mono">{s?.owningAccountId}</td>
                </tr>
              );
            })}
            {shared.data && shared.data.resources.length === 0 && <tr><td colSpan={4} class="muted">Nothing is shared with this account.</td></tr>}
          </tbody>
        </table>
      )}

      <h2>Shares this account owns</h2>
      <ErrorBox error={owned.error} />
      {owned.loading && !owned.data ? <Loading what="resource shares" /> : (
        (owned.data || []).length === 0 ? <p class="muted">No resource shares.</p>
          : owned.data.map((s) => <Share s={s} onChange={owned.reload} />)
      )}
      <Form title="Create resource share" submit="Create share" onSubmit={async (f) => {
        const input = { name: String(f.get('name')).trim(), allowExternalPrincipals: f.get('external') === 'on' };
        const resourceArns = lines(f.get('resources'));
        const picked = String(f.get('pick') || '');
        if (picked && !resourceArns.includes(picked)) resourceArns.unshift(picked);
        if (resourceArns.length) input.resourceArns = resourceArns;
        const principals = lines(f.get('principals'));
        if (principals.length) input.principals = principals;
        const r = await ramCall('CreateResourceShare', input);
        owned.reload();
        return `Created share ${r.resourceShare?.name} (${r.resourceShare?.resourceShareArn}).`;
      }}>
        <Field label="Share name" name="name" required />
        <Field label="Resource to share" name="pick" as="select">
          <option value="">(none: ARNs below)</option>
          {(mine.data || []).map((r) => <option value={r.arn}>{r.label}</option>)}
        </Field>
        <Field label="Resource ARNs (one a line)" name="resources" as="textarea" rows={2} spellcheck={false} class="mono"
          defaultValue={resource} hint="service networks, services or resource configurations of this account" />
        <Field label="Principals (account IDs, one a line)" name="principals" as="textarea" rows={2} spellcheck={false} class="mono"
          hint="12-digit account IDs, or your organization (o-…)" />
        <label class="check"><input type="checkbox" name="external" defaultChecked /> Allow principals outside your organization (they get an invitation)</label>
      </Form>
    </section>
  );
}

// Share is one owned share: its resources and principals, each removable,
// and forms to add more; delete.
function Share({ s, onChange }) {
  const label = 'share ' + s.name;
  return (
    <article class="card" aria-label={'Share ' + s.name}>
      <h3>{s.name} <StatusBadge status={s.status} /></h3>
      <p class="mono small">{s.resourceShareArn}</p>
      <p class="muted small">{s.allowExternalPrincipals ? 'Principals outside the organization allowed (invited).' : 'Only principals of your organization.'}</p>
      <div class="grid2">
        <div>
          <h4>Resources</h4>
          <ul class="plain">
            {s.resources.map((a) => (
              <li><span class="mono small">{a.associatedEntity}</span> <StatusBadge status={a.status} />{' '}
                <Action label="Remove" ariaLabel={`Remove ${a.associatedEntity} from ${label}`} danger fn={async () => {
                  await ramCall('DisassociateResourceShare', { resourceShareArn: s.resourceShareArn, resourceArns: [a.associatedEntity] }); onChange();
                }} /></li>
            ))}
            {s.resources.length === 0 && <li class="muted">No resources.</li>}
          </ul>
          <Form title={'Add resources to ' + label} submit="Add resources" onSubmit={async (f) => {
            await ramCall('AssociateResourceShare', { resourceShareArn: s.resourceShareArn, resourceArns: lines(f.get('resources')) });
            onChange();
            return 'Added.';
          }}>
            <Field label="Resource ARNs to add" name="resources" required spellcheck={false} />
          </Form>
        </div>
        <div>
          <h4>Principals</h4>
          <ul class="plain">
            {s.principals.map((a) => (
              <li><span class="mono">{a.associatedEntity}</span> <StatusBadge status={a.status} />
                {a.external && <span class="muted"> external</span>}{' '}
                <Action label="Remove" ariaLabel={`Remove ${a.associatedEntity} from ${label}`} danger fn={async () => {
                  await ramCall('DisassociateResourceShare', { resourceShareArn: s.resourceShareArn, principals: [a.associatedEntity] }); onChange();
                }} /></li>
            ))}
            {s.principals.length === 0 && <li class="muted">No principals.</li>}
          </ul>
          <Form title={'Add principals to ' + label} submit="Add principals" onSubmit={async (f) => {
            await ramCall('AssociateResourceShare', { resourceShareArn: s.resourceShareArn, principals: lines(f.get('principals')) });
            onChange();
            return 'Added.';
          }}>
            <Field label="Account IDs to add" name="principals" required spellcheck={false} />
          </Form>
        </div>
      </div>
      <Action label="Delete share" ariaLabel={'Delete ' + label} danger fn={async () => {
        await ramCall('DeleteResourceShare', { resourceShareArn: s.resourceShareArn }); onChange();
      }} />
    </article>
  );
}
