// The auth policy editor and the simulator: "would this caller be allowed?",
// answered by POST /trellis/v1/auth/simulate — the data plane's own
// evaluation on the live snapshot (docs/security.md), not a guess here. The
// editor's simulator can also run on the editor's unsaved text ("would this
// caller be allowed if I saved this?"): the draft goes to the server as
// serviceAuthPolicy or serviceNetworkAuthPolicy, is checked as
// PutAuthPolicy would check it, and is never stored.
import { useRef, useState } from 'preact/hooks';
import { call, native } from './aws.js';
import { ErrorBox, Field, Form, Loading, useAsync, useId } from './ui.jsx';

const EXAMPLE = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{
    Effect: 'Allow',
    Principal: { AWS: ['arn:aws:iam::000000000000:role/reader'] },
    Action: 'vpc-lattice-svcs:Invoke',
    Resource: '*',
  }],
}, null, 2);

// PolicyEditor edits the auth policy of resource. level ("service" or
// "serviceNetwork") says which policy a draft replaces in the simulator
// under the editor; service fills the simulator's service field.
export function PolicyEditor({ resource, level, service = '' }) {
  const pol = useAsync(async () => {
    try {
      return await call('GetAuthPolicy', { resourceIdentifier: resource });
    } catch (e) {
      if (e.name === 'ResourceNotFoundException') return {};
      throw e;
    }
  }, [resource]);
  const [parseError, setParseError] = useState('');
  // The editor's text as typed (null: untouched since the policy loaded).
  const draft = useRef(null);
  const shown = useRef('');
  if (pol.loading && !pol.data) return <Loading what="auth policy" />;
  const current = pol.data?.policy ? pretty(pol.data.policy) : '';
  if (shown.current !== current) { shown.current = current; draft.current = null; }
  const draftText = () => (draft.current ?? (current || EXAMPLE));
  return (
    <div>
      <ErrorBox error={pol.error} />
      {current
        ? <p>Policy state: <strong>{pol.data.state || 'unknown'}</strong>{pol.data.state === 'Inactive' && ' (not enforced while the auth type is NONE)'}</p>
        : <p class="muted">No auth policy: the editor holds an example to start from.</p>}
      <Form title="Edit auth policy" submit="Save policy" class="policy" onSubmit={async (f) => {
        const text = String(f.get('policy'));
        try { JSON.parse(text); setParseError(''); } catch (e) { setParseError('Not JSON: ' + e.message); }
        // The API validates the policy: its message is what is shown.
        await call('PutAuthPolicy', { resourceIdentifier: resource, policy: text });
        pol.reload();
        return 'Policy saved: the data plane enforces it as soon as the snapshot is recompiled (a moment).';
      }}>
        <Field label="Auth policy (JSON)" name="policy" as="textarea" rows={14} spellcheck={false} class="mono"
          defaultValue={current || EXAMPLE} key={current} onInput={(e) => { draft.current = e.currentTarget.value; }} />
        {parseError && <p class="warn">{parseError}</p>}
      </Form>
      {current && (
        <Form title="Remove auth policy" submit="Delete policy" onSubmit={async () => {
          await call('DeleteAuthPolicy', { resourceIdentifier: resource });
          pol.reload();
          return 'Policy deleted.';
        }} />
      )}
      {level && (
        <>
          <h3>Policy simulator</h3>
          <p class="muted">“Simulate with this draft” evaluates the editor's unsaved text in place of the live
            {level === 'service' ? ' service' : ' service network'} policy; nothing is saved. “Simulate” uses the live policies.</p>
          <Simulator service={service} draft={{ level, text: draftText }} />
        </>
      )}
    </div>
  );
}

function pretty(s) {
  try { return JSON.stringify(JSON.parse(s), null, 2); } catch { return s; }
}

const DRAFT_ACTION = 'Simulate with this draft';

