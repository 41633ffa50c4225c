// Live traffic (GET /trellis/v1/traffic), canaries (/trellis/v1/canaries)
// and the access-log tail (GET /trellis/v1/access-logs/stream, NDJSON).
import { useEffect, useRef, useState } from 'preact/hooks';
import { call, esc, native, signedFetch } from './aws.js';
import { A, Action, ErrorBox, Field, Form, StatusBadge, fmtTime, listAll, useAsync, usePoll } from './ui.jsx';

const POLL_MS = 3000;

function pct(n, d) { return d ? (Math.round((n / d) * 1000) / 10) + '%' : '0%'; }

function sum(rows) {
  return rows.reduce((a, r) => ({ requests: a.requests + r.requests, errors4xx: a.errors4xx + r.errors4xx, errors5xx: a.errors5xx + r.errors5xx }),
    { requests: 0, errors4xx: 0, errors5xx: 0 });
}

function TrafficTable({ caption, rows, cols }) {
  return (
    <table>
      <caption>{caption}</caption>
      <thead><tr>{cols.map(([, h]) => <th scope="col">{h}</th>)}<th scope="col">Requests</th><th scope="col">4xx</th><th scope="col">5xx</th><th scope="col">p50 ms</th><th scope="col">p99 ms</th></tr></thead>
      <tbody>
        {rows.map((r) => (
          <tr>{cols.map(([k, , f]) => <td class="mono">{f ? f(r[k]) : r[k]}</td>)}<td>{r.requests}</td><td>{r.errors4xx}</td><td>{r.errors5xx}</td><td>{r.p50Ms}</td><td>{r.p99Ms}</td></tr>
        ))}
        {rows.length === 0 && <tr><td colSpan={cols.length + 5} class="muted">No requests in the window.</td></tr>}
      </tbody>
    </table>
  );
}

export function ServiceTraffic({ serviceId, tgName }) {
  const [window_, setWindow] = useState('5m');
  const t = usePoll(() => native('GET', `traffic?service=${esc(serviceId)}&window=${esc(window_)}`), POLL_MS, [serviceId, window_]);
  const callers = t.data?.callers || [];
  const tgs = t.data?.targetGroups || [];
  const tot = sum(callers);
  return (
    <div class="traffic">
      <div class="row">
        <Field label="Traffic window" name="window" as="select" onChange={(e) => setWindow(e.currentTarget.value)}>
          {['1m', '5m', '15m', '1h'].map((w) => <option value={w} selected={w === window_}>{w}</option>)}
        </Field>
        <span class="muted">{t.at ? 'updated ' + fmtTime(t.at) : ''}</span>
      </div>
      <ErrorBox error={t.error} />
      <dl class="stats" aria-label="Traffic totals">
        <div><dt>Requests</dt><dd data-testid="traffic-requests">{tot.requests}</dd></div>
        <div><dt>4xx rate</dt><dd>{pct(tot.errors4xx, tot.requests)}</dd></div>
        <div><dt>5xx rate</dt><dd>{pct(tot.errors5xx, tot.requests)}</dd></div>
        <div><dt>Callers</dt><dd>{callers.length}</dd></div>
      </dl>
      <TrafficTable caption="By caller" rows={callers} cols={[['principal', 'Caller'], ['sourceVpcId', 'Source VPC']]} />
      <TrafficTable caption="By target group" rows={tgs} cols={[['targetGroupId', 'Target group', (id) => tgName[id] ? `${tgName[id]} (${id})` : id]]} />
    </div>
  );
}

