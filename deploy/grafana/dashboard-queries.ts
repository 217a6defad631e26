// Reads the PromQL out of a Grafana dashboard JSON so the dashboard can be checked like code: every
// metric it names must be one we export (a unit test, no Prometheus), and every panel query must
// return series with the labels its legend shows (the e2e test, against a real Prometheus). Grafana
// itself is not needed for either: its only additions to a query are the `$variables` and
// `$__rate_interval`, which expandVariables() fills in the way Grafana would for "All".

export interface PanelQuery {
  panel: string;
  refId: string;
  expr: string;
  /** Label names the legend prints (`{{node}} → {{target_node}}` gives node, target_node). */
  legendLabels: string[];
  /** Table panels ask for one instant vector; graphs ask for a range. */
  instant: boolean;
}

interface RawTarget {
  refId?: string;
  expr?: string;
  legendFormat?: string;
  instant?: boolean;
}

interface RawPanel {
  title?: string;
  targets?: RawTarget[];
  panels?: RawPanel[];
}

/** Every PromQL target of every panel, including panels nested in collapsed rows. */
export function panelQueries(dashboard: unknown): PanelQuery[] {
  const out: PanelQuery[] = [];
  const walk = (panels: RawPanel[] | undefined): void => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) {
        if (typeof t.expr !== 'string' || t.expr === '') continue;
        out.push({
          panel: p.title ?? '(untitled)',
          refId: t.refId ?? '?',
          expr: t.expr,
          legendLabels: [...(t.legendFormat ?? '').matchAll(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g)].map((m) => m[1] as string),
          instant: t.instant === true,
        });
      }
      walk(p.panels);
    }
  };
  walk((dashboard as { panels?: RawPanel[] }).panels);
  return out;
}

/** The `label_values(selector, label)` queries of the dashboard's query variables. */
export function variableQueries(dashboard: unknown): Array<{ name: string; selector: string; label: string }> {
  const list = (dashboard as { templating?: { list?: Array<Record<string, unknown>> } }).templating?.list ?? [];
  const out: Array<{ name: string; selector: string; label: string }> = [];
  for (const v of list) {
    if (v['type'] !== 'query') continue;
    const q = v['query'];
    const text = typeof q === 'string' ? q : String((q as { query?: unknown } | undefined)?.query ?? '');
    const m = /^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$/.exec(text.trim());
    if (!m) throw new RangeError(`variable ${String(v['name'])}: not a label_values() query: ${text}`);
    out.push({ name: String(v['name']), selector: m[1] as string, label: m[2] as string });
  }
  return out;
}

/** What Grafana sends for "All" and for the rate interval: `$x`/`${x}` → `.*`, `$__rate_interval` → 1m. */
export function expandVariables(expr: string, rateInterval = '1m', all = '.*'): string {
  return expr
    .replaceAll(/\$\{__rate_interval\}|\$__rate_interval/g, rateInterval)
    .replaceAll(/\$\{([a-zA-Z_][a-zA-Z0-9_]*)\}|\$([a-zA-Z_][a-zA-Z0-9_]*)/g, all);
}

// PromQL words that look like identifiers but are not metric names.
const KEYWORDS = new Set([
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset',
  'atan2', 'inf', 'nan',
]);

/**
 * The metric names a PromQL expression selects. A small scanner, not a parser: it drops strings,
 * label matchers `{…}`, ranges `[…]` and grouping lists `by (…)`, then every identifier left that is
 * not a keyword, a number or a function call (`name(`) is a metric name.
 */
export function metricNames(expr: string): string[] {
  if (/\$/.test(expr)) throw new RangeError(`unexpanded variable in: ${expr}`);
  const stripped = expr
    .replaceAll(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replaceAll(/\{[^{}]*\}/g, ' ')
    .replaceAll(/\[[^\]]*\]/g, ' ')
    .replaceAll(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  // Numbers, durations (`5m`, `1h30m`, `500ms`) and then identifiers, in that order of preference.
  const token = /(\d+(?:\.\d+)?(?:e[+-]?\d+)?(?:(?:ms|[smhdwy])\d*)*)|([a-zA-Z_:][a-zA-Z0-9_:]*)/gi;
  for (const m of stripped.matchAll(token)) {
    const word = m[2];
    if (word === undefined || KEYWORDS.has(word.toLowerCase())) continue;
    const after = stripped.slice((m.index ?? 0) + word.length).trimStart();
    if (after.startsWith('(')) continue;
    names.add(word);
  }
  return [...names];
}
