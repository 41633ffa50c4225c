// Services: a paginated, searchable list (fast with thousands: the server
// pages with maxResults/nextToken), and one service's DNS names, listeners
// with the routing recap, auth policy, live traffic, canaries and log tail.
import { useState } from 'preact/hooks';
import { call } from './aws.js';
import { A, Action, ErrorBox, Field, Form, Loading, StatusBadge, fmtTime, listAll, useAsync } from './ui.jsx';
import { PolicyEditor } from './policy.jsx';
import { AccessLogSubscriptions } from './networks.jsx';
import { ServiceTraffic, CanaryProgress, LogTail } from './traffic.jsx';

const PAGE = 50;

export function ServicesPage() {
  // tokens[i] is the nextToken that fetches page i.
  const [tokens, setTokens] = useState([undefined]);
  const [pageIdx, setPageIdx] = useState(0);
  const [query, setQuery] = useState('');
  const [search, setSearch] = useState(null); // {query, items, scanned}
  const [searchError, setSearchError] = useState(null);
  const [searching, setSearching] = useState(false);
  const list = useAsync(() => call('ListServices', { maxResults: PAGE, nextToken: tokens[pageIdx] }), [pageIdx, tokens[pageIdx]]);
  const next = list.data?.nextToken;

  const runSearch = async (ev) => {
    ev.preventDefault();
    const q = query.trim().toLowerCase();
    if (!q) { setSearch(null); return; }
    setSearching(true); setSearchError(null);
    try {
      // Lattice's ListServices has no name filter: read every page (100 at a
      // time) and match here.
      const all = await listAll((nextToken) => call('ListServices', { maxResults: 100, nextToken }));
      const items = all.filter((s) => s.name.toLowerCase().includes(q) || s.id.toLowerCase().includes(q)
        || (s.dnsEntry?.domainName || '').toLowerCase().includes(q));
      setSearch({ query: query.trim(), items, scanned: all.length });
    } catch (e) {
      setSearchError(e);
    } finally {
      setSearching(false);
    }
  };

  const rows = search ? search.items : (list.data?.items || []);
  return (
    <section aria-labelledby="h-services">
      <h1 id="h-services">Services</h1>
      <form role="search" class="searchbar" onSubmit={runSearch}>
        <label for="svc-search">Search services</label>
        <input id="svc-search" type="search" value={query} onInput={(e) => setQuery(e.currentTarget.value)}
          placeholder="name, ID or DNS name" />
        <button type="submit" disabled={searching}>Search</button>
        {search && <button type="button" onClick={() => { setSearch(null); setQuery(''); }}>Clear search</button>}
      </form>
      <ErrorBox error={searchError || list.error} />
      <p class="muted" role="status">
        {searching ? 'Searching…'
          : search ? `${search.items.length} match${search.items.length === 1 ? '' : 'es'} for “${search.query}” among ${search.scanned} services`
            : list.data ? `Page ${pageIdx + 1}: services ${pageIdx * PAGE + 1}–${pageIdx * PAGE + rows.length}` : ''}
      </p>
      {list.loading && !list.data && !search ? <Loading what="services" /> : (
        <table>
          <caption class="sr-only">Services</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">ID</th><th scope="col">DNS name</th><th scope="col">Status</th><th scope="col">Created</th></tr></thead>
          <tbody>
            {rows.map((s) => (
              <tr key={s.id}>
                <td><A href={'/services/' + s.id}>{s.name}</A></td>
                <td class="mono">{s.id}</td>
                <td class="mono">{s.dnsEntry?.domainName}</td>
                <td><StatusBadge status={s.status} /></td>
                <td>{fmtTime(s.createdAt)}</td>
              </tr>
            ))}
            {rows.length === 0 && !list.loading && <tr><td colSpan={5} class="muted">No services.</td></tr>}
          </tbody>
        </table>
      )}
      {!search && (
        <nav class="pager" aria-label="Pages of services">
          <button type="button" disabled={pageIdx === 0} onClick={() => setPageIdx(pageIdx - 1)}>Previous page</button>
          <span>Page {pageIdx + 1}</span>
          <button type="button" disabled={!next} onClick={() => {
            const t = tokens.slice(0, pageIdx + 1);
            t.push(next);
            setTokens(t);
            setPageIdx(pageIdx + 1);
          }}>Next page</button>
        </nav>
      )}
      <Form title="Create service" submit="Create service" onSubmit={async (f) => {
        const r = await call('CreateService', { name: f.get('name'), authType: f.get('authType') });
        list.reload();
        return `Created ${r.name} (${r.id}), DNS name ${r.dnsEntry?.domainName}.`;
      }}>
        <Field label="Service name" name="name" required hint="3–40 characters: lowercase letters, digits and hyphens" />
        <Field label="Auth type" name="authType" as="select">
          <option value="NONE">NONE</option>
          <option value="AWS_IAM">AWS_IAM</option>
        </Field>
      </Form>
    </section>
  );
}

