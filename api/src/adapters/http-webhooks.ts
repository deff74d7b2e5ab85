// Webhook messages over HTTP(S): signed with the Standard Webhooks scheme (the `standardwebhooks` library), sent
// only to public addresses unless the operator's allow-list names the network. The address check sits in the
// socket's own DNS lookup, so a name that resolves differently at delivery time (DNS rebinding) is still refused.
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { Webhook } from 'standardwebhooks';
import { DomainError } from '../domain/errors.js';
import type { WebhookTargets } from '../domain/webhooks.js';

const TIMEOUT_MS = 10_000;
/** Receivers answer with a status; their bodies are read (to free the socket) but not kept beyond this. */
const MAX_RESPONSE_BYTES = 64 * 1024;

// Loopback, private, link-local, carrier-grade NAT, multicast, reserved and documentation ranges.
const NOT_PUBLIC: [string, number, 'ipv4' | 'ipv6'][] = [
  ['0.0.0.0', 8, 'ipv4'],
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['192.0.2.0', 24, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'],
  ['198.51.100.0', 24, 'ipv4'],
  ['203.0.113.0', 24, 'ipv4'],
  ['224.0.0.0', 4, 'ipv4'],
  ['240.0.0.0', 4, 'ipv4'],
  ['::', 128, 'ipv6'],
  ['::1', 128, 'ipv6'],
  ['64:ff9b::', 96, 'ipv6'],
  ['100::', 64, 'ipv6'],
  ['2001:db8::', 32, 'ipv6'],
  ['fc00::', 7, 'ipv6'],
  ['fe80::', 10, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
];

/** `a.b.c.d/n` or `x::/n` entries (a bare address is a /32 or /128). */
export function networkList(entries: string[]): net.BlockList {
  const list = new net.BlockList();
  for (const e of entries) {
    const [addr, bits] = e.split('/');
    const family = net.isIP(addr ?? '');
    const prefix = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits);
    if (!family || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32))
      throw new Error(`'${e}' is not an address or CIDR network`);
    list.addSubnet(addr!, prefix, family === 6 ? 'ipv6' : 'ipv4');
  }
  return list;
}

export class HttpWebhookTargets implements WebhookTargets {
  private readonly denied = new net.BlockList();

  /** `allowed`: networks the operator permits although they are not public (e.g. an internal LIMS, or loopback in tests). */
  constructor(private readonly allowed: net.BlockList = new net.BlockList()) {
    for (const [a, n, f] of NOT_PUBLIC) this.denied.addSubnet(a, n, f);
  }

  /** Why an address may not be called, or null when it may. */
  private refusal(address: string): string | null {
    // An IPv4 address written as IPv6 (::ffff:a.b.c.d) is judged as the IPv4 address it is.
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
    const [addr, type] = mapped ? [mapped, 'ipv4' as const] : [address, net.isIPv6(address) ? ('ipv6' as const) : ('ipv4' as const)];
    if (this.allowed.check(addr, type)) return null;
    return this.denied.check(addr, type)
      ? `${address} is not a public address (operators may allow it: SCRNA_WEBHOOK_ALLOW_NETWORKS)`
      : null;
  }

  private parse(raw: string): URL {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new DomainError('invalid', `url: '${raw}' is not an absolute URL`, { field: 'url' });
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      throw new DomainError('invalid', `url: only http and https targets are called (got ${url.protocol})`, { field: 'url' });
    if (url.username || url.password)
      throw new DomainError('invalid', 'url: credentials in the URL would be stored in clear; use the signature instead', { field: 'url' });
    return url;
  }

  async check(raw: string): Promise<void> {
    const url = this.parse(raw);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    let addresses: string[];
    if (net.isIP(host)) addresses = [host];
    else {
      try {
        addresses = (await dns.promises.lookup(host, { all: true })).map((a) => a.address);
      } catch (e) {
        throw new DomainError('invalid', `url: ${host} does not resolve (${(e as NodeJS.ErrnoException).code})`, { field: 'url' });
      }
    }
    for (const a of addresses) {
      const why = this.refusal(a);
      if (why) throw new DomainError('invalid', `url: ${host}: ${why}`, { field: 'url' });
    }
  }

  /** dns.lookup with every answer checked; net calls it for host names (with all: true when it races families). */
  private readonly lookup = (
    hostname: string,
    options: dns.LookupOptions,
    cb: (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void,
  ) => {
    dns.lookup(hostname, { ...options, all: true }, (err, found) => {
      if (err) return cb(err, '');
      const bad = found.map((a) => this.refusal(a.address)).find((w) => w);
      if (bad) return cb(Object.assign(new Error(bad), { code: 'EADDRNOTPUBLIC' }), '');
      if (options.all) return cb(null, found);
      cb(null, found[0]!.address, found[0]!.family);
    });
  };

  send(m: { url: string; secret: string; messageId: string; timestamp: Date; body: string }) {
    const url = this.parse(m.url);
    const literal = url.hostname.replace(/^\[|\]$/g, '');
    // An IP literal is connected to without a lookup, so it is checked here.
    const why = net.isIP(literal) ? this.refusal(literal) : null;
    if (why) return Promise.resolve({ status: null, error: why });
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'scrna-platform-webhooks',
      'webhook-id': m.messageId,
      'webhook-timestamp': String(Math.floor(m.timestamp.getTime() / 1000)),
      'webhook-signature': new Webhook(m.secret).sign(m.messageId, m.timestamp, m.body),
      'content-length': String(Buffer.byteLength(m.body)),
    };
    const request = url.protocol === 'https:' ? https.request : http.request;
    return new Promise<{ status: number | null; error: string | null }>((resolve) => {
      const req = request(url, { method: 'POST', headers, timeout: TIMEOUT_MS, lookup: this.lookup }, (res) => {
        let read = 0;
        res.on('data', (c: Buffer) => {
          read += c.length;
          if (read > MAX_RESPONSE_BYTES) res.destroy();
        });
        res.on('close', () => resolve({ status: res.statusCode ?? null, error: null }));
        res.on('error', () => resolve({ status: res.statusCode ?? null, error: null }));
      });
      req.on('timeout', () => req.destroy(new Error(`no response within ${TIMEOUT_MS / 1000} s`)));
      req.on('error', (e: NodeJS.ErrnoException) => resolve({ status: null, error: e.code ? `${e.code}: ${e.message}` : e.message }));
      req.end(m.body);
    });
  }
}
