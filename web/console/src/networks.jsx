// Service networks: the list, and one network's associations, auth policy
// and access-log subscriptions.
import { call } from './aws.js';
import { A, Action, ErrorBox, Field, Form, Loading, StatusBadge, fmtTime, listAll, useAsync } from './ui.jsx';
import { PolicyEditor } from './policy.jsx';
import { ResourceAssociations } from './resources.jsx';

export function NetworksPage() {
  const nets = useAsync(() => listAll((nextToken) => call('ListServiceNetworks', { maxResults: 100, nextToken })), []);
  return (
    <section aria-labelledby="h-networks">
      <h1 id="h-networks">Service networks</h1>
      <p class="muted">A service network is a trust and reachability boundary: a VPC associated with it reaches the services associated with it.</p>
      <ErrorBox error={nets.error} />
      {nets.loading && !nets.data ? <Loading what="service networks" /> : (
        <table>
          <caption class="sr-only">Service networks</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">ID</th><th scope="col">Services</th><th scope="col">VPCs</th><th scope="col">Created</th></tr></thead>
          <tbody>
            {(nets.data || []).map((n) => (
              <tr key={n.id}>
                <td><A href={'/networks/' + n.id}>{n.name}</A></td>
                <td class="mono">{n.id}</td>
                <td>{n.numberOfAssociatedServices ?? ''}</td>
                <td>{n.numberOfAssociatedVPCs ?? ''}</td>
                <td>{fmtTime(n.createdAt)}</td>
              </tr>
            ))}
            {nets.data && nets.data.length === 0 && <tr><td colSpan={5} class="muted">No service networks yet.</td></tr>}
          </tbody>
        </table>
      )}
      <Form title="Create service network" submit="Create service network" onSubmit={async (f) => {
        const r = await call('CreateServiceNetwork', { name: f.get('name'), authType: f.get('authType') });
        nets.reload();
        return `Created ${r.name} (${r.id}).`;
      }}>
        <Field label="Network name" name="name" required />
        <Field label="Auth type" name="authType" as="select">
          <option value="NONE">NONE</option>
          <option value="AWS_IAM">AWS_IAM</option>
        </Field>
      </Form>
    </section>
  );
}

