// Every VPC Lattice operation through the AWS SDK for JavaScript v3, as one
// lifecycle against a running Trellis (sdkjs_test.go starts `trellis serve`
// and runs this script): create everything; read, list, update; tags and
// policies; delete in dependency order. Each step checks the members the
// API reference says the operation answers, and prints one line:
//
//   ok <Operation> <HTTP status of its success, or - when it has none> <detail>
//
// A failing step prints `FAIL <Operation>: <error>` and the script exits 1
// (the steps after it depend on it). Last it prints `sdk-operations <N>`,
// the number of commands the SDK exports, and checks that the steps cover
// exactly those.
//
// Environment: TRELLIS_ENDPOINT (http://HOST:PORT), AWS_REGION,
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, and the VPC and security group
// the test declared: TRELLIS_VPC_ID, TRELLIS_SG_ID.

import * as lattice from "@aws-sdk/client-vpc-lattice";

const env = (k) => {
  const v = process.env[k];
  if (!v) {
    console.log(`FAIL setup: ${k} is not set`);
    process.exit(2);
  }
  return v;
};

const region = env("AWS_REGION");
const vpc = env("TRELLIS_VPC_ID");
const sg = env("TRELLIS_SG_ID");
const client = new lattice.VPCLatticeClient({
  region,
  endpoint: env("TRELLIS_ENDPOINT"),
  credentials: { accessKeyId: env("AWS_ACCESS_KEY_ID"), secretAccessKey: env("AWS_SECRET_ACCESS_KEY") },
  maxAttempts: 1,
});

// modelStatus answers the HTTP status the API model gives the operation's
// success (201 for most creates, 204 for some deletes, else 200), from the
// operation schema the SDK exports as `${op}$`: [kind, namespace, name,
// {http: [method, uri, code]}, input, output].
function modelStatus(op) {
  const code = lattice[`${op}$`]?.[3]?.http?.[2];
  if (!Number.isInteger(code)) {
    throw new Error(`no HTTP code in the SDK's schema of ${op}`);
  }
  return code;
}

// call sends the operation's command by name, and checks the answer has
// the model's status: the SDKs take any 2xx, but the model's code is what
// every client may rely on (reference §2.1).
const succeeded = new Map(); // operation → HTTP status of its last success

async function call(op, input) {
  const out = await client.send(new lattice[`${op}Command`](input));
  const want = modelStatus(op);
  if (out.$metadata.httpStatusCode !== want) {
    throw new Error(`${op} answered HTTP ${out.$metadata.httpStatusCode}, the model says ${want}`);
  }
  succeeded.set(op, out.$metadata.httpStatusCode);
  return out;
}

// callError answers the error a call must fail with.
async function callError(op, input) {
  try {
    await call(op, input);
  } catch (e) {
    return e;
  }
  throw new Error(`${op} succeeded, want an error`);
}

function check(cond, what, v) {
  if (!cond) {
    throw new Error(`${what}: ${JSON.stringify(v)}`);
  }
}

const hex17 = (prefix) => new RegExp(`^${prefix}-[0-9a-f]{17}$`);
let arnPart; // arn:aws:vpc-lattice:REGION:ACCOUNT:

function checkId(prefix, kind, out) {
  check(hex17(prefix).test(out.id ?? ""), `id of ${kind}`, out.id);
  check(out.arn?.startsWith(arnPart ?? "arn:aws:vpc-lattice:" + region + ":") && out.arn.endsWith(`${kind}/${out.id}`), `arn of ${kind}`, out.arn);
}

// gone checks a Get after a Delete: a typed ResourceNotFoundException
// with its members.
async function gone(op, input) {
  const e = await callError(op, input);
  check(e instanceof lattice.ResourceNotFoundException && e.name === "ResourceNotFoundException" &&
    e.$metadata.httpStatusCode === 404 && e.resourceId && e.resourceType, `${op} after delete`, { name: e.name, message: e.message });
}

const isDate = (d) => d instanceof Date && !Number.isNaN(d.getTime());
const sameJSON = (a, b) => JSON.stringify(JSON.parse(a)) === JSON.stringify(JSON.parse(b));
const allowIt = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}';
const forward = (weights) => ({ forward: { targetGroups: Object.entries(weights).map(([id, w]) => ({ targetGroupIdentifier: id, weight: w })) } });

const w = {}; // what the steps create, for the steps after them