// Simulator asks the server what the data plane would decide. With draft
// ({level, text}), a second button sends text() as that level's draft; with
// draftFields, the form itself has a draft field per level (left empty: the
// live policy).
export function Simulator({ service = '', draft, draftFields }) {
  const [result, setResult] = useState(null);
  const resultId = useId('sim');
  return (
    <div class="sim">
      <Form title="Would this caller be allowed?" submit="Simulate" more={draft ? [DRAFT_ACTION] : []} onSubmit={async (f, _, action) => {
        const headers = {};
        for (const line of String(f.get('headers') || '').split('\n')) {
          const i = line.indexOf('=');
          if (i > 0) headers[line.slice(0, i).trim()] = line.slice(i + 1).trim();
        }
        const body = {
          principalArn: String(f.get('principal') || '').trim(),
          method: String(f.get('method') || 'GET').toUpperCase(),
          path: String(f.get('path') || '/'),
          query: String(f.get('query') || ''),
          headers,
          sourceVpc: String(f.get('sourceVpc') || '').trim(),
          service: String(f.get('service') || '').trim(),
          sourceIp: String(f.get('sourceIp') || '').trim(),
          port: Number(f.get('port') || 80),
        };
        if (draft && action === DRAFT_ACTION) {
          body[draft.level === 'service' ? 'serviceAuthPolicy' : 'serviceNetworkAuthPolicy'] = draft.text();
        }
        if (draftFields) {
          for (const k of ['serviceAuthPolicy', 'serviceNetworkAuthPolicy']) {
            const text = String(f.get(k) || '');
            if (text.trim()) body[k] = text;
          }
        }
        setResult(null);
        const r = await native('POST', 'auth/simulate', body);
        setResult(r);
        const used = r.service?.draft || r.serviceNetwork?.draft;
        return 'Simulated' + (used ? ' with the draft' : '') + ': ' + (r.allowed ? 'allowed' : 'denied') + '.';
      }}>
        <div class="grid2">
          <Field label="Source VPC" name="sourceVpc" required placeholder="vpc-0123456789abcdef0" />
          <Field label="Service (name, ID, ARN or host name)" name="service" required defaultValue={service} />
          <Field label="Caller principal ARN" name="principal" placeholder="empty: an anonymous caller"
            hint="arn:aws:iam::ACCOUNT:role/NAME, :user/NAME, :root" />
          <Field label="Method" name="method" defaultValue="GET" />
          <Field label="Path" name="path" defaultValue="/" />
          <Field label="Query" name="query" placeholder="a=1&b=2" />
          <Field label="Listener port" name="port" type="number" defaultValue="80" min="1" max="65535" />
          <Field label="Source IP" name="sourceIp" placeholder="for aws:SourceIp conditions" />
        </div>
        <Field label="Headers (name=value, one a line)" name="headers" as="textarea" rows={2} />
        {draftFields && (
          <details>
            <summary>Draft policies (optional): simulate as if these were saved</summary>
            <div class="grid2">
              <Field label="Draft service network auth policy" name="serviceNetworkAuthPolicy" as="textarea" rows={6} spellcheck={false} class="mono"
                hint="replaces the live network policy for this simulation only; nothing is saved" />
              <Field label="Draft service auth policy" name="serviceAuthPolicy" as="textarea" rows={6} spellcheck={false} class="mono"
                hint="replaces the live service policy for this simulation only; nothing is saved" />
            </div>
          </details>
        )}
      </Form>
      <div id={resultId} aria-live="polite">{result && <SimResult r={result} />}</div>
    </div>
  );
}

function SimResult({ r }) {
  const verdict = r.allowed ? 'ALLOW' : 'DENY';
  return (
    <section class={'card verdict ' + (r.allowed ? 'good' : 'bad')} aria-label="Simulation result">
      <p class="big" role="status">{verdict}{!r.reachable && ' (not reachable)'}</p>
      <p>{r.message}</p>
      <dl class="facts">
        <dt>Principal</dt><dd class="mono">{r.principal}{r.principalKnown === false && ' (unknown to this Trellis)'}</dd>
        {r.resource && <><dt>Resource</dt><dd class="mono">{r.resource}</dd></>}
      </dl>
      {[['serviceNetwork', 'Service network'], ['service', 'Service']].map(([k, title]) => r[k] && (
        <div class="level">
          <h4>{title}{r[k].draft && ' (draft policy)'}: {r[k].decision} <span class="muted">(auth type {r[k].authType})</span></h4>
          <p class="mono small">{r[k].arn}</p>
          {r[k].decidingStatement && <p>Decided by statement <strong>{r[k].decidingStatement}</strong></p>}
          {r[k].note && <p class="muted">{r[k].note}</p>}
          {(r[k].statements || []).length > 0 && (
            <table>
              <caption class="sr-only">{title} statements</caption>
              <thead><tr><th scope="col">#</th><th scope="col">Sid</th><th scope="col">Effect</th><th scope="col">Applies</th></tr></thead>
              <tbody>
                {r[k].statements.map((s) => (
                  <tr><td>{s.Index}</td><td>{s.Sid || '-'}</td><td>{effect(s.Effect)}</td><td>{s.Applied ? 'yes' : 'no: ' + (s.Reason || '')}</td></tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      ))}
    </section>
  );
}

function effect(v) {
  if (v === 1) return 'Allow';
  if (v === 2) return 'Deny';
  return String(v ?? '');
}
