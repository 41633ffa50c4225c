// VPCs (Trellis-native: where clients and targets live) and their security
// groups: PUT/GET/DELETE /trellis/v1/vpcs and /trellis/v1/security-groups.
import { useState } from 'preact/hooks';
import { esc, native } from './aws.js';
import { Action, ErrorBox, Field, Form, Loading, fmtTime, listAll, useAsync } from './ui.jsx';

export function VpcsPage() {
  const vpcs = useAsync(() => listAll((t) => native('GET', 'vpcs' + (t ? '?nextToken=' + esc(t) : ''))), []);
  const sgs = useAsync(() => listAll((t) => native('GET', 'security-groups' + (t ? '?nextToken=' + esc(t) : ''))), []);
  const [mode, setMode] = useState('host');
  return (
    <section aria-labelledby="h-vpcs">
      <h1 id="h-vpcs">VPCs &amp; security groups</h1>
      <h2>VPCs</h2>
      <ErrorBox error={vpcs.error} />
      {vpcs.loading && !vpcs.data ? <Loading what="VPCs" /> : (
        <table>
          <caption class="sr-only">VPCs</caption>
          <thead><tr><th scope="col">VPC</th><th scope="col">Mode</th><th scope="col">Ingress address</th><th scope="col">DNS address</th><th scope="col">CIDR blocks</th><th scope="col">Created</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {(vpcs.data || []).map((v) => (
              <tr key={v.vpcId}>
                <td class="mono">{v.vpcId}{v.autoCreated && <span class="muted"> (auto)</span>}</td>
                <td>{v.mode}{v.netnsName && <span class="mono small"> {v.netnsName}</span>}</td>
                <td class="mono">{v.ingressAddress}</td>
                <td class="mono">{v.dnsAddress}</td>
                <td class="mono">{(v.cidrBlocks || []).join(', ')}</td>
                <td>{fmtTime(v.createdAt)}</td>
                <td><Action label="Delete" ariaLabel={'Delete VPC ' + v.vpcId} danger fn={async () => {
                  await native('DELETE', 'vpcs/' + esc(v.vpcId)); vpcs.reload();
                }} /></td>
              </tr>
            ))}
            {vpcs.data && vpcs.data.length === 0 && <tr><td colSpan={7} class="muted">No VPCs yet.</td></tr>}
          </tbody>
        </table>
      )}
      <Form title="Create VPC" submit="Create VPC" onSubmit={async (f) => {
        const body = { mode: f.get('mode') };
        if (body.mode === 'netns') body.cidrBlocks = String(f.get('cidr') || '').split(/[\s,]+/).filter(Boolean);
        const v = await native('PUT', 'vpcs/' + esc(String(f.get('vpcId')).trim()), body);
        vpcs.reload();
        return `VPC ${v.vpcId}: ingress ${v.ingressAddress}.`;
      }}>
        <div class="grid2">
          <Field label="VPC ID" name="vpcId" required placeholder="vpc-0123456789abcdef0" />
          <Field label="Mode" name="mode" as="select" onChange={(e) => setMode(e.currentTarget.value)}>
            <option value="host">host (an ingress address of this machine)</option>
            <option value="netns">netns (a Linux network namespace)</option>
          </Field>
          {mode === 'netns' && <Field label="CIDR blocks" name="cidr" placeholder="10.0.0.0/16" />}
        </div>
      </Form>

      <h2>Security groups</h2>
      <ErrorBox error={sgs.error} />
      <table>
        <caption class="sr-only">Security groups</caption>
        <thead><tr><th scope="col">Group</th><th scope="col">VPC</th><th scope="col">Inbound rules</th><th scope="col">Description</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>
          {(sgs.data || []).map((g) => (
            <tr key={g.securityGroupId}>
              <td class="mono">{g.securityGroupId}</td>
              <td class="mono">{g.vpcId}</td>
              <td class="mono">{(g.ingress || []).map((r) => <div>{r.protocol} {r.fromPort !== undefined ? `${r.fromPort}-${r.toPort}` : 'all'} from {r.cidr}{r.description ? ` (${r.description})` : ''}</div>)}
                {(g.ingress || []).length === 0 && <span class="muted">admits nothing</span>}</td>
              <td>{g.description}</td>
              <td><Action label="Delete" ariaLabel={'Delete security group ' + g.securityGroupId} danger fn={async () => {
                await native('DELETE', 'security-groups/' + esc(g.securityGroupId)); sgs.reload();
              }} /></td>
            </tr>
          ))}
          {sgs.data && sgs.data.length === 0 && <tr><td colSpan={5} class="muted">No security groups.</td></tr>}
        </tbody>
      </table>
      <Form title="Create or replace security group" submit="Save security group" onSubmit={async (f) => {
        const ingress = [];
        for (const line of String(f.get('rules') || '').split('\n').map((l) => l.trim()).filter(Boolean)) {
          // tcp:80-80:10.0.1.7/32 or all:10.0.0.0/8, as `trellis security-group put --ingress`.
          const m = line.match(/^(tcp|udp):(\d+)(?:-(\d+))?:(.+)$/i);
          if (m) ingress.push({ protocol: m[1].toLowerCase(), fromPort: Number(m[2]), toPort: Number(m[3] || m[2]), cidr: m[4] });
          else if (/^all:/i.test(line)) ingress.push({ protocol: 'all', cidr: line.slice(4) });
          else ingress.push({ protocol: line }); // let the API say what is wrong
        }
        const body = { vpcId: String(f.get('vpc')).trim(), ingress };
        const d = String(f.get('description') || '').trim();
        if (d) body.description = d;
        const g = await native('PUT', 'security-groups/' + esc(String(f.get('sgId')).trim()), body);
        sgs.reload();
        return `Saved ${g.securityGroupId}.`;
      }}>
        <div class="grid2">
          <Field label="Security group ID" name="sgId" required placeholder="sg-0123456789abcdef0" />
          <Field label="VPC of the group" name="vpc" required placeholder="vpc-0123456789abcdef0" />
          <Field label="Description" name="description" />
        </div>
        <Field label="Inbound rules (one a line: tcp:PORT[-PORT]:CIDR or all:CIDR)" name="rules" as="textarea" rows={3} placeholder="tcp:80:10.0.1.7/32" />
      </Form>
    </section>
  );
}