async function loadRouting(id) {
  const listeners = await listAll((nextToken) => call('ListListeners', { serviceIdentifier: id, nextToken }));
  return Promise.all(listeners.map(async (l) => {
    const full = await call('GetListener', { serviceIdentifier: id, listenerIdentifier: l.id });
    const summaries = await listAll((nextToken) => call('ListRules', { serviceIdentifier: id, listenerIdentifier: l.id, nextToken }));
    const rules = await Promise.all(summaries.filter((r) => !r.isDefault)
      .map((r) => call('GetRule', { serviceIdentifier: id, listenerIdentifier: l.id, ruleIdentifier: r.id })));
    rules.sort((a, b) => (a.priority ?? 0) - (b.priority ?? 0));
    return { ...full, rules };
  }));
}

export function ServicePage({ id }) {
  const svc = useAsync(() => call('GetService', { serviceIdentifier: id }), [id]);
  const routing = useAsync(() => loadRouting(id), [id]);
  const tgs = useAsync(() => listAll((nextToken) => call('ListTargetGroups', { maxResults: 100, nextToken })), []);
  const assocs = useAsync(() => listAll((nextToken) => call('ListServiceNetworkServiceAssociations', { serviceIdentifier: id, nextToken })), [id]);
  const logs = useAsync(() => listAll((nextToken) => call('ListAccessLogSubscriptions', { resourceIdentifier: id, nextToken })), [id]);
  const s = svc.data;
  const tgName = {};
  for (const t of tgs.data || []) { tgName[t.id] = t.name; tgName[t.arn] = t.name; }
  return (
    <section aria-labelledby="h-service">
      <p><A href="/services">← Services</A></p>
      <h1 id="h-service">Service {s ? s.name : id}</h1>
      <ErrorBox error={svc.error} />
      {s && (
        <dl class="facts">
          <dt>ID</dt><dd class="mono">{s.id}</dd>
          <dt>ARN</dt><dd class="mono">{s.arn}</dd>
          <dt>DNS name</dt><dd class="mono">{s.dnsEntry?.domainName}</dd>
          {s.customDomainName && <><dt>Custom domain</dt><dd class="mono">{s.customDomainName}</dd></>}
          <dt>Auth type</dt><dd>{s.authType}</dd>
          <dt>Status</dt><dd><StatusBadge status={s.status} /></dd>
          <dt>Sharing</dt><dd><A href={'/sharing?resource=' + encodeURIComponent(s.arn)}>Share with other accounts (RAM)</A></dd>
          <dt>Networks</dt><dd>{(assocs.data || []).map((a) => <A href={'/networks/' + a.serviceNetworkId} class="chip">{a.serviceNetworkName}</A>)}
            {assocs.data && assocs.data.length === 0 && <span class="muted">none: associate it with a service network to make it callable</span>}</dd>
        </dl>
      )}

      <h2 id="h-recap">Routing recap</h2>
      <ErrorBox error={routing.error || tgs.error} />
      {routing.loading && !routing.data ? <Loading what="listeners" /> : <Recap listeners={routing.data || []} tgName={tgName} onChange={routing.reload} serviceId={id} />}
      <div class="grid2">
        <ListenerForm serviceId={id} tgs={tgs.data || []} onDone={routing.reload} />
        <RuleForm serviceId={id} listeners={routing.data || []} tgs={tgs.data || []} onDone={routing.reload} />
      </div>

      <h2>Live traffic</h2>
      <ServiceTraffic serviceId={id} tgName={tgName} />

      <h2>Canaries</h2>
      <CanaryProgress serviceId={id} tgName={tgName} />

      <h2>Access-log tail</h2>
      <LogTail resource={id} />

      <h2>Auth</h2>
      {s && (
        <Form title="Edit auth type" submit="Save auth type" onSubmit={async (f) => {
          await call('UpdateService', { serviceIdentifier: id, authType: f.get('authType') });
          svc.reload();
          return 'Saved.';
        }}>
          <Field label="Service auth type" name="authType" as="select">
            <option value="NONE" selected={s.authType === 'NONE'}>NONE</option>
            <option value="AWS_IAM" selected={s.authType === 'AWS_IAM'}>AWS_IAM</option>
          </Field>
        </Form>
      )}
      <PolicyEditor resource={id} level="service" service={s ? s.id : id} />

      <AccessLogSubscriptions resource={id} logs={logs} />

      <h2>Delete</h2>
      <Action label="Delete service" danger fn={async () => {
        await call('DeleteService', { serviceIdentifier: id });
        window.location.hash = '#/services';
      }} />
    </section>
  );
}

