/**
 * .github/workflows/nightly.yml for its tests: checked by GitHub's own workflow parser (@actions/workflow-parser,
 * the one behind GitHub's Actions language service, with GitHub's workflow schema), and read as data, its steps in
 * order, so the integration test runs the shell steps exactly as written.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { convertWorkflowTemplate, NoOperationTraceWriter, parseWorkflow } from '@actions/workflow-parser';
import { parse } from 'yaml';

export const WORKFLOW_PATH = fileURLToPath(new URL('../.github/workflows/nightly.yml', import.meta.url));

export interface WorkflowStep {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, string | number | boolean>;
  env?: Record<string, string>;
  if?: string;
  shell?: string;
  'working-directory'?: string;
}

export interface WorkflowJob {
  'runs-on': string;
  container?: { image: string; options?: string };
  needs?: string | string[];
  steps: WorkflowStep[];
  [key: string]: unknown;
}

export interface Workflow {
  name: string;
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  jobs: Record<string, WorkflowJob>;
}

/** Every error GitHub would report for this workflow text (schema, expressions, job graph), one line each. */
export async function workflowErrors(content: string, name = 'nightly.yml'): Promise<string[]> {
  const parsed = parseWorkflow({ name, content }, new NoOperationTraceWriter());
  const errors = parsed.context.errors.getErrors().map((error) => error.message);
  if (parsed.value === undefined) return errors;
  const template = await convertWorkflowTemplate(parsed.context, parsed.value);
  return [...new Set([...errors, ...(template.errors ?? []).map((error) => error.Message)])];
}

export function readWorkflow(path = WORKFLOW_PATH): { text: string; workflow: Workflow } {
  const text = readFileSync(path, 'utf8');
  return { text, workflow: parse(text) as Workflow };
}

/** `actions/cache/restore@v4` → `actions/cache/restore`. */
export const actionName = (uses: string): string => uses.replace(/@.*$/, '');
