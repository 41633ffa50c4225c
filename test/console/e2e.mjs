// Drives the Trellis web console in headless Chromium as a user would, with
// role and label selectors only (so the accessibility names must exist).
// Started by TestConsoleEndToEnd (console_test.go), which passes:
// CONSOLE_URL, ACCESS_KEY_ID/SECRET_ACCESS_KEY (root of the default account),
// OTHER_ACCESS_KEY_ID/OTHER_SECRET_ACCESS_KEY (a second account), TARGET_ADDR
// (a real HTTP target on 127.0.0.1), DRIVER_URL (sends data-plane requests
// on request), ARTIFACTS_DIR (screenshots), BULK_SERVICE, CHROMIUM, and
// OTHER_ACCOUNT_ID (the second account's ID). It prints a last line
// "RESULT {json}" with what the Go side checks through the API afterwards.
import { chromium } from 'playwright-core';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const URL_ = env('CONSOLE_URL');
const ART = env('ARTIFACTS_DIR');
const [targetIp, targetPort] = env('TARGET_ADDR').split(':');
const VPC = 'vpc-0c0501e0000000001';
const OTHER = env('OTHER_ACCOUNT_ID');
const RESOURCE_PORT = '15432';
const outcome = {};
const LISTENER_PORT = '8080';
mkdirSync(ART, { recursive: true });
rmSync(join(ART, 'failure.png'), { force: true });

const t0 = Date.now();
const step = (s) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${s}`);

// until polls fn until it returns a truthy value.
async function until(what, fn, timeout = 20000, every = 250) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) { last = e; }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? ': ' + last.message : ''}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

async function textOf(loc) { return (await loc.textContent()) || ''; }

const browser = await chromium.launch({ executablePath: env('CHROMIUM'), args: ['--no-sandbox'] });
const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
const page = await context.newPage();
const consoleErrors = [];
page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
page.on('pageerror', (e) => consoleErrors.push('pageerror: ' + e.message));
page.setDefaultTimeout(15000);

const shot = async (name) => page.screenshot({ path: join(ART, name + '.png'), fullPage: false });
const form = (name) => page.getByRole('form', { name });
const go = async (hash) => {
  await page.goto(URL_ + '#' + hash);
};

async function submit(formName, fields, button) {
  const f = form(formName);
  for (const [label, value] of fields) {
    const field = f.getByLabel(label, { exact: true });
    const tag = await field.evaluate((el) => el.tagName);
    if (tag === 'SELECT') await field.selectOption(value);
    else await field.fill(value);
  }
  await f.getByRole('button', { name: button }).click();
  return f;
}

async function expectDone(f, re) {
  await until(`"${re}" in the form's status`, async () => {
    const alert = f.getByRole('alert');
    if (await alert.count()) throw new Error('API error: ' + await textOf(alert.first()));
    const st = f.getByRole('status');
    return (await st.count()) && re.test(await textOf(st.first()));
  });
}

async function signIn(key, secret) {
  await page.goto(URL_);
  const f = form('Sign in');
  await f.getByLabel('Access key ID').fill(key);
  await f.getByLabel('Secret access key').fill(secret);
  await f.getByRole('button', { name: 'Sign in' }).click();
}

// signInByKeyboard signs in with the keyboard alone: Tab between the
// labelled fields, Enter submits.
async function signInByKeyboard(key, secret) {
  await page.goto(URL_);
  await form('Sign in').getByLabel('Access key ID').focus();
  await page.keyboard.type(key);
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => document.activeElement?.getAttribute('name'));
  if (focused !== 'secretAccessKey') throw new Error('Tab from the access key went to ' + focused);
  await page.keyboard.type(secret);
  await page.keyboard.press('Enter');
}