const steps = [
  // ---- create everything ----
  ["CreateServiceNetwork", async () => {
    w.sn = await call("CreateServiceNetwork", { name: "net-js", authType: "AWS_IAM", tags: { team: "core" }, sharingConfig: { enabled: true } });
    arnPart = w.sn.arn.slice(0, w.sn.arn.indexOf("servicenetwork/"));
    checkId("sn", "servicenetwork", w.sn);
    check(w.sn.name === "net-js" && w.sn.authType === "AWS_IAM" && w.sn.sharingConfig?.enabled === true, "create", w.sn);
    // The typed errors round-trip with their members, and change nothing.
    const dup = await callError("CreateServiceNetwork", { name: "net-js" });
    check(dup instanceof lattice.ConflictException && dup.$metadata.httpStatusCode === 409 && dup.resourceId && dup.resourceType,
      "duplicate name", { name: dup.name, message: dup.message, resourceId: dup.resourceId, resourceType: dup.resourceType });
    const bad = await callError("CreateServiceNetwork", { name: "Net_JS" });
    check(bad instanceof lattice.ValidationException && bad.$metadata.httpStatusCode === 400 && bad.reason &&
      bad.fieldList?.length === 1 && bad.fieldList[0].name === "name" && bad.fieldList[0].message,
      "bad name", { name: bad.name, message: bad.message, reason: bad.reason, fieldList: bad.fieldList });
    return w.sn.id;
  }],
  ["CreateService", async () => {
    w.svc = await call("CreateService", { name: "orders", authType: "AWS_IAM", tags: { team: "orders" } });
    checkId("svc", "service", w.svc);
    check(w.svc.name === "orders" && w.svc.status === "ACTIVE" && w.svc.authType === "AWS_IAM" &&
      w.svc.dnsEntry?.domainName?.startsWith(`orders-${w.svc.id.slice(4)}.`) && w.svc.dnsEntry?.hostedZoneId, "create", w.svc);
    return w.svc.dnsEntry.domainName;
  }],
  ["CreateTargetGroup", async () => {
    w.tg = await call("CreateTargetGroup", { name: "orders-blue", type: "IP", tags: { color: "blue" },
      config: { port: 8080, protocol: "HTTP", vpcIdentifier: vpc } });
    checkId("tg", "targetgroup", w.tg);
    check(w.tg.name === "orders-blue" && w.tg.type === "IP" && w.tg.status === "ACTIVE" && w.tg.config?.port === 8080 &&
      w.tg.config.protocol === "HTTP" && w.tg.config.vpcIdentifier === vpc && w.tg.config.healthCheck, "create", w.tg);
    w.tg2 = await call("CreateTargetGroup", { name: "orders-green", type: "IP", config: { port: 8081, protocol: "HTTP", vpcIdentifier: vpc } });
    return w.tg.id;
  }],
  ["RegisterTargets", async () => {
    const r = await call("RegisterTargets", { targetGroupIdentifier: w.tg.arn,
      targets: [{ id: "10.0.0.10" }, { id: "10.0.0.11", port: 9090 }, { id: "not-an-ip" }] });
    check(r.successful?.length === 2 && r.successful[0].id === "10.0.0.10" && r.successful[0].port === 8080 && r.successful[1].port === 9090 &&
      r.unsuccessful?.length === 1 && r.unsuccessful[0].id === "not-an-ip" && r.unsuccessful[0].failureCode && r.unsuccessful[0].failureMessage, "register", r);
    return `${r.successful.length} registered, ${r.unsuccessful.length} refused`;
  }],
  ["CreateListener", async () => {
    w.l = await call("CreateListener", { serviceIdentifier: w.svc.arn, name: "web", protocol: "HTTP", port: 8080, defaultAction: forward({ [w.tg.id]: 1 }) });
    checkId("listener", `service/${w.svc.id}/listener`, w.l);
    check(w.l.name === "web" && w.l.protocol === "HTTP" && w.l.port === 8080 && w.l.serviceId === w.svc.id && w.l.serviceArn === w.svc.arn &&
      w.l.defaultAction?.forward?.targetGroups?.[0]?.targetGroupIdentifier === w.tg.id, "create", w.l);
    return w.l.id;
  }],
  ["CreateRule", async () => {
    w.rule = await call("CreateRule", { serviceIdentifier: w.svc.id, listenerIdentifier: w.l.arn, name: "api", priority: 10,
      action: forward({ [w.tg.id]: 90, [w.tg2.id]: 10 }),
      match: { httpMatch: { method: "POST", pathMatch: { match: { prefix: "/api" }, caseSensitive: true },
        headerMatches: [{ name: "x-env", match: { exact: "blue" } }] } } });
    checkId("rule", `listener/${w.l.id}/rule`, w.rule);
    const m = w.rule.match?.httpMatch;
    check(w.rule.name === "api" && w.rule.priority === 10 && m?.method === "POST" && m.pathMatch?.match?.prefix === "/api" &&
      m.pathMatch.caseSensitive === true && m.headerMatches?.[0]?.name === "x-env" && m.headerMatches[0].match?.exact === "blue" &&
      w.rule.action?.forward?.targetGroups?.length === 2, "create", w.rule);
    return w.rule.id;
  }],
  ["CreateServiceNetworkServiceAssociation", async () => {
    w.snsa = await call("CreateServiceNetworkServiceAssociation", { serviceNetworkIdentifier: w.sn.arn, serviceIdentifier: w.svc.id });
    checkId("snsa", "servicenetworkserviceassociation", w.snsa);
    check(w.snsa.status === "ACTIVE" && w.snsa.createdBy && w.snsa.dnsEntry?.domainName === w.svc.dnsEntry.domainName, "create", w.snsa);
    return w.snsa.id;
  }],
  ["CreateServiceNetworkVpcAssociation", async () => {
    w.snva = await call("CreateServiceNetworkVpcAssociation", { serviceNetworkIdentifier: w.sn.id, vpcIdentifier: vpc, securityGroupIds: [sg] });
    checkId("snva", "servicenetworkvpcassociation", w.snva);
    check(w.snva.status === "ACTIVE" && w.snva.createdBy && w.snva.securityGroupIds?.length === 1 && w.snva.securityGroupIds[0] === sg, "create", w.snva);
    return w.snva.id;
  }],
  ["CreateAccessLogSubscription", async () => {
    const account = arnPart.split(":")[4];
    w.als = await call("CreateAccessLogSubscription", { resourceIdentifier: w.svc.id, destinationArn: `arn:aws:logs:${region}:${account}:log-group:orders` });
    checkId("als", "accesslogsubscription", w.als);
    check(w.als.resourceId === w.svc.id && w.als.resourceArn === w.svc.arn && w.als.destinationArn.endsWith(":log-group:orders"), "create", w.als);
    return w.als.id;
  }],
  ["CreateResourceGateway", async () => {
    w.gw = await call("CreateResourceGateway", { name: "gw-js", vpcIdentifier: vpc, subnetIds: ["subnet-0123456789abcdef0"], securityGroupIds: [sg] });
    checkId("rgw", "resourcegateway", w.gw);
    check(w.gw.name === "gw-js" && w.gw.vpcIdentifier === vpc && w.gw.status === "ACTIVE" && w.gw.subnetIds?.length === 1 && w.gw.securityGroupIds?.length === 1, "create", w.gw);
    return w.gw.id;
  }],
  ["CreateResourceConfiguration", async () => {
    w.rc = await call("CreateResourceConfiguration", { name: "db-js", type: "SINGLE", resourceGatewayIdentifier: w.gw.arn, portRanges: ["5432"],
      resourceConfigurationDefinition: { ipResource: { ipAddress: "10.0.0.5" } } });
    checkId("rcfg", "resourceconfiguration", w.rc);
    check(w.rc.name === "db-js" && w.rc.type === "SINGLE" && w.rc.resourceGatewayId === w.gw.id && w.rc.status === "ACTIVE" &&
      w.rc.protocol === "TCP" && w.rc.portRanges?.[0] === "5432" && w.rc.resourceConfigurationDefinition?.ipResource?.ipAddress === "10.0.0.5", "create", w.rc);
    return w.rc.id;
  }],
  ["CreateServiceNetworkResourceAssociation", async () => {
    w.snra = await call("CreateServiceNetworkResourceAssociation", { serviceNetworkIdentifier: w.sn.id, resourceConfigurationIdentifier: w.rc.arn });
    checkId("snra", "servicenetworkresourceassociation", w.snra);
    check(w.snra.status === "ACTIVE" && w.snra.createdBy, "create", w.snra);
    return w.snra.id;
  }],
  ["StartDomainVerification", async () => {
    w.dv = await call("StartDomainVerification", { domainName: "orders.example" });
    checkId("dv", "domainverification", w.dv);
    check(w.dv.domainName === "orders.example" && w.dv.status === "PENDING" && w.dv.txtMethodConfig?.name && w.dv.txtMethodConfig?.value, "start", w.dv);
    return w.dv.id;
  }],

  // ---- read, list, update ----
  ["GetServiceNetwork", async () => {
    const g = await call("GetServiceNetwork", { serviceNetworkIdentifier: w.sn.arn });
    check(g.id === w.sn.id && g.arn === w.sn.arn && g.name === "net-js" && g.authType === "AWS_IAM" && isDate(g.createdAt) && isDate(g.lastUpdatedAt) &&
      g.numberOfAssociatedServices === 1 && g.numberOfAssociatedVPCs === 1, "get", g);
    return `${g.numberOfAssociatedServices} service, ${g.numberOfAssociatedVPCs} VPC`;
  }],
  ["ListServiceNetworks", async () => {
    const l = await call("ListServiceNetworks", { maxResults: 10 });
    const it = l.items?.[0];
    check(l.items?.length === 1 && it.id === w.sn.id && it.name === "net-js" && it.numberOfAssociatedServices === 1 && it.numberOfAssociatedVPCs === 1 &&
      it.numberOfAssociatedResourceConfigurations === 1 && isDate(it.createdAt) && l.nextToken === undefined, "list", l.items);
    return `${l.items.length} item`;
  }],
  ["UpdateServiceNetwork", async () => {
    const u = await call("UpdateServiceNetwork", { serviceNetworkIdentifier: w.sn.id, authType: "NONE" });
    check(u.id === w.sn.id && u.arn === w.sn.arn && u.name === "net-js" && u.authType === "NONE", "update", u);
    const g = await call("GetServiceNetwork", { serviceNetworkIdentifier: w.sn.id });
    check(g.authType === "NONE", "get after update", g);
    return u.authType;
  }],
  ["GetService", async () => {
    const g = await call("GetService", { serviceIdentifier: w.svc.arn });
    check(g.id === w.svc.id && g.name === "orders" && g.status === "ACTIVE" && g.authType === "AWS_IAM" && isDate(g.createdAt) && isDate(g.lastUpdatedAt) &&
      g.dnsEntry?.domainName === w.svc.dnsEntry.domainName, "get", g);
    return g.status;
  }],
  ["ListServices", async () => {
    const l = await call("ListServices", {});
    const it = l.items?.[0];
    check(l.items?.length === 1 && it.id === w.svc.id && it.arn === w.svc.arn && it.status === "ACTIVE" && it.dnsEntry && isDate(it.createdAt), "list", l.items);
    return `${l.items.length} item`;
  }],
  ["UpdateService", async () => {
    const u = await call("UpdateService", { serviceIdentifier: w.svc.id, authType: "NONE" });
    check(u.id === w.svc.id && u.arn === w.svc.arn && u.name === "orders" && u.authType === "NONE", "update", u);
    const g = await call("GetService", { serviceIdentifier: w.svc.id });
    check(g.authType === "NONE", "get after update", g);
    return u.authType;
  }],
  ["GetListener", async () => {
    const g = await call("GetListener", { serviceIdentifier: w.svc.id, listenerIdentifier: w.l.id });
    check(g.id === w.l.id && g.arn === w.l.arn && g.name === "web" && g.port === 8080 && g.protocol === "HTTP" && g.serviceId === w.svc.id &&
      isDate(g.createdAt) && isDate(g.lastUpdatedAt), "get", g);
    return `${g.protocol}:${g.port}`;
  }],
  ["ListListeners", async () => {
    const l = await call("ListListeners", { serviceIdentifier: w.svc.arn });
    check(l.items?.length === 1 && l.items[0].id === w.l.id && l.items[0].port === 8080 && l.items[0].protocol === "HTTP", "list", l.items);
    return `${l.items.length} item`;
  }],
  ["UpdateListener", async () => {
    const u = await call("UpdateListener", { serviceIdentifier: w.svc.id, listenerIdentifier: w.l.arn, defaultAction: forward({ [w.tg.id]: 50, [w.tg2.id]: 50 }) });
    check(u.id === w.l.id && u.serviceId === w.svc.id && u.defaultAction?.forward?.targetGroups?.length === 2 &&
      u.defaultAction.forward.targetGroups[0].weight === 50, "update", u);
    const g = await call("GetListener", { serviceIdentifier: w.svc.id, listenerIdentifier: w.l.id });
    check(g.defaultAction?.forward?.targetGroups?.length === 2, "get after update", g);
    return "2 weighted target groups";
  }],
  ["GetRule", async () => {
    const g = await call("GetRule", { serviceIdentifier: w.svc.id, listenerIdentifier: w.l.id, ruleIdentifier: w.rule.arn });
    check(g.id === w.rule.id && g.name === "api" && g.priority === 10 && g.isDefault === false && isDate(g.createdAt) && isDate(g.lastUpdatedAt) &&
      g.match?.httpMatch?.method === "POST", "get", g);
    return `priority ${g.priority}`;
  }],
  ["ListRules", async () => {
    const l = await call("ListRules", { serviceIdentifier: w.svc.id, listenerIdentifier: w.l.id });
    const dflt = l.items?.filter((r) => r.isDefault) ?? [];
    const custom = l.items?.filter((r) => !r.isDefault && r.id === w.rule.id && r.priority === 10 && r.name === "api") ?? [];
    check(l.items?.length === 2 && dflt.length === 1 && custom.length === 1, "list", l.items);
    return `${l.items.length} items (one default)`;
  }],
  ["UpdateRule", async () => {
    const u = await call("UpdateRule", { serviceIdentifier: w.svc.id, listenerIdentifier: w.l.id, ruleIdentifier: w.rule.id,
      priority: 20, action: { fixedResponse: { statusCode: 404 } } });
    check(u.id === w.rule.id && u.priority === 20 && u.isDefault === false && u.action?.fixedResponse?.statusCode === 404, "update", u);
    const g = await call("GetRule", { serviceIdentifier: w.svc.id, listenerIdentifier: w.l.id, ruleIdentifier: w.rule.id });
    check(g.priority === 20, "get after update", g);
    return `priority ${u.priority}`;
  }],
  ["BatchUpdateRule", async () => {
    const b = await call("BatchUpdateRule", { serviceIdentifier: w.svc.id, listenerIdentifier: w.l.id,
      rules: [{ ruleIdentifier: w.rule.id, priority: 30 }, { ruleIdentifier: "rule-0123456789abcdef0", priority: 40 }] });
    check(b.successful?.length === 1 && b.successful[0].id === w.rule.id && b.successful[0].priority === 30 &&
      b.unsuccessful?.length === 1 && b.unsuccessful[0].ruleIdentifier === "rule-0123456789abcdef0" && b.unsuccessful[0].failureCode, "batch", b);
    const g = await call("GetRule", { serviceIdentifier: w.svc.id, listenerIdentifier: w.l.id, ruleIdentifier: w.rule.id });
    check(g.priority === 30, "get after batch", g);
    return "1 updated, 1 refused";
  }],
  ["GetTargetGroup", async () => {
    const g = await call("GetTargetGroup", { targetGroupIdentifier: w.tg.arn });
    check(g.id === w.tg.id && g.name === "orders-blue" && g.type === "IP" && g.status === "ACTIVE" && isDate(g.createdAt) && isDate(g.lastUpdatedAt) &&
      g.serviceArns?.length === 1 && g.serviceArns[0] === w.svc.arn && g.config?.port === 8080, "get", g);
    return g.status;
  }],
  ["ListTargetGroups", async () => {
    const l = await call("ListTargetGroups", { vpcIdentifier: vpc, targetGroupType: "IP" });
    check(l.items?.length === 2 && l.items.every((it) => it.type === "IP" && it.vpcIdentifier === vpc && it.protocol === "HTTP" &&
      isDate(it.createdAt) && it.serviceArns?.length === 1), "list", l.items);
    // Pages: the opaque nextToken goes back as a query parameter.
    const paged = [];
    for await (const page of lattice.paginateListTargetGroups({ client, pageSize: 1 }, { vpcIdentifier: vpc })) {
      check((page.items ?? []).length <= 1, "page size", page.items);
      paged.push(...(page.items ?? []).map((it) => it.id));
    }
    check(paged.length === 2 && paged.includes(w.tg.id) && paged.includes(w.tg2.id), "pages", paged);
    const none = await call("ListTargetGroups", { targetGroupType: "LAMBDA" });
    check((none.items ?? []).length === 0, "lambda groups", none.items);
    return `${l.items.length} items`;
  }],
  ["UpdateTargetGroup", async () => {
    const u = await call("UpdateTargetGroup", { targetGroupIdentifier: w.tg.id,
      healthCheck: { path: "/healthz", healthCheckIntervalSeconds: 10, matcher: { httpCode: "200-299" } } });
    const hc = u.config?.healthCheck;
    check(u.id === w.tg.id && u.status === "ACTIVE" && hc?.path === "/healthz" && hc.healthCheckIntervalSeconds === 10, "update", u);
    const g = await call("GetTargetGroup", { targetGroupIdentifier: w.tg.id });
    check(g.config?.healthCheck?.matcher?.httpCode === "200-299" && g.config.healthCheck.path === "/healthz", "get after update", g.config);
    return hc.path;
  }],
  ["ListTargets", async () => {
    const l = await call("ListTargets", { targetGroupIdentifier: w.tg.id });
    check(l.items?.length === 2 && l.items[0].status && l.items[0].port, "list", l.items);
    const f = await call("ListTargets", { targetGroupIdentifier: w.tg.id, targets: [{ id: "10.0.0.11", port: 9090 }] });
    check(f.items?.length === 1 && f.items[0].id === "10.0.0.11" && f.items[0].port === 9090, "filtered", f.items);
    return `${l.items.length} targets, ${l.items[0].status}`;
  }],
  ["DeregisterTargets", async () => {
    const d = await call("DeregisterTargets", { targetGroupIdentifier: w.tg.id, targets: [{ id: "10.0.0.11", port: 9090 }] });
    check(d.successful?.length === 1 && d.successful[0].id === "10.0.0.11" && (d.unsuccessful ?? []).length === 0, "deregister", d);
    const l = await call("ListTargets", { targetGroupIdentifier: w.tg.id });
    for (const it of l.items ?? []) {
      check(it.id !== "10.0.0.11" || it.status === "DRAINING", "deregistered target", it);
    }
    return "1 deregistered";
  }],
  ["GetServiceNetworkServiceAssociation", async () => {
    const g = await call("GetServiceNetworkServiceAssociation", { serviceNetworkServiceAssociationIdentifier: w.snsa.arn });
    check(g.id === w.snsa.id && g.status === "ACTIVE" && g.serviceId === w.svc.id && g.serviceName === "orders" && g.serviceArn === w.svc.arn &&
      g.serviceNetworkId === w.sn.id && g.serviceNetworkName === "net-js" && g.serviceNetworkArn === w.sn.arn && isDate(g.createdAt), "get", g);
    return g.status;
  }],
  ["ListServiceNetworkServiceAssociations", async () => {
    const l = await call("ListServiceNetworkServiceAssociations", { serviceNetworkIdentifier: w.sn.id });
    check(l.items?.length === 1 && l.items[0].id === w.snsa.id && l.items[0].serviceName === "orders" && l.items[0].status === "ACTIVE", "list", l.items);
    return `${l.items.length} item`;
  }],
  ["GetServiceNetworkVpcAssociation", async () => {
    const g = await call("GetServiceNetworkVpcAssociation", { serviceNetworkVpcAssociationIdentifier: w.snva.arn });
    check(g.id === w.snva.id && g.vpcId === vpc && g.serviceNetworkId === w.sn.id && g.serviceNetworkName === "net-js" && g.status === "ACTIVE" &&
      g.securityGroupIds?.length === 1 && isDate(g.createdAt) && isDate(g.lastUpdatedAt), "get", g);
    return g.status;
  }],
  ["ListServiceNetworkVpcAssociations", async () => {
    const l = await call("ListServiceNetworkVpcAssociations", { vpcIdentifier: vpc });
    check(l.items?.length === 1 && l.items[0].id === w.snva.id && l.items[0].vpcId === vpc && l.items[0].serviceNetworkName === "net-js", "list", l.items);
    return `${l.items.length} item`;
  }],
  ["UpdateServiceNetworkVpcAssociation", async () => {
    const u = await call("UpdateServiceNetworkVpcAssociation", { serviceNetworkVpcAssociationIdentifier: w.snva.id, securityGroupIds: [sg, "sg-0000000000000e0e3"] });
    check(u.id === w.snva.id && u.securityGroupIds?.length === 2 && u.status === "ACTIVE" && u.createdBy, "update", u);
    const g = await call("GetServiceNetworkVpcAssociation", { serviceNetworkVpcAssociationIdentifier: w.snva.id });
    check(g.securityGroupIds?.length === 2, "get after update", g);
    return `${u.securityGroupIds.length} security groups`;
  }],
  ["ListServiceNetworkVpcEndpointAssociations", async () => {
    // Trellis has no VPC endpoints: an empty, well-formed list.
    const l = await call("ListServiceNetworkVpcEndpointAssociations", { serviceNetworkIdentifier: w.sn.arn });
    check((l.items ?? []).length === 0 && l.nextToken === undefined && l.$metadata.httpStatusCode === 200, "list", l);
    return "0 items";
  }],
  ["GetAccessLogSubscription", async () => {
    const g = await call("GetAccessLogSubscription", { accessLogSubscriptionIdentifier: w.als.arn });
    check(g.id === w.als.id && g.resourceId === w.svc.id && g.destinationArn === w.als.destinationArn && isDate(g.createdAt) && isDate(g.lastUpdatedAt), "get", g);
    return g.destinationArn;
  }],
  ["ListAccessLogSubscriptions", async () => {
    const l = await call("ListAccessLogSubscriptions", { resourceIdentifier: w.svc.arn });
    check(l.items?.length === 1 && l.items[0].id === w.als.id && l.items[0].resourceArn === w.svc.arn && isDate(l.items[0].createdAt), "list", l.items);
    return `${l.items.length} item`;
  }],
  ["UpdateAccessLogSubscription", async () => {
    // Lattice keeps the destination's type (logs, s3, firehose) on update.
    const dest = w.als.destinationArn + "-v2";
    const u = await call("UpdateAccessLogSubscription", { accessLogSubscriptionIdentifier: w.als.id, destinationArn: dest });
    check(u.id === w.als.id && u.destinationArn === dest && u.resourceId === w.svc.id, "update", u);
    const g = await call("GetAccessLogSubscription", { accessLogSubscriptionIdentifier: w.als.id });
    check(g.destinationArn === dest, "get after update", g);
    return dest;
  }],
  ["GetResourceGateway", async () => {
    const g = await call("GetResourceGateway", { resourceGatewayIdentifier: w.gw.arn });
    check(g.id === w.gw.id && g.name === "gw-js" && g.vpcId === vpc && g.status === "ACTIVE" && isDate(g.createdAt) && isDate(g.lastUpdatedAt), "get", g);
    return g.status;
  }],
  ["ListResourceGateways", async () => {
    const l = await call("ListResourceGateways", {});
    check(l.items?.length === 1 && l.items[0].id === w.gw.id && l.items[0].vpcIdentifier === vpc, "list", l.items);
    return `${l.items.length} item`;
  }],
  ["UpdateResourceGateway", async () => {
    const u = await call("UpdateResourceGateway", { resourceGatewayIdentifier: w.gw.id, securityGroupIds: [] });
    check(u.id === w.gw.id && (u.securityGroupIds ?? []).length === 0 && u.vpcId === vpc, "update", u);
    const g = await call("GetResourceGateway", { resourceGatewayIdentifier: w.gw.id });
    check((g.securityGroupIds ?? []).length === 0, "get after update", g);
    return "0 security groups";
  }],
  ["GetResourceConfiguration", async () => {
    const g = await call("GetResourceConfiguration", { resourceConfigurationIdentifier: w.rc.arn });
    check(g.id === w.rc.id && g.name === "db-js" && g.resourceConfigurationDefinition?.ipResource?.ipAddress === "10.0.0.5" &&
      isDate(g.createdAt) && isDate(g.lastUpdatedAt) && g.resourceGatewayId === w.gw.id, "get", g);
    return g.type;
  }],
  ["ListResourceConfigurations", async () => {
    const l = await call("ListResourceConfigurations", { resourceGatewayIdentifier: w.gw.id });
    check(l.items?.length === 1 && l.items[0].id === w.rc.id && l.items[0].type === "SINGLE", "list", l.items);
    return `${l.items.length} item`;
  }],
  ["UpdateResourceConfiguration", async () => {
    const u = await call("UpdateResourceConfiguration", { resourceConfigurationIdentifier: w.rc.id, portRanges: ["5432", "6000-6010"],
      resourceConfigurationDefinition: { ipResource: { ipAddress: "10.0.0.6" } } });
    check(u.id === w.rc.id && u.portRanges?.length === 2 && u.portRanges[1] === "6000-6010", "update", u);
    const g = await call("GetResourceConfiguration", { resourceConfigurationIdentifier: w.rc.id });
    check(g.resourceConfigurationDefinition?.ipResource?.ipAddress === "10.0.0.6" && g.portRanges?.length === 2, "get after update", g);
    return u.portRanges.join(",");
  }],
  ["GetServiceNetworkResourceAssociation", async () => {
    const g = await call("GetServiceNetworkResourceAssociation", { serviceNetworkResourceAssociationIdentifier: w.snra.arn });
    check(g.id === w.snra.id && g.serviceNetworkId === w.sn.id && g.serviceNetworkName === "net-js" && g.resourceConfigurationId === w.rc.id &&
      g.resourceConfigurationName === "db-js" && g.status === "ACTIVE" && isDate(g.createdAt), "get", g);
    return g.status;
  }],
  ["ListServiceNetworkResourceAssociations", async () => {
    const l = await call("ListServiceNetworkResourceAssociations", { resourceConfigurationIdentifier: w.rc.id, includeChildren: false });
    check(l.items?.length === 1 && l.items[0].id === w.snra.id && l.items[0].serviceNetworkId === w.sn.id, "list", l.items);
    return `${l.items.length} item`;
  }],
  ["ListResourceEndpointAssociations", async () => {
    // No VPC endpoints in Trellis: an empty, well-formed list.
    const l = await call("ListResourceEndpointAssociations", { resourceConfigurationIdentifier: w.rc.arn });
    check((l.items ?? []).length === 0 && l.nextToken === undefined && l.$metadata.httpStatusCode === 200, "list", l);
    return "0 items";
  }],
  ["GetDomainVerification", async () => {
    const g = await call("GetDomainVerification", { domainVerificationIdentifier: w.dv.arn });
    check(g.id === w.dv.id && g.domainName === "orders.example" && g.status === "PENDING" && isDate(g.createdAt) &&
      g.txtMethodConfig?.name === w.dv.txtMethodConfig.name, "get", g);
    return g.status;
  }],
  ["ListDomainVerifications", async () => {
    const l = await call("ListDomainVerifications", {});
    check(l.items?.length === 1 && l.items[0].id === w.dv.id && l.items[0].domainName === "orders.example" && l.items[0].status === "PENDING", "list", l.items);
    return `${l.items.length} item`;
  }],

  // ---- tags ----
  ["TagResource", async () => {
    const r = await call("TagResource", { resourceArn: w.svc.arn, tags: { env: "prod", tier: "web" } });
    check(r.$metadata.httpStatusCode === 200, "tag", r.$metadata);
    return "2 tags";
  }],
  ["ListTagsForResource", async () => {
    const l = await call("ListTagsForResource", { resourceArn: w.svc.arn });
    check(Object.keys(l.tags ?? {}).length === 3 && l.tags.team === "orders" && l.tags.env === "prod" && l.tags.tier === "web", "tags", l.tags);
    const n = await call("ListTagsForResource", { resourceArn: w.sn.arn });
    check(n.tags?.team === "core", "network tags", n.tags);
    return Object.keys(l.tags).sort().join(",");
  }],
  ["UntagResource", async () => {
    // tagKeys is a repeated query parameter (?tagKeys=a&tagKeys=b).
    await call("UntagResource", { resourceArn: w.svc.arn, tagKeys: ["env", "tier"] });
    const l = await call("ListTagsForResource", { resourceArn: w.svc.arn });
    check(Object.keys(l.tags ?? {}).length === 1 && l.tags.team === "orders", "tags after untag", l.tags);
    return "team";
  }],

  // ---- policies ----
  ["PutAuthPolicy", async () => {
    // The service's auth type is NONE now (UpdateService): the policy is kept but Inactive.
    const p = await call("PutAuthPolicy", { resourceIdentifier: w.svc.arn, policy: allowIt });
    check(sameJSON(p.policy, allowIt) && p.state === "Inactive", "put", p);
    return p.state;
  }],
  ["GetAuthPolicy", async () => {
    await call("UpdateService", { serviceIdentifier: w.svc.id, authType: "AWS_IAM" });
    const g = await call("GetAuthPolicy", { resourceIdentifier: w.svc.id });
    check(sameJSON(g.policy, allowIt) && g.state === "Active" && isDate(g.createdAt) && isDate(g.lastUpdatedAt), "get", g);
    return g.state;
  }],
  ["PutResourcePolicy", async () => {
    const r = await call("PutResourcePolicy", { resourceArn: w.sn.arn, policy: allowIt });
    check(r.$metadata.httpStatusCode === 200, "put", r.$metadata);
    return "put";
  }],
  ["GetResourcePolicy", async () => {
    const g = await call("GetResourcePolicy", { resourceArn: w.sn.arn });
    check(g.policy && sameJSON(g.policy, allowIt), "get", g);
    return "same policy";
  }],
  ["DeleteResourcePolicy", async () => {
    await call("DeleteResourcePolicy", { resourceArn: w.sn.arn });
    // A resource without a policy answers no policy member (as Lattice), not a 404.
    const g = await call("GetResourcePolicy", { resourceArn: w.sn.arn });
    check(g.policy === undefined, "get after delete", g);
    return "no policy";
  }],
  ["DeleteAuthPolicy", async () => {
    await call("DeleteAuthPolicy", { resourceIdentifier: w.svc.id });
    const g = await call("GetAuthPolicy", { resourceIdentifier: w.svc.id });
    check(g.policy === undefined && g.state === "Active" && g.createdAt === undefined, "get after delete", g);
    return "no policy";
  }],

  // ---- delete, in dependency order ----
  ["DeleteResourceEndpointAssociation", async () => {
    // No VPC endpoints, so none to delete: the typed error round-trips.
    await gone("DeleteResourceEndpointAssociation", { resourceEndpointAssociationIdentifier: "rea-0123456789abcdef0" });
    return "ResourceNotFoundException";
  }],
  ["DeleteServiceNetworkResourceAssociation", async () => {
    const d = await call("DeleteServiceNetworkResourceAssociation", { serviceNetworkResourceAssociationIdentifier: w.snra.arn });
    check(d.id === w.snra.id && d.arn === w.snra.arn && d.status === "DELETE_IN_PROGRESS", "delete", d);
    await gone("GetServiceNetworkResourceAssociation", { serviceNetworkResourceAssociationIdentifier: w.snra.id });
    return d.status;
  }],
  ["DeleteResourceConfiguration", async () => {
    await call("DeleteResourceConfiguration", { resourceConfigurationIdentifier: w.rc.arn });
    await gone("GetResourceConfiguration", { resourceConfigurationIdentifier: w.rc.id });
    return "gone";
  }],
  ["DeleteResourceGateway", async () => {
    const d = await call("DeleteResourceGateway", { resourceGatewayIdentifier: w.gw.arn });
    check(d.id === w.gw.id && d.arn === w.gw.arn && d.name === "gw-js" && d.status === "DELETE_IN_PROGRESS", "delete", d);
    await gone("GetResourceGateway", { resourceGatewayIdentifier: w.gw.id });
    return d.status;
  }],
  ["DeleteDomainVerification", async () => {
    await call("DeleteDomainVerification", { domainVerificationIdentifier: w.dv.arn });
    await gone("GetDomainVerification", { domainVerificationIdentifier: w.dv.id });
    return "gone";
  }],
  ["DeleteAccessLogSubscription", async () => {
    await call("DeleteAccessLogSubscription", { accessLogSubscriptionIdentifier: w.als.arn });
    await gone("GetAccessLogSubscription", { accessLogSubscriptionIdentifier: w.als.id });
    return "gone";
  }],
  ["DeleteServiceNetworkVpcAssociation", async () => {
    const d = await call("DeleteServiceNetworkVpcAssociation", { serviceNetworkVpcAssociationIdentifier: w.snva.arn });
    check(d.id === w.snva.id && d.arn === w.snva.arn && d.status === "DELETE_IN_PROGRESS", "delete", d);
    await gone("GetServiceNetworkVpcAssociation", { serviceNetworkVpcAssociationIdentifier: w.snva.id });
    return d.status;
  }],
  ["DeleteServiceNetworkServiceAssociation", async () => {
    const d = await call("DeleteServiceNetworkServiceAssociation", { serviceNetworkServiceAssociationIdentifier: w.snsa.arn });
    check(d.id === w.snsa.id && d.arn === w.snsa.arn && d.status === "DELETE_IN_PROGRESS", "delete", d);
    await gone("GetServiceNetworkServiceAssociation", { serviceNetworkServiceAssociationIdentifier: w.snsa.id });
    return d.status;
  }],
  ["DeleteRule", async () => {
    await call("DeleteRule", { serviceIdentifier: w.svc.id, listenerIdentifier: w.l.id, ruleIdentifier: w.rule.arn });
    await gone("GetRule", { serviceIdentifier: w.svc.id, listenerIdentifier: w.l.id, ruleIdentifier: w.rule.id });
    return "gone";
  }],
  ["DeleteListener", async () => {
    await call("DeleteListener", { serviceIdentifier: w.svc.id, listenerIdentifier: w.l.arn });
    await gone("GetListener", { serviceIdentifier: w.svc.id, listenerIdentifier: w.l.id });
    return "gone";
  }],
  ["DeleteService", async () => {
    const d = await call("DeleteService", { serviceIdentifier: w.svc.arn });
    check(d.id === w.svc.id && d.arn === w.svc.arn && d.name === "orders" && d.status === "DELETE_IN_PROGRESS", "delete", d);
    await gone("GetService", { serviceIdentifier: w.svc.id });
    return d.status;
  }],
  ["DeleteTargetGroup", async () => {
    for (const tg of [w.tg, w.tg2]) {
      const d = await call("DeleteTargetGroup", { targetGroupIdentifier: tg.arn });
      check(d.id === tg.id && d.arn === tg.arn && d.status === "DELETE_IN_PROGRESS", "delete", d);
      await gone("GetTargetGroup", { targetGroupIdentifier: tg.id });
    }
    return "2 gone";
  }],
  ["DeleteServiceNetwork", async () => {
    await call("DeleteServiceNetwork", { serviceNetworkIdentifier: w.sn.arn });
    await gone("GetServiceNetwork", { serviceNetworkIdentifier: w.sn.id });
    const l = await call("ListServiceNetworks", {});
    check((l.items ?? []).length === 0, "left", l.items);
    return "gone";
  }],
];

