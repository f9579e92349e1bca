/** writeReport: results/<run>/ → results/<run>/report.html, one self-contained file. */
import { access, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { RESULTS_VERSION, type Results } from '../../checker/types.ts';
import { reproduceCommand, type RunConfig } from '../config.ts';
import { UserError } from '../../ground/errors.ts';
import { pageScript } from './bundle.ts';
import { digestHistory } from './digest.ts';
import { renderReport, type ReportInput } from './render.ts';
import { listAnomalies, summarize } from './summarize.ts';

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

export async function readJson(path: string): Promise<{ value?: unknown; problem?: string }> {
  try {
    return { value: JSON.parse(await readFile(path, 'utf8')) as unknown };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { problem: code === 'ENOENT' ? 'missing' : `unreadable (${error instanceof Error ? error.message : String(error)})` };
  }
}

/** Files a person may want next to the report, as links relative to it: the run's data and every node's logs. */
async function runLinks(runDir: string): Promise<{ label: string; href: string }[]> {
  const href = (...segments: string[]): string => segments.map(encodeURIComponent).join('/');
  const links: { label: string; href: string }[] = [];
  for (const file of ['history.jsonl', 'results.json', 'config.json', 'proxy.log']) {
    if (await exists(join(runDir, file))) links.push({ label: file, href: href(file) });
  }
  for (const folder of ['nodes', 'workers']) {
    const entries = await readdir(join(runDir, folder), { withFileTypes: true }).catch(() => []);
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }))) {
      if (entry.isFile()) links.push({ label: `${folder}/${entry.name}`, href: href(folder, entry.name) });
      if (!entry.isDirectory()) continue;
      // A node's folder holds zoo.cfg, its logs and data/; the data directory is ZooKeeper's, not for reading.
      const files = await readdir(join(runDir, folder, entry.name), { withFileTypes: true }).catch(() => []);
      for (const file of files.filter((candidate) => candidate.isFile())) {
        links.push({ label: `${entry.name}/${file.name}`, href: href(folder, entry.name, file.name) });
      }
    }
  }
  return links;
}

function asResults(value: unknown): { results?: Results; problem?: string } {
  const candidate = value as Partial<Results> | undefined;
  if (typeof candidate !== 'object' || candidate === null || typeof candidate.checkers !== 'object') {
    return { problem: 'results.json is not a checker result' };
  }
  if (candidate.version !== RESULTS_VERSION) {
    return { problem: `results.json has version ${String(candidate.version)}; this report reads version ${RESULTS_VERSION}` };
  }
  return { results: candidate as Results };
}

function commandFor(config: Record<string, unknown> | undefined): string | undefined {
  const required: (keyof RunConfig)[] = ['recipe', 'workload', 'nemesis', 'seed', 'timeLimitS'];
  if (config === undefined || required.some((key) => config[key] === undefined)) return undefined;
  return reproduceCommand(config as unknown as RunConfig);
}

/** config.json's origin (a replay or a shrink's attempt), with a link from this run's report to the original's. */
function originOf(config: Record<string, unknown> | undefined, dir: string): ReportInput['origin'] {
  const origin = config?.['origin'] as RunConfig['origin'] | undefined;
  if (origin === undefined || typeof origin.run !== 'string') return undefined;
  return { ...origin, href: join(relative(dir, origin.run), 'report.html') };
}

export async function writeReport(runDir: string): Promise<string> {
  const dir = resolve(runDir);
  if (!(await stat(dir).then((info) => info.isDirectory(), () => false))) throw new UserError(`${runDir} is not a run directory`);
  const historyPath = join(dir, 'history.jsonl');
  if (!(await exists(historyPath))) throw new UserError(`${runDir} has no history.jsonl`);

  const configFile = await readJson(join(dir, 'config.json'));
  const resultsFile = await readJson(join(dir, 'results.json'));
  const { results, problem } = resultsFile.value === undefined
    ? { results: undefined, problem: `results.json is ${resultsFile.problem}: the run was not checked (npm run check -- ${runDir})` }
    : asResults(resultsFile.value);
  const digest = await digestHistory(historyPath);
  const config = (configFile.value as Record<string, unknown> | undefined) ?? digest.headerConfig;
  const { data, percentiles } = summarize(digest, results);
  const page = renderReport({
    runId: digest.runId ?? results?.run.runId ?? String(config?.['runId'] ?? dir.split('/').pop()),
    config,
    command: commandFor(config),
    results,
    resultsProblem: problem,
    anomalies: listAnomalies(results),
    digest,
    data,
    percentiles,
    links: await runLinks(dir),
    script: await pageScript(),
    origin: originOf(config, dir),
  });
  const reportPath = join(dir, 'report.html');
  await writeFile(reportPath, page);
  return reportPath;
}
