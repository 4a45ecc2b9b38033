// Runs the aipermission:bridge component in Node 20 through jco, as a
// host of its own would, against the stand-in gateway whose origin is in
// AIPERMISSION_API_URL. It grants the component exactly the AIPERMISSION_*
// variables (jco's shim would otherwise hand it the whole process
// environment) and outgoing HTTP through loopback-http.mjs, then checks
// that every typed tool gives the same answer as the generic call-tool
// for the same gateway state, and that the URL rule holds.
//
// node embed-jco.mjs COMPONENT.wasm OUT_DIR

import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { transpile } from "@bytecodealliance/jco";
import { _setEnv } from "@bytecodealliance/preview2-shim/cli";
import { grantOrigin } from "./loopback-http.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const [componentPath, outDir] = process.argv.slice(2);
const url = process.env.AIPERMISSION_API_URL;
const token = process.env.AIPERMISSION_API_TOKEN;
if (!componentPath || !outDir || !url || !token) {
  console.error("usage: AIPERMISSION_API_URL=… AIPERMISSION_API_TOKEN=… node embed-jco.mjs COMPONENT.wasm OUT_DIR");
  process.exit(2);
}

// Transpile, with the loopback handler in place of the shim's own.
await mkdir(outDir, { recursive: true });
const shim = relative(outDir, join(here, "loopback-http.mjs")).split("\\").join("/");
const { files } = await transpile(await readFile(componentPath), {
  name: "bridge",
  map: { "wasi:http/outgoing-handler@0.2.12": `${shim.startsWith(".") ? shim : `./${shim}`}#loopbackHandler` },
  quiet: true,
});
for (const [name, bytes] of Object.entries(files)) {
  await mkdir(dirname(join(outDir, name)), { recursive: true });
  await writeFile(join(outDir, name), bytes);
}
const bridge = await import(pathToFileURL(join(outDir, "bridge.js")).href);
const typed = bridge.typedTools;
const tools = bridge.tools;

function grant(apiUrl) {
  _setEnv({ AIPERMISSION_API_URL: apiUrl, AIPERMISSION_API_TOKEN: token });
  grantOrigin(apiUrl);
}
grant(url);

// The generic tool's answer as JSON; its context names the same origin.
function generic(name, args) {
  const context = { gatewayOrigin: url, token: "present", timeoutMs: 95000 };
  const result = tools.callTool(name, JSON.stringify(args), context);
  return JSON.parse(result.text);
}

// A typed answer as the generic tool would print it: snake_case keys,
// absent options left out, JSON-text fields parsed, a variant's record
// unwrapped, the error envelope of a thrown ComponentError.
const JSON_TEXT = new Set(["metadata", "input", "output", "outputHint"]);
function plain(value) {
  if (typeof value === "bigint") return Number(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value === null || typeof value !== "object") return value;
  if (value.tag === "recorded") return plain(value.val);
  if (value.tag === "stopped") return { status: "stopped", error: value.val };
  const out = {};
  for (const [key, field] of Object.entries(value)) {
    if (field === undefined) continue;
    const snake = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    if (key === "inputFields") out.input_schema = { fields: JSON.parse(field) };
    else out[snake] = JSON_TEXT.has(key) ? JSON.parse(field) : plain(field);
  }
  return out;
}

function typedAnswer(call) {
  try {
    return plain(call());
  } catch (err) {
    assert.ok(err.payload, `a typed call threw something other than its error: ${err}`);
    return plain(err.payload);
  }
}

// Leaves out of `typed` what the typed API spells as a default where the
// gateway's JSON had nothing: `false`, `[]`. `secret_values_returned` is
// always false by contract and has no typed field.
function comparable(typedValue, genericValue) {
  if (Array.isArray(typedValue) && Array.isArray(genericValue)) {
    return typedValue.map((item, i) => comparable(item, genericValue[i]));
  }
  if (typedValue === null || typeof typedValue !== "object" || Array.isArray(typedValue)) {
    return typedValue;
  }
  const out = {};
  for (const [key, field] of Object.entries(typedValue)) {
    const missing = genericValue === null || typeof genericValue !== "object" || !(key in genericValue);
    const isDefault = field === false || (Array.isArray(field) && field.length === 0);
    if (missing && isDefault) continue;
    out[key] = comparable(field, genericValue?.[key]);
  }
  return out;
}

function withoutSecretFlag(value) {
  if (Array.isArray(value)) return value.map(withoutSecretFlag);
  if (value === null || typeof value !== "object") return value;
  const out = {};
  for (const [key, field] of Object.entries(value)) {
    if (key !== "secret_values_returned") out[key] = withoutSecretFlag(field);
  }
  return out;
}

let compared = 0;
// `get-connector-actions` returns the list the gateway sends as `items`.
function same(label, typedCall, toolName, args, listKey) {
  let typedValue = typedAnswer(typedCall);
  if (listKey && Array.isArray(typedValue)) typedValue = { [listKey]: typedValue };
  const genericValue = withoutSecretFlag(generic(toolName, args));
  assert.deepEqual(comparable(typedValue, genericValue), genericValue, `${label}: typed and generic differ`);
  compared += 1;
  return typedValue;
}

