/**
 * The client's address, for the login's rate limit. react-router-serve hands the app a Fetch `Request`, which has
 * no socket; so, as each request starts, Node's `http.server.request.start` diagnostics channel (published before
 * the server's 'request' event) writes the socket's peer address into the request's headers under PEER_HEADER,
 * replacing whatever the client sent under that name. Behind a reverse proxy the peer is the proxy
 * (docs/security.md).
 */
import { subscribe } from "node:diagnostics_channel";
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";

export const PEER_HEADER = "x-imgassets-peer";

let installed = false;

/** Starts recording peer addresses (once; entry.server.tsx calls it when the server starts). */
export function recordPeerAddresses(): void {
  if (installed) return;
  installed = true;
  subscribe("http.server.request.start", (message) => {
    const { request, socket } = message as { request: IncomingMessage; socket: Socket };
    request.headers[PEER_HEADER] = socket.remoteAddress ?? "unknown";
  });
}

/** 16-bit groups of an IPv6 address (`::` expanded), or null. */
function ipv6Groups(address: string): string[] | null {
  const [head, tail, ...rest] = address.split("::");
  if (rest.length > 0) return null;
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const missing = 8 - left.length - right.length;
  if (tail === undefined ? missing !== 0 : missing < 1) return null;
  const groups = [...left, ...Array<string>(tail === undefined ? 0 : missing).fill("0"), ...right];
  return groups.every((g) => /^[0-9a-f]{1,4}$/i.test(g)) ? groups.map((g) => g.toLowerCase().replace(/^0+(?=.)/, "")) : null;
}

/**
 * The rate limit's key for a peer address: an IPv4 address itself (also when IPv4-mapped), an IPv6 address's /64
 * network (one host usually holds a whole /64, so it cannot step around the limit by changing addresses).
 */
export function clientKey(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) return mapped[1];
  if (!address.includes(":")) return address;
  const groups = ipv6Groups(address.split("%")[0]);
  return groups === null ? address : `${groups.slice(0, 4).join(":")}::/64`;
}

/** The rate limit's key of the client that sent `request`; "unknown" when the server did not record it. */
export function clientOf(request: Request): string {
  const address = installed ? request.headers.get(PEER_HEADER) : null;
  return address ? clientKey(address) : "unknown";
}
