/**
 * The one loopback rule (docs/protocol.md §0): plain http is allowed only
 * for these hosts. `hostname` is a URL's hostname (IPv6 in brackets or not).
 */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}
