// biome-ignore-all lint/suspicious/noExplicitAny: parsed YAML
/** The shipped Prometheus rules name only metrics the gateway exports, with the labels it sets. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { createMetrics } from '../../src/observability/metrics.js';

describe('deploy/monitoring/prometheus/model-monitoring-rules.yaml', () => {
  it('is a rules file whose every expression uses a gateway metric and whose alerts carry a severity', async () => {
    const rules = parse(readFileSync('deploy/monitoring/prometheus/model-monitoring-rules.yaml', 'utf8'));
    const exported = new Set((await createMetrics().registry.getMetricsAsJSON()).map((m) => m.name));
    const all = rules.groups.flatMap((g: { rules: unknown[] }) => g.rules) as Array<Record<string, any>>;
    assert.ok(all.length >= 5);
    for (const r of all) {
      assert.match(r.alert, /^Model[A-Za-z]+$/);
      assert.ok(['critical', 'warning'].includes(r.labels.severity), r.alert);
      assert.match(r.for, /^\d+[smh]$/);
      const names = String(r.expr).match(/gateway_[a-z_]+/g) ?? [];
      assert.ok(names.length > 0, r.alert);
      for (const n of names) assert.ok(exported.has(n), `${r.alert}: ${n} is not exported`);
      for (const label of String(r.annotations.summary).match(/\$labels\.(\w+)/g) ?? [])
        assert.ok(['model', 'version', 'feature'].includes(label.slice(8)), `${r.alert}: ${label}`);
    }
  });
});