function matchText(m) {
  const h = m?.httpMatch;
  if (!h) return 'any request';
  const parts = [];
  if (h.method) parts.push(h.method);
  const pm = h.pathMatch;
  if (pm?.match) {
    const cs = pm.caseSensitive === false ? ' (any case)' : '';
    if (pm.match.exact !== undefined) parts.push('path = ' + pm.match.exact + cs);
    if (pm.match.prefix !== undefined) parts.push('path starts with ' + pm.match.prefix + cs);
  }
  for (const hm of h.headerMatches || []) {
    const v = hm.match || {};
    const op = v.exact !== undefined ? '= ' + v.exact : v.prefix !== undefined ? 'starts with ' + v.prefix : v.contains !== undefined ? 'contains ' + v.contains : '';
    parts.push(`header ${hm.name} ${op}`);
  }
  return parts.join(', ') || 'any request';
}

// ActionView draws a forward as proportional bars, one per target group,
// with its share of the weights; a fixed response as such. onSave, when
// given, offers to edit the weights (UpdateRule / UpdateListener).
function ActionView({ action, tgName, label, onSave }) {
  const [editing, setEditing] = useState(false);
  if (action?.fixedResponse) {
    return <span class="fixed">Fixed response {action.fixedResponse.statusCode}</span>;
  }
  const tgs = action?.forward?.targetGroups || [];
  const total = tgs.reduce((n, t) => n + (t.weight ?? 1), 0) || 1;
  const nameOf = (t) => tgName[t.targetGroupIdentifier] || t.targetGroupIdentifier;
  return (
    <div>
      <ul class="split" aria-label={'Weighted forward of ' + label}>
        {tgs.map((t) => {
          const pct = Math.round(((t.weight ?? 1) / total) * 1000) / 10;
          return (
            <li>
              <span class="bar-label"><A href={'/target-groups/' + t.targetGroupIdentifier}>{nameOf(t)}</A> <strong>{pct}%</strong> <span class="muted">(weight {t.weight ?? 1})</span></span>
              <span class="bar" aria-hidden="true"><span class="fill" style={{ width: pct + '%' }} /></span>
            </li>
          );
        })}
      </ul>
      {onSave && !editing && tgs.length > 0 && (
        <button type="button" class="small-btn" aria-label={'Edit weights of ' + label} onClick={() => setEditing(true)}>Edit weights</button>
      )}
      {onSave && editing && (
        <Form title={'Weights of ' + label} submit="Save weights" onSubmit={async (f) => {
          const targetGroups = tgs.map((t, i) => ({ targetGroupIdentifier: t.targetGroupIdentifier, weight: Number(f.get('w' + i)) }));
          await onSave({ forward: { targetGroups } });
          setEditing(false);
          return 'Saved.';
        }}>
          <div class="row">
            {tgs.map((t, i) => <Field label={'Weight of ' + nameOf(t)} name={'w' + i} type="number" defaultValue={String(t.weight ?? 1)} />)}
          </div>
        </Form>
      )}
    </div>
  );
}

const HEADER_LINE = /^(\S+)\s+(exact|prefix|contains)\s+(.*)$/;

function headerLines(h) {
  return (h?.headerMatches || []).map((m) => {
    const v = m.match || {};
    const [op, val] = v.exact !== undefined ? ['exact', v.exact] : v.prefix !== undefined ? ['prefix', v.prefix] : ['contains', v.contains ?? ''];
    return `${m.name} ${op} ${val}`;
  }).join('\n');
}

