// wasi:http/outgoing-handler for the component under jco: the shim's own
// handler, behind the rule aipermission-mcp applies to the gateway URL.
// A request leaves only over http:// to the one granted origin, which must
// be localhost, 127.0.0.1 or [::1] with a port; anything else is denied
// before a socket is opened. (jco's shim itself cannot carry an IPv6
// literal such as [::1]:3210 in an authority, so that origin fails inside
// the component before it gets here.)

import { outgoingHandler } from "@bytecodealliance/preview2-shim/http";

let granted = null;

/// Grants outgoing HTTP to `origin` (`http://localhost:PORT`,
/// `http://127.0.0.1:PORT` or `http://[::1]:PORT`), or to nothing when it
/// breaks the rule.
export function grantOrigin(origin) {
  const match = /^http:\/\/((localhost|127\.0\.0\.1|\[::1\]):([1-9][0-9]{0,4}))\/?$/.exec(origin ?? "");
  granted = match && Number(match[3]) <= 65535 ? match[1] : null;
  return granted !== null;
}

function handle(request, options) {
  const scheme = request.scheme();
  if (granted === null || scheme?.tag !== "HTTP" || request.authority() !== granted) {
    throw { tag: "HTTP-request-denied" };
  }
  return outgoingHandler.handle(request, options);
}

export const loopbackHandler = { handle };