export function NetworkPage({ id }) {
  const net = useAsync(() => call('GetServiceNetwork', { serviceNetworkIdentifier: id }), [id]);
  const svcs = useAsync(() => listAll((nextToken) => call('ListServiceNetworkServiceAssociations', { serviceNetworkIdentifier: id, nextToken })), [id]);
  const vpcs = useAsync(() => listAll((nextToken) => call('ListServiceNetworkVpcAssociations', { serviceNetworkIdentifier: id, nextToken })), [id]);
  const logs = useAsync(() => listAll((nextToken) => call('ListAccessLogSubscriptions', { resourceIdentifier: id, nextToken })), [id]);
  const n = net.data;
  return (
    <section aria-labelledby="h-network">
      <p><A href="/networks">← Service networks</A></p>
      <h1 id="h-network">Service network {n ? n.name : id}</h1>
      <ErrorBox error={net.error} />
      {n && (
        <dl class="facts">
          <dt>ID</dt><dd class="mono">{n.id}</dd>
          <dt>ARN</dt><dd class="mono">{n.arn}</dd>
          <dt>Auth type</dt><dd>{n.authType}</dd>
          <dt>Created</dt><dd>{fmtTime(n.createdAt)}</dd>
          <dt>Sharing</dt><dd><A href={'/sharing?resource=' + encodeURIComponent(n.arn)}>Share with other accounts (RAM)</A></dd>
        </dl>
      )}
      {n && (
        <Form title="Edit auth type" submit="Save auth type" onSubmit={async (f) => {
          await call('UpdateServiceNetwork', { serviceNetworkIdentifier: id, authType: f.get('authType') });
          net.reload();
          return 'Saved.';
        }}>
          <Field label="Network auth type" name="authType" as="select">
            <option value="NONE" selected={n.authType === 'NONE'}>NONE</option>
            <option value="AWS_IAM" selected={n.authType === 'AWS_IAM'}>AWS_IAM</option>
          </Field>
        </Form>
      )}

      <h2>Service associations</h2>
      <ErrorBox error={svcs.error} />
      <table>
        <caption class="sr-only">Service associations</caption>
        <thead><tr><th scope="col">Service</th><th scope="col">Association</th><th scope="col">Status</th><th scope="col">DNS name</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>
          {(svcs.data || []).map((a) => (
            <tr key={a.id}>
              <td><A href={'/services/' + a.serviceId}>{a.serviceName}</A></td>
              <td class="mono">{a.id}</td>
              <td><StatusBadge status={a.status} /></td>
              <td class="mono">{a.dnsEntry?.domainName}</td>
              <td><Action label="Disassociate" ariaLabel={'Disassociate service ' + a.serviceName} danger fn={async () => {
                await call('DeleteServiceNetworkServiceAssociation', { serviceNetworkServiceAssociationIdentifier: a.id }); svcs.reload();
              }} /></td>
            </tr>
          ))}
        </tbody>
      </table>
      <Form title="Associate a service" submit="Associate service" onSubmit={async (f) => {
        const r = await call('CreateServiceNetworkServiceAssociation', { serviceNetworkIdentifier: id, serviceIdentifier: String(f.get('service')).trim() });
        svcs.reload();
        return `Associated (${r.id}).`;
      }}>
        <Field label="Service ID or ARN" name="service" required />
      </Form>

      <h2>VPC associations</h2>
      <ErrorBox error={vpcs.error} />
      <table>
        <caption class="sr-only">VPC associations</caption>
        <thead><tr><th scope="col">VPC</th><th scope="col">Association</th><th scope="col">Status</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>
          {(vpcs.data || []).map((a) => (
            <tr key={a.id}>
              <td class="mono">{a.vpcId}</td>
              <td class="mono">{a.id}</td>
              <td><StatusBadge status={a.status} /></td>
              <td><Action label="Disassociate" ariaLabel={'Disassociate VPC ' + a.vpcId} danger fn={async () => {
                await call('DeleteServiceNetworkVpcAssociation', { serviceNetworkVpcAssociationIdentifier: a.id }); vpcs.reload();
              }} /></td>
            </tr>
          ))}
        </tbody>
      </table>
      <Form title="Associate a VPC" submit="Associate VPC" onSubmit={async (f) => {
        const sgs = String(f.get('securityGroups') || '').split(/[\s,]+/).filter(Boolean);
        const input = { serviceNetworkIdentifier: id, vpcIdentifier: String(f.get('vpc')).trim() };
        if (sgs.length) input.securityGroupIds = sgs;
        const r = await call('CreateServiceNetworkVpcAssociation', input);
        vpcs.reload();
        return `Associated (${r.id}).`;
      }}>
        <Field label="VPC ID" name="vpc" required placeholder="vpc-0123456789abcdef0" />
        <Field label="Security group IDs (optional, comma-separated)" name="securityGroups" />
      </Form>

      <h2>Resource associations</h2>
      <p class="muted">Resource configurations in this network: its VPCs reach them through their ingress (<A href="/resources">Resources</A>).</p>
      <ResourceAssociations by={{ serviceNetworkIdentifier: id }} />

      <h2>Auth policy</h2>
      <PolicyEditor resource={id} level="serviceNetwork" />

      <AccessLogSubscriptions resource={id} logs={logs} />

      <h2>Delete</h2>
      <Action label="Delete service network" danger fn={async () => {
        await call('DeleteServiceNetwork', { serviceNetworkIdentifier: id });
        window.location.hash = '#/networks';
      }} />
    </section>
  );
}

export function AccessLogSubscriptions({ resource, logs }) {
  return (
    <div>
      <h2>Access-log subscriptions</h2>
      <ErrorBox error={logs.error} />
      <table>
        <caption class="sr-only">Access-log subscriptions</caption>
        <thead><tr><th scope="col">Subscription</th><th scope="col">Destination</th><th scope="col">Created</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>
          {(logs.data || []).map((s) => (
            <tr key={s.id}>
              <td class="mono">{s.id}</td>
              <td class="mono">{s.destinationArn}</td>
              <td>{fmtTime(s.createdAt)}</td>
              <td><Action label="Delete" ariaLabel={'Delete subscription ' + s.id} danger fn={async () => {
                await call('DeleteAccessLogSubscription', { accessLogSubscriptionIdentifier: s.id }); logs.reload();
              }} /></td>
            </tr>
          ))}
          {logs.data && logs.data.length === 0 && <tr><td colSpan={4} class="muted">No subscriptions.</td></tr>}
        </tbody>
      </table>
      <Form title="Add access-log subscription" submit="Subscribe" onSubmit={async (f) => {
        const r = await call('CreateAccessLogSubscription', { resourceIdentifier: resource, destinationArn: String(f.get('destination')).trim() });
        logs.reload();
        return `Subscribed (${r.id}).`;
      }}>
        <Field label="Destination ARN" name="destination" required
          placeholder="arn:aws:logs:us-east-1:000000000000:log-group:/lattice/orders"
          hint="A CloudWatch Logs group, S3 bucket or Firehose stream ARN: Trellis writes the records to files under its access-log directory." />
      </Form>
    </div>
  );
}
