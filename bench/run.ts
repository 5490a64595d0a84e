/**
 * `npm run bench`: runs every scenario of every bench module and writes BENCHMARKS.md (date, machine, Node, medians).
 *
 * Adding scenarios: create bench/<name>.ts exporting async functions of type Scenario (see harness.ts), then add one
 * line to MODULES below. Every exported function of a module is a scenario.
 *
 * Flags: --rounds N (default 3), --only <scenario name>[,...] (prints results; writes BENCHMARKS.md only with --write).
 *
 * Opt-in scenarios (OPT_IN) take longer than a few minutes a round: they run only when --only names them, and a full
 * run keeps their sections in BENCHMARKS.md as they were measured.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as chaos from './chaos.js';
import * as core from './core.js';
import * as features from './features.js';
import * as postgres from './postgres.js';
import * as replicas from './replicas.js';
import * as scale from './scale.js';
import * as scheduler from './scheduler.js';
import * as slurm from './slurm.js';
import { median, type ScenarioResult, type Scenario } from './harness.js';
import { REPO } from '../test/helpers/server.js';

// The AWS SDK's notice that its 2027 releases need Node 22 would interleave with the figures.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const MODULES: Record<string, Record<string, unknown>> = {
  core,
  features,
  scheduler,
  scale,
  chaos,
  postgres,
  replicas,
  slurm,
};

/** Scenarios that run only when named by --only: `scale.million` (1,000,000 jobs) takes 3 to 6 minutes a round here, 2.5 GB of memory and 2 GB of disk. */
const OPT_IN = new Set(['scale.million']);

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

/**
 * With --only: the new run's sections replace the sections of the same scenarios (matched by their `module.scenario`
 * line) and are appended when new, so figures of scenarios not run stay as they were measured. Each section keeps a
 * line saying when and where it was measured.
 */
function mergeSections(old: string, fresh: string): string {
  const split = (md: string) => {
    const parts = md.split(/\n(?=## )/);
    return { head: parts[0] ?? '', sections: parts.slice(1) };
  };
  const key = (section: string) => /^`([^`]+)`$/m.exec(section)?.[1];
  const f = split(fresh);
  const machine = f.head
    .split('\n')
    .filter((l) => l.startsWith('- '))
    .join(' ');
  const stamped = f.sections.map((sec) => {
    const [title, ...rest] = sec.split('\n');
    return [
      title,
      '',
      `Measured ${new Date().toISOString()} ${machine.replace(/^- /, '').replace(/ - /g, '; ')}`,
      ...rest,
    ].join('\n');
  });
  if (!old) return [f.head, ...stamped].join('\n');
  const o = split(old);
  const replaced = new Set<string>();
  const sections = o.sections.map((sec) => {
    const k = key(sec);
    const i = f.sections.findIndex((x) => key(x) === k);
    if (k === undefined || i < 0) return sec;
    replaced.add(k);
    return stamped[i]!.endsWith('\n') ? stamped[i]! : `${stamped[i]!}\n`;
  });
  f.sections.forEach((sec, i) => {
    if (!replaced.has(key(sec) ?? '')) sections.push(stamped[i]!);
  });
  return [o.head, ...sections].join('\n');
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
      if (!only && OPT_IN.has(`${module}.${scenario}`)) continue;
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
  const file = join(REPO, 'BENCHMARKS.md');
  if (!only) {
    // The opt-in scenarios' sections stay as they were last measured.
    const old = existsSync(file) ? readFileSync(file, 'utf8') : '';
    const kept = old
      .split(/\n(?=## )/)
      .slice(1)
      .filter((sec) => OPT_IN.has(/^`([^`]+)`$/m.exec(sec)?.[1] ?? ''));
    writeFileSync(file, [md, ...kept].join('\n'));
    console.log('wrote BENCHMARKS.md');
  } else if (values.write) {
    writeFileSync(file, mergeSections(existsSync(file) ? readFileSync(file, 'utf8') : '', md));
    console.log('updated the sections of these scenarios in BENCHMARKS.md');
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
