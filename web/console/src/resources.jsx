// Resources that are not services (docs/resources.md): resource gateways in
// the owner's VPC, resource configurations (SINGLE, GROUP, CHILD, with an
// IP or DNS definition and port ranges) and, on the network page, their
// service-network associations. Everything is the Lattice API through the
// SDK; what a type takes or refuses is the API's to say.
import { useState } from 'preact/hooks';
import { call } from './aws.js';
import { A, Action, ErrorBox, Field, Form, Loading, StatusBadge, fmtTime, listAll, useAsync } from './ui.jsx';

const list = (v) => String(v || '').split(/[\s,]+/).filter(Boolean);

export function ResourcesPage() {
  const gws = useAsync(() => listAll((nextToken) => call('ListResourceGateways', { maxResults: 100, nextToken })), []);
  const cfgs = useAsync(() => listAll((nextToken) => call('ListResourceConfigurations', { maxResults: 100, nextToken })), []);
  const gwName = {};
  for (const g of gws.data || []) gwName[g.id] = g.name;
  const cfgName = {};
  for (const c of cfgs.data || []) cfgName[c.id] = c.name;
  return (
    <section aria-labelledby="h-resources">
      <h1 id="h-resources">Resources</h1>
      <p class="muted">A resource gateway in your VPC reaches TCP resources that are not services (a database by IP address or
        DNS name); a resource configuration says what the resource is and which ports it takes; associating it with a
        service network lets that network's VPCs reach it (on the network's page).</p>

      <h2>Resource gateways</h2>
      <ErrorBox error={gws.error} />
      {gws.loading && !gws.data ? <Loading what="resource gateways" /> : (
        <table>
          <caption class="sr-only">Resource gateways</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">ID</th><th scope="col">VPC</th><th scope="col">IP address type</th>
            <th scope="col">Status</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {(gws.data || []).map((g) => (
              <tr key={g.id}>
                <td>{g.name}</td>
                <td class="mono">{g.id}</td>
                <td class="mono">{g.vpcIdentifier || g.vpcId}</td>
                <td>{g.ipAddressType}</td>
                <td><StatusBadge status={g.status} /></td>
                <td><Action label="Delete" ariaLabel={'Delete resource gateway ' + g.name} danger fn={async () => {
                  await call('DeleteResourceGateway', { resourceGatewayIdentifier: g.id }); gws.reload();
                }} /></td>
              </tr>
            ))}
            {gws.data && gws.data.length === 0 && <tr><td colSpan={6} class="muted">No resource gateways yet.</td></tr>}
          </tbody>
        </table>
      )}
      <Form title="Create resource gateway" submit="Create resource gateway" onSubmit={async (f) => {
        const input = { name: String(f.get('name')).trim(), vpcIdentifier: String(f.get('vpc')).trim(), ipAddressType: f.get('ipAddressType') };
        const subnets = list(f.get('subnets'));
        if (subnets.length) input.subnetIds = subnets;
        const sgs = list(f.get('securityGroups'));
        if (sgs.length) input.securityGroupIds = sgs;
        const r = await call('CreateResourceGateway', input);
        gws.reload();
        return `Created ${r.name} (${r.id}).`;
      }}>
        <div class="row">
          <Field label="Gateway name" name="name" required />
          <Field label="Gateway VPC ID" name="vpc" required placeholder="vpc-0123456789abcdef0"
            hint="a VPC you declared (VPCs & security groups)" />
          <Field label="IP address type" name="ipAddressType" as="select">
            <option value="IPV4">IPV4</option>
            <option value="IPV6">IPV6</option>
            <option value="DUALSTACK">DUALSTACK</option>
          </Field>
        </div>
        <div class="row">
          <Field label="Subnet IDs (optional, comma-separated)" name="subnets" placeholder="subnet-0123456789abcdef0" />
          <Field label="Gateway security group IDs (optional, comma-separated)" name="securityGroups" />
        </div>
      </Form>

      <h2>Resource configurations</h2>
      <ErrorBox error={cfgs.error} />
      {cfgs.loading && !cfgs.data ? <Loading what="resource configurations" /> : (
        <table>
          <caption class="sr-only">Resource configurations</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">ID</th><th scope="col">Type</th><th scope="col">Gateway or group</th>
            <th scope="col">Status</th><th scope="col">Created</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {(cfgs.data || []).map((c) => (
              <tr key={c.id}>
                <td><A href={'/resources/' + c.id}>{c.name}</A></td>
                <td class="mono">{c.id}</td>
                <td>{c.type}</td>
                <td>{c.resourceConfigurationGroupId
                  ? <>group <A href={'/resources/' + c.resourceConfigurationGroupId}>{cfgName[c.resourceConfigurationGroupId] || c.resourceConfigurationGroupId}</A></>
                  : gwName[c.resourceGatewayId] || c.resourceGatewayId}</td>
                <td><StatusBadge status={c.status} /></td>
                <td>{fmtTime(c.createdAt)}</td>
                <td><Action label="Delete" ariaLabel={'Delete resource configuration ' + c.name} danger fn={async () => {
                  await call('DeleteResourceConfiguration', { resourceConfigurationIdentifier: c.id }); cfgs.reload();
                }} /></td>
              </tr>
            ))}
            {cfgs.data && cfgs.data.length === 0 && <tr><td colSpan={7} class="muted">No resource configurations yet.</td></tr>}
          </tbody>
        </table>
      )}
      <ConfigurationForm gateways={gws.data || []} groups={(cfgs.data || []).filter((c) => c.type === 'GROUP')} onDone={cfgs.reload} />
    </section>
  );
}