async function control(path) {
  const response = await fetch(`${url}/__control/${path}`, { method: "POST" });
  assert.ok(response.ok, `control ${path}: ${response.status}`);
}

// Reads first: the same gateway state gives the same answer.
same("targets", () => typed.listConnectorTargets(), "list_connector_targets", {});
same("help", () => typed.getConnectorHelp("ssh:4:2"), "get_connector_help", { target_ref: "ssh:4:2" });
same("actions", () => typed.getConnectorActions("postgres:7:11"), "get_connector_actions", { target_ref: "postgres:7:11" }, "items");
same("unknown target", () => typed.getConnectorHelp("ssh:99:99"), "get_connector_help", { target_ref: "ssh:99:99" });

// A call is answered once and replayed for the same key: the typed call
// runs first, the generic one gets the replay, and both are compared on
// everything but `replayed`.
const exec = { target_ref: "ssh:4:2", action_name: "exec", input: { command: "uptime" }, idempotency_key: "jco-exec-1" };
const first = typedAnswer(() => typed.callConnectorAction("ssh:4:2", "exec", JSON.stringify(exec.input), undefined, exec.idempotency_key));
assert.equal(first.status, "approval_pending", JSON.stringify(first));
const replay = generic("call_connector_action", exec);
assert.deepEqual({ ...comparable(first, replay), replayed: replay.replayed }, replay, "call: typed and generic differ");
const requestId = BigInt(first.request_id);
same("pending request", () => typed.getConnectorActionRequest(requestId), "get_connector_action_request", { request_id: Number(requestId) });
await control(`requests/${requestId}/approve`);
const done = same("completed request", () => typed.getConnectorActionRequest(requestId), "get_connector_action_request", { request_id: Number(requestId) });
assert.equal(done.status, "completed");

// Bad arguments are refused the same way, before anything is sent.
same("bad input", () => typed.callConnectorAction("ssh:4:2", "exec", "[1]", undefined, "jco-bad"), "call_connector_action",
  { target_ref: "ssh:4:2", action_name: "exec", input: [1], idempotency_key: "jco-bad" });
same("no key", () => typed.callConnectorAction("ssh:4:2", "exec", undefined, undefined, ""), "call_connector_action",
  { target_ref: "ssh:4:2", action_name: "exec", idempotency_key: "" });

// The Vault tools.
same("vault items", () => typed.listVaultItems(undefined), "list_vault_items", {});
same("vault items of a project", () => typed.listVaultItems("id:1"), "list_vault_items", { project_ref: "id:1" });
const generate = { name: "DB_PASSWORD", generator_kind: "password" };
const vaultCall = typedAnswer(() => typed.callVaultAction("slug:lab", "generate_item", JSON.stringify(generate), "Rotate it.", "jco-vault-1"));
assert.equal(vaultCall.status, "approval_pending", JSON.stringify(vaultCall));
const vaultId = BigInt(vaultCall.request_id);
same("vault request", () => typed.getVaultActionRequest(vaultId), "get_vault_action_request", { request_id: Number(vaultId) });
const canceled = typedAnswer(() => typed.cancelVaultActionRequest(vaultId));
assert.equal(canceled.status, "canceled");
same("canceled vault request", () => typed.getVaultActionRequest(vaultId), "get_vault_action_request", { request_id: Number(vaultId) });
same("cancel again", () => typed.cancelVaultActionRequest(vaultId), "cancel_vault_action_request", { request_id: Number(vaultId) });

// The URL rule holds inside the component whatever the host grants, and
// the loopback handler refuses what the component would not send anyway.
for (const refused of ["http://example.com:3210", "https://127.0.0.1:3210", "http://127.0.0.1:3210/api"]) {
  grant(refused);
  const answer = typedAnswer(() => typed.listConnectorTargets());
  assert.equal(answer.error, "Invalid local gateway URL configuration; update AIPERMISSION_API_URL.", refused);
}
// The handler grants [::1], but jco cannot express an IPv6 authority: the
// component fails to build the request, so nothing is sent.
const ipv6Url = url.replace("127.0.0.1", "[::1]");
grant(ipv6Url);
assert.ok(grantOrigin(ipv6Url), "the handler would allow [::1]");
const ipv6 = typedAnswer(() => typed.listConnectorTargets());
assert.equal(ipv6.error, "AIPermission gateway connection failed before request dispatch.", JSON.stringify(ipv6));

// Without a token nothing is sent.
_setEnv({ AIPERMISSION_API_URL: url });
grantOrigin(url);
assert.equal(typedAnswer(() => typed.listConnectorTargets()).error, "AIPERMISSION_API_TOKEN is required.");

console.log(`jco: ${compared} typed answers equal the generic ones; the URL rule held`);
