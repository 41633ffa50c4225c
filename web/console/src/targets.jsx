// Target groups, and one group's targets with their live health: ListTargets
// (status and reasonCode, as the health checker last judged them) polled.
import { call } from './aws.js';
import { A, Action, ErrorBox, Field, Form, Loading, StatusBadge, fmtTime, listAll, useAsync, usePoll } from './ui.jsx';

export function TargetGroupsPage() {
  const tgs = useAsync(() => listAll((nextToken) => call('ListTargetGroups', { maxResults: 100, nextToken })), []);
  return (
    <section aria-labelledby="h-tgs">
      <h1 id="h-tgs">Target groups</h1>
      <ErrorBox error={tgs.error} />
      {tgs.loading && !tgs.data ? <Loading what="target groups" /> : (
        <table>
          <caption class="sr-only">Target groups</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">ID</th><th scope="col">Type</th><th scope="col">Protocol:port</th><th scope="col">VPC</th><th scope="col">Services</th><th scope="col">Status</th></tr></thead>
          <tbody>
            {(tgs.data || []).map((t) => (
              <tr key={t.id}>
                <td><A href={'/target-groups/' + t.id}>{t.name}</A></td>
                <td class="mono">{t.id}</td>
                <td>{t.type}</td>
                <td>{t.protocol}{t.port ? ':' + t.port : ''}</td>
                <td class="mono">{t.vpcIdentifier}</td>
                <td>{(t.serviceArns || []).length}</td>
                <td><StatusBadge status={t.status} /></td>
              </tr>
            ))}
            {tgs.data && tgs.data.length === 0 && <tr><td colSpan={7} class="muted">No target groups yet.</td></tr>}
          </tbody>
        </table>
      )}
      <Form title="Create target group" submit="Create target group" onSubmit={async (f) => {
        const type = f.get('type');
        const input = { name: f.get('name'), type };
        if (type !== 'LAMBDA') {
          input.config = {
            port: Number(f.get('port')), protocol: f.get('protocol'), vpcIdentifier: String(f.get('vpc')).trim(),
            healthCheck: {
              enabled: true, path: String(f.get('hcPath') || '/'),
              healthCheckIntervalSeconds: Number(f.get('hcInterval')), healthyThresholdCount: Number(f.get('hcHealthy')),
            },
          };
        }
        const r = await call('CreateTargetGroup', input);
        tgs.reload();
        return `Created ${r.name} (${r.id}).`;
      }}>
        <div class="grid2">
          <Field label="Target group name" name="name" required />
          <Field label="Target type" name="type" as="select">
            {['IP', 'INSTANCE', 'LAMBDA', 'ALB'].map((t) => <option value={t}>{t}</option>)}
          </Field>
          <Field label="Protocol" name="protocol" as="select">
            {['HTTP', 'HTTPS', 'TCP'].map((t) => <option value={t}>{t}</option>)}
          </Field>
          <Field label="Port" name="port" type="number" min="1" max="65535" defaultValue="80" />
          <Field label="VPC ID" name="vpc" placeholder="vpc-0123456789abcdef0" />
          <Field label="Health check path" name="hcPath" defaultValue="/" />
          <Field label="Health check interval (seconds)" name="hcInterval" type="number" defaultValue="30" />
          <Field label="Healthy threshold" name="hcHealthy" type="number" defaultValue="5" />
        </div>
      </Form>
    </section>
  );
}

const HEALTH_POLL_MS = 2000;

export function TargetGroupPage({ id }) {
  const tg = useAsync(() => call('GetTargetGroup', { targetGroupIdentifier: id }), [id]);
  const targets = usePoll(() => listAll((nextToken) => call('ListTargets', { targetGroupIdentifier: id, nextToken })), HEALTH_POLL_MS, [id]);
  const t = tg.data;
  const hc = t?.config?.healthCheck;
  return (
    <section aria-labelledby="h-tg">
      <p><A href="/target-groups">← Target groups</A></p>
      <h1 id="h-tg">Target group {t ? t.name : id}</h1>
      <ErrorBox error={tg.error} />
      {t && (
        <dl class="facts">
          <dt>ID</dt><dd class="mono">{t.id}</dd>
          <dt>ARN</dt><dd class="mono">{t.arn}</dd>
          <dt>Type</dt><dd>{t.type}</dd>
          {t.config && <><dt>Protocol:port</dt><dd>{t.config.protocol}:{t.config.port}</dd>
            <dt>VPC</dt><dd class="mono">{t.config.vpcIdentifier}</dd></>}
          {hc && <><dt>Health check</dt><dd>{hc.enabled === false ? 'off' : `${hc.protocol || ''} ${hc.path || '/'} every ${hc.healthCheckIntervalSeconds}s, healthy after ${hc.healthyThresholdCount}, unhealthy after ${hc.unhealthyThresholdCount}`}</dd></>}
          <dt>Services</dt><dd>{(t.serviceArns || []).map((a) => <A href={'/services/' + a.split('/').pop()} class="chip mono">{a.split('/').pop()}</A>)}
            {(t.serviceArns || []).length === 0 && <span class="muted">none: its targets are not health-checked (UNUSED) until a listener or rule forwards to it</span>}</dd>
        </dl>
      )}
      <h2>Targets <span class="muted small">(live: refreshed every {HEALTH_POLL_MS / 1000}s{targets.at ? ', last ' + fmtTime(targets.at) : ''})</span></h2>
      <ErrorBox error={targets.error} />
      {!targets.data ? <Loading what="targets" /> : (
        <table>
          <caption class="sr-only">Targets and their health</caption>
          <thead><tr><th scope="col">Target</th><th scope="col">Port</th><th scope="col">Health</th><th scope="col">Reason</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {targets.data.map((x) => (
              <tr key={x.id + ':' + x.port}>
                <td class="mono">{x.id}</td>
                <td>{x.port}</td>
                <td><StatusBadge status={x.status} /></td>
                <td class="mono">{x.reasonCode || ''}</td>
                <td><Action label="Deregister" ariaLabel={`Deregister ${x.id}:${x.port}`} danger fn={() =>
                  call('DeregisterTargets', { targetGroupIdentifier: id, targets: [{ id: x.id, port: x.port }] })} /></td>
              </tr>
            ))}
            {targets.data.length === 0 && <tr><td colSpan={5} class="muted">No targets registered.</td></tr>}
          </tbody>
        </table>
      )}
      <Form title="Register target" submit="Register target" onSubmit={async (f) => {
        const target = { id: String(f.get('target')).trim() };
        const port = String(f.get('port') || '').trim();
        if (port) target.port = Number(port);
        const r = await call('RegisterTargets', { targetGroupIdentifier: id, targets: [target] });
        if (r.unsuccessful && r.unsuccessful.length) {
          const u = r.unsuccessful[0];
          throw Object.assign(new Error(u.failureMessage || 'registration failed'), { name: u.failureCode || 'RegisterTargets' });
        }
        return `Registered ${target.id}${port ? ':' + port : ''}.`;
      }}>
        <div class="row">
          <Field label="Target ID" name="target" required placeholder="IP address, instance ID, function or load balancer ARN" />
          <Field label="Target port" name="port" type="number" min="1" max="65535" placeholder="the group's port" />
        </div>
      </Form>
      <h2>Delete</h2>
      <Action label="Delete target group" danger fn={async () => {
        await call('DeleteTargetGroup', { targetGroupIdentifier: id });
        window.location.hash = '#/target-groups';
      }} />
    </section>
  );
}