// ConfigurationForm creates a SINGLE, GROUP or CHILD configuration. It
// shows the members each type takes and sends only what was filled in.
function ConfigurationForm({ gateways, groups, onDone }) {
  const [type, setType] = useState('SINGLE');
  const [def, setDef] = useState('ip');
  return (
    <Form title="Create resource configuration" submit="Create resource configuration" onSubmit={async (f) => {
      const input = { name: String(f.get('name')).trim(), type };
      const str = (k) => String(f.get(k) || '').trim();
      if (type !== 'CHILD') {
        if (str('gateway')) input.resourceGatewayIdentifier = str('gateway');
        const ports = list(f.get('ports'));
        if (ports.length) input.portRanges = ports;
      } else if (str('group')) {
        input.resourceConfigurationGroupIdentifier = str('group');
      }
      if (type !== 'GROUP') {
        if (def === 'ip' && str('ip')) input.resourceConfigurationDefinition = { ipResource: { ipAddress: str('ip') } };
        if (def === 'dns' && str('domain')) {
          input.resourceConfigurationDefinition = { dnsResource: { domainName: str('domain'), ipAddressType: f.get('dnsIpType') } };
        }
      }
      if (type === 'CHILD' && str('customDomain')) input.customDomainName = str('customDomain');
      if (type === 'GROUP' && str('groupDomain')) input.groupDomain = str('groupDomain');
      const r = await call('CreateResourceConfiguration', input);
      onDone();
      return `Created ${r.name} (${r.id}).`;
    }}>
      <div class="row">
        <Field label="Configuration name" name="name" required />
        <Field label="Configuration type" name="type" as="select" onChange={(e) => setType(e.currentTarget.value)}>
          <option value="SINGLE">SINGLE: one resource</option>
          <option value="GROUP">GROUP: ports and gateway for its CHILD resources</option>
          <option value="CHILD">CHILD: a resource in a group</option>
        </Field>
      </div>
      {type !== 'CHILD' ? (
        <div class="row">
          <Field label="Resource gateway" name="gateway" as="select" required>
            <option value="">Choose…</option>
            {gateways.map((g) => <option value={g.id}>{g.name} ({g.id})</option>)}
          </Field>
          <Field label="Port ranges (comma-separated: N or N-M)" name="ports" placeholder="5432, 8000-8010" />
        </div>
      ) : (
        <Field label="Group" name="group" as="select" required>
          <option value="">Choose…</option>
          {groups.map((g) => <option value={g.id}>{g.name} ({g.id})</option>)}
        </Field>
      )}
      {type !== 'GROUP' && (
        <fieldset>
          <legend>Resource definition</legend>
          <Field label="Definition" name="def" as="select" onChange={(e) => setDef(e.currentTarget.value)}>
            <option value="ip">IP address</option>
            <option value="dns">DNS name</option>
          </Field>
          {def === 'ip'
            ? <Field label="IP address" name="ip" placeholder="10.0.0.5" />
            : (
              <div class="row">
                <Field label="Domain name" name="domain" placeholder="db.internal.example" />
                <Field label="Address type of the name" name="dnsIpType" as="select">
                  <option value="IPV4">IPV4</option>
                  <option value="IPV6">IPV6</option>
                  <option value="DUALSTACK">DUALSTACK</option>
                </Field>
              </div>
            )}
        </fieldset>
      )}
      {type === 'CHILD' && <Field label="Custom domain name (optional)" name="customDomain" />}
      {type === 'GROUP' && <Field label="Group domain (optional)" name="groupDomain" />}
    </Form>
  );
}

function definitionText(d) {
  if (!d) return '';
  if (d.ipResource) return 'IP ' + d.ipResource.ipAddress;
  if (d.dnsResource) return 'DNS ' + d.dnsResource.domainName + (d.dnsResource.ipAddressType ? ` (${d.dnsResource.ipAddressType})` : '');
  if (d.arnResource) return 'ARN ' + d.arnResource.arn;
  return '';
}