// RuleMatchEditor edits a rule's match (path exact or prefix, method,
// header matches) and priority through UpdateRule; the API judges them
// and its message is what is shown.
function RuleMatchEditor({ rule, onSave }) {
  const [editing, setEditing] = useState(false);
  const h = rule.match?.httpMatch || {};
  const pm = h.pathMatch?.match || {};
  const pathKind = pm.exact !== undefined ? 'exact' : pm.prefix !== undefined ? 'prefix' : '';
  if (!editing) {
    return <button type="button" class="small-btn" aria-label={'Edit match of rule ' + rule.name} onClick={() => setEditing(true)}>Edit match</button>;
  }
  return (
    <Form title={'Match of rule ' + rule.name} submit="Save match" onSubmit={async (f) => {
      const httpMatch = {};
      const method = String(f.get('method') || '').trim();
      if (method) httpMatch.method = method.toUpperCase();
      const kind = String(f.get('pathKind') || '');
      if (kind) {
        httpMatch.pathMatch = { match: { [kind]: String(f.get('path') || '') }, caseSensitive: f.get('caseSensitive') === 'on' };
      }
      const headerMatches = [];
      String(f.get('headers') || '').split('\n').map((x) => x.trim()).filter(Boolean).forEach((line, i) => {
        const m = HEADER_LINE.exec(line);
        if (!m) throw new Error(`header match line ${i + 1} (${line}): write NAME exact|prefix|contains VALUE`);
        headerMatches.push({ name: m[1], match: { [m[2]]: m[3] } });
      });
      if (headerMatches.length) httpMatch.headerMatches = headerMatches;
      await onSave({ priority: Number(f.get('priority')), match: { httpMatch } });
      setEditing(false);
      return 'Saved.';
    }}>
      <div class="row">
        <Field label="Priority" name="priority" type="number" required defaultValue={String(rule.priority ?? '')} />
        <Field label="Method (optional)" name="method" defaultValue={h.method || ''} placeholder="any" />
      </div>
      <div class="row">
        <Field label="Path match" name="pathKind" as="select">
          <option value="" selected={pathKind === ''}>any path</option>
          <option value="exact" selected={pathKind === 'exact'}>exact</option>
          <option value="prefix" selected={pathKind === 'prefix'}>prefix</option>
        </Field>
        <Field label="Path" name="path" defaultValue={pm.exact ?? pm.prefix ?? ''} placeholder="/api" />
        <label class="check"><input type="checkbox" name="caseSensitive" defaultChecked={h.pathMatch?.caseSensitive !== false} /> Path case-sensitive</label>
      </div>
      <Field label="Header matches (one a line: NAME exact|prefix|contains VALUE)" name="headers" as="textarea" rows={2}
        defaultValue={headerLines(h)} spellcheck={false} class="mono" />
      <button type="button" onClick={() => setEditing(false)}>Cancel</button>
    </Form>
  );
}

function Recap({ listeners, tgName, onChange, serviceId }) {
  if (listeners.length === 0) return <p class="muted">No listeners: add one below.</p>;
  return (
    <div class="recap">
      {listeners.map((l) => (
        <article class="card listener" aria-label={`Listener ${l.name}`}>
          <h3>{l.name} <span class="muted">{l.protocol}:{l.port}</span></h3>
          <ol class="rules">
            {l.rules.map((r) => (
              <li class="rule">
                <div class="rule-head">
                  <span class="prio">Priority {r.priority}</span>
                  <span class="rule-name">{r.name}</span>
                  <span class="match">{matchText(r.match)}</span>
                  <Action label="Delete" ariaLabel={`Delete rule ${r.name}`} danger fn={async () => {
                    await call('DeleteRule', { serviceIdentifier: serviceId, listenerIdentifier: l.id, ruleIdentifier: r.id }); onChange();
                  }} />
                </div>
                <RuleMatchEditor rule={r} onSave={async (input) => {
                  await call('UpdateRule', { serviceIdentifier: serviceId, listenerIdentifier: l.id, ruleIdentifier: r.id, ...input });
                  onChange();
                }} />
                <ActionView action={r.action} tgName={tgName} label={'rule ' + r.name} onSave={async (action) => {
                  await call('UpdateRule', { serviceIdentifier: serviceId, listenerIdentifier: l.id, ruleIdentifier: r.id, action });
                  onChange();
                }} />
              </li>
            ))}
            <li class="rule default">
              <div class="rule-head"><span class="prio">Default</span><span class="match">everything else</span></div>
              <ActionView action={l.defaultAction} tgName={tgName} label={'the default action of ' + l.name} onSave={async (defaultAction) => {
                  await call('UpdateListener', { serviceIdentifier: serviceId, listenerIdentifier: l.id, defaultAction });
                  onChange();
                }} />
            </li>
          </ol>
          <Action label="Delete listener" ariaLabel={`Delete listener ${l.name}`} danger fn={async () => {
            await call('DeleteListener', { serviceIdentifier: serviceId, listenerIdentifier: l.id }); onChange();
          }} />
        </article>
      ))}
    </div>
  );
}

