// Small shared pieces: data hooks, labelled fields, error and status boxes.
import { useEffect, useState, useCallback, useRef } from 'preact/hooks';
import { errorText } from './aws.js';

let nextId = 0;
export function useId(prefix) {
  const ref = useRef(null);
  if (ref.current === null) ref.current = `${prefix}-${++nextId}`;
  return ref.current;
}

// useAsync runs fn when deps change; reload runs it again.
export function useAsync(fn, deps) {
  const [state, setState] = useState({ loading: true, data: null, error: null });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    Promise.resolve().then(fn).then(
      (data) => live && setState({ loading: false, data, error: null }),
      (error) => live && setState({ loading: false, data: null, error }),
    );
    return () => { live = false; };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

// usePoll runs fn now and every ms milliseconds while mounted, keeping the
// last good answer when a poll fails.
export function usePoll(fn, ms, deps) {
  const [state, setState] = useState({ data: null, error: null, at: null });
  useEffect(() => {
    let live = true;
    let timer = null;
    const run = async () => {
      try {
        const data = await fn();
        if (live) setState({ data, error: null, at: new Date() });
      } catch (error) {
        if (live) setState((s) => ({ ...s, error }));
      }
      if (live) timer = setTimeout(run, ms);
    };
    run();
    return () => { live = false; clearTimeout(timer); };
  }, deps);
  return state;
}

export function ErrorBox({ error }) {
  if (!error) return null;
  return <p class="error" role="alert">{errorText(error)}</p>;
}

export function Loading({ what }) {
  return <p class="muted" aria-live="polite">Loading {what}…</p>;
}

// Field is a labelled input (or select/textarea through as=).
export function Field({ label, as = 'input', children, hint, ...props }) {
  const id = useId('f');
  const Tag = as;
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <Tag id={id} {...props}>{children}</Tag>
      {hint && <small class="muted">{hint}</small>}
    </div>
  );
}

// Form wraps a create/edit form: it runs onSubmit, shows the API's own error
// message when it fails, and a confirmation when it succeeds. more names
// further submit buttons; onSubmit's third argument is the label of the
// button that submitted.
export function Form({ title, submit, more = [], onSubmit, children, class: cls }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState('');
  const headingId = useId('form');
  const handle = async (ev) => {
    ev.preventDefault();
    setBusy(true); setError(null); setDone('');
    try {
      const msg = await onSubmit(new FormData(ev.currentTarget), ev.currentTarget, ev.submitter?.value || submit);
      setDone(msg || 'Done.');
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class={'card ' + (cls || '')} onSubmit={handle} aria-labelledby={headingId}>
      <h3 id={headingId}>{title}</h3>
      {children}
      <div class="actions">
        <button type="submit" value={submit} disabled={busy}>{submit}</button>
        {more.map((label) => <button type="submit" class="secondary" value={label} disabled={busy}>{label}</button>)}
      </div>
      <ErrorBox error={error} />
      {done && <p class="ok" role="status">{done}</p>}
    </form>
  );
}

// Action is a button that runs fn and shows the API's error beside it.
export function Action({ label, fn, danger, ariaLabel }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  return (
    <span class="inline-action">
      <button type="button" class={danger ? 'danger' : ''} aria-label={ariaLabel || label} disabled={busy}
        onClick={async () => {
          setBusy(true); setError(null);
          try { await fn(); } catch (e) { setError(e); } finally { setBusy(false); }
        }}>{label}</button>
      <ErrorBox error={error} />
    </span>
  );
}

export function A({ href, children, ...props }) {
  return <a href={'#' + href} {...props}>{children}</a>;
}

export function fmtTime(t) {
  if (!t) return '';
  const d = t instanceof Date ? t : new Date(t);
  return isNaN(d) ? String(t) : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function StatusBadge({ status }) {
  const s = String(status || '');
  const cls = (/HEALTHY|ACTIVE|Active|PROMOTED|RUNNING/.test(s) && !/UNHEALTHY/.test(s)) || /^(ASSOCIATED|ACCEPTED)$/.test(s) ? 'good'
    : /UNHEALTHY|FAILED|ROLLED_BACK|ABORTED|^REJECTED$/.test(s) ? 'bad' : 'neutral';
  return <span class={'badge ' + cls}>{s}</span>;
}

// listAll follows nextToken through every page of a list operation.
export async function listAll(page, key = 'items') {
  let token;
  const out = [];
  do {
    const r = await page(token);
    out.push(...(r[key] || []));
    token = r.nextToken;
  } while (token);
  return out;
}