// ConfigurationPage: one configuration, its children (for a GROUP) and its
// service-network associations.
export function ConfigurationPage({ id }) {
  const cfg = useAsync(() => call('GetResourceConfiguration', { resourceConfigurationIdentifier: id }), [id]);
  const children = useAsync(() => listAll((nextToken) => call('ListResourceConfigurations', { resourceConfigurationGroupIdentifier: id, nextToken })), [id]);
  const c = cfg.data;
  return (
    <section aria-labelledby="h-config">
      <p><A href="/resources">← Resources</A></p>
      <h1 id="h-config">Resource configuration {c ? c.name : id}</h1>
      <ErrorBox error={cfg.error} />
      {c && (
        <dl class="facts">
          <dt>ID</dt><dd class="mono">{c.id}</dd>
          <dt>ARN</dt><dd class="mono">{c.arn}</dd>
          <dt>Type</dt><dd>{c.type}</dd>
          {c.resourceGatewayId && <><dt>Gateway</dt><dd class="mono">{c.resourceGatewayId}</dd></>}
          {c.resourceConfigurationGroupId && <><dt>Group</dt><dd><A href={'/resources/' + c.resourceConfigurationGroupId}>{c.resourceConfigurationGroupId}</A></dd></>}
          {c.resourceConfigurationDefinition && <><dt>Definition</dt><dd class="mono">{definitionText(c.resourceConfigurationDefinition)}</dd></>}
          {(c.portRanges || []).length > 0 && <><dt>Ports</dt><dd class="mono">{c.portRanges.join(', ')}</dd></>}
          <dt>Protocol</dt><dd>{c.protocol}</dd>
          {c.customDomainName && <><dt>Custom domain</dt><dd class="mono">{c.customDomainName}</dd></>}
          <dt>Status</dt><dd><StatusBadge status={c.status} /></dd>
        </dl>
      )}
      {c?.type === 'GROUP' && (
        <>
          <h2>Children</h2>
          <ErrorBox error={children.error} />
          <ul>
            {(children.data || []).map((x) => <li><A href={'/resources/' + x.id}>{x.name}</A> <span class="muted mono">{x.id}</span></li>)}
            {children.data && children.data.length === 0 && <li class="muted">No children yet.</li>}
          </ul>
        </>
      )}
      <h2>Service-network associations</h2>
      <ResourceAssociations by={{ resourceConfigurationIdentifier: id }} />
    </section>
  );
}

// ResourceAssociations lists service-network resource associations (of a
// network or of a configuration: by), with each one's generated DNS name
// when the API answers one, and creates and deletes them.
export function ResourceAssociations({ by }) {
  const key = JSON.stringify(by);
  const assocs = useAsync(() => listAll((nextToken) => call('ListServiceNetworkResourceAssociations', { ...by, nextToken })), [key]);
  const ofNetwork = !!by.serviceNetworkIdentifier;
  return (
    <div>
      <ErrorBox error={assocs.error} />
      <table>
        <caption class="sr-only">Resource associations</caption>
        <thead><tr><th scope="col">{ofNetwork ? 'Resource configuration' : 'Service network'}</th><th scope="col">Association</th>
          <th scope="col">Status</th><th scope="col">DNS name</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>
          {(assocs.data || []).map((a) => (
            <tr key={a.id + (a.resourceConfigurationId || '')}>
              <td>{ofNetwork
                ? <A href={'/resources/' + a.resourceConfigurationId}>{a.resourceConfigurationName || a.resourceConfigurationId}</A>
                : <A href={'/networks/' + a.serviceNetworkId}>{a.serviceNetworkName || a.serviceNetworkId}</A>}
                {a.isManagedAssociation && <span class="muted"> (child of a group)</span>}</td>
              <td class="mono">{a.id}</td>
              <td><StatusBadge status={a.status} />{a.failureCode && <span class="muted"> {a.failureCode}</span>}</td>
              <td class="mono">{a.dnsEntry?.domainName || <span class="muted">none</span>}</td>
              <td>{!a.isManagedAssociation && (
                <Action label="Disassociate" ariaLabel={'Disassociate resource ' + (a.resourceConfigurationName || a.resourceConfigurationId)} danger fn={async () => {
                  await call('DeleteServiceNetworkResourceAssociation', { serviceNetworkResourceAssociationIdentifier: a.id }); assocs.reload();
                }} />)}</td>
            </tr>
          ))}
          {assocs.data && assocs.data.length === 0 && <tr><td colSpan={5} class="muted">No resource associations.</td></tr>}
        </tbody>
      </table>
      <Form title="Associate a resource configuration" submit="Associate resource" onSubmit={async (f) => {
        const input = {
          serviceNetworkIdentifier: ofNetwork ? by.serviceNetworkIdentifier : String(f.get('network')).trim(),
          resourceConfigurationIdentifier: ofNetwork ? String(f.get('config')).trim() : by.resourceConfigurationIdentifier,
          privateDnsEnabled: f.get('privateDns') === 'on',
        };
        const r = await call('CreateServiceNetworkResourceAssociation', input);
        assocs.reload();
        return `Associated (${r.id})` + (r.dnsEntry?.domainName ? `, DNS name ${r.dnsEntry.domainName}.` : '.');
      }}>
        {ofNetwork
          ? <Field label="Resource configuration ID or ARN" name="config" required />
          : <Field label="Service network ID or ARN" name="network" required />}
        <label class="check"><input type="checkbox" name="privateDns" /> Private DNS (answer the configuration's domain name in the network's VPCs)</label>
      </Form>
    </div>
  );
}
