/**
 * `npm run bench`: runs every scenario of every bench module and writes BENCHMARKS.md (date, machine, Node, medians).
 *
 * Adding scenarios: create bench/<name>.ts exporting async functions of type Scenario (see harness.ts), then add one
 * line to MODULES below. Every exported function of a module is a scenario.
 *
 * Flags: --rounds N (default 3), --only <scenario name>[,...] (prints results; writes BENCHMARKS.md only with --write).
 */
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as core from './core.js';
import * as features from './features.js';
import { median, type ScenarioResult, type Scenario } from './harness.js';
import { REPO } from '../test/helpers/server.js';

// The AWS SDK's notice that its 2027 releases need Node 22 would interleave with the figures.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const MODULES: Record<string, Record<string, unknown>> = {
  core,
  features,
};

const fmt = (v: number): string => (v >= 100 ? Math.round(v).toLocaleString('en') : v.toFixed(v >= 10 ? 1 : 2));

function report(results: { module: string; scenario: string; result: ScenarioResult }[], rounds: number): string {
  const lines = [
    '# Benchmarks',
    '',
    `Written by \`npm run bench\` (bench/run.ts) on ${new Date().toISOString()}.`,
    '',
    `- Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB memory (${process.platform} ${process.arch})`,
    `- Node ${process.version}; ${rounds} rounds per scenario; the figure is the median of the rounds (all rounds in brackets).`,
    '',
  ];
  for (const { module, scenario, result } of results) {
    lines.push(
      `## ${result.title}`,
      '',
      `\`${module}.${scenario}\``,
      '',
      '| metric | median | rounds | target | met |',
      '| --- | --- | --- | --- | --- |',
    );
    for (const m of result.metrics) {
      const med = median(m.values);
      const met = m.target ? (m.target.op === '>=' ? med >= m.target.value : med <= m.target.value) : undefined;
      lines.push(
        `| ${m.name} | **${fmt(med)} ${m.unit}** | ${m.values.map(fmt).join(', ')} | ${m.target ? `${m.target.op} ${fmt(m.target.value)} ${m.unit}` : ''} | ${met === undefined ? '' : met ? 'yes' : '**no**'} |`,
      );
    }
    lines.push('');
    for (const n of result.notes ?? []) lines.push(`${n}`, '');
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { rounds: { type: 'string' }, only: { type: 'string' }, write: { type: 'boolean' } },
  });
  const rounds = Number(values.rounds ?? 3);
  const only = values.only ? new Set(values.only.split(',')) : undefined;
  const results: { module: string; scenario: string; result: ScenarioResult }[] = [];
  for (const [module, exports] of Object.entries(MODULES)) {
    for (const [scenario, fn] of Object.entries(exports)) {
      if (typeof fn !== 'function' || (only && !only.has(scenario) && !only.has(`${module}.${scenario}`))) continue;
      process.stdout.write(`${module}.${scenario}: `);
      const result = await (fn as Scenario)({ rounds });
      results.push({ module, scenario, result });
      console.log(
        result.metrics
          .map((m) => `${m.name} ${fmt(median(m.values))} ${m.unit} [${m.values.map(fmt).join(', ')}]`)
          .join('; '),
      );
    }
  }
  const md = report(results, rounds);
  if (!only || values.write) {
    writeFileSync(join(REPO, 'BENCHMARKS.md'), md);
    console.log('wrote BENCHMARKS.md');
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
