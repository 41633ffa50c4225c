import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import * as aws from './aws.js';
import { Field, ErrorBox } from './ui.jsx';
import { NetworksPage, NetworkPage } from './networks.jsx';
import { ServicesPage, ServicePage } from './services.jsx';
import { TargetGroupsPage, TargetGroupPage } from './targets.jsx';
import { VpcsPage } from './vpcs.jsx';
import { ResourcesPage, ConfigurationPage } from './resources.jsx';
import { SharingPage } from './sharing.jsx';
import { IdentitiesPage } from './identities.jsx';
import { SimulatePage } from './simulate.jsx';
import { TrafficPage } from './traffic.jsx';

const NAV = [
  ['/networks', 'Service networks'],
  ['/services', 'Services'],
  ['/target-groups', 'Target groups'],
  ['/vpcs', 'VPCs & security groups'],
  ['/resources', 'Resources'],
  ['/sharing', 'Sharing'],
  ['/traffic', 'Traffic & canaries'],
  ['/simulate', 'Policy simulator'],
  ['/identities', 'Identities'],
];

function useRoute() {
  const get = () => (window.location.hash.replace(/^#/, '') || '/services');
  const [route, setRoute] = useState(get);
  useEffect(() => {
    const on = () => setRoute(get());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

function page(route) {
  const [path, qs] = route.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const q = new URLSearchParams(qs || '');
  switch (parts[0]) {
    case 'networks': return parts[1] ? <NetworkPage id={parts[1]} /> : <NetworksPage />;
    case 'services': return parts[1] ? <ServicePage id={parts[1]} /> : <ServicesPage />;
    case 'target-groups': return parts[1] ? <TargetGroupPage id={parts[1]} /> : <TargetGroupsPage />;
    case 'vpcs': return <VpcsPage />;
    case 'resources': return parts[1] ? <ConfigurationPage id={parts[1]} /> : <ResourcesPage />;
    case 'sharing': return <SharingPage resource={q.get('resource') || ''} />;
    case 'traffic': return <TrafficPage />;
    case 'simulate': return <SimulatePage service={q.get('service') || ''} />;
    case 'identities': return <IdentitiesPage />;
    default: return <ServicesPage />;
  }
}

function SignIn({ onSignedIn }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.currentTarget);
    setBusy(true); setError(null);
    try {
      const s = await aws.signIn({
        accessKeyId: String(f.get('accessKeyId')).trim(),
        secretAccessKey: String(f.get('secretAccessKey')),
        sessionToken: String(f.get('sessionToken') || '').trim(),
        region: String(f.get('region') || '').trim(),
      });
      onSignedIn(s);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="signin">
      <h1>Trellis console</h1>
      <form class="card" onSubmit={submit} aria-label="Sign in">
        <h2>Sign in</h2>
        <p class="muted">With an access key of your account. The keys stay in this browser tab's session storage;
          every call is signed here, like any AWS SDK client's.</p>
        <Field label="Access key ID" name="accessKeyId" required autocomplete="username" spellcheck={false} />
        <Field label="Secret access key" name="secretAccessKey" type="password" required autocomplete="current-password" />
        <Field label="Session token (optional)" name="sessionToken" autocomplete="off" spellcheck={false} />
        <Field label="Region" name="region" defaultValue={aws.DEFAULT_REGION} autocomplete="off" />
        <div class="actions"><button type="submit" disabled={busy}>Sign in</button></div>
        <ErrorBox error={error} />
      </form>
    </main>
  );
}

function App() {
  const [s, setS] = useState(() => aws.restore());
  const route = useRoute();
  if (!s) return <SignIn onSignedIn={setS} />;
  const section = '/' + (route.split('/')[1] || 'services').split('?')[0];
  return (
    <div class="layout">
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById('main').focus(); }}>Skip to content</a>
      <header class="top">
        <span class="brand">Trellis</span>
        <span class="who" role="group" aria-label="Signed in as">
          <span>Account <strong>{s.account}</strong></span>
          <span class="arn">{s.arn}</span>
          <span class="muted">{s.region}</span>
        </span>
        <button type="button" onClick={() => { aws.signOut(); setS(null); }}>Sign out</button>
      </header>
      <nav aria-label="Main">
        <ul>
          {NAV.map(([href, label]) => (
            <li><a href={'#' + href} aria-current={section === href ? 'page' : undefined}>{label}</a></li>
          ))}
        </ul>
      </nav>
      <main id="main" tabIndex={-1} key={route}>{page(route)}</main>
    </div>
  );
}

render(<App />, document.getElementById('app'));