export function CanaryProgress({ serviceId, tgName = {} }) {
  const c = usePoll(() => native('GET', 'canaries'), POLL_MS, [serviceId]);
  const items = (c.data?.items || []).filter((x) => !serviceId || x.serviceId === serviceId);
  return (
    <div>
      <ErrorBox error={c.error} />
      {items.length === 0 && <p class="muted">No canaries{serviceId ? ' for this service' : ''}.</p>}
      {items.map((x) => {
        const steps = x.steps || [];
        const w = x.weights || {};
        const canaryPct = w.canary ?? x.percent ?? 0;
        return (
          <article class="card" aria-label={'Canary ' + x.canaryId}>
            <h3>Canary {x.canaryId} <StatusBadge status={x.state} /></h3>
            <p>{tgName[x.baselineTargetGroup] || x.baselineTargetGroup} → {tgName[x.canaryTargetGroup] || x.canaryTargetGroup},
              steps {steps.join(' → ')}%{x.defaultAction ? ', default action' : `, rule ${x.ruleId}`}</p>
            <label>Step {Math.min(x.stepIndex + 1, steps.length)} of {steps.length}: weights baseline {w.baseline ?? '?'} / canary {canaryPct}{x.weightsPending ? ' (being applied)' : ''}
              <progress max="100" value={canaryPct}>{canaryPct}%</progress></label>
            {x.stepEndsAt && <p class="muted">This step ends at {fmtTime(x.stepEndsAt)}</p>}
            {x.reason && <p class="muted">{x.reason}</p>}
            {x.state === 'RUNNING' && <Action label="Abort canary" danger fn={() => native('POST', `canaries/${esc(x.canaryId)}/abort`)} />}
            {(x.history || []).length > 0 && (
              <details><summary>History</summary>
                <ul>{x.history.map((h) => <li>{fmtTime(h.at)} {h.event} {h.percent}% {h.reason}</li>)}</ul>
              </details>
            )}
          </article>
        );
      })}
    </div>
  );
}

// statusFilter parses "5xx,404": classes or codes.
function statusFilter(s) {
  const parts = String(s || '').split(/[\s,]+/).filter(Boolean);
  if (!parts.length) return () => true;
  return (code) => parts.some((p) => (/^[1-5]xx$/i.test(p) ? String(code)[0] === p[0] : String(code) === p));
}

const MAX_LINES = 500;

// caller is who made the request: the principal SigV4 authenticated, else
// Anonymous (records write "-" for a field they do not have).
function caller(r) {
  for (const v of [r.resolvedUser, r.callerPrincipal]) if (v && v !== '-') return v;
  return 'Anonymous';
}

