/**
 * How a list of services is shown: a table cut to the terminal width on a
 * TTY, tab-separated lines when piped, and a compact listing (id, price, one
 * line of description) that keeps an agent's context small. All text was
 * sanitized on the way in; it is folded to one line and cut here.
 */
import { sanitizeLine, truncate } from '../util/sanitize.js';
import type { CatalogService } from './service.js';

export function formatAmount(amount: number | undefined, currency: string | undefined): string {
  if (amount === undefined) return '?';
  const major = (amount / 100).toFixed(2);
  return currency ? `${major} ${currency}` : major;
}

/** `free`, `12.00 USD once`, `5.00 USD/month`, `0.01 USD/request`. */
export function formatPrice(p: CatalogService['pricing']): string {
  // A price the provider quotes only at `add` time (Cloudflare's registrar): the catalog's figure is an example.
  // A provider's free-text price (APP): shown as it is, never read as a number.
  if (typeof p.freeform === 'string') return `${sanitizeLine(p.freeform).slice(0, 120)} (provider's text: confirm at the provider)`;
  if (p.quoted_at_add === true && p.type !== 'free') return `~${exactPrice(p)}, quoted at add`;
  return exactPrice(p);
}

function exactPrice(p: CatalogService['pricing']): string {
  switch (p.type) {
    case 'free':
      return 'free';
    case 'one_time':
      return `${formatAmount(p.amount, p.currency)} once`;
    case 'recurring':
      return `${formatAmount(p.amount, p.currency)}/${p.interval ?? 'period'}`;
    case 'usage':
      return `${formatAmount(p.amount, p.currency)}/${typeof p.unit === 'string' ? sanitizeLine(p.unit) : 'unit'}`;
  }
}

export function qualifiedId(s: CatalogService): string {
  return `${s.provider}/${s.id}`;
}

/** Cells must be one line with no tabs: the format of piped output depends on it. */
function cell(text: string): string {
  return sanitizeLine(text);
}

export function renderTsv(services: CatalogService[]): string {
  return services.map((s) => [qualifiedId(s), cell(s.name), formatPrice(s.pricing), cell(s.description)].join('\t')).join('\n');
}

export function renderTable(services: CatalogService[], columns: number): string {
  const width = Math.max(40, columns);
  const rows = services.map((s) => [qualifiedId(s), cell(s.name), formatPrice(s.pricing), cell(s.description)]);
  const header = ['SERVICE', 'NAME', 'PRICE', 'DESCRIPTION'];
  const caps = [44, 28, 18];
  const widths = caps.map((cap, i) => Math.min(cap, Math.max(header[i]!.length, ...rows.map((r) => Array.from(r[i]!).length))));
  const line = (r: string[]): string => {
    const fixed = widths.map((w, i) => truncate(r[i]!, w).padEnd(w)).join('  ');
    const rest = width - Array.from(fixed).length - 2;
    return truncate(rest > 0 ? `${fixed}  ${truncate(r[3]!, rest)}` : fixed, width).trimEnd();
  };
  return [line(header), ...rows.map(line)].join('\n');
}

/**
 * Whether `add` of this service stops for the human's yes to pay
 * (`--confirm-paid-service`): an up-front price (one-time or recurring,
 * above zero) or a price quoted only at add time. The same rule as
 * src/payment/paid.ts upfrontPrice, which this layer may not import; a test
 * checks the two agree on every service of the Stripe fixture.
 */
export function needsPaidConfirmation(p: CatalogService['pricing']): boolean {
  if (p.type === 'free') return false;
  if (p.quoted_at_add === true) return true;
  return (p.type === 'one_time' || p.type === 'recurring') && p.amount !== undefined && p.currency !== undefined && p.amount > 0;
}

const SHORT_INTERVAL: Record<string, string> = { month: 'mo', year: 'yr' };

/** `free`, `$12 once`, `$5/mo`, `$0.01/request`, `9.50 EUR/mo`: the price in few tokens. */
export function compactPrice(p: CatalogService['pricing']): string {
  if (p.type === 'free') return 'free';
  const major = p.amount === undefined ? '?' : (p.amount / 100).toFixed(2).replace(/\.00$/, '');
  const amount = p.currency === 'USD' ? `$${major}` : p.currency ? `${major} ${p.currency}` : major;
  const per =
    p.type === 'one_time' ? ' once' : p.type === 'recurring' ? `/${SHORT_INTERVAL[p.interval ?? ''] ?? p.interval ?? 'period'}` : `/${typeof p.unit === 'string' ? sanitizeLine(p.unit) : 'unit'}`;
  return `${p.quoted_at_add === true ? '~' : ''}${amount}${per}`;
}

/** What the compact listing's columns mean, for a reader that gets it without the docs. */
export const COMPACT_LEGEND = 'service | price[, confirm = add needs --confirm-paid-service] | description';

/**
 * One service per line: `provider/id | price[, confirm] | description`, the
 * description cut to `descWidth`. Every id, price and the need for the
 * human's paid confirmation stay; only descriptions are cut (the 161
 * services of the Stripe fixture fit in 4,000 tokens: issue 20).
 */
export function renderCompact(services: CatalogService[], descWidth = 44): string {
  return services
    .map((s) => `${qualifiedId(s)} | ${compactPrice(s.pricing)}${needsPaidConfirmation(s.pricing) ? ', confirm' : ''} | ${truncate(cell(s.description), descWidth)}`)
    .join('\n');
}

/** The full view of one service (`catalog <provider>/<service>` on a TTY). */
export function renderService(s: CatalogService): string {
  const env = Object.entries(s.env);
  return [
    `${qualifiedId(s)}  ${cell(s.name)}`,
    `price:       ${formatPrice(s.pricing)}`,
    `kind:        ${s.kind}${s.async ? ' (asynchronous)' : ''}`,
    `categories:  ${s.categories.map(cell).join(', ') || '-'}`,
    `scopes:      ${s.scopes.join(' ') || '-'}`,
    `env:         ${env.length ? env.map(([k, v]) => `${k} ← ${v}`).join(', ') : '-'}`,
    ...(s.allowed_updates?.length ? [`updates to:  ${s.allowed_updates.map(cell).join(', ')} (agentprov update <name> --service …)`] : []),
    '',
    cell(s.description),
    '',
    'config schema:',
    JSON.stringify(s.config_schema, null, 2),
  ].join('\n');
}
