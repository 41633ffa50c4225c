// Identities: accounts, principals and access keys (/trellis/v1/accounts,
// principals, accesskeys). The API decides what a caller may see: an account's
// root sees its own principals and keys, the administrator every account.
import { useState } from 'preact/hooks';
import { current, esc, native } from './aws.js';
import { Action, ErrorBox, Field, Form, Loading, fmtTime, listAll, useAsync } from './ui.jsx';

const pages = (path) => listAll((t) => native('GET', path + (t ? (path.includes('?') ? '&' : '?') + 'nextToken=' + esc(t) : '')));

export function IdentitiesPage() {
  const me = current();
  const accounts = useAsync(() => pages('accounts'), []);
  const principals = useAsync(() => pages('principals'), []);
  const keys = useAsync(() => pages('accesskeys'), []);
  const [secret, setSecret] = useState(null);
  return (
    <section aria-labelledby="h-ids">
      <h1 id="h-ids">Identities</h1>
      <dl class="facts">
        <dt>You are</dt><dd class="mono">{me.arn}</dd>
        <dt>Account</dt><dd class="mono">{me.account}</dd>
      </dl>
      <h2>Accounts</h2>
      <ErrorBox error={accounts.error} />
      {accounts.data && (
        <table>
          <caption class="sr-only">Accounts</caption>
          <thead><tr><th scope="col">Account</th><th scope="col">Name</th><th scope="col">Organization</th><th scope="col">Created</th></tr></thead>
          <tbody>{accounts.data.map((a) => <tr><td class="mono">{a.accountId}</td><td>{a.name}</td><td class="mono">{a.orgId}</td><td>{fmtTime(a.createdAt)}</td></tr>)}</tbody>
        </table>
      )}
      <h2>Principals</h2>
      <ErrorBox error={principals.error} />
      {principals.loading && !principals.data ? <Loading what="principals" /> : principals.data && (
        <table>
          <caption class="sr-only">Principals</caption>
          <thead><tr><th scope="col">ARN</th><th scope="col">Type</th><th scope="col">Tags</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {principals.data.map((p) => (
              <tr>
                <td class="mono">{p.arn}</td><td>{p.type}</td>
                <td class="mono">{Object.entries(p.tags || {}).map(([k, v]) => `${k}=${v}`).join(', ')}</td>
                <td>
                  <Action label="New access key" ariaLabel={'New access key for ' + p.arn} fn={async () => {
                    setSecret(await native('POST', 'principals/' + esc(p.arn) + '/accesskeys')); keys.reload();
                  }} />
                  <Action label="Delete" ariaLabel={'Delete principal ' + p.arn} danger fn={async () => {
                    await native('DELETE', 'principals/' + esc(p.arn)); principals.reload();
                  }} />
                </td>
              </tr>
            ))}
            {principals.data.length === 0 && <tr><td colSpan={4} class="muted">No principals.</td></tr>}
          </tbody>
        </table>
      )}
      {secret && (
        <div class="card" role="status">
          <h3>New access key</h3>
          <p>Copy the secret now: it is shown only once and is not kept by the console.</p>
          <dl class="facts"><dt>Access key ID</dt><dd class="mono">{secret.accessKeyId}</dd>
            <dt>Secret access key</dt><dd class="mono">{secret.secretAccessKey}</dd></dl>
          <button type="button" onClick={() => setSecret(null)}>Done</button>
        </div>
      )}
      <Form title="Create principal" submit="Create principal" onSubmit={async (f) => {
        const tags = {};
        for (const kv of String(f.get('tags') || '').split(/[\s,]+/).filter(Boolean)) {
          const i = kv.indexOf('=');
          if (i > 0) tags[kv.slice(0, i)] = kv.slice(i + 1);
        }
        const p = await native('PUT', 'principals/' + esc(String(f.get('arn')).trim()), { tags });
        principals.reload();
        return `Saved ${p.arn}.`;
      }}>
        <Field label="Principal ARN" name="arn" required placeholder={`arn:aws:iam::${me.account}:role/app`} />
        <Field label="Tags (key=value, comma-separated)" name="tags" />
      </Form>
      <h2>Access keys</h2>
      <ErrorBox error={keys.error} />
      {keys.data && (
        <table>
          <caption class="sr-only">Access keys</caption>
          <thead><tr><th scope="col">Access key</th><th scope="col">Principal</th><th scope="col">Status</th><th scope="col">Created</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {keys.data.map((k) => (
              <tr>
                <td class="mono">{k.accessKeyId}</td><td class="mono">{k.principalArn}</td><td>{k.status}</td><td>{fmtTime(k.createdAt)}</td>
                <td><Action label="Delete" ariaLabel={'Delete access key ' + k.accessKeyId} danger fn={async () => {
                  await native('DELETE', 'accesskeys/' + esc(k.accessKeyId)); keys.reload();
                }} /></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