// The SDK's operations: every exported XCommand class but the base class.
const sdkOps = Object.keys(lattice).filter((k) => k.endsWith("Command") && k !== "$Command" && typeof lattice[k] === "function")
  .map((k) => k.slice(0, -"Command".length)).sort();

const seen = new Set();
for (const [op, run] of steps) {
  if (seen.has(op)) {
    console.log(`FAIL ${op}: two steps`);
    process.exit(1);
  }
  seen.add(op);
  try {
    succeeded.delete(op);
    const detail = await run();
    console.log(`ok ${op} ${succeeded.get(op) ?? "-"} ${detail ?? ""}`.trimEnd());
  } catch (e) {
    const meta = e.$metadata ? ` (HTTP ${e.$metadata.httpStatusCode}, ${e.name})` : "";
    console.log(`FAIL ${op}: ${e.message}${meta}`);
    process.exit(1);
  }
}
console.log(`sdk-operations ${sdkOps.length}`);
const missing = sdkOps.filter((op) => !seen.has(op));
const extra = [...seen].filter((op) => !sdkOps.includes(op));
if (missing.length || extra.length) {
  console.log(`FAIL coverage: no step for [${missing.join(", ")}]; steps that are no SDK operation [${extra.join(", ")}]`);
  process.exit(1);
}