// ActionFields: a forward over up to three weighted target groups, or a
// fixed response.
function ActionFields({ tgs, prefix }) {
  const [kind, setKind] = useState('forward');
  return (
    <fieldset>
      <legend>{prefix} action</legend>
      <Field label={`${prefix} action type`} name="kind" as="select" onChange={(e) => setKind(e.currentTarget.value)}>
        <option value="forward">Forward to target groups</option>
        <option value="fixed">Fixed response</option>
      </Field>
      {kind === 'forward' ? [1, 2, 3].map((i) => (
        <div class="row">
          <Field label={`Target group ${i}`} name={'tg' + i} as="select" required={i === 1}>
            <option value="">{i === 1 ? 'Choose…' : '(none)'}</option>
            {tgs.map((t) => <option value={t.id}>{t.name} ({t.id})</option>)}
          </Field>
          <Field label={`Weight ${i}`} name={'w' + i} type="number" min="0" max="999" defaultValue={i === 1 ? '100' : ''} />
        </div>
      )) : <Field label="Status code" name="status" type="number" defaultValue="404" />}
    </fieldset>
  );
}

function readAction(f) {
  if (f.get('kind') === 'fixed') return { fixedResponse: { statusCode: Number(f.get('status')) } };
  const targetGroups = [];
  for (const i of [1, 2, 3]) {
    const tg = f.get('tg' + i);
    if (!tg) continue;
    const w = String(f.get('w' + i) || '').trim();
    const e = { targetGroupIdentifier: tg };
    if (w !== '') e.weight = Number(w);
    targetGroups.push(e);
  }
  return { forward: { targetGroups } };
}

function ListenerForm({ serviceId, tgs, onDone }) {
  return (
    <Form title="Add listener" submit="Create listener" onSubmit={async (f) => {
      const input = { serviceIdentifier: serviceId, name: f.get('name'), protocol: f.get('protocol'), defaultAction: readAction(f) };
      const port = String(f.get('port') || '').trim();
      if (port) input.port = Number(port);
      const r = await call('CreateListener', input);
      onDone();
      return `Created listener ${r.name} (${r.id}).`;
    }}>
      <Field label="Listener name" name="name" required />
      <div class="row">
        <Field label="Protocol" name="protocol" as="select">
          <option value="HTTP">HTTP</option>
          <option value="HTTPS">HTTPS</option>
          <option value="TLS_PASSTHROUGH">TLS_PASSTHROUGH</option>
        </Field>
        <Field label="Port" name="port" type="number" min="1" max="65535" placeholder="80" />
      </div>
      <ActionFields tgs={tgs} prefix="Default" />
    </Form>
  );
}

function RuleForm({ serviceId, listeners, tgs, onDone }) {
  return (
    <Form title="Add rule" submit="Create rule" onSubmit={async (f) => {
      const httpMatch = {};
      const prefix = String(f.get('pathPrefix') || '');
      if (prefix) httpMatch.pathMatch = { match: { prefix } };
      const method = String(f.get('method') || '').trim();
      if (method) httpMatch.method = method.toUpperCase();
      const r = await call('CreateRule', {
        serviceIdentifier: serviceId, listenerIdentifier: f.get('listener'), name: f.get('name'),
        priority: Number(f.get('priority')), match: { httpMatch }, action: readAction(f),
      });
      onDone();
      return `Created rule ${r.name} (${r.id}).`;
    }}>
      <Field label="Listener" name="listener" as="select" required>
        {listeners.map((l) => <option value={l.id}>{l.name} ({l.protocol}:{l.port})</option>)}
      </Field>
      <Field label="Rule name" name="name" required />
      <div class="row">
        <Field label="Priority" name="priority" type="number" required min="1" max="2000" />
        <Field label="Method (optional)" name="method" placeholder="GET" />
      </div>
      <Field label="Path prefix" name="pathPrefix" placeholder="/api" />
      <ActionFields tgs={tgs} prefix="Rule" />
    </Form>
  );
}
