// The console's only way to the server: the public API, signed in the
// browser with the official AWS SDK for JavaScript, exactly like any other
// API client. The credentials live in sessionStorage only (gone when the tab
// closes; "Sign out" clears them) and are never sent: only signatures are.
import * as L from '@aws-sdk/client-vpc-lattice';
import { STSClient, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
// RAM's commands one by one (not the whole client): only these are bundled.
import {
  RAMClient, AcceptResourceShareInvitationCommand, AssociateResourceShareCommand, CreateResourceShareCommand,
  DeleteResourceShareCommand, DisassociateResourceShareCommand, GetResourceShareAssociationsCommand,
  GetResourceShareInvitationsCommand, GetResourceSharesCommand, ListResourcesCommand, RejectResourceShareInvitationCommand,
} from '@aws-sdk/client-ram';
import { SignatureV4 } from '@smithy/signature-v4';
import { HttpRequest } from '@smithy/protocol-http';
// A pure-JS SHA-256, not WebCrypto: crypto.subtle exists only in secure
// contexts, and the console is often opened over plain http from another
// machine (http://trellis-host:8686/console/).
import { Sha256 } from '@aws-crypto/sha256-js';

export { L };

const KEY = 'trellis.console.session';
export const DEFAULT_REGION = 'us-east-1';

// The signing name of every Lattice and Trellis-native call (internal/cli
// signs native calls the same way: service "vpc-lattice").
const SERVICE = 'vpc-lattice';

let session = null; // {accessKeyId, secretAccessKey, sessionToken, region, account, arn}
let lattice = null;
let ram = null;
let signer = null;

function credentialsOf(s) {
  const c = { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey };
  if (s.sessionToken) c.sessionToken = s.sessionToken;
  return c;
}

function build(s) {
  session = s;
  const creds = credentialsOf(s);
  lattice = new L.VPCLatticeClient({ region: s.region, endpoint: window.location.origin, credentials: creds, maxAttempts: 2 });
  // Trellis serves RAM on the API address too (docs/ram.md), told apart by
  // the signing name "ram". SHA-256 in JS, as for the signer below: the
  // browser's WebCrypto is missing over plain http.
  ram = new RAMClient({ region: s.region, endpoint: window.location.origin, credentials: creds, maxAttempts: 2, sha256: Sha256 });
  signer = new SignatureV4({ service: SERVICE, region: s.region, credentials: creds, sha256: Sha256 });
}

export function restore() {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (raw) build(JSON.parse(raw));
  } catch {
    sessionStorage.removeItem(KEY);
  }
  return session;
}

export function current() { return session; }

// signIn checks the keys with STS GetCallerIdentity (Trellis serves STS on
// the API address) and keeps them only when the server accepted them.
export async function signIn({ accessKeyId, secretAccessKey, sessionToken, region }) {
  region = region || DEFAULT_REGION;
  const creds = credentialsOf({ accessKeyId, secretAccessKey, sessionToken });
  const sts = new STSClient({ region, endpoint: window.location.origin, credentials: creds, maxAttempts: 1 });
  const id = await sts.send(new GetCallerIdentityCommand({}));
  const s = { accessKeyId, secretAccessKey, sessionToken: sessionToken || '', region, account: id.Account, arn: id.Arn };
  sessionStorage.setItem(KEY, JSON.stringify(s));
  build(s);
  return s;
}

export function signOut() {
  sessionStorage.removeItem(KEY);
  session = lattice = ram = signer = null;
}

// call sends one Lattice operation: call('ListServices', {maxResults: 50}).
export function call(op, input = {}) {
  const Cmd = L[op + 'Command'];
  if (!Cmd) throw new Error('unknown operation ' + op);
  return lattice.send(new Cmd(input));
}

const RAM_COMMANDS = {
  AcceptResourceShareInvitation: AcceptResourceShareInvitationCommand,
  AssociateResourceShare: AssociateResourceShareCommand,
  CreateResourceShare: CreateResourceShareCommand,
  DeleteResourceShare: DeleteResourceShareCommand,
  DisassociateResourceShare: DisassociateResourceShareCommand,
  GetResourceShareAssociations: GetResourceShareAssociationsCommand,
  GetResourceShareInvitations: GetResourceShareInvitationsCommand,
  GetResourceShares: GetResourceSharesCommand,
  ListResources: ListResourcesCommand,
  RejectResourceShareInvitation: RejectResourceShareInvitationCommand,
};

// ramCall sends one RAM operation: ramCall('GetResourceShares', {resourceOwner: 'SELF'}).
export function ramCall(op, input = {}) {
  const Cmd = RAM_COMMANDS[op];
  if (!Cmd) throw new Error('unknown RAM operation ' + op);
  return ram.send(new Cmd(input));
}

// NativeError is a Trellis-native API error in the AWS shape: the type from
// X-Amzn-ErrorType, the message from the body.
export class NativeError extends Error {
  constructor(name, message, status) {
    super(message);
    this.name = name;
    this.status = status;
  }
}

// signedFetch signs a request to /trellis/v1/PATH (PATH may carry a query)
// and sends it with fetch.
export async function signedFetch(method, path, body, signal) {
  const url = new URL('/trellis/v1/' + path, window.location.origin);
  const query = {};
  url.searchParams.forEach((v, k) => { query[k] = v; });
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers = { host: url.host };
  if (payload !== undefined) headers['content-type'] = 'application/json';
  const req = new HttpRequest({
    method, protocol: url.protocol, hostname: url.hostname, port: url.port ? Number(url.port) : undefined,
    path: url.pathname, query, headers, body: payload,
  });
  const signed = await signer.sign(req);
  const h = { ...signed.headers };
  delete h.host; // the browser sends it, as signed
  const res = await fetch(url, { method, headers: h, body: payload, signal, credentials: 'omit', cache: 'no-store' });
  if (res.status >= 300) {
    let msg = '';
    try { msg = (await res.json()).message || ''; } catch { /* not JSON */ }
    throw new NativeError(res.headers.get('x-amzn-errortype') || 'HTTP ' + res.status, msg, res.status);
  }
  return res;
}

// native is signedFetch decoding the JSON answer (null when empty).
export async function native(method, path, body) {
  const res = await signedFetch(method, path, body);
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

export const esc = encodeURIComponent;

// errorText renders an API error as the API said it: the exception type and
// its message, and the fields a ValidationException names.
export function errorText(e) {
  if (!e) return '';
  let name = e.name || 'Error';
  // The SDK reports the type it read; strip a namespace if any.
  name = String(name).split('#').pop();
  let msg = e.message || String(e);
  const fields = e.fieldList || (e.$response && e.$response.fieldList);
  if (Array.isArray(fields)) {
    const more = fields.filter((f) => f && f.message && !msg.includes(f.message));
    if (more.length) msg += ' (' + more.map((f) => f.name + ': ' + f.message).join('; ') + ')';
  }
  return name + ': ' + msg;
}