export function LogTail({ resource }) {
  const [running, setRunning] = useState(false);
  const [lines, setLines] = useState([]);
  const [note, setNote] = useState('');
  const [error, setError] = useState(null);
  const [filters, setFilters] = useState({ status: '', caller: '', path: '' });
  const abort = useRef(null);
  useEffect(() => () => abort.current?.abort(), []);

  const start = async () => {
    const ctl = new AbortController();
    abort.current = ctl;
    setError(null); setNote(''); setRunning(true);
    try {
      const res = await signedFetch('GET', 'access-logs/stream?resourceIdentifier=' + esc(resource), undefined, ctl.signal);
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i;
        const batch = [];
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i).trim();
          buf = buf.slice(i + 1);
          if (!line) continue; // keep-alive
          let rec;
          try { rec = JSON.parse(line); } catch { continue; }
          if (rec.trellisEvent === 'started') setNote('Following ' + rec.resourceArn);
          else if (rec.trellisEvent === 'dropped') setNote(`${rec.dropped} records dropped (this reader did not keep up)`);
          else if (rec.trellisEvent === 'end') setNote('Stream ended: ' + (rec.message || rec.reason));
          else batch.push(rec);
        }
        if (batch.length) setLines((ls) => [...batch.reverse(), ...ls].slice(0, MAX_LINES));
      }
    } catch (e) {
      if (e.name !== 'AbortError') setError(e);
    } finally {
      setRunning(false);
    }
  };
  const stop = () => { abort.current?.abort(); setRunning(false); };

  // A record's "-" means none (the log format's empty value).
  const given = (v) => v !== undefined && v !== null && v !== '' && v !== '-';
  const recordNote = (r) => given(r.authDeniedReason) ? 'denied:' + r.authDeniedReason : given(r.failureReason) ? r.failureReason : '';
  const okStatus = statusFilter(filters.status);
  const shown = lines.filter((r) => okStatus(r.responseCode)
    && (!filters.caller || caller(r).toLowerCase().includes(filters.caller.toLowerCase()))
    && (!filters.path || String(r.requestPath || '').includes(filters.path)));
  const set = (k) => (e) => setFilters({ ...filters, [k]: e.currentTarget.value });
  return (
    <div class="tail">
      <div class="row">
        {running
          ? <button type="button" onClick={stop}>Stop tail</button>
          : <button type="button" onClick={start}>Start tail</button>}
        <button type="button" onClick={() => setLines([])}>Clear</button>
        <Field label="Status filter" name="status" placeholder="5xx,404" onInput={set('status')} />
        <Field label="Caller filter" name="caller" placeholder="role/app" onInput={set('caller')} />
        <Field label="Path filter" name="path" placeholder="/api" onInput={set('path')} />
      </div>
      <ErrorBox error={error} />
      <p class="muted" role="status">{running ? 'Live. ' : ''}{note} {lines.length ? `${shown.length} of ${lines.length} records shown` : ''}</p>
      <div class="scroll">
      <table class="log">
        <caption class="sr-only">Access-log records, newest first</caption>
        <thead><tr><th scope="col">Time</th><th scope="col">Caller</th><th scope="col">Source VPC</th><th scope="col">Request</th><th scope="col">Status</th><th scope="col">Duration</th><th scope="col">Target</th><th scope="col">Note</th></tr></thead>
        <tbody>
          {shown.map((r) => (
            <tr class={'code' + String(r.responseCode)[0]}>
              <td class="mono">{r.startTime}</td>
              <td class="mono">{caller(r)}</td>
              <td class="mono">{r.sourceVpcId}</td>
              <td class="mono wrap">{r.requestMethod} {r.hostHeader}{r.requestPath}</td>
              <td>{r.responseCode}</td>
              <td>{r.duration === undefined || r.duration === '-' ? '' : r.duration + ' ms'}</td>
              <td class="mono">{r.targetIpPort || '-'}</td>
              <td class="mono">{recordNote(r)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      </div>
    </div>
  );
}

export function TrafficPage() {
  const top = usePoll(() => native('GET', 'traffic?top=20'), POLL_MS, []);
  const tgs = useAsync(() => listAll((nextToken) => call('ListTargetGroups', { maxResults: 100, nextToken })), []);
  const tgName = {};
  for (const t of tgs.data || []) tgName[t.id] = t.name;
  return (
    <section aria-labelledby="h-traffic">
      <h1 id="h-traffic">Traffic &amp; canaries</h1>
      <ErrorBox error={top.error} />
      <TrafficTable caption="Busiest services (5 minutes)" rows={top.data?.services || []}
        cols={[['serviceId', 'Service', (id) => <A href={'/services/' + id}>{id}</A>], ['serviceName', 'Name']]} />
      <TrafficTable caption="Busiest callers (5 minutes)" rows={top.data?.callers || []} cols={[['principal', 'Caller']]} />
      <h2>Canaries</h2>
      <CanaryProgress tgName={tgName} />
      <Form title="Start a canary" submit="Start canary" onSubmit={async (f) => {
        const body = {
          serviceIdentifier: String(f.get('service')).trim(), listenerIdentifier: String(f.get('listener')).trim(),
          baselineTargetGroup: String(f.get('baseline')).trim(), canaryTargetGroup: String(f.get('canary')).trim(),
          steps: String(f.get('steps')).split(/[\s,]+/).filter(Boolean).map(Number),
          intervalSeconds: Number(f.get('interval')), maxErrorRate: Number(f.get('maxErrorRate')),
        };
        const rule = String(f.get('rule') || '').trim();
        if (rule) body.ruleIdentifier = rule;
        const r = await native('POST', 'canaries', body);
        return `Started canary ${r.canaryId || r.id}.`;
      }}>
        <div class="grid2">
          <Field label="Service" name="service" required />
          <Field label="Listener" name="listener" required />
          <Field label="Rule (empty: the default action)" name="rule" />
          <Field label="Baseline target group" name="baseline" required />
          <Field label="Canary target group" name="canary" required />
          <Field label="Steps (%)" name="steps" defaultValue="5, 25, 50, 100" />
          <Field label="Interval (seconds)" name="interval" type="number" defaultValue="60" />
          <Field label="Max error rate (0..1)" name="maxErrorRate" defaultValue="0.05" />
        </div>
      </Form>
    </section>
  );
}