try {
  // 1. A bad key is refused with the API's own message; a good one signs in.
  step('sign in with a wrong secret');
  await signIn(env('ACCESS_KEY_ID'), 'not-the-secret');
  const bad = await textOf(await until('the sign-in error', async () => {
    const a = form('Sign in').getByRole('alert');
    return (await a.count()) && a;
  }));
  if (!/SignatureDoesNotMatch|InvalidClientTokenId/.test(bad)) throw new Error('bad-key sign-in showed: ' + bad);
  await shot('01-signin-error');
  step('sign in (keyboard only)');
  await signInByKeyboard(env('ACCESS_KEY_ID'), env('SECRET_ACCESS_KEY'));
  const who = page.getByLabel('Signed in as');
  await until('the account in the header', async () => /000000000000/.test(await textOf(who)));
  const stored = await page.evaluate(() => JSON.stringify(Object.keys(localStorage)));
  if (stored !== '[]') throw new Error('credentials must not be in localStorage: ' + stored);

  // 2. A service network; an invalid name shows the API's validation message.
  step('create a service network');
  await go('/networks');
  let f = await submit('Create service network', [['Network name', 'console-net']], 'Create service network');
  await expectDone(f, /Created console-net \(sn-/);
  f = await submit('Create service network', [['Network name', 'Bad Name!']], 'Create service network');
  const verr = await textOf(await until('the validation error', async () => {
    const a = f.getByRole('alert');
    return (await a.count()) && a;
  }));
  if (!/ValidationException/.test(verr) || !/name/i.test(verr)) throw new Error('validation error shown as: ' + verr);
  step('validation message: ' + verr);
  await shot('02-networks-validation');
  const netLink = page.getByRole('link', { name: 'console-net' });
  await netLink.waitFor();
  const netHref = await netLink.getAttribute('href');

  // 3. A VPC (host mode).
  step('create a VPC');
  await go('/vpcs');
  f = await submit('Create VPC', [['VPC ID', VPC]], 'Create VPC');
  await expectDone(f, /ingress 127\.177\./);
  await page.getByRole('cell', { name: VPC, exact: true }).first().waitFor();
  step('create a security group; a bad rule shows the API\'s message');
  f = await submit('Create or replace security group', [['Security group ID', 'sg-0c0501e0000000001'], ['VPC of the group', VPC],
    ['Inbound rules (one a line: tcp:PORT[-PORT]:CIDR or all:CIDR)', 'tcp:8080:127.0.0.0/8']], 'Save security group');
  await expectDone(f, /Saved sg-0c0501e0000000001/);
  await until('the group in the table', async () => /tcp 8080-8080 from 127\.0\.0\.0\/8/.test(await textOf(page.getByRole('table', { name: 'Security groups' }))));
  f = await submit('Create or replace security group', [['Inbound rules (one a line: tcp:PORT[-PORT]:CIDR or all:CIDR)', 'tcp:8080:not-a-cidr']], 'Save security group');
  const sgErr = await textOf(await until('the security group error', async () => {
    const a = f.getByRole('alert');
    return (await a.count()) && a;
  }));
  if (!/ValidationException/.test(sgErr)) throw new Error('bad security group rule shown as: ' + sgErr);
  await shot('03-vpcs');

  // 4. Two target groups on the real target (UNUSED until a service uses them).
  const tgIds = {};
  for (const name of ['blue', 'green']) {
    step(`create target group ${name}`);
    await go('/target-groups');
    f = await submit('Create target group', [['Target group name', name], ['Port', targetPort], ['VPC ID', VPC],
      ['Health check interval (seconds)', '5'], ['Healthy threshold', '2']], 'Create target group');
    const st = await textOf(await until('creation', async () => {
      const s = f.getByRole('status');
      return (await s.count()) && s;
    }));
    tgIds[name] = st.match(/\((tg-[0-9a-f]+)\)/)[1];
    await page.getByRole('link', { name, exact: true }).click();
    f = await submit('Register target', [['Target ID', targetIp], ['Target port', targetPort]], 'Register target');
    await expectDone(f, /Registered/);
  }
  // 5. A service with a weighted default action (80/20) and a rule.
  step('create the service');
  await go('/services');
  f = await submit('Create service', [['Service name', 'orders']], 'Create service');
  await expectDone(f, /Created orders/);
  const created = await textOf(f.getByRole('status'));
  const svcId = created.match(/\((svc-[0-9a-f]+)\)/)[1];
  const dnsName = created.match(/DNS name (\S+?)\.?$/)[1];
  await go('/services/' + svcId);
  await page.getByRole('heading', { name: 'Service orders' }).waitFor();
  step('add a listener: forward blue 80 / green 20');
  f = await submit('Add listener', [['Listener name', 'web'], ['Port', LISTENER_PORT],
    ['Target group 1', tgIds.blue], ['Weight 1', '80'], ['Target group 2', tgIds.green], ['Weight 2', '20']], 'Create listener');
  await expectDone(f, /Created listener web/);
  const listenerId = (await textOf(f.getByRole('status'))).match(/\((listener-[0-9a-f]+)\)/)[1];
  step('add a rule: /api → blue');
  await page.getByRole('article', { name: 'Listener web' }).waitFor();
  f = await submit('Add rule', [['Rule name', 'api'], ['Priority', '10'], ['Path prefix', '/api'],
    ['Target group 1', tgIds.blue], ['Weight 1', '1']], 'Create rule');
  await expectDone(f, /Created rule api/);
  const recap = page.getByRole('article', { name: 'Listener web' });
  await until('the routing recap', async () => {
    const t = await textOf(recap);
    return /Priority 10/.test(t) && /path starts with \/api/.test(t) && /blue 80%/.test(t) && /green 20%/.test(t)
      && t.indexOf('Priority 10') < t.indexOf('Default');
  });
  await recap.scrollIntoViewIfNeeded();
  await shot('05-service-routing-recap');

  step('edit the default weights to 90/10');
  await recap.getByRole('button', { name: 'Edit weights of the default action of web' }).click();
  f = await submit('Weights of the default action of web', [['Weight of blue', '90'], ['Weight of green', '10']], 'Save weights');
  await until('the recap with the new weights', async () => {
    const t = await textOf(recap);
    return /blue 90%/.test(t) && /green 10%/.test(t);
  });

  step('edit the rule\'s match: path prefix /api → exact /v2/orders, priority 10 → 20, method GET');
  await recap.getByRole('button', { name: 'Edit match of rule api' }).click();
  f = await submit('Match of rule api', [['Priority', '20'], ['Method (optional)', 'GET'], ['Path match', 'exact'], ['Path', '/v2/orders'],
    ['Header matches (one a line: NAME exact|prefix|contains VALUE)', 'x-env exact canary']], 'Save match');
  await until('the recap with the new match', async () => {
    const t = await textOf(recap);
    return /Priority 20/.test(t) && /GET, path = \/v2\/orders, header x-env = canary/.test(t) && !/path starts with \/api/.test(t);
  });
  step('a bad priority shows the API\'s message');
  await recap.getByRole('button', { name: 'Edit match of rule api' }).click();
  f = await submit('Match of rule api', [['Priority', '0']], 'Save match');
  const prioErr = await textOf(await until('the priority error', async () => {
    const a = f.getByRole('alert');
    return (await a.count()) && a;
  }));
  if (!/ValidationException/.test(prioErr) || !/priority/i.test(prioErr)) throw new Error('bad priority shown as: ' + prioErr);
  await f.getByRole('button', { name: 'Cancel' }).click();
  await recap.scrollIntoViewIfNeeded();
  await shot('05b-rule-match-edited');

  step('watch the target become HEALTHY (the group is in use now)');
  await recap.getByRole('link', { name: 'blue' }).first().click();
  const targets = page.getByRole('table', { name: 'Targets and their health' });
  await until('HEALTHY in the targets table', async () => (await targets.getByText('HEALTHY', { exact: true }).count()) > 0, 30000);
  await shot('04-target-group-health');

  // 5b. A resource gateway in the VPC and a SINGLE configuration behind it.
  step('resources: a gateway, a configuration (and the API\'s message for a bad port range)');
  await go('/resources');
  f = await submit('Create resource gateway', [['Gateway name', 'db-gw'], ['Gateway VPC ID', VPC]], 'Create resource gateway');
  await expectDone(f, /Created db-gw \(rgw-/);
  const rgwId = (await textOf(f.getByRole('status'))).match(/\((rgw-[0-9a-z]+)\)/)[1];
  await page.getByRole('cell', { name: 'db-gw', exact: true }).waitFor();
  f = await submit('Create resource configuration', [['Configuration name', 'orders-db'], ['Resource gateway', rgwId],
    ['Port ranges (comma-separated: N or N-M)', '99999'], ['IP address', targetIp]], 'Create resource configuration');
  const rcErr = await textOf(await until('the port range error', async () => {
    const a = f.getByRole('alert');
    return (await a.count()) && a;
  }));
  if (!/ValidationException/.test(rcErr)) throw new Error('bad port range shown as: ' + rcErr);
  step('validation message: ' + rcErr);
  f = await submit('Create resource configuration', [['Port ranges (comma-separated: N or N-M)', RESOURCE_PORT]], 'Create resource configuration');
  await expectDone(f, /Created orders-db \(rcfg-/);
  const rcfgId = (await textOf(f.getByRole('status'))).match(/\((rcfg-[0-9a-z]+)\)/)[1];
  await page.getByRole('link', { name: 'orders-db', exact: true }).waitFor();
  step('resources: a GROUP and a CHILD with a DNS definition');
  f = await submit('Create resource configuration', [['Configuration name', 'replicas'], ['Configuration type', 'GROUP'],
    ['Resource gateway', rgwId], ['Port ranges (comma-separated: N or N-M)', '15433-15434']], 'Create resource configuration');
  await expectDone(f, /Created replicas \(rcfg-/);
  const groupId = (await textOf(f.getByRole('status'))).match(/\((rcfg-[0-9a-z]+)\)/)[1];
  await page.getByRole('link', { name: 'replicas', exact: true }).waitFor();
  f = await submit('Create resource configuration', [['Configuration name', 'replica-1'], ['Configuration type', 'CHILD'],
    ['Group', groupId], ['Definition', 'dns'], ['Domain name', 'replica-1.db.example']], 'Create resource configuration');
  await expectDone(f, /Created replica-1 \(rcfg-/);
  step('the gateway in use is not deleted: the API\'s message');
  await page.getByRole('button', { name: 'Delete resource gateway db-gw' }).click();
  const gwErr = await textOf(await until('the gateway delete error', async () => {
    const a = page.getByRole('table', { name: 'Resource gateways' }).getByRole('alert');
    return (await a.count()) && a;
  }));
  if (!/ConflictException/.test(gwErr)) throw new Error('deleting a gateway in use shown as: ' + gwErr);
  await shot('05c-resources');
  await page.getByRole('link', { name: 'replicas', exact: true }).first().click();
  await until('the group page with its child', async () => /replica-1/.test(await textOf(page.getByRole('main')))
    && /15433-15434/.test(await textOf(page.getByRole('main'))));

  // 6. Make it callable: the service and the VPC in the network.
  step('associate the service and the VPC');
  await page.goto(URL_ + netHref);
  f = await submit('Associate a service', [['Service ID or ARN', svcId]], 'Associate service');
  await expectDone(f, /Associated/);
  f = await submit('Associate a VPC', [['VPC ID', VPC]], 'Associate VPC');
  await expectDone(f, /Associated/);
  await page.getByRole('cell', { name: VPC, exact: true }).waitFor();
  step('associate the resource configuration with the network');
  f = await submit('Associate a resource configuration', [['Resource configuration ID or ARN', rcfgId]], 'Associate resource');
  await expectDone(f, /Associated \(snra-/);
  const resAssoc = page.getByRole('table', { name: 'Resource associations' });
  await until('the resource association in the table', async () => {
    const t = await textOf(resAssoc);
    return /orders-db/.test(t) && /ACTIVE/.test(t);
  });
  step('resource association: ' + (await textOf(resAssoc.getByRole('row').nth(1))).replace(/\s+/g, ' '));
  await resAssoc.scrollIntoViewIfNeeded();
  await shot('06-network');
  // The configuration's page shows the same association from its side.
  await go('/resources/' + rcfgId);
  await until('the association on the configuration page', async () => /console-net/.test(await textOf(page.getByRole('table', { name: 'Resource associations' }))));

  // 7. Live traffic and the access-log tail after real requests.
  step('start the tail, send requests through the data plane');
  await go('/services/' + svcId);
  await page.getByRole('button', { name: 'Start tail' }).click();
  await until('the tail to start', async () => /Following arn:/.test(await textOf(page.locator('.tail [role=status]'))));
  const send = async (path, n) => {
    const r = await fetch(`${env('DRIVER_URL')}/send?vpc=${VPC}&host=${encodeURIComponent(dnsName)}&port=${LISTENER_PORT}&path=${encodeURIComponent(path)}&n=${n}`, { method: 'POST' });
    if (!r.ok) throw new Error('driver: ' + await r.text());
    return r.json();
  };
  const codes = await until('the data plane to answer 200', async () => {
    const c = await send('/orders', 20);
    return c['200'] === 20 && c;
  }, 20000, 500);
  step('data plane answered ' + JSON.stringify(codes));
  await send('/api/items', 5);
  const logTable = page.getByRole('table', { name: 'Access-log records, newest first' });
  await until('a log line in the tail', async () => (await logTable.getByText('/api/items').count()) > 0);
  step('filter the tail by path');
  await page.getByLabel('Path filter').fill('/api');
  await until('the path filter', async () => (await logTable.getByText('/orders').count()) === 0
    && (await logTable.getByText('/api/items').count()) > 0);
  await page.getByRole('button', { name: 'Stop tail' }).click();
  await until('live traffic numbers', async () => Number(await textOf(page.getByTestId('traffic-requests'))) >= 20, 20000);
  await page.getByRole('heading', { name: 'Live traffic' }).scrollIntoViewIfNeeded();
  await shot('07-service-traffic');
  await logTable.evaluate((el) => el.scrollIntoView({ block: 'center' }));
  await shot('08-service-log-tail');

  // 8. Auth: AWS_IAM with a policy for role/reader; another caller is denied.
  step('set auth type AWS_IAM and a policy');
  f = await submit('Edit auth type', [['Service auth type', 'AWS_IAM']], 'Save auth type');
  await expectDone(f, /Saved/);
  f = await submit('Edit auth policy', [], 'Save policy');
  await expectDone(f, /Policy saved/);
  step('simulate a denied call');
  const sim = form('Would this caller be allowed?');
  await sim.getByLabel('Source VPC').fill(VPC);
  await sim.getByLabel('Caller principal ARN').fill('arn:aws:iam::000000000000:role/intruder');
  await sim.getByLabel('Path').fill('/orders');
  const result = page.getByRole('region', { name: 'Simulation result' });
  await until('a DENY from the simulator', async () => {
    await sim.getByRole('button', { name: 'Simulate', exact: true }).click();
    await result.waitFor({ timeout: 5000 });
    return /DENY/.test(await textOf(result)) && /Service: (Deny|NoMatch)/.test(await textOf(result));
  }, 20000, 1000);
  step('simulator: ' + (await textOf(result.getByRole('status'))));
  await result.scrollIntoViewIfNeeded();
  await shot('09-policy-simulator');

  // "Would reader be allowed if I saved this?": the live policy allows
  // role/reader; a draft that allows only role/writer would deny it, and
  // simulating the draft changes nothing.
  step('simulate a draft that would deny a caller the live policy allows');
  await sim.getByLabel('Caller principal ARN').fill('arn:aws:iam::000000000000:role/reader');
  await until('an ALLOW for reader from the live policy', async () => {
    await sim.getByRole('button', { name: 'Simulate', exact: true }).click();
    await until('the simulation', async () => /Simulated: (allowed|denied)/.test(await textOf(sim.getByRole('status'))), 5000);
    return /ALLOW/.test(await textOf(result));
  }, 20000, 1000);
  const draftPolicy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'OnlyWriters', Effect: 'Allow',
    Principal: { AWS: ['arn:aws:iam::000000000000:role/writer'] }, Action: 'vpc-lattice-svcs:Invoke', Resource: '*' }] }, null, 2);
  await form('Edit auth policy').getByLabel('Auth policy (JSON)').fill(draftPolicy);
  await sim.getByRole('button', { name: 'Simulate with this draft' }).click();
  await until('a DENY from the draft', async () => /Simulated with the draft: denied/.test(await textOf(sim.getByRole('status')))
    && /Service \(draft policy\): NoMatch/.test(await textOf(result)));
  await result.scrollIntoViewIfNeeded();
  await shot('09b-policy-draft-simulation');
  step('a bad draft shows the API\'s message naming the member');
  await form('Edit auth policy').getByLabel('Auth policy (JSON)').fill('{"Version": "2012-10-17"}');
  await sim.getByRole('button', { name: 'Simulate with this draft' }).click();
  const draftErr = await textOf(await until('the bad draft error', async () => {
    const a = sim.getByRole('alert');
    return (await a.count()) && a;
  }));
  if (!/ValidationException/.test(draftErr) || !/serviceAuthPolicy/.test(draftErr)) throw new Error('bad draft shown as: ' + draftErr);
  step('the live policy still allows reader');
  await sim.getByRole('button', { name: 'Simulate', exact: true }).click();
  await until('the live ALLOW again', async () => /Simulated: allowed/.test(await textOf(sim.getByRole('status'))) && /ALLOW/.test(await textOf(result)));
  outcome.serviceId = svcId;

  // 8b. Share the network with the other account (it accepts below).
  step('share the network with the other account');
  const netArn = 'arn:aws:vpc-lattice:us-east-1:000000000000:servicenetwork/' + netHref.split('/').pop();
  await go('/sharing');
  f = await submit('Create resource share', [['Share name', 'console-share'], ['Resource to share', netArn],
    ['Principals (account IDs, one a line)', OTHER]], 'Create share');
  await expectDone(f, /Created share console-share/);
  const shareCard = page.getByRole('article', { name: 'Share console-share' });
  await until('the share with its resource and principal', async () => {
    const t = await textOf(shareCard);
    return t.includes(netArn) && t.includes(OTHER) && /ASSOCIATING/.test(t);
  });
  step('add a principal to the share, remove it; a bad principal shows RAM\'s message');
  f = await submit('Add principals to share console-share', [['Account IDs to add', '222233334444']], 'Add principals');
  await expectDone(f, /Added/);
  await until('the added principal', async () => (await textOf(shareCard)).includes('222233334444'));
  await shareCard.getByRole('button', { name: 'Remove 222233334444 from share console-share' }).click();
  await until('the principal removed', async () => !(await textOf(shareCard)).includes('222233334444'));
  f = await submit('Add principals to share console-share', [['Account IDs to add', 'arn:aws:iam::222233334444:role/x']], 'Add principals');
  const ramErr = await textOf(await until('the RAM error', async () => {
    const a = f.getByRole('alert');
    return (await a.count()) && a;
  }));
  if (!/InvalidParameterException/.test(ramErr)) throw new Error('a bad principal shown as: ' + ramErr);
  step('RAM message: ' + ramErr);
  await shareCard.scrollIntoViewIfNeeded();
  await shot('09c-sharing-owner');
  outcome.networkArn = netArn;

  // 9. 1,000 services: paging and search.
  step('services page: paging and search');
  // Timings with 1,000 services (logged, never asserted: docs/benchmarks.md).
  let mark = Date.now();
  await go('/services');
  await until('page 1', async () => /Page 1: services 1–50/.test(await textOf(page.getByRole('main').getByRole('status').first())), 20000, 10);
  const firstPageMs = Date.now() - mark;
  mark = Date.now();
  await page.getByRole('button', { name: 'Next page' }).click();
  await until('page 2', async () => /Page 2: services 51–100/.test(await textOf(page.getByRole('main').getByRole('status').first())), 20000, 10);
  const nextPageMs = Date.now() - mark;
  await page.getByRole('button', { name: 'Previous page' }).click();
  await until('page 1', async () => /Page 1: services 1–50/.test(await textOf(page.getByRole('main').getByRole('status').first())));
  await page.evaluate(() => window.scrollTo(0, 0));
  // A laptop-sized view (also docs/console.png).
  await page.setViewportSize({ width: 1280, height: 720 });
  await shot('10-services');
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.getByLabel('Search services').fill(env('BULK_SERVICE'));
  mark = Date.now();
  await page.getByRole('search').getByRole('button', { name: 'Search' }).click();
  await until('the search result', async () => /1 match for/.test(await textOf(page.getByRole('main').getByRole('status').first())), 20000, 10);
  const searchMs = Date.now() - mark;
  step(`timing with 1,000 services: first page ${firstPageMs} ms, next page ${nextPageMs} ms, search over all ${searchMs} ms`);
  await page.getByRole('link', { name: env('BULK_SERVICE') }).waitFor();
  await shot('11-services-search');

  // 10. Identities: a principal (its ARN escaped into the signed path) and
  // an access key whose secret is shown once.
  step('identities: create a principal and an access key');
  await go('/identities');
  f = await submit('Create principal', [['Principal ARN', 'arn:aws:iam::000000000000:role/reader'], ['Tags (key=value, comma-separated)', 'team=payments']], 'Create principal');
  await expectDone(f, /Saved arn:aws:iam::000000000000:role\/reader/);
  await page.getByRole('button', { name: 'New access key for arn:aws:iam::000000000000:role/reader' }).click();
  await until('the new secret', async () => /Secret access key/.test(await textOf(page.getByRole('main'))));

  // 11. A canary from blue to green on the default action: its progress,
  // then abort.
  step('start a canary, see its progress, abort it');
  await go('/traffic');
  f = await submit('Start a canary', [['Service', svcId], ['Listener', listenerId], ['Baseline target group', tgIds.blue],
    ['Canary target group', tgIds.green], ['Steps (%)', '50, 100'], ['Interval (seconds)', '600']], 'Start canary');
  await expectDone(f, /Started canary canary-/);
  const canaryId = (await textOf(f.getByRole('status'))).match(/(canary-[0-9a-z]+)/)[1];
  const card = page.getByRole('article', { name: 'Canary ' + canaryId });
  await until('the running canary at 50%', async () => {
    const t = await textOf(card);
    return /RUNNING/.test(t) && /Step 1 of 2/.test(t) && /canary 50/.test(t);
  });
  if (await card.getByRole('progressbar').getAttribute('value') !== '50') throw new Error('progress bar is not at 50');
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot('13-traffic-canary');
  await card.getByRole('button', { name: 'Abort canary' }).click();
  await until('the aborted canary', async () => /ABORTED/.test(await textOf(card)));

  // 12. The other pages.
  for (const [hash, name, heading] of [['/target-groups', '12-target-groups', 'Target groups'],
    ['/identities', '14-identities', 'Identities'], ['/simulate', '15-simulate', 'Policy simulator']]) {
    await go(hash);
    await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
    await page.waitForTimeout(500);
    await shot(name);
  }

  step('the simulator page: a draft network policy on a network of auth type NONE is not evaluated');
  const sim2 = form('Would this caller be allowed?');
  await sim2.getByLabel('Source VPC').fill(VPC);
  await sim2.getByLabel('Service (name, ID, ARN or host name)').fill(svcId);
  await sim2.getByLabel('Caller principal ARN').fill('arn:aws:iam::000000000000:role/reader');
  await sim2.getByText('Draft policies (optional)').click();
  await sim2.getByLabel('Draft service network auth policy').fill(JSON.stringify({ Statement: [{ Effect: 'Deny', Principal: '*',
    Action: 'vpc-lattice-svcs:Invoke', Resource: '*' }] }));
  await sim2.getByRole('button', { name: 'Simulate', exact: true }).click();
  const result2 = page.getByRole('region', { name: 'Simulation result' });
  await until('the NONE note', async () => /Service network \(draft policy\): NotEvaluated/.test(await textOf(result2))
    && /draft policy is not evaluated/.test(await textOf(result2)) && /ALLOW/.test(await textOf(result2)));

  // 13. Another account sees none of this account's resources.
  step('sign out, sign in as the other account');
  await page.getByRole('button', { name: 'Sign out' }).click();
  if (await page.evaluate(() => sessionStorage.length) !== 0) throw new Error('sign out left the session storage');
  await signIn(env('OTHER_ACCESS_KEY_ID'), env('OTHER_SECRET_ACCESS_KEY'));
  await until('the other account in the header', async () => /111122223333/.test(await textOf(page.getByLabel('Signed in as'))));
  await go('/services');
  await page.getByText('No services.').waitFor();
  await go('/networks');
  await page.getByText('No service networks yet.').waitFor();
  if (await page.getByRole('link', { name: 'console-net' }).count()) throw new Error('the other account sees console-net');
  await go('/target-groups');
  await page.getByText('No target groups yet.').waitFor();
  await shot('16-other-account');

  step('the other account accepts the invitation and sees the shared network');
  await go('/sharing');
  await page.getByRole('button', { name: 'Accept invitation to console-share' }).click();
  const sharedTable = page.getByRole('table', { name: 'Resources shared with this account' });
  await until('the shared network', async () => (await textOf(sharedTable)).includes(outcome.networkArn));
  await until('the invitation accepted', async () => /ACCEPTED/.test(await textOf(page.getByRole('table', { name: 'Invitations' }))));
  await shot('17-sharing-accepted');

  if (consoleErrors.length) {
    // Failed API calls the pages show are logged by the browser as failed
    // resources; anything else is a bug of the page.
    const real = consoleErrors.filter((e) => !/Failed to load resource/.test(e));
    if (real.length) throw new Error('browser console errors:\n' + real.join('\n'));
  }
  step('all console checks passed');
  console.log('RESULT ' + JSON.stringify(outcome));
} catch (e) {
  await shot('failure').catch(() => {});
  console.error(e.stack || String(e));
  process.exitCode = 1;
} finally {
  await browser.close();
}
